"""When a failed webhook call or e-mail is tried again: exponential backoff with jitter, capped, for a period.

Attempt n (counting from 1) failed: wait `first_retry * 2**(n-1)`, at most `max_interval`, each
wait drawn between 80 % and 120 % of that, so many deliveries failing together (a receiver down
all night) do not come back in one burst. Past `give_up_after` from the start of the retry period
the delivery is given up (FAILED) and waits for the operator's re-send.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from bot.config import OutboxSettings

JITTER = 0.2
MAX_DOUBLINGS = 30  # past this any sane cap is reached; keeps 2**n from overflowing a timedelta


def retry_at(
    settings: OutboxSettings, *, attempts: int, since: datetime, now: datetime, rng: random.Random | None = None
) -> datetime | None:
    """The moment of the next attempt after `attempts` failed ones, or None to give up."""
    base = min(settings.first_retry * 2 ** min(max(attempts - 1, 0), MAX_DOUBLINGS), settings.max_interval)
    factor = 1 + JITTER * (2 * (rng or random).random() - 1)
    moment = now + base * factor
    return moment if moment <= since + settings.give_up_after else None


def schedule(settings: OutboxSettings) -> list[timedelta]:
    """The waits without jitter, from the first failure until the delivery is given up (for the README and tests)."""
    waits: list[timedelta] = []
    elapsed = timedelta(0)
    while True:
        wait = min(settings.first_retry * 2 ** min(len(waits), MAX_DOUBLINGS), settings.max_interval)
        if elapsed + wait > settings.give_up_after:
            return waits
        waits.append(wait)
        elapsed += wait
