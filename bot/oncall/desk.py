"""What technicians ask the bot about the rota in chat: who is on call, test pages, swaps and takes.

The runner of these requests, as `OncallService` is of pages: it reads the rota (with the chat
overrides, read afresh) and the open cases, stores overrides through `bot.ports.Overrides`, and
sends the offers and notices through the messengers; the texts are built by `bot.oncall.roster`
and the catalogs. Only technicians of the rota get names, cases and these actions; anyone else
asking "hvem har vagten?" gets `roster.who_for_employee`.

A test page creates no case: case numbers are the customers' references, handed out without gaps
(POLICY.md: every request becomes a case), so a test must not use one. It is marked as a test in
its title and text, has its own button (`rota:testack`), and is logged with the technician's id.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.audit import record as record_audit
from bot.cases import Case
from bot.config import Technician
from bot.delivery import DeliveryError
from bot.i18n import text
from bot.messages import Choice, Message
from bot.oncall import overrides as chat_overrides
from bot.oncall.overrides import ChatOverride, OverrideStatus
from bot.oncall.pages import format_moment, join_names
from bot.oncall.roster import long_moment, open_pages, who_for_employee, who_for_technician
from bot.oncall.service import OncallService
from bot.ports import AuditLog

logger = logging.getLogger(__name__)

TAKE_PREFIX = "rota:take:"
TEST_ACK_CHOICE = "rota:testack"


class OncallDesk:
    """Technicians' rota requests from chat; platform-neutral."""

    def __init__(self, service: OncallService, audit: AuditLog) -> None:
        self._service = service
        self._audit = audit  # every change of the rota made here is recorded (`overrides.audit_entry`)
        self._settings = service.settings
        self._zone = service.settings.hours.timezone

    async def who(self, tech: Technician | None, language: str, now: datetime) -> Message:
        rota = await self._service.current_rota(now)
        if tech is None:
            return who_for_employee(rota, now, language, names=self._settings.oncall.names_to_employees)
        return who_for_technician(rota, now, await self.open_cases(now), tech.language)

    async def open_cases(self, now: datetime) -> list[Case]:
        since = now - self._settings.oncall.keep_posts
        return open_pages(await self._service.cases.find(open_only=True, since=since))

    # -- test pages -------------------------------------------------------------------------------

    async def test_page(self, tech: Technician, now: datetime) -> Message:
        """Send `tech` a page marked as a test to every address of theirs on an enabled platform."""
        language = tech.language
        message = Message(
            text=text("oncall.test.text", language, time=format_moment(now, self._zone, language, short=True)),
            title=text("oncall.test.title", language),
            choices=(Choice(TEST_ACK_CHOICE, text("oncall.button.test_ack", language)),),
            metadata={"test": "true"},
        )
        addresses = self._service.rota.addresses(tech, self._service.enabled_platforms())
        if not addresses:
            return Message(text("oncall.test.none", language))
        sent, failed = [], []
        for address in addresses:
            try:
                await self._service.messengers.send(address, message)
                sent.append(address.platform)
            except DeliveryError as exc:
                logger.warning("test page to %s failed (%s): %s", tech.id, address.platform, exc)
                failed.append(address.platform)
        logger.info("test page sent to %s via %s", tech.id, ", ".join(sent) or "nothing")
        lines = []
        if sent:
            lines.append(text("oncall.test.sent", language, platforms=self._platforms(sent, language)))
        if failed:
            lines.append(text("oncall.test.failed", language, platforms=self._platforms(failed, language)))
        return Message("\n".join(lines))

    def test_acknowledged(self, tech: Technician, now: datetime) -> Message:
        logger.info("test page acknowledged by %s", tech.id)
        when = format_moment(now, self._zone, tech.language, short=True)
        return Message(text("oncall.test.acknowledged", tech.language, time=when))

    # -- swaps and takes --------------------------------------------------------------------------

    async def offer(self, tech: Technician, start: datetime, end: datetime, now: datetime) -> Message:
        """Offer the period to every other technician, each with a "Jeg tager den" button."""
        language = tech.language
        others = [t for t in self._service.rota.technicians if t.id != tech.id]
        if not others:
            return Message(text("oncall.swap.nobody_to_ask", language))
        stored = await self._service.overrides.add(chat_overrides.offer(start, end, requester=tech.id, now=now))
        logger.info("swap %s offered by %s", stored.id, tech.id)
        for other in others:
            await self._send(other, self._offer_message(stored, tech, other.language))
        names = join_names([t.name for t in others], language)
        return Message(text("oncall.swap.offered", language, names=names, **self._span(stored, language)))

    async def take_period(self, tech: Technician, start: datetime, end: datetime, now: datetime) -> Message:
        stored = await self._service.overrides.add(chat_overrides.take(start, end, technician=tech.id, now=now))
        logger.info("swap %s: %s took the period directly", stored.id, tech.id)
        await record_audit(self._audit, chat_overrides.audit_entry(stored, "taken", at=now))
        return Message(text("oncall.swap.took", tech.language, id=stored.id, **self._span(stored, tech.language)))

    async def accept(self, tech: Technician, override_id: str, now: datetime) -> Message:
        """ "Jeg tager den": the first press wins (a compare-and-set in the port); the others hear who was first."""
        language = tech.language
        seen = await self._service.overrides.get(override_id)
        if seen is None:
            return Message(text("oncall.swap.not_found", language))
        if seen.requester == tech.id and seen.status is OverrideStatus.OFFERED:
            return Message(text("oncall.swap.own_offer", language))
        if seen.status is OverrideStatus.OFFERED:
            won = await self._service.overrides.change(seen, seen.taken_by(tech.id))
            if won is not None:
                logger.info("swap %s taken by %s", won.id, tech.id)
                await record_audit(self._audit, chat_overrides.audit_entry(won, "swapped", at=now))
                await self._tell_taken(won, tech)
                return Message(text("oncall.swap.taken_you", language, id=won.id, **self._span(won, language)))
            seen = await self._service.overrides.get(override_id) or seen
        if seen.status is OverrideStatus.TAKEN:
            winner = self._service.rota.technician(seen.primary)
            name = winner.name if winner else seen.primary
            return Message(text("oncall.swap.taken_already", language, name=name, **self._span(seen, language)))
        return Message(text("oncall.swap.cancelled", language, **self._span(seen, language)))

    async def _tell_taken(self, won: ChatOverride, taker: Technician) -> None:
        """The requester hears who took it; every offer card, the taker's too, is updated to say it is taken."""
        requester = self._service.rota.technician(won.requester)
        if requester is not None:
            span = self._span(won, requester.language)
            await self._send(
                requester,
                Message(text("oncall.swap.taken_requester", requester.language, name=taker.name, id=won.id, **span)),
            )
        for other in self._service.rota.technicians:
            if other.id == won.requester:
                continue
            message = self._offer_message(won, requester, other.language, taken_by=taker)
            await self._send(other, message)

    def _offer_message(
        self, offer: ChatOverride, requester: Technician | None, language: str, *, taken_by: Technician | None = None
    ) -> Message:
        name = requester.name if requester else offer.requester
        lines = [text("oncall.swap.offer", language, name=name, **self._span(offer, language))]
        if taken_by is not None:
            lines.append(text("oncall.swap.taken_line", language, name=taken_by.name))
        choices = () if taken_by else (Choice(TAKE_PREFIX + offer.id, text("oncall.button.take", language), "primary"),)
        return Message(
            text="\n".join(lines),
            title=text("oncall.swap.offer_title", language),
            choices=choices,
            key=f"swap:{offer.id}",  # the "taken" version replaces the offer in place where the platform can
        )

    async def _send(self, tech: Technician, message: Message) -> None:
        """To the technician's first enabled platform that takes it; a failure is logged, not raised."""
        for address in self._service.rota.addresses(tech, self._service.enabled_platforms()):
            try:
                await self._service.messengers.send(address, message)
                return
            except DeliveryError as exc:
                logger.warning("rota message to %s failed (%s): %s", tech.id, address.platform, exc)

    def _span(self, override: ChatOverride, language: str) -> dict[str, str]:
        return {
            "start": long_moment(override.start, self._zone, language),
            "end": long_moment(override.end, self._zone, language),
        }

    @staticmethod
    def _platforms(platforms: list[str], language: str) -> str:
        return join_names([text(f"oncall.platform.{p}", language) for p in platforms], language)
