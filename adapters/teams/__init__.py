"""The Microsoft Teams front end: `POST /api/messages` on botbuilder's CloudAdapter.

Every botbuilder import lives in this package, so moving to the Microsoft 365 Agents SDK (the
archived Bot Framework SDK's successor) changes this folder only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter

from adapters.net import is_loopback_host
from adapters.teams.connectors import ReusingAuthentication
from adapters.teams.convert import PLATFORM
from adapters.teams.endpoint import TeamsEndpoint
from adapters.teams.handler import SupportActivityHandler
from adapters.teams.messenger import TeamsMessenger
from adapters.teams.patches import speed_up_retry_policy
from adapters.teams.settings import TeamsSettings
from adapters.teams.store import AsyncTeamsStore, TeamsStore
from bot.errors import ConfigError, StorageError
from bot.i18n import text

__all__ = ["TeamsMessenger", "enabled_as", "mount"]

if TYPE_CHECKING:  # only for annotations: importing it would build the whole bot
    from adapters.wiring import Services

logger = logging.getLogger(__name__)

ROUTE = "/api/messages"
TEAMS_ENDPOINT = web.AppKey("teams_endpoint", TeamsEndpoint)


def mount(app: web.Application, services: Services, environ: Mapping[str, str]) -> str | None:
    """Add `POST /api/messages` and register the "teams" messenger; the reason when Teams stays off."""
    try:
        settings = TeamsSettings.from_env(environ)
    except ConfigError as exc:
        return str(exc)
    host = services.settings.host
    if not settings.authenticated and not is_loopback_host(host):
        return (
            f"MicrosoftAppId is not set, and without authentication (for the Bot Framework Emulator) Teams runs"
            f" only on localhost, not on HOST={host}; set MicrosoftAppId, MicrosoftAppPassword, MicrosoftAppTenantId"
            " for Teams"
        )
    speed_up_retry_policy()
    adapter = CloudAdapter(ReusingAuthentication(settings.botbuilder_configuration()))
    store = TeamsStore(services.storage.records)
    try:
        store.check()
    except StorageError as exc:
        return str(exc)
    messenger = TeamsMessenger(
        adapter=adapter,
        settings=settings,
        store=AsyncTeamsStore(store),
        clock=services.clock,
        service_url=services.settings.team_channel.teams_service_url,
    )
    provider = services.settings.provider
    handler = SupportActivityHandler(bot=services.bot, messenger=messenger, provider=provider)

    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        """Anything the dialogs did not catch: log it, and tell the person rather than go silent."""
        logger.error("Teams turn failed in conversation %s", context.activity.conversation.id, exc_info=error)
        if context.activity.type == "message":
            language = context.activity.locale or "da"
            apology = text("teams.error", language, phone=provider.phone, menu=provider.phone_menu)
            await context.send_activity(apology)

    adapter.on_turn_error = on_turn_error
    endpoint = TeamsEndpoint(
        adapter=adapter, handler=handler, settings=settings, deliveries=services.storage.deliveries
    )
    app[TEAMS_ENDPOINT] = endpoint
    app.router.add_post(ROUTE, endpoint.handle)
    services.messengers.register(PLATFORM, messenger)

    async def drain(_: web.Application) -> None:
        await endpoint.drain()

    app.on_shutdown.append(drain)
    return None


def enabled_as(environ: Mapping[str, str]) -> str:
    """How Teams runs once mounted, for the start-up log: "" with a bot registration, else what to set."""
    if TeamsSettings.from_env(environ).authenticated:
        return ""
    return (
        "without authentication for the Bot Framework Emulator"
        " (set MicrosoftAppId, MicrosoftAppPassword, MicrosoftAppTenantId for Teams)"
    )
