"""The Slack front end: `/support`, buttons and DMs through slack-bolt, mounted on the bot's aiohttp app.

Three ways to run, chosen by the environment (see `settings.py`): one workspace with a bot token,
many customer workspaces installing through OAuth at `/slack/install`, and Socket Mode for a
server without a public URL. All conversation logic stays in `dialogs/`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from adapters.slack import listeners
from adapters.slack.app import (
    INSTALL_PATH,
    REDIRECT_PATH,
    bolt_app,
    quiet_library_debug_logs,
    run_alongside,
    token_source,
)
from adapters.slack.events import events_handler
from adapters.slack.frontend import SlackFrontEnd
from adapters.slack.installations import RecordsInstallationStore, RecordsOAuthStateStore
from adapters.slack.messenger import SlackMessenger
from adapters.slack.settings import SlackSettings
from adapters.slack.webapi import SlackWebApi
from adapters.wiring import Services

__all__ = ["SLACK", "SlackFrontEnd", "SlackMessenger", "mount"]

logger = logging.getLogger(__name__)

PLATFORM = "slack"
EVENTS_PATH = "/slack/events"
SLACK = web.AppKey("slack", SlackFrontEnd)


def mount(app: web.Application, services: Services, environ: Mapping[str, str]) -> str | None:
    """Mount `/slack/*` and register the Slack messenger; the reason when Slack stays off."""
    config = SlackSettings.from_env(environ)
    reason = config.disabled_reason()
    if reason is not None:
        return reason
    quiet_library_debug_logs()
    records = services.storage.records
    installations = RecordsInstallationStore(records) if config.oauth else None
    states = RecordsOAuthStateStore(records) if config.oauth else None
    api = SlackWebApi(tokens=token_source(config, installations), base_url=config.api_url, observer=services.observer)
    messenger = SlackMessenger(api=api)
    front = SlackFrontEnd(
        bot=services.bot,
        messenger=messenger,
        provider=services.settings.provider,
        deliveries=services.storage.deliveries,
    )
    identity: dict[str, str] = {}  # the bot's own user and bot id, learnt from auth.test at start-up
    bolt = bolt_app(config, installations, states, identity, provider=services.settings.provider)
    listeners.register(bolt, front)
    services.messengers.register(PLATFORM, messenger)
    app[SLACK] = front

    if config.signing_secret:  # without it (Socket Mode only) every HTTP request would be refused anyway
        app.router.add_post(EVENTS_PATH, events_handler(bolt, config.signing_secret, front.acks))
    if bolt.oauth_flow is not None:
        flow = bolt.oauth_flow

        async def install(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

        async def oauth_redirect(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

        app.router.add_get(INSTALL_PATH, install)
        app.router.add_get(REDIRECT_PATH, oauth_redirect)
    run_alongside(app, config, bolt, front, api, installations, identity)
    logger.info(
        "Slack: %s%s",
        "OAuth install at " + INSTALL_PATH if config.oauth else "one workspace",
        ", Socket Mode" if config.socket_mode else "",
    )
    return None
