"""Acks before answers: work after an ack waits for a lull in the requests still waiting for theirs.

Slack gives a request 3 seconds to be acked and shows the person an error after that; the answer
itself (the DM, the updated buttons) may come a moment later. Both share one event loop, so when a
whole office writes at once, answers started early would slow the acks of everyone after them.
An answer starts once no request has arrived or waited for `lull` seconds (so the gap between two
requests of a burst does not count), and at the latest `patience` seconds after its own ack: a
steady stream of requests delays answers but never starves them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

PATIENCE = 2.0  # seconds an answer may wait for acks: only a flood of requests makes it wait this long
LULL = 0.01  # seconds without a request that end a burst; a person cannot tell 10 ms


class AcksFirst:
    def __init__(self, *, patience: float = PATIENCE, lull: float = LULL) -> None:
        self.patience = patience
        self.lull = lull
        self._acking = 0
        self._last_ack = -lull  # time.monotonic() when the last request was acked
        self._idle = asyncio.Event()
        self._idle.set()
        self._one_at_a_time = asyncio.Lock()  # one answer watches for the lull; the others queue quietly

    @contextmanager
    def acking(self) -> Iterator[None]:
        """Around the handling of one request, from its arrival until its ack is ready."""
        self._acking += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._acking -= 1
            self._last_ack = time.monotonic()
            if not self._acking:
                self._idle.set()

    async def wait_turn(self, *, since: float) -> None:
        """Return after a lull in requests, or `patience` seconds after `since` (time.monotonic())."""
        deadline = since + self.patience
        async with self._one_at_a_time:
            while (left := deadline - time.monotonic()) > 0:
                if self._acking:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._idle.wait(), left)
                    continue
                quiet = time.monotonic() - self._last_ack
                if quiet >= self.lull:
                    return
                await asyncio.sleep(min(self.lull - quiet, left))
