"""Event-loop monitors for the benchmarks, run alike in our server and in the bare floors.

The lag monitor, a task that asks to sleep 5 ms and measures how late it wakes, sees every stretch in
which the loop was not free: one callback holding it, another thread holding the GIL, or simply a
long queue of ready work under load. The callback timer (what asyncio's slow-callback debug
reports, without debug mode's other costs) times each callback, in wall and in CPU time, and keeps
the longest: that is what "blocks the event loop". Garbage collections are timed too. Both sides of
a comparison run them (`watch(app)`), so neither is slowed by them alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

INTERVAL = 0.005
BLOCK_MS = 20.0
LAG = web.AppKey("lag", dict)
# The longest single callback since the last reset, and how many took over BLOCK_MS.
# Wall time, and the CPU time this thread spent: a callback can take long on the clock only because the
# load generator and the fake platforms, on the same 2 cores, had the CPU meanwhile.
SLOW: dict[str, object] = {"max_ms": 0.0, "over_20ms": 0, "worst": "", "worst_cpu_ms": 0.0, "cpu_over_20ms": 0}
# The longest garbage collection (any generation) since the last reset: a pause inside some callback.
GC: dict[str, float] = {"max_ms": 0.0, "began": 0.0, "gen2": 0, "max_generation": 0, "max_collected": 0}


def _time_collections(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        GC["began"] = time.perf_counter()
        return
    took = (time.perf_counter() - GC["began"]) * 1000
    if took > GC["max_ms"]:
        GC.update(max_ms=took, max_generation=info["generation"], max_collected=info["collected"])
    GC["gen2"] += info["generation"] == 2


def _describe(handle: asyncio.events.Handle) -> str:
    """The slow callback: for a task step, its coroutine chain down to where it waits now (just after the slow part)."""
    task = getattr(handle._callback, "__self__", None)
    if not isinstance(task, asyncio.Task):
        return repr(handle)[:300]
    where = []
    coro = task.get_coro()
    while coro is not None and hasattr(coro, "cr_frame"):
        frame = coro.cr_frame
        if frame is not None:
            where.append(f"{coro.__qualname__} ({Path(frame.f_code.co_filename).name}:{frame.f_lineno})")
        coro = coro.cr_await
    return " > ".join(where)[:600] or repr(handle)[:300]


def _time_callbacks() -> None:
    """Wrap asyncio's `Handle._run` to time every callback the loop runs (this process only)."""
    run = asyncio.events.Handle._run

    def timed(handle: asyncio.events.Handle) -> None:
        began, began_cpu = time.perf_counter(), time.thread_time()
        run(handle)
        took, cpu = (time.perf_counter() - began) * 1000, (time.thread_time() - began_cpu) * 1000
        if took > SLOW["max_ms"]:  # type: ignore[operator]
            SLOW.update(max_ms=took, worst=_describe(handle), worst_cpu_ms=cpu)
        if took > BLOCK_MS:
            SLOW["over_20ms"] += 1  # type: ignore[operator]
        if cpu > BLOCK_MS:
            SLOW["cpu_over_20ms"] += 1  # type: ignore[operator]

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]


async def _watch(app: web.Application) -> None:
    loop = asyncio.get_running_loop()
    stats = app[LAG]
    while True:
        start = loop.time()
        await asyncio.sleep(INTERVAL)
        lag_ms = (loop.time() - start - INTERVAL) * 1000
        stats["max_ms"] = max(stats["max_ms"], lag_ms)
        stats["over_20ms"] += lag_ms > BLOCK_MS
        stats["samples"] += 1


async def _lag_monitor(app: web.Application) -> AsyncIterator[None]:
    app[LAG] = {"max_ms": 0.0, "over_20ms": 0, "samples": 0}
    task = asyncio.create_task(_watch(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def watch(app: web.Application) -> None:
    """The monitors, in this process and on `app`. The floors run them too, so both sides pay for them."""
    _time_callbacks()
    gc.callbacks.append(_time_collections)
    app.cleanup_ctx.append(_lag_monitor)
