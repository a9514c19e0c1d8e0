"""Handover notices: at each change of the primary the incoming one gets a DM with until when and the
open on-call cases, the outgoing one a short summary, and the team channel one line.

Driven by the runner's loop (`OncallService.tick`, the clock as the argument). Each handover is
announced once, also across restarts and with several replicas: "handover at <moment> to <id>" is
taken through the delivery log's atomic `first_time` (remembered for `REMEMBER`) before anything is
sent. A handover the bot was down for is still announced when it comes back within `NOTICE_WINDOW`;
after that the news is stale and the next "hvem har vagten?" tells the truth instead.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.config import Technician
from bot.delivery import DeliveryError
from bot.i18n import DEFAULT_LANGUAGE, text
from bot.messages import Message
from bot.oncall.roster import cases_text, long_moment, open_pages
from bot.oncall.rota import Rota, outlook

if TYPE_CHECKING:
    from bot.oncall.service import OncallService

logger = logging.getLogger(__name__)

NOTICE_WINDOW = timedelta(hours=2)
REMEMBER = timedelta(days=30)
JUST_BEFORE = timedelta(microseconds=1)


class Handovers:
    """Announces each change of primary once (see the module's docstring)."""

    def __init__(self, service: OncallService) -> None:
        self._service = service
        self._announced = ""  # the last handover this process saw taken: the log is asked once per handover

    async def check(self, now: datetime) -> None:
        rota = await self._service.current_rota(now)
        began = rota.began(now)
        if now - began > NOTICE_WINDOW:
            return
        incoming, outgoing = rota.on_call(now), rota.on_call(began - JUST_BEFORE)
        primary = incoming.primary
        if primary is None or (outgoing.primary is not None and outgoing.primary.id == primary.id):
            return
        key = f"handover\n{began.isoformat()}\n{primary.id}"
        if key == self._announced:
            return
        self._announced = key
        if not await self._service.deliveries.first_time(key, ttl=REMEMBER, now=now):
            return  # announced already: before a restart, or by another replica
        logger.info("handover at %s: %s is on call", began.isoformat(), primary.id)
        await self._announce(rota, now, primary, incoming.backup, outgoing.primary)

    async def _announce(
        self, rota: Rota, now: datetime, primary: Technician, backup: Technician | None, before: Technician | None
    ) -> None:
        service = self._service
        until_moment = outlook(rota, now).change or rota.handover_after(now)
        since = now - service.settings.oncall.keep_posts
        cases = open_pages(await service.cases.find(open_only=True, since=since))

        def until(language: str) -> str:
            return long_moment(until_moment, rota.zone, language)

        lang = primary.language
        key = "incoming_backup" if backup is not None else "incoming"
        said = text(f"oncall.handover.{key}", lang, until=until(lang), backup=backup.name if backup else "")
        await self._send(
            primary, Message(f"{said}\n{cases_text(cases, lang)}", title=text("oncall.handover.incoming_title", lang))
        )
        if before is not None:
            lang = before.language
            said = text("oncall.handover.outgoing", lang, name=primary.name, until=until(lang))
            title = text("oncall.handover.outgoing_title", lang)
            await self._send(before, Message(f"{said}\n{cases_text(cases, lang)}", title=title))
        key = "team_backup" if backup is not None else "team"
        line = text(
            f"oncall.handover.{key}", DEFAULT_LANGUAGE, name=primary.name, until=until(DEFAULT_LANGUAGE),
            backup=backup.name if backup else "",
        )  # fmt: skip
        for address in service.team_addresses():
            try:
                await service.messengers.send(address, Message(line))
            except DeliveryError as exc:
                logger.warning("the handover line to the %s team channel failed: %s", address.platform, exc)

    async def _send(self, tech: Technician, message: Message) -> None:
        service = self._service
        for address in service.rota.addresses(tech, service.enabled_platforms()):
            try:
                await service.messengers.send(address, message)
                return
            except DeliveryError as exc:
                logger.warning("handover notice to %s failed (%s): %s", tech.id, address.platform, exc)
