"""The delivery loop: claim what is due in the outbox, hand it to its sender, record the outcome.

Like the escalation timers, the work is a row, not a timer (STYLE.md section 9): every cycle asks the
outbox what is due, so a restart, or a second replica on a shared database, loses nothing. A sender
that fails or hangs costs only its own delivery: each has its own timeout, the others of the cycle go
on, and a later event for the same case waits in the outbox until the earlier one is through.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Protocol

from bot.clock import Clock
from bot.config import OutboxSettings
from bot.outgoing.retry import retry_at
from bot.ports import Delivery, Outbox

logger = logging.getLogger(__name__)

CLAIM_LIMIT = 20  # deliveries sent at once
LEASE = timedelta(minutes=2)  # a claim lapses after this (longer than any sender's timeout)
FORGET_EVERY = timedelta(hours=1)


class SendError(Exception):
    """The receiver did not take the message; the text says why (logged and kept on the delivery)."""


class Sender(Protocol):
    """Delivers one message of its channel; raises `SendError` when the receiver did not take it."""

    async def send(self, delivery: Delivery) -> None: ...


class OutboxRunner:
    """Sends what is due through the sender of each channel; `run` repeats it every `interval` seconds."""

    def __init__(
        self, *, outbox: Outbox, senders: Mapping[str, Sender], settings: OutboxSettings, clock: Clock
    ) -> None:
        self._outbox = outbox
        self._senders = senders
        self._settings = settings
        self._clock = clock
        self._forgotten_at = None

    async def run(self, *, interval: float = 1.0) -> None:
        while True:
            try:
                await self.deliver_due()
            except Exception:
                logger.exception("the outbox could not be read; trying again in %.0f s", interval)
            await asyncio.sleep(interval)

    async def deliver_due(self) -> int:
        """Send everything due now, including what becomes due as earlier events go through; how many were sent."""
        sent = 0
        while claimed := await self._outbox.claim(self._clock.now(), limit=CLAIM_LIMIT, lease=LEASE):
            outcomes = await asyncio.gather(*(self._deliver(d) for d in claimed))
            sent += sum(outcomes)
            if not any(outcomes):
                break  # all failed: their retries are later, and nothing behind them is due
        now = self._clock.now()
        if self._forgotten_at is None or now - self._forgotten_at >= FORGET_EVERY:
            self._forgotten_at = now
            await self._outbox.forget_sent(before=now - self._settings.keep_sent)
        return sent

    async def _deliver(self, delivery: Delivery) -> bool:
        message = delivery.message
        sender = self._senders.get(message.channel)
        try:
            if sender is None:
                raise SendError(f"no {message.channel} sender is configured")
            await sender.send(delivery)
        except SendError as exc:
            error = str(exc)
        except Exception as exc:  # a bug in a sender must not stop the loop
            logger.exception("delivery %s: the %s sender failed", delivery.id, message.channel)
            error = f"unexpected error: {type(exc).__name__}"
        else:
            await self._outbox.sent(delivery.id, now=self._clock.now())
            logger.info(
                "delivery %s (%s of case %s) sent to %s", delivery.id, message.event, message.case, message.channel
            )
            return True
        now = self._clock.now()
        attempts = delivery.attempts + 1
        retry = retry_at(self._settings, attempts=attempts, since=delivery.retry_since, now=now)
        await self._outbox.failed(delivery.id, error=error, retry_at=retry, now=now)
        if retry is None:
            logger.error(
                "delivery %s (%s of case %s) given up after %d attempts: %s", delivery.id, message.event, message.case,
                attempts, error,
            )  # fmt: skip
        else:
            logger.warning(
                "delivery %s (%s of case %s) failed (attempt %d): %s; next at %s", delivery.id, message.event,
                message.case, attempts, error, retry.isoformat(timespec="seconds"),
            )  # fmt: skip
        return False
