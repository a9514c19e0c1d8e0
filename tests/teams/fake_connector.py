"""A local fake of the Bot Connector service Teams bots talk to, recording every call.

It answers like the real one: activity ids for sends and replies, a new conversation id for a
created conversation, and whatever failure a test queues (`fail_next(503, 429)`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


@dataclass
class Call:
    method: str  # "send", "reply", "update", "create"
    conversation: str
    activity_id: str  # the id the call created or replaced
    body: dict[str, Any]
    authorization: str


class FakeConnector:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failures: list[int] = []
        self.delay = 0.0
        self.url = ""
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._send)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(self, *statuses: int) -> None:
        self.failures.extend(statuses)

    # -- what the bot did ---------------------------------------------------------------------------
    def posted(self, conversation: str | None = None) -> list[Call]:
        """Sends and replies (new messages), oldest first."""
        return self._calls(("send", "reply"), conversation)

    def updates(self, conversation: str | None = None) -> list[Call]:
        return self._calls(("update",), conversation)

    def created(self) -> list[Call]:
        return self._calls(("create",), None)

    def _calls(self, methods: tuple[str, ...], conversation: str | None) -> list[Call]:
        return [c for c in self.calls if c.method in methods and conversation in (None, c.conversation)]

    def current(self, conversation: str, activity_id: str) -> dict[str, Any]:
        """An activity as the person now sees it (the last send or update of that id)."""
        found = [c.body for c in self.calls if c.conversation == conversation and c.activity_id == activity_id]
        return found[-1]

    def cards(self) -> list[dict[str, Any]]:
        """Every Adaptive Card the bot sent or updated."""
        return [
            attachment["content"]
            for call in self.calls
            for attachment in call.body.get("attachments") or []
            if attachment.get("contentType") == ADAPTIVE_CARD
        ]

    # -- the API --------------------------------------------------------------------------------------
    async def _fail(self) -> web.Response | None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            status = self.failures.pop(0)
            headers = {"Retry-After": "0"} if status == 429 else {}
            error = {"error": {"code": "ServiceError", "message": "fake"}}
            return web.json_response(error, status=status, headers=headers)
        return None

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        failure = await self._fail()
        if failure is not None:
            return failure
        conversation = f"a:created-{next(self._ids)}"
        self.calls.append(Call("create", conversation, "", body, request.headers.get("Authorization", "")))
        return web.json_response({"id": conversation}, status=201)

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        failure = await self._fail()
        if failure is not None:
            return failure
        method = "reply" if "activity" in request.match_info else "send"
        activity_id = f"bot-{next(self._ids)}"
        conversation = request.match_info["conversation"]
        self.calls.append(Call(method, conversation, activity_id, body, request.headers.get("Authorization", "")))
        return web.json_response({"id": activity_id}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        body = await request.json()
        failure = await self._fail()
        if failure is not None:
            return failure
        activity_id = request.match_info["activity"]
        conversation = request.match_info["conversation"]
        self.calls.append(Call("update", conversation, activity_id, body, request.headers.get("Authorization", "")))
        return web.json_response({"id": activity_id})


def card_of(body: dict[str, Any]) -> dict[str, Any] | None:
    for attachment in body.get("attachments") or []:
        if attachment.get("contentType") == ADAPTIVE_CARD:
            return attachment["content"]
    return None


def choices_of(body: dict[str, Any]) -> dict[str, str]:
    """Button label -> choice id of the card in an activity (empty when no buttons are left)."""
    card = card_of(body) or {}
    return {a["title"]: a["data"]["choice"] for a in card.get("actions", []) if a["type"] == "Action.Submit"}


def shown_text(body: dict[str, Any]) -> str:
    """Everything a person reads in the activity, text and card."""
    return (body.get("text") or "") + json.dumps(card_of(body) or {}, ensure_ascii=False)
