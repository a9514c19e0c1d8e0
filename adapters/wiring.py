"""Builds the running bot's services once, for the server and the terminal chat alike.

Front ends receive a `Services` and register their `Messenger` in `services.messengers`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.case_store import AsyncCaseStore, CaseStore
from bot.clock import Clock, ShiftedClock, SystemClock
from bot.config import Settings
from bot.delivery import Messengers
from bot.hours import OpeningHours
from bot.oncall.service import OncallService
from bot.triage import Triage
from dialogs.router import SupportBot


@dataclass
class Services:
    settings: Settings
    clock: Clock
    store: AsyncCaseStore
    messengers: Messengers
    oncall: OncallService
    bot: SupportBot

    async def close(self) -> None:
        """Let the pages being sent finish (or cancel them after a grace period), then the queued writes, then close."""
        await self.oncall.stop()
        await self.bot.close()
        self.oncall.close()
        await self.store.close()


def clock_for(settings: Settings) -> Clock:
    """The real clock, or one started at `SUPPORTBOT_NOW` / `--now` and running on from there."""
    return ShiftedClock(settings.start_at) if settings.start_at else SystemClock()


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    clock = clock or clock_for(settings)
    store = AsyncCaseStore(CaseStore.for_settings(settings))
    messengers = Messengers()
    oncall = OncallService(settings=settings, store=store, messengers=messengers, clock=clock)
    bot = SupportBot(
        settings=settings,
        clock=clock,
        triage=Triage(cache_dir=settings.data_dir),
        hours=OpeningHours(settings.hours),
        store=store,
        oncall=oncall,
        data_dir=settings.data_dir,
    )
    return Services(settings=settings, clock=clock, store=store, messengers=messengers, oncall=oncall, bot=bot)
