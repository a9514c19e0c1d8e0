"""Updates to the employee who reported a case: on-call has it, was escalated, acknowledged, resolved, or to phone.

Each update is recorded on the case (REPORTER_NOTIFIED, with whether it arrived). An update never
overtakes the answer of the turn that created the case: pages are sent in the background and may
be through before that answer is, so `hold` makes the updates about the case wait until the turn
says its answer is out (bounded, so a turn that hangs cannot hold them back for ever).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.cases import Case, CaseEvent, CaseStatus, EventKind
from bot.clock import Clock
from bot.config import Settings, Technician
from bot.delivery import Address, DeliveryError, Messengers
from bot.messages import Message
from bot.oncall.pages import linked_numbers, reporter_message
from bot.ports import Cases

logger = logging.getLogger(__name__)

SYSTEM = "system"  # the actor of the events the bot itself records
# Updates wait this long (seconds) at most for the answer of the turn that created their case.
ANSWER_WAIT = 60.0


class ReporterUpdates:
    """Tells reporters what happened to their case, after their turn's answer, and records that it did."""

    def __init__(self, *, settings: Settings, store: Cases, messengers: Messengers, clock: Clock) -> None:
        self._settings = settings
        self._store = store
        self._messengers = messengers
        self._clock = clock
        self._answering: dict[int, asyncio.Future[None]] = {}  # case -> its reporter's turn, until answered

    def __len__(self) -> int:
        """Cases whose updates wait for a turn's answer right now."""
        return len(self._answering)

    def hold(self, number: int, answered: asyncio.Future[None]) -> None:
        """Make updates to the reporter of case `number` wait until `answered` completes."""
        if answered.done():
            return
        self._answering[number] = answered

        def release(done: asyncio.Future[None]) -> None:
            if self._answering.get(number) is done:
                del self._answering[number]

        answered.add_done_callback(release)

    async def tell(self, case: Case, key: str, **params: object) -> bool:
        """Send the reporter an update (oncall.reporter.<key>) after their turn's answer; record whether it arrived."""
        delivered = await self.send(case, reporter_message(key, case, **params), about=key)
        data = {"about": key, "delivered": delivered}
        await self._store.update(case.number, CaseEvent(self._clock.now(), EventKind.REPORTER_NOTIFIED, SYSTEM, data))
        return delivered

    async def send(self, case: Case, message: Message, *, about: str) -> bool:
        """Send the reporter `message` after their turn's answer; whether it arrived (recording it is the caller's)."""
        answering = self._answering.get(case.number)
        if answering is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(answering), ANSWER_WAIT)
        r = case.reporter
        address = Address(r.platform, r.workspace, r.user_id, r.locale)
        try:
            await self._messengers.send(address, message)
        except DeliveryError as exc:
            logger.warning("case %s: telling the reporter (%s) failed: %s", case.number, about, exc)
            return False
        return True

    async def news(self, case: Case, status: CaseStatus, tech: Technician) -> bool:
        """Acknowledged / resolved: "from on-call" after hours, "from support" in opening hours."""
        key = status.value if case.after_hours else f"{status.value}_support"
        return await self.tell(case, key, name=tech.name)

    async def escalated(self, number: int) -> None:
        """Tell the waiting reporters, once per case, that nobody answered so another technician was called."""
        case = await self._store.get(number)
        if case is None or case.status is not CaseStatus.OPEN:
            return
        told = any(e.kind is EventKind.REPORTER_NOTIFIED and e.data.get("about") == "escalated" for e in case.history)
        if not told:
            await self.everyone(case, "escalated")

    async def everyone(self, case: Case, key: str) -> None:
        """Tell the reporter of `case` and of every case linked to it (with the number to phone)."""
        provider = self._settings.provider
        for number in [case.number, *linked_numbers(case)]:
            other = case if number == case.number else await self._store.get(number)
            if other is not None and not other.status.closed:
                await self.tell(other, key, phone=provider.phone, menu=provider.phone_menu)
