"""A local fake of Slack's Web API (and of response_url) on 127.0.0.1 that records every call.

It validates every Block Kit payload the bot sends with slack_sdk's block models and answers
`invalid_blocks` like Slack would, so a payload Slack would reject fails the test.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_sdk.models.blocks import Block

TEAM = "T1"
BOT_USER = "UBOT"
MAX_BLOCKS = 50


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str


@dataclass
class Failure:
    """Answer `method` calls matching `where` badly: HTTP `status` or a Slack `error`, `times` times (None: always)."""

    method: str
    where: dict[str, str] = field(default_factory=dict)
    status: int = 500
    error: str = ""
    retry_after: int | None = None
    times: int | None = None


def check_blocks(blocks: Any) -> list[str]:
    """Problems Slack would reject the message for; empty when the blocks are valid."""
    if not isinstance(blocks, list) or not blocks:
        return ["blocks must be a non-empty list"]
    problems = [f"{len(blocks)} blocks (max {MAX_BLOCKS})"] if len(blocks) > MAX_BLOCKS else []
    action_ids: list[str] = []
    for raw in blocks:
        try:
            block = Block.parse(raw)
            if block is None:
                raise ValueError(f"unknown block {raw.get('type')}")
            block.validate_json()
        except Exception as exc:
            problems.append(f"{raw.get('type')}: {exc}")
        for element in raw.get("elements", []) if raw.get("type") == "actions" else []:
            action_ids.append(element.get("action_id", ""))
            if len(element.get("value", "")) > 2000:
                problems.append("button value longer than 2000")
        for text in _texts(raw):
            if len(text) > 3000:
                problems.append(f"text of {len(text)} characters")
    if len(action_ids) != len(set(action_ids)):
        problems.append("duplicate action_id in one message")
    return problems


def _texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if isinstance(node.get("text"), str) else []
        return found + [t for v in node.values() for t in _texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in _texts(v)]
    return []


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.invalid: list[str] = []
        self.failures: list[Failure] = []
        self.locales: dict[str, str] = {}
        self.delays: dict[str, float] = {}  # method -> seconds to sit on the request (a slow Slack)
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> latest payload
        self.responses: list[dict[str, Any]] = []  # response_url posts, in order
        self._ts = itertools.count(1)
        self.url = ""
        self.oauth_code = "good-code"
        self.installed_team = {"id": "T2", "name": "Kunde B"}  # the workspace an OAuth install is for
        self._runner: web.AppRunner | None = None
        # Socket Mode: the bot's WebSocket, and the acks it sent back, by envelope id.
        self.socket: web.WebSocketResponse | None = None
        self.socket_connected = asyncio.Event()
        self.socket_acks: dict[str, dict[str, Any]] = {}
        self._ack_arrived = asyncio.Condition()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str) -> str:
        return f"{self.url}/respond/{name}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, method: str, **kwargs: Any) -> Failure:
        failure = Failure(method, **kwargs)
        self.failures.append(failure)
        return failure

    def called(self, method: str, **where: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and all(c.params.get(k) == v for k, v in where.items())]

    def dm(self, user: str) -> str:
        return f"D{user}"

    def in_channel(self, channel: str) -> list[dict[str, Any]]:
        """Current state of every message in `channel`, oldest first."""
        return [m for (c, _), m in sorted(self.messages.items(), key=lambda kv: float(kv[0][1])) if c == channel]

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        body = await request.text()
        if body:
            if request.content_type == "application/json":
                params.update(json.loads(body))
            else:
                params.update(dict(parse_qsl(body)))
        for name in ("blocks", "view"):
            if isinstance(params.get(name), str):
                params[name] = json.loads(params[name])
        return params

    def _failure(self, method: str, params: dict[str, Any]) -> web.Response | None:
        for failure in self.failures:
            if failure.method != method or any(params.get(k) != v for k, v in failure.where.items()):
                continue
            if failure.times is not None:
                if failure.times <= 0:
                    continue
                failure.times -= 1
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            if failure.error:
                return web.json_response({"ok": False, "error": failure.error}, status=failure.status, headers=headers)
            return web.Response(status=failure.status, text="<html>upstream error</html>", headers=headers)
        return None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or params.get("token", "")
        self.calls.append(Call(method, params, token))
        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        if (bad := self._failure(method, params)) is not None:
            return bad
        if method in ("chat.postMessage", "chat.update") or method == "views.open":
            blocks = params.get("blocks") if method != "views.open" else params.get("view", {}).get("blocks")
            if problems := check_blocks(blocks):
                self.invalid.append(f"{method}: {problems}")
                return web.json_response({"ok": False, "error": "invalid_blocks", "errors": problems})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        return web.json_response({"ok": True, **handler(params)})

    async def _respond(self, request: web.Request) -> web.Response:
        payload = await request.json()
        payload["_name"] = request.match_info["name"]
        self.calls.append(Call("response_url", payload, ""))
        if (bad := self._failure("response_url", payload)) is not None:
            return bad
        if problems := check_blocks(payload.get("blocks")):
            self.invalid.append(f"response_url: {problems}")
            return web.Response(status=400, text="invalid_blocks")
        self.responses.append(payload)
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.socket = socket
        await socket.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        self.socket_connected.set()
        async for message in socket:
            if message.type.name == "TEXT":
                data = json.loads(message.data)
                async with self._ack_arrived:
                    self.socket_acks[data["envelope_id"]] = data
                    self._ack_arrived.notify_all()
        return socket

    async def socket_send(self, envelope_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Deliver `payload` over Socket Mode like Slack does and wait for the bot's ack."""
        envelope_id = f"env-{len(self.socket_acks) + 1}-{envelope_type}"
        assert self.socket is not None
        await self.socket.send_json(
            {"envelope_id": envelope_id, "type": envelope_type, "payload": payload, "accepts_response_payload": True}
        )
        async with self._ack_arrived:
            await asyncio.wait_for(self._ack_arrived.wait_for(lambda: envelope_id in self.socket_acks), 10)
        return self.socket_acks[envelope_id]

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.url.replace("http://", "ws://") + "/link"}

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user_id": BOT_USER, "bot_id": "BBOT", "team_id": TEAM, "team": "Kunde A/S", "user": "support"}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = params["user"]
        locale = self.locales.get(user, "da-DK")
        return {
            "user": {"id": user, "name": user.lower(), "locale": locale, "profile": {"display_name": f"Bruger {user}"}}
        }

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"channel": {"id": self.dm(params["users"])}}

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        ts = f"{1_700_000_000 + next(self._ts)}.000100"
        self.messages[(params["channel"], ts)] = {**params, "ts": ts}
        return {"channel": params["channel"], "ts": ts}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (params["channel"], params["ts"])
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        self.messages[key] = params
        return {"channel": params["channel"], "ts": params["ts"]}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"view": {"id": "V1"}}

    def _oauth_v2_access(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("code") != self.oauth_code:
            return {"ok": False, "error": "invalid_code"}
        return {
            "app_id": "A1",
            "authed_user": {"id": "UADMIN"},
            "scope": "commands,chat:write",
            "token_type": "bot",
            "access_token": "xoxb-installed-token",
            "bot_user_id": BOT_USER,
            "team": self.installed_team,
            "enterprise": None,
            "is_enterprise_install": False,
        }
