"""The bolt app and its life around the aiohttp server: authorization, OAuth, Socket Mode, start and stop."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.state_store import FileOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.authorize import InstalledAuthorize, SingleWorkspaceAuthorize
from adapters.slack.frontend import SlackFrontEnd
from adapters.slack.install_pages import InstallFlow, InstallPages
from adapters.slack.installations import TinyDBInstallationStore
from adapters.slack.settings import BOT_SCOPES, SlackSettings
from adapters.slack.webapi import SlackWebApi, TokenSource
from bot.config import ProviderSettings
from bot.delivery import DeliveryError

logger = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
SHUTDOWN_GRACE = 10.0  # seconds to let turns that were already acked finish


class OAuthStateFiles(FileOAuthStateStore):
    """slack_sdk's file state store, refusing states it never issues: it opens and deletes `<folder>/<state>`,
    so a forged state like "../installations.json" (with a cookie to match) would reach other files."""

    def consume(self, state: str) -> bool:
        try:
            issued = str(uuid.UUID(state)) == state
        except (TypeError, ValueError):
            issued = False
        return issued and super().consume(state)


def token_source(config: SlackSettings, installations: TinyDBInstallationStore | None) -> TokenSource:
    """The bot token for a workspace: the one token, or the one its installation stored."""

    async def single(team: str) -> str:
        return config.bot_token

    async def installed(team: str) -> str:
        assert installations is not None
        bot = await installations.async_find_bot(enterprise_id=None, team_id=team)
        if bot is None or not bot.bot_token:
            raise DeliveryError(f"the Slack app is not installed in workspace {team}")
        return bot.bot_token

    return installed if installations is not None else single


def bolt_app(
    config: SlackSettings,
    installations: TinyDBInstallationStore | None,
    folder: Path,
    identity: dict[str, str],
    *,
    provider: ProviderSettings,
) -> AsyncApp:
    """The bolt app: verification, authorization from memory or the local store, OAuth when many workspaces.

    `provider` names the provider, with its phone and e-mail, on the install pages.
    """
    client = AsyncWebClient(base_url=config.api_url)
    common: dict[str, Any] = {
        "name": "supportbot",
        "signing_secret": config.signing_secret,
        "client": client,
        # Ack first, work after: the response goes back as soon as a listener calls ack().
        "process_before_response": False,
        # Every HTTP request reaches bolt through `events.events_handler`, which has checked the signature
        # (and refused what is unsigned) before bolt reads a byte; Socket Mode needs no signature.
        "request_verification_enabled": False,
    }
    if installations is not None:
        pages = InstallPages(provider=provider, install_path=INSTALL_PATH)
        oauth = AsyncOAuthSettings(
            client_id=config.client_id,
            client_secret=config.client_secret,
            scopes=list(BOT_SCOPES),
            installation_store=installations,
            state_store=OAuthStateFiles(expiration_seconds=600, base_dir=str(folder / "oauth-state")),
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            callback_options=pages.callback_options(),
        )
        flow = InstallFlow(pages=pages, client=client, settings=oauth)
        authorize = InstalledAuthorize(store=installations)
        # bolt prefers oauth_flow; oauth_settings too keeps it from building default file stores under $HOME
        # when SLACK_CLIENT_ID is in the process environment.
        app = AsyncApp(
            oauth_settings=oauth, oauth_flow=flow, installation_store=installations, authorize=authorize, **common
        )
        app.enable_token_revocation_listeners()
        return app
    return AsyncApp(authorize=SingleWorkspaceAuthorize(token=config.bot_token, identity=identity), **common)


def run_alongside(
    app: web.Application,
    config: SlackSettings,
    bolt: AsyncApp,
    front: SlackFrontEnd,
    api: SlackWebApi,
    installations: TinyDBInstallationStore | None,
    identity: dict[str, str],
) -> None:
    """Start-up checks and Socket Mode while the server runs; finish acked work before closing."""
    background: list[asyncio.Task[None]] = []
    socket: list[AsyncSocketModeHandler] = []

    async def start(_: web.Application) -> None:
        if installations is None:
            background.append(asyncio.create_task(_who_am_i(identity, api)))
        if config.socket_mode:
            handler = AsyncSocketModeHandler(bolt, app_token=config.app_token)
            socket.append(handler)
            # In the background: the client retries until Slack answers, and the server must start meanwhile.
            background.append(asyncio.create_task(handler.connect_async()))

    async def shutdown(_: web.Application) -> None:
        for handler in socket:
            await handler.close_async()
        for task in background:
            task.cancel()
        await front.stop(grace=SHUTDOWN_GRACE)

    async def cleanup(_: web.Application) -> None:
        await api.close()
        if installations is not None:
            installations.close()

    app.on_startup.append(start)
    app.on_shutdown.append(shutdown)
    app.on_cleanup.append(cleanup)


async def _who_am_i(identity: dict[str, str], api: SlackWebApi) -> None:
    """Learn the bot's own user id (so bolt ignores the bot's own DM messages) and check the token works."""
    try:
        data = await api.call("", "auth.test")
    except DeliveryError as exc:
        logger.error("Slack: the bot token does not work (%s); check SLACK_BOT_TOKEN", exc)
        return
    identity.update(user_id=data.get("user_id", ""), bot_id=data.get("bot_id", ""))
    logger.info("Slack: signed in to workspace %s as %s", data.get("team"), data.get("user"))


def quiet_library_debug_logs() -> None:
    """slack_sdk and bolt log whole request and response bodies at DEBUG (tokens from oauth.v2.access,
    client secrets, what employees wrote); never let a debug setting write those to a log file."""
    for name in ("slack_sdk", "slack_bolt"):
        library = logging.getLogger(name)
        if library.level < logging.INFO:
            library.setLevel(logging.INFO)
