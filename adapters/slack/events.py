"""`POST /slack/events`: Slack's signature is checked before bolt reads a byte of the body.

bolt parses the body (JSON, or the form's `payload` field) when it builds its request, and only then
checks the signature; slack_sdk's verifier also calls `int()` on the timestamp header. Malformed
requests from anyone on the internet would then answer 500 with a traceback in the log. Here an
unsigned, stale or unreadable request is answered 401 at once, and a signed body bolt cannot read
400, each with one log line and no traceback. Socket Mode does not come through here.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.request.payload_utils import (
    to_action,
    to_command,
    to_event,
    to_message,
    to_options,
    to_shortcut,
    to_step,
    to_view,
)
from slack_sdk.signature import SignatureVerifier

from adapters.json_input import UNREADABLE_JSON, why_unreadable
from adapters.slack.acks_first import AcksFirst

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Whole seconds since 1970; twelve digits is far beyond any real clock, and keeps int() cheap.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
REPORT_EVERY = 60.0  # seconds between two log lines about refused requests
# What bolt extracts from every body for every listener and error handler, assuming Slack's shapes
# ("actions" a list, "event" an object, ...); run once here, inside the 400 guard.
_BOLT_VIEWS = (to_options, to_shortcut, to_action, to_view, to_command, to_event, to_message, to_step)


class RefusalLog:
    """One warning a minute at most about refused requests, with how many, so forgers cannot flood the log
    while a wrong SLACK_SIGNING_SECRET still shows up at once."""

    def __init__(self, *, every: float = REPORT_EVERY) -> None:
        self.every = every
        self.count = 0
        self._last = -every

    def refused(self, now: float) -> None:
        self.count += 1
        if now - self._last >= self.every:
            logger.warning(
                "Slack: refused %d request(s) without a valid signature since the last report "
                "(if Slack's own requests are refused, check SLACK_SIGNING_SECRET)",
                self.count,
            )
            self.count = 0
            self._last = now


def signed_text(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> str | None:
    """The body as text when Slack signed it within the last five minutes (as bolt requires), else None."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not _TIMESTAMP.fullmatch(timestamp) or not signature.isascii():
        return None
    try:
        text = body.decode("utf-8")  # Slack signs and sends UTF-8, whatever the Content-Type says
    except UnicodeDecodeError:
        return None
    return text if verifier.is_valid(text, timestamp, signature) else None


def events_handler(
    bolt: AsyncApp, signing_secret: str, acks: AcksFirst, *, refusals: RefusalLog | None = None
) -> Handler:
    """The aiohttp handler: verify, then let bolt dispatch (which acks and starts the work)."""
    verifier = SignatureVerifier(signing_secret)
    log = refusals or RefusalLog()

    async def dispatch(request: web.Request) -> web.StreamResponse:
        with acks.acking():
            return await acked(request)

    async def acked(request: web.Request) -> web.StreamResponse:
        text = signed_text(verifier, await request.read(), request.headers)
        if text is None:
            log.refused(time.monotonic())
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            bolt_request = AsyncBoltRequest(body=text, query=request.query_string, headers=request.headers)  # type: ignore[arg-type]
            for view in _BOLT_VIEWS:
                view(bolt_request.body)
        except (*UNREADABLE_JSON, TypeError, AttributeError, KeyError, IndexError) as exc:
            # Signed, so from Slack (or someone holding the secret); still nothing to act on.
            logger.warning(
                "Slack: a signed request (timestamp %s) could not be read (%s); answered 400",
                request.headers.get("X-Slack-Request-Timestamp"),
                why_unreadable(exc),
            )
            return web.json_response({"error": "unreadable request"}, status=400)
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    return dispatch
