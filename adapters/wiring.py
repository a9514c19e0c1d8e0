"""Builds the running bot's services once, for the server and the terminal chat alike.

Front ends receive a `Services` and register their `Messenger` in `services.messengers`.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.storage import open_storage
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
        overrides=storage.overrides,
        deliveries=storage.deliveries,
        messengers=messengers,
        clock=clock,
    )
    bot = SupportBot(
        settings=settings,
        clock=clock,
        triage=Triage(),
        hours=OpeningHours(settings.hours),
        store=storage.cases,
        conversations=storage.conversations,
        oncall=oncall,
    )
    return Services(settings=settings, clock=clock, storage=storage, messengers=messengers, oncall=oncall, bot=bot)
