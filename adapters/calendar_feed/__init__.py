"""The on-call calendar feed: `GET /oncall/calendar/<token>.ics`, the next weeks of shifts for a calendar app.

Each technician has a secret link to their own shifts, and there is one for the whole rota
(`python -m bot oncall calendar-link [TECH]`). The link is the only credential, so a calendar app
can subscribe to it; a token that is malformed, forged, revoked or names a technician who has left
the rota gets the same plain 404 as any unknown address.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from aiohttp import web

from adapters.calendar_feed.ics import calendar_feed
from adapters.net import local_base_url
from adapters.signed_links import SignedLinks, command_links, links_of
from adapters.wiring import Services
from bot.config import Settings, Technician
from bot.errors import ConfigError, StorageError
from bot.i18n import DEFAULT_LANGUAGE
from bot.oncall.shifts import shifts

__all__ = ["PATH_PREFIX", "calendar_link", "mount"]

logger = logging.getLogger(__name__)

PURPOSE = "oncall-calendar"
WHOLE_ROTA = "rota"
TECHNICIAN_PREFIX = "tech:"
PATH_PREFIX = "/oncall/calendar/"
WEEKS = 12
CACHE_SECONDS = 300
PUBLIC_URL_VARIABLE = "SUPPORTBOT_PUBLIC_URL"


def mount(app: web.Application, services: Services, environ: Mapping[str, str]) -> str | None:
    """Add the feed route; the reason when it stays off (a bad signing key or a damaged revocation file)."""
    try:
        links = links_of(app, services.settings.data_dir, environ, services.storage)
    except (ConfigError, StorageError) as exc:
        return str(exc)
    app.router.add_get(PATH_PREFIX + "{token}.ics", CalendarRoute(services, links).get)
    return None


class CalendarRoute:
    """Answers a calendar app's fetch with the shifts its token allows."""

    def __init__(self, services: Services, links: SignedLinks) -> None:
        self._services = services
        self._links = links

    async def get(self, request: web.Request) -> web.Response:
        settings = self._services.settings
        try:
            subject = self._links.verify(PURPOSE, request.match_info["token"])
        except StorageError:
            logger.exception("the calendar links' revocation file cannot be read")
            raise web.HTTPServiceUnavailable() from None
        technician: Technician | None = None
        if subject is None:
            raise web.HTTPNotFound()
        if subject != WHOLE_ROTA:
            technician = settings.oncall.technician(subject.removeprefix(TECHNICIAN_PREFIX))
            if not subject.startswith(TECHNICIAN_PREFIX) or technician is None:
                raise web.HTTPNotFound()
        now = self._services.clock.now()
        oncall = self._services.oncall
        try:
            # The first shift is shown whole, so chat overrides that ended earlier in it still shape it.
            chat = await oncall.overrides.all(ending_after=now - timedelta(weeks=1))
        except StorageError:
            logger.exception("the overrides made in chat cannot be read")
            raise web.HTTPServiceUnavailable() from None
        # The config's overrides, then the chat's in force: for the same period the chat's win.
        overrides = oncall.rota.with_chat(chat).settings.overrides
        found = shifts(oncall.rota, since=now, until=now + timedelta(weeks=WEEKS), overrides=overrides)
        body = calendar_feed(
            found,
            technician=technician,
            language=technician.language if technician else DEFAULT_LANGUAGE,
            zone_name=settings.hours.timezone.key,
            now=now,
        )
        headers = {"Cache-Control": f"private, max-age={CACHE_SECONDS}", "X-Content-Type-Options": "nosniff"}
        return web.Response(body=body, content_type="text/calendar", charset="utf-8", headers=headers)


def calendar_link(settings: Settings, environ: Mapping[str, str], tech: str | None, *, revoke: bool = False) -> str:
    """The secret feed address of `tech` (None: the whole rota); with `revoke`, a new one that ends the old ones."""
    subject = WHOLE_ROTA if tech is None else TECHNICIAN_PREFIX + tech
    with command_links(settings, environ) as links:
        token = links.revoke(PURPOSE, subject) if revoke else links.issue(PURPOSE, subject)
    return f"{public_url(settings, environ)}{PATH_PREFIX}{token}.ics"


def public_url(settings: Settings, environ: Mapping[str, str]) -> str:
    """Where calendar apps reach this server: `SUPPORTBOT_PUBLIC_URL`, else its address on this machine."""
    configured = environ.get(PUBLIC_URL_VARIABLE, "").strip().rstrip("/")
    if configured:
        return configured
    return local_base_url(settings.host, settings.port)
