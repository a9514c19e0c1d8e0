"""What /metrics costs: one observer call on a turn's path, the latency middleware, and a scrape.

The observer calls sit on the path of a turn or a page, so they must stay at a counter increment
(a few microseconds); the middleware times every request; a scrape renders every series. The
series are bounded by design (categories, platforms, steps, route patterns): this fills every one a
busy server can reach and shows the size of the page Prometheus reads. Rendering is pure Python
(about 20 µs a sample), so /metrics renders in a thread: the event loop gets the GIL back every
5 ms instead of waiting for the whole page.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client import CollectorRegistry, generate_latest

from adapters.metrics import PrometheusMetrics
from bot.cases import Case, CustomerRef, Reporter
from bot.categories import Category, Scope

CALLS = 100_000
SCRAPES = 50
# A server with every front end has 18 routes, most with one method; 40 x 2 is room to spare.
ROUTES = {"every front end": (20, ("GET",)), "twice the routes, two methods each": (40, ("GET", "POST"))}


def per_call_us(action: Callable[[], object], calls: int = CALLS) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        action()
    return (time.perf_counter() - started) / calls * 1e6


def a_case(category: Category, *, critical: bool, after_hours: bool) -> Case:
    return Case(
        number=10001,
        created_at=datetime(2026, 11, 28, 22, 30, tzinfo=UTC),
        reporter=Reporter("local", "local", "u"),
        customer=CustomerRef("Demo A/S"),
        description="ingen internet",
        category=category,
        confidence=90,
        scope=Scope.ALL,
        critical=critical,
        after_hours=after_hours,
        page_requested=after_hours,
    )


async def middleware_us(metrics: PrometheusMetrics) -> float:
    """The middleware around a handler that does nothing, per request."""

    async def nothing(request: web.Request) -> web.StreamResponse:
        return web.Response()

    app = web.Application()
    app.router.add_get("/cases/{number}", nothing)
    request = make_mocked_request("GET", "/cases/10001", app=app)
    match = await app.router.resolve(request)
    match.add_app(app)
    request._match_info = match  # what the server does before the middlewares run
    timed = metrics.middleware
    calls = CALLS // 10
    started = time.perf_counter()
    for _ in range(calls):
        await timed(request, nothing)
    with_middleware = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(calls):
        await nothing(request)
    bare = time.perf_counter() - started
    return (with_middleware - bare) / calls * 1e6


def fill_every_series(metrics: PrometheusMetrics, routes: int, methods: tuple[str, ...]) -> None:
    for category in Category:
        for critical in (True, False):
            for after_hours in (True, False):
                case = a_case(category, critical=critical, after_hours=after_hours)
                metrics.case_created(case)
                metrics.acknowledged(case, timedelta(minutes=7))
        metrics.triaged(category, 80)
    for platform in ("local", "slack", "teams"):
        metrics.delivery_retried(platform)
        metrics.delivery_failed(platform)
        for step in ("primary", "backup", "everyone"):
            metrics.paged(platform, step)
    for step in ("backup", "everyone", "gave_up"):
        for reason in ("timeout", "unreachable"):
            metrics.escalated(step, reason)
    for n in range(routes):
        for method in methods:
            metrics._latency.labels(f"/route/{n}", method).observe(0.003)


async def longest_stall_ms(scrape: Callable[[], Awaitable[object]]) -> float:
    """The longest the event loop waited while `SCRAPES` scrapes ran: a 1 ms ticker's worst lateness."""
    worst = 0.0
    running = True

    async def tick() -> None:
        nonlocal worst
        while running:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, time.perf_counter() - before - 0.001)

    ticker = asyncio.create_task(tick())
    for _ in range(SCRAPES):
        await scrape()
        await asyncio.sleep(0.002)
    running = False
    await ticker
    return worst * 1000


def main() -> None:
    metrics = PrometheusMetrics()
    case = a_case(Category.INTERNET_DOWN, critical=True, after_hours=True)
    print(f"case_created: {per_call_us(lambda: metrics.case_created(case)):.2f} µs per call")
    print(f"paged: {per_call_us(lambda: metrics.paged('slack', 'primary')):.2f} µs per call")
    print(f"triaged: {per_call_us(lambda: metrics.triaged(Category.OTHER, 40)):.2f} µs per call")
    wait = timedelta(minutes=11)
    print(
        f"acknowledged (counter + histogram): {per_call_us(lambda: metrics.acknowledged(case, wait)):.2f} µs per call"
    )
    print(f"latency middleware: {asyncio.run(middleware_us(metrics)):.2f} µs per request")

    for name, (routes, methods) in ROUTES.items():
        metrics = PrometheusMetrics()
        fill_every_series(metrics, routes, methods)
        started = time.perf_counter()
        for _ in range(SCRAPES):
            body = generate_latest(metrics.registry)
        took = (time.perf_counter() - started) / SCRAPES * 1000
        samples = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
        print(f"scrape, {name}, every series filled: {samples} samples, {len(body) / 1024:.0f} KiB, {took:.1f} ms")

        async def inline(registry: CollectorRegistry = metrics.registry) -> None:
            generate_latest(registry)

        async def threaded(registry: CollectorRegistry = metrics.registry) -> None:
            await asyncio.to_thread(generate_latest, registry)

        print(
            f"  longest event-loop stall: {asyncio.run(longest_stall_ms(inline)):.1f} ms rendered on the loop,"
            f" {asyncio.run(longest_stall_ms(threaded)):.1f} ms in a thread (what /metrics does)"
        )


if __name__ == "__main__":
    main()
