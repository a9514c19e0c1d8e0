"""Bolt listeners: ack at once, hand the work to the front end. Nothing slow happens before the ack."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest

from adapters.slack.convert import ACTION_PREFIX
from adapters.slack.frontend import SlackFrontEnd

logger = logging.getLogger(__name__)


def register(app: AsyncApp, front: SlackFrontEnd) -> None:
    # Any slash command of this app is /support (an admin may rename it in the manifest).
    @app.command(re.compile(r"^/"))
    async def handle_support_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        front.spawn(front.on_command(body))

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
    async def handle_errors(error: Exception, body: dict[str, Any]) -> None:
        logger.error("Slack request of type %s failed: %s", body.get("type"), error, exc_info=error)
