"""Acks before answers: work after an ack waits while other requests are still waiting for theirs.

Slack gives a request 3 seconds to be acked and shows the person an error after that; the answer
itself (the DM, the updated buttons) may come a moment later. Both share one event loop, so when a
whole office writes at once, answers started early would slow the acks of everyone after them.
`patience` bounds the wait, so a steady stream of requests delays answers but never starves them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager, suppress

PATIENCE = 2.0  # seconds an answer may wait for acks: only a flood of requests makes it wait this long


class AcksFirst:
    def __init__(self, *, patience: float = PATIENCE) -> None:
        self.patience = patience
        self._acking = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextmanager
    def acking(self) -> Iterator[None]:
        """Around the handling of one request, from its arrival until its ack is ready."""
        self._acking += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._acking -= 1
            if not self._acking:
                self._idle.set()

    async def wait_turn(self, *, since: float) -> None:
        """Return when no request waits for its ack, or `patience` seconds after `since` (loop time)."""
        left = since + self.patience - asyncio.get_running_loop().time()
        if self._acking and left > 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), left)
