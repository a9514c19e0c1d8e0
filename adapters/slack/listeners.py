"""Bolt listeners: ack at once, hand the work to the front end. Nothing slow happens before the ack."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest
from slack_bolt.response import BoltResponse

from adapters.slack.convert import ACTION_PREFIX
from adapters.slack.frontend import SlackFrontEnd

logger = logging.getLogger(__name__)

# bolt reads payloads assuming Slack's shapes (`actions[0]["action_id"]`, `event.get(...)`) in its
# matchers, middleware and request helpers; an error raised inside bolt itself is such a shape.
_BOLT = "slack_bolt."


def register(app: AsyncApp, front: SlackFrontEnd) -> None:
    # Any slash command of this app is /support (an admin may rename it in the manifest).
    @app.command(re.compile(r"^/"))
    async def handle_support_command(ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest) -> None:
        note, take = front.command_ack(body)
        await ack(text=note)  # shown to the person as an ephemeral message; "": an empty ack
        if take:
            signature = request.headers.get("x-slack-signature") or [""]  # none in Socket Mode
            front.spawn(front.on_command(body, signature=signature[0]))

    @app.action(re.compile(rf"^{ACTION_PREFIX}:"))
    async def handle_button(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        front.spawn(front.on_action(body))

    @app.event("message")
    async def handle_message_im(event: dict[str, Any], body: dict[str, Any], request: AsyncBoltRequest) -> None:
        # Events are acked by bolt before this runs; a retry (X-Slack-Retry-Num) is recognised by its event_id.
        retry = request.headers.get("x-slack-retry-num")
        if retry:
            logger.info("Slack retry %s of event %s", retry[0], body.get("event_id"))
        front.spawn(front.on_message(event, body))

    @app.error
    async def handle_errors(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        kind = str(body.get("type"))[:40]
        if _raised_reading_payload(error):
            # Signed, so from Slack (or a holder of the secret), but nothing this app could act on.
            logger.warning("Slack request of type %s has a shape bolt cannot read (%s); answered 400", kind, error)
            return BoltResponse(status=400, body="")
        logger.error("Slack request of type %s failed: %s", kind, error, exc_info=error)
        return None


def _raised_reading_payload(error: Exception) -> bool:
    """True when bolt itself failed to read the payload (a bad shape), not when a listener of ours failed."""
    trace = error.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    module = trace.tb_frame.f_globals.get("__name__", "") if trace is not None else ""
    return isinstance(error, LookupError | TypeError | AttributeError) and module.startswith(_BOLT)
