"""The local channel: a chat page at `/` and the on-call inbox at `/oncall`, for this machine only.

It needs no account and no credentials, so `make run` lets anyone try the product in a minute: an
employee's browser gets a chat cookie of its own, and each technician opens the inbox through a
secret link (printed at start-up and by `python -m bot oncall link <tech>`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web

from adapters.local.messenger import PLATFORM, LocalMessenger
from adapters.local.routes import LocalRoutes
from adapters.net import is_loopback_host
from adapters.reports.route import ReportPage
from adapters.signed_links import links_of
from adapters.wiring import Services
from bot.errors import BotError

__all__ = ["LocalMessenger", "mount"]

logger = logging.getLogger(__name__)


def mount(app: web.Application, services: Services, environ: Mapping[str, str]) -> str | None:
    """Add the local pages and register the "local" messenger; the reason when the channel stays off."""
    host = services.settings.host
    if not is_loopback_host(host) and environ.get("SUPPORTBOT_LOCAL") != "1":
        return (
            f"HOST={host} is not a loopback address; set SUPPORTBOT_LOCAL=1 to serve it anyway"
            " (it still answers only requests from this machine)"
        )
    try:
        links = links_of(app, services.settings.data_dir, environ, services.storage)
        messenger = LocalMessenger(services.storage.records, clock=services.clock)
    except BotError as exc:  # a damaged file is kept for the operator; the other front ends still run
        return str(exc)
    services.messengers.register(PLATFORM, messenger)
    LocalRoutes(services, messenger, links).add_to(app)
    ReportPage(services, links).add_to(app)  # the manager's report, for a technician signed in to the inbox
    if not is_loopback_host(host):
        logger.info(
            "local channel on HOST=%s because SUPPORTBOT_LOCAL=1; it answers only requests from this machine", host
        )
    return None
