"""The real server, plus event-loop monitors and a memory probe for the benchmarks.

Two views of the event loop. The lag monitor, a task that asks to sleep 5 ms and measures how late
it wakes, sees every stretch in which the loop was not free: one callback holding it, another
thread holding the GIL, or simply a long queue of ready work under load. The callback timer (what
asyncio's slow-callback debug reports, without debug mode's other costs) times each callback and
keeps the longest: that is what "blocks the event loop". `GET /bench/probe` reports both and the
resident memory; `?reset=1` starts a new window, `?gc=1` collects first, and with
BENCH_TRACEMALLOC=1, `?top=20` lists the biggest allocation sites. The app is
`adapters.server.create_app`, run the way `supportbot serve` runs it; SIGTERM stops it cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from adapters.server import SERVICES, create_app
from bot.config import load_settings

INTERVAL = 0.005
BLOCK_MS = 20.0
LAG = web.AppKey("lag", dict)
FREEZE: set[asyncio.Task[None]] = set()  # keeps the experiment's task referenced
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


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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


async def _freeze_after_warm_up(app: web.Application) -> None:
    """Experiment (BENCH_GC_FREEZE=1): once the case index is built, move everything to the permanent GC generation."""
    await app[SERVICES].store.problems()  # queued behind the warm-up on the store's one worker
    gc.collect()
    gc.freeze()
    logging.getLogger(__name__).info("gc.freeze(): %d objects will not be scanned again", gc.get_freeze_count())


async def _lag_monitor(app: web.Application) -> AsyncIterator[None]:
    app[LAG] = {"max_ms": 0.0, "over_20ms": 0, "samples": 0}
    if os.environ.get("BENCH_GC_FREEZE"):
        FREEZE.add(asyncio.create_task(_freeze_after_warm_up(app)))
    task = asyncio.create_task(_watch(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _busy(task: asyncio.Task[object]) -> bool:
    """A task doing work, not one of aiohttp's per-connection readers waiting on an idle keep-alive."""
    return getattr(task.get_coro(), "__qualname__", "") != "RequestHandler.start"


async def probe(request: web.Request) -> web.Response:
    """Lag since the last reset, resident memory (after a full collection with `?gc=1`), tasks at work."""
    if request.query.get("gc"):
        gc.collect()
    stats = dict(request.app[LAG])
    services = request.app[SERVICES]
    body = {
        **stats,
        "rss_mb": round(resident_mb(), 1),
        "busy_tasks": sum(_busy(task) for task in asyncio.all_tasks()),
        "callback_max_ms": round(float(SLOW["max_ms"]), 1),  # type: ignore[arg-type]
        "callbacks_over_20ms": SLOW["over_20ms"],
        "worst_callback": SLOW["worst"],
        "worst_callback_cpu_ms": round(float(SLOW["worst_cpu_ms"]), 1),  # type: ignore[arg-type]
        "callbacks_cpu_over_20ms": SLOW["cpu_over_20ms"],
        "gc_max_ms": round(GC["max_ms"], 1),
        "gc_full_collections": GC["gen2"],
        "gc_max_generation": GC["max_generation"],
        "gc_max_collected": GC["max_collected"],
        "dialog_locks": services.bot.locks_held,
    }
    if request.query.get("reset"):
        request.app[LAG].update(max_ms=0.0, over_20ms=0, samples=0)
        SLOW.update(max_ms=0.0, over_20ms=0, worst="", worst_cpu_ms=0.0, cpu_over_20ms=0)
        GC.update(max_ms=0.0, gen2=0, max_generation=0, max_collected=0)
    if request.query.get("top") and tracemalloc.is_tracing():
        stats = tracemalloc.take_snapshot().statistics("lineno")[: int(request.query["top"])]
        body["top"] = [f"{stat.size / 1024:.0f} KiB in {stat.count} blocks: {stat.traceback[0]}" for stat in stats]
    return web.json_response(body)


async def serve() -> None:
    settings = load_settings()
    app = create_app(settings)
    app.cleanup_ctx.append(_lag_monitor)
    app.router.add_get("/bench/probe", probe)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    if os.environ.get("BENCH_TRACEMALLOC"):  # where the memory goes (`?top=N`), at the price of speed
        tracemalloc.start()
    _time_callbacks()
    gc.callbacks.append(_time_collections)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve())


if __name__ == "__main__":
    main()
