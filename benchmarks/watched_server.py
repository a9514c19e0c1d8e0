"""The real server, with the event-loop monitors of `loop_monitors.py` and a memory probe.

`GET /bench/probe` reports what the monitors saw (the longest callback and garbage collection, the
worst lag) and the resident memory; `?reset=1` starts a new window, `?gc=1` collects first, and with
BENCH_TRACEMALLOC=1, `?top=20` lists the biggest allocation sites. The app is
`adapters.server.create_app`, run the way `supportbot serve` runs it (with its access log); SIGTERM stops it cleanly.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import tracemalloc
from pathlib import Path

from aiohttp import web

from adapters.commands.serve import AccessLog
from adapters.server import SERVICES, create_app
from benchmarks.loop_monitors import GC, LAG, SLOW, watch
from bot.config import load_settings


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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
    watch(app)
    app.router.add_get("/bench/probe", probe)
    runner = web.AppRunner(app, handle_signals=False, access_log_class=AccessLog)
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve())


if __name__ == "__main__":
    main()
