"""`POST /api/messages`: check the request, authenticate it, run the turn within a time budget.

botbuilder's own `CloudAdapter.process` answers a body that is not JSON with HTTP 500 and, with
authentication on, an empty Authorization header with a network round trip; this endpoint answers
400 and 401 itself. Teams gives up on a request after 15 s and sends it again, so a turn that is
still running after `budget` seconds is answered 202 and finishes in the background; a retried
activity (same conversation and id) is never run twice: one still running is known here, one
answered before (also before a restart, or by another replica) through the delivery log. A turn
that failed is let go in both, so Teams' retry runs it again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from botbuilder.core import ActivityHandler
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from adapters.json_input import UnreadableJsonError, parse_json
from adapters.teams.connectors import ReusedConnectors
from adapters.teams.settings import TeamsSettings
from bot.ports import DeliveryLog

logger = logging.getLogger(__name__)

TURN_BUDGET = 8.0
REDELIVERY_WINDOW = timedelta(hours=1)  # Teams retries within minutes
REMEMBERED_ACTIVITIES = 2000
DRAIN_TIMEOUT = 30.0
MAX_ID_LENGTH = 1024
# Activities that come from a person and need a sender and a conversation to be handled.
_NEEDS_SENDER = {"message", "conversationUpdate", "installationUpdate", "invoke"}


class BadActivityError(ValueError):
    """The body is not an activity the bot can handle; the text says why (sent back with the 400)."""


class TeamsEndpoint:
    """The aiohttp handler of `POST /api/messages`."""

    def __init__(
        self,
        *,
        adapter: CloudAdapter,
        handler: ActivityHandler,
        settings: TeamsSettings,
        deliveries: DeliveryLog,
        budget: float = TURN_BUDGET,
    ) -> None:
        self.adapter = adapter
        self.deliveries = deliveries
        self.handler = handler
        self.settings = settings
        self.budget = budget
        self._turns: OrderedDict[tuple[str, str], asyncio.Task[Any]] = OrderedDict()
        self._background: set[asyncio.Task[Any]] = set()
        self.connectors = ReusedConnectors()

    async def handle(self, request: web.Request) -> web.Response:
        try:
            activity = activity_from_body(await request.read())
        except BadActivityError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        header = request.headers.get("Authorization") or None
        if self.settings.authenticated and header is None:
            return web.json_response({"error": "missing Authorization header"}, status=401)
        try:
            # Without an app id (the Emulator, tests) there is nothing to check a token against.
            auth = await self.adapter.bot_framework_authentication.authenticate_request(
                activity, header if self.settings.authenticated else None
            )
        except Exception as exc:  # botbuilder raises PermissionError, or anything its JWT checks raise
            logger.warning("rejected an unauthenticated request to /api/messages (%s)", type(exc).__name__)
            return web.json_response({"error": "unauthorized"}, status=401)
        if auth.connector_factory is not None:  # one client (and its open connections) per service URL
            auth.connector_factory = self.connectors.factory(auth.connector_factory)
        return await self._run(activity, auth)

    async def _run(self, activity: Activity, auth: Any) -> web.Response:
        key = (activity.conversation.id, activity.id or "")
        if activity.id and key in self._turns:
            logger.info("activity %s was delivered again; it is answered already", activity.id)
            return web.Response(status=200 if self._turns[key].done() else 202)
        if activity.id and not await self.deliveries.first_time(
            _delivery(key), ttl=REDELIVERY_WINDOW, now=datetime.now(UTC)
        ):
            logger.info("activity %s was delivered again; it was answered before", activity.id)
            return web.Response(status=200)
        task = asyncio.create_task(self.adapter.process_activity(auth, activity, self.handler.on_turn))
        if activity.id:
            self._remember(key, task)
        try:
            invoke = await asyncio.wait_for(asyncio.shield(task), self.budget)
        except TimeoutError:
            logger.warning("activity %s takes over %.0f s; it finishes in the background", activity.id, self.budget)
            self._background.add(task)
            task.add_done_callback(functools.partial(self._finished, key))
            return web.Response(status=202)
        except Exception:
            logger.exception("activity %s failed", activity.id)
            await self._let_go(key)
            return web.json_response({"error": "internal error"}, status=500)
        if invoke is None:
            return web.Response(status=200)
        if invoke.body is None:
            return web.Response(status=invoke.status)
        return web.json_response(invoke.body, status=invoke.status)

    def _remember(self, key: tuple[str, str], task: asyncio.Task[Any]) -> None:
        self._turns[key] = task
        while len(self._turns) > REMEMBERED_ACTIVITIES:
            self._turns.popitem(last=False)

    def _finished(self, key: tuple[str, str], task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a Teams turn failed in the background", exc_info=task.exception())
            letting_go = asyncio.ensure_future(self._let_go(key))
            self._background.add(letting_go)
            letting_go.add_done_callback(self._background.discard)

    async def _let_go(self, key: tuple[str, str]) -> None:
        """Forget a failed activity, so Teams' retry runs it again."""
        self._turns.pop(key, None)
        if key[1]:
            await self.deliveries.release(_delivery(key))

    async def drain(self) -> None:
        """Let turns still running in the background finish (on shutdown), for up to DRAIN_TIMEOUT."""
        if self._background:
            await asyncio.wait(self._background, timeout=DRAIN_TIMEOUT)


def _delivery(key: tuple[str, str]) -> str:
    return "teams\n" + "\n".join(key)


def activity_from_body(body: bytes) -> Activity:
    """Parse and check an activity.

    Raises:
        BadActivityError: not JSON, not an object, or missing what every activity needs.
    """
    try:
        raw = parse_json(body)
    except UnreadableJsonError as exc:
        raise BadActivityError(str(exc)) from None
    if not isinstance(raw, dict):
        raise BadActivityError("the body is not a JSON object")
    if not isinstance(raw.get("type"), str) or not raw["type"]:
        raise BadActivityError("the activity has no type")
    service_url = raw.get("serviceUrl")
    if not isinstance(service_url, str) or not service_url.startswith(("https://", "http://")):
        raise BadActivityError("the activity has no serviceUrl")
    conversation = raw.get("conversation")
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str):
        raise BadActivityError("the activity has no conversation id")
    sender = raw.get("from")
    if sender is not None and not isinstance(sender, dict):
        raise BadActivityError("the activity's sender is not an object")
    if raw["type"] in _NEEDS_SENDER and (sender is None or not isinstance(sender.get("id"), str)):
        raise BadActivityError("the activity has no sender")
    ids = (raw.get("id"), service_url, conversation["id"], (sender or {}).get("id"), raw.get("replyToId"))
    if any(isinstance(value, str) and len(value) > MAX_ID_LENGTH for value in ids):
        # They end up in the reply's URL; Teams' own ids are a few hundred characters at most.
        raise BadActivityError(f"an id or the serviceUrl is longer than {MAX_ID_LENGTH} characters")
    try:
        return Activity().deserialize(raw)
    except Exception as exc:  # msrest raises DeserializationError and friends for wrongly typed fields
        raise BadActivityError("the activity has fields of the wrong type") from exc
