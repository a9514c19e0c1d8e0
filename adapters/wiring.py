"""Builds the running bot's services once, for the server and the terminal chat alike.

Front ends receive a `Services` and register their `Messenger` in `services.messengers`.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.storage import open_storage
from bot.audit import SYSTEM, AuditAction, AuditEntry, policy_changes, policy_values, record
from bot.clock import Clock, ShiftedClock, SystemClock
from bot.config import Settings
from bot.delivery import Messengers
from bot.hours import OpeningHours
from bot.oncall.service import OncallService
from bot.ports import Cases, Storage
from bot.triage import Triage
from dialogs.router import SupportBot


@dataclass
class Services:
    settings: Settings
    clock: Clock
    storage: Storage
    messengers: Messengers
    oncall: OncallService
    bot: SupportBot

    @property
    def store(self) -> Cases:
        return self.storage.cases

    async def record_configuration(self) -> None:
        """Record the policy values in the audit log when they differ from the last recorded ones (at start-up,
        and at any reload): the changed values, and all of them for the next comparison."""
        values = policy_values(self.settings)
        recorded = [e for e in await self.storage.audit.read() if e.action is AuditAction.CONFIG]
        before = recorded[-1].data.get("values", {}) if recorded else {}
        changes = policy_changes(before, values)
        if changes:
            source = str(self.settings.config_path or "defaults")
            data = {"source": source, "changes": changes, "values": values}
            await record(self.storage.audit, AuditEntry(self.clock.now(), AuditAction.CONFIG, SYSTEM, None, data))

    async def close(self) -> None:
        """Let the pages being sent finish (or cancel them after a grace period), then the queued writes, then close."""
        await self.oncall.stop()
        await self.storage.close()


def clock_for(settings: Settings) -> Clock:
    """The real clock, or one started at `SUPPORTBOT_NOW` / `--now` and running on from there."""
    return ShiftedClock(settings.start_at) if settings.start_at else SystemClock()


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    clock = clock or clock_for(settings)
    storage = open_storage(settings)
    messengers = Messengers()
    oncall = OncallService(
        settings=settings,
        store=storage.cases,
        pages=storage.pages,
        messengers=messengers,
        clock=clock,
        audit=storage.audit,
    )
    bot = SupportBot(
        settings=settings,
        clock=clock,
        triage=Triage(),
        hours=OpeningHours(settings.hours),
        store=storage.cases,
        conversations=storage.conversations,
        oncall=oncall,
        audit=storage.audit,
    )
    return Services(settings=settings, clock=clock, storage=storage, messengers=messengers, oncall=oncall, bot=bot)
