"""Acks before answers: work after an ack waits for a lull in the requests still waiting for theirs.

Slack gives a request 3 seconds to be acked and shows the person an error after that; the answer
itself (the DM, the updated buttons) may come a moment later. Both share one event loop, so when a
whole office writes at once, answers started early would slow the acks of everyone after them.
An answer starts once no request has arrived or waited for `lull` seconds (so the gap between two
requests of a burst does not count), and at the latest `patience` seconds after its own ack.

Under a steady stream of requests there is no lull, so every answer would wait its whole patience;
instead, the answer that waited releases everything acked until then as one batch, and the workers
drain it without waiting again. The patience is short (half a second): a burst of acks takes tens of
milliseconds, and the answer itself has to reach the employee within 2 seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

# Past capacity, a slash command's ack says so (the only ack Slack shows the person): from LATE on, that
# the answer is coming; from TURN_AWAY on, that it cannot be taken now (the work is not queued), so a
# flood leaves a bounded backlog rather than answers minutes late.
LATE = 2.0  # seconds until a new command's answer would start: it would miss the 2-second target
TURN_AWAY = 10.0  # seconds; later than this, "try again in a few minutes" is the better answer
PATIENCE = 0.5  # seconds an answer may wait for acks: only a stream of requests makes it wait this long
LULL = 0.01  # seconds without a request that end a burst; a person cannot tell 10 ms


def ack_note(wait: float) -> str:
    """The catalog key of what a slash command's ack says when its answer would start in about `wait`
    seconds: "" while answers keep up."""
    if wait >= TURN_AWAY:
        return "slack.too_busy"
    return "slack.answer_coming" if wait >= LATE else ""


class AcksFirst:
    def __init__(self, *, patience: float = PATIENCE, lull: float = LULL) -> None:
        self.patience = patience
        self.lull = lull
        self._acking = 0
        self._last_ack = -lull  # time.monotonic() when the last request was acked
        self._released = -1.0  # work acked before this time.monotonic() may start without waiting
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
        """Return after a lull in requests, or `patience` seconds after `since` (time.monotonic()), or at
        once when an answer acked later has already had its turn (its batch includes this one)."""
        if since < self._released:
            return
        deadline = since + self.patience
        async with self._one_at_a_time:
            if since < self._released:  # released while this one queued for the lock
                return
            while (left := deadline - time.monotonic()) > 0:
                if self._acking:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._idle.wait(), left)
                    continue
                quiet = time.monotonic() - self._last_ack
                if quiet >= self.lull:
                    break
                await asyncio.sleep(min(self.lull - quiet, left))
            self._released = time.monotonic()
