"""Builds the running bot's services once, for the server and the terminal chat alike.

Front ends receive a `Services` and register their `Messenger` in `services.messengers`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from adapters.outgoing import mail_recipient, senders
from adapters.storage import open_storage
from bot.audit import (
    SYSTEM,
    AuditAction,
    AuditEntry,
    policy_changes,
    policy_values,
    record,
    secret_changes,
    secret_fingerprint,
)
from bot.clock import Clock, ShiftedClock, SystemClock
from bot.config import Settings
from bot.delivery import Messengers
from bot.hours import OpeningHours
from bot.observe import NO_OBSERVER, Observer
from bot.oncall.service import OncallService
from bot.outgoing.events import Announcements
from bot.outgoing.runner import OutboxRunner
from bot.ports import Cases, Storage
from bot.triage import Triage
from dialogs.router import SupportBot

logger = logging.getLogger(__name__)

# How long a recorded secret change stays claimed: replicas starting together record it once.
SECRET_CLAIM = timedelta(days=30)


@dataclass
class Services:
    settings: Settings
    clock: Clock
    storage: Storage
    messengers: Messengers
    oncall: OncallService
    bot: SupportBot
    outbox: OutboxRunner
    observer: Observer = NO_OBSERVER  # front ends tell it about their retries
    # Each webhook's signing secret as its keyed fingerprint (url -> 8 hex characters); never the secret.
    secret_fingerprints: Mapping[str, str] = field(default_factory=dict)

    @property
    def store(self) -> Cases:
        return self.storage.cases

    async def record_configuration(self) -> None:
        """Record the policy values in the audit log when they differ from the last recorded ones (at start-up,
        and at any reload): the changed values, and all of them for the next comparison."""
        values = policy_values(self.settings)
        entries = await self.storage.audit.read()
        recorded = [e for e in entries if e.action is AuditAction.CONFIG]
        before = recorded[-1].data.get("values", {}) if recorded else {}
        changes = policy_changes(before, values)
        if changes:
            source = str(self.settings.config_path or "defaults")
            data = {"source": source, "changes": changes, "values": values}
            await record(self.storage.audit, AuditEntry(self.clock.now(), AuditAction.CONFIG, SYSTEM, None, data))
        await self._record_secrets(entries)

    async def _record_secrets(self, entries: list[AuditEntry]) -> None:
        """Record each webhook whose signing secret changed since it was last recorded, once (also when replicas
        start together): by its fingerprint, never the secret."""
        now = self.clock.now()
        for key, data in secret_changes(self.secret_fingerprints, entries):
            if await self.storage.deliveries.first_time(key, ttl=SECRET_CLAIM, now=now):
                logger.info("webhook %s: signing secret %s (fingerprint %s)", data["webhook"],
                            "replaced" if data["previous"] else "recorded", data["fingerprint"])  # fmt: skip
                await record(self.storage.audit, AuditEntry(now, AuditAction.SECRET_ROTATED, SYSTEM, None, data))

    async def close(self) -> None:
        """Let the pages being sent finish (or cancel them after a grace period), then the queued writes, then close."""
        await self.oncall.stop()
        await self.storage.close()


def clock_for(settings: Settings) -> Clock:
    """The real clock, or one started at `SUPPORTBOT_NOW` / `--now` and running on from there."""
    return ShiftedClock(settings.start_at) if settings.start_at else SystemClock()


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    observer: Observer = NO_OBSERVER,
    environ: Mapping[str, str] | None = None,
) -> Services:
    """The services on `settings`; `observer` (the server's metrics) hears what is worth counting, and
    `environ` holds the SMTP settings and the webhooks' signing secrets (default: the process's)."""
    env = os.environ if environ is None else environ
    clock = clock or clock_for(settings)
    announce = Announcements(settings, mail_to=mail_recipient(settings, env))
    storage = open_storage(settings, announce=announce)
    messengers = Messengers(observer=observer)
    oncall = OncallService.on_storage(storage, settings=settings, messengers=messengers, clock=clock, observer=observer)
    bot = SupportBot(
        settings=settings,
        clock=clock,
        triage=Triage(cache_dir=settings.data_dir, observer=observer),
        hours=OpeningHours(settings.hours),
        store=storage.cases,
        conversations=storage.conversations,
        oncall=oncall,
        observer=observer,
        audit=storage.audit,
    )
    return Services(
        settings=settings,
        clock=clock,
        storage=storage,
        messengers=messengers,
        oncall=oncall,
        bot=bot,
        outbox=OutboxRunner(
            outbox=storage.outbox, senders=senders(settings, env), settings=settings.outbox, clock=clock
        ),
        observer=observer,
        secret_fingerprints={
            hook.url: secret_fingerprint(env[hook.secret_env]) for hook in settings.webhooks if env.get(hook.secret_env)
        },
    )
