"""Garbage collection that never holds the event loop for long: survivors are frozen, the rest swept when quiet.

Why: a full (generation-2) collection walks every tracked object in the process while the event loop
waits: 150-260 ms with a large case file, 60-120 ms after a busy hour of conversations; issue 7 allows
20 ms. CPython's documented remedy is `gc.freeze()`: frozen objects are never walked again, and they
are still freed by reference counting when they die; only a garbage cycle among them is kept. So:
1. Start-up: freeze before the server listens, and once the case store's warm-up is done, collect
   what the warm-up made (a millisecond or two, the rest is frozen) and freeze again.
2. After every automatic full collection, freeze what survived it, so the next one walks only what
   arrived since (a few milliseconds under load instead of a walk of everything made since start-up).
3. Once an hour, at a quiet moment (no request in flight for a second), unfreeze, collect everything
   and freeze again: that frees the cycles kept by step 2, and its pause falls where nobody waits.
It is process-wide policy, so the composition root runs it, not the case store the CLI and tests use.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)

SWEEP_EVERY = 3600.0  # seconds between two collections of everything
QUIET_FOR = 1.0  # seconds without a request before such a collection may run
POLL = 0.25  # seconds between two looks for a quiet moment

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Traffic:
    """Requests in flight and when the last one ended, kept by `middleware` on every request."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.last_end = time.monotonic()

    @property
    def middleware(self) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
        @web.middleware
        async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.in_flight += 1
            try:
                return await handler(request)
            finally:
                self.in_flight -= 1
                self.last_end = time.monotonic()

        return count

    def quiet_for(self) -> float:
        """Seconds since the last request ended; 0 while one is in flight."""
        return 0.0 if self.in_flight else time.monotonic() - self.last_end


class Collector:
    def __init__(
        self,
        traffic: Traffic,
        *,
        sweep_every: float = SWEEP_EVERY,
        quiet_for: float = QUIET_FOR,
        busy_limit: float = SWEEP_EVERY,
    ) -> None:
        self.traffic = traffic
        self.sweep_every = sweep_every
        self.quiet = quiet_for
        self.busy_limit = busy_limit  # seconds of steady traffic after which the sweep runs all the same
        self.warmed_up = asyncio.Event()  # set once step 1 is done

    def install(self) -> None:
        """Step 1's first freeze, and step 2 from now on."""
        gc.freeze()
        gc.callbacks.append(self._freeze_survivors)

    def uninstall(self) -> None:
        """Back to CPython's defaults, with everything collectable again (for another app in this process)."""
        if self._freeze_survivors in gc.callbacks:
            gc.callbacks.remove(self._freeze_survivors)
        gc.unfreeze()

    @staticmethod
    def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    def sweep(self) -> tuple[int, float]:
        """Step 3: collect everything, frozen or not; how many unreachable objects were found, and the ms it took."""
        started = time.perf_counter()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        return found, (time.perf_counter() - started) * 1000

    async def run(self, warm_up: Callable[[], Awaitable[object]]) -> None:
        """Step 1's second freeze once `warm_up` is done, then step 3 every `sweep_every` seconds."""
        try:
            await warm_up()
        except Exception:  # its owner has logged it, and raises it again to whoever asks
            logger.warning("the warm-up failed; what it made is not frozen", exc_info=True)
        else:
            started = time.perf_counter()
            gc.collect()  # every callback freezes after a full collection
            took = (time.perf_counter() - started) * 1000
            logger.info("gc.freeze() once warmed up: %d objects exempt, %.1f ms", gc.get_freeze_count(), took)
        self.warmed_up.set()
        while True:
            await asyncio.sleep(self.sweep_every)
            await self._quiet_moment()
            found, took = self.sweep()
            logger.info("full garbage collection at a quiet moment: %d unreachable objects, %.1f ms", found, took)

    async def _quiet_moment(self) -> None:
        """Return once no request came for `quiet` seconds, or after `busy_limit` seconds of steady traffic."""
        waited = 0.0
        while self.traffic.quiet_for() < self.quiet and waited < self.busy_limit:
            await asyncio.sleep(POLL)
            waited += POLL
