"""The garbage-collection policy: no full collection walks what already survived one, the cycles that
costs are freed at a quiet moment, and that moment waits until no request is in flight."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp import web

from adapters.collector import Collector, Traffic

SWEPT = "full garbage collection at a quiet moment"


class Node:
    """An object that can sit in a reference cycle and be watched through a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def collector() -> Iterator[Collector]:
    collector = Collector(Traffic(), sweep_every=0.05, quiet_for=0.2, busy_limit=30)
    collector.install()
    yield collector
    collector.uninstall()


def test_what_survives_a_full_collection_is_not_walked_by_the_next(collector: Collector) -> None:
    survivors = [{"case": n} for n in range(20_000)]
    gc.collect()
    assert gc.get_freeze_count() >= len(survivors)
    assert len(gc.get_objects(generation=2)) < 1_000, "the next full collection walks only newcomers"
    collector.uninstall()
    assert gc.get_freeze_count() == 0, "stopping gives everything back to the collector"
    collector.install()


def test_a_cycle_that_died_frozen_is_freed_by_the_sweep(collector: Collector) -> None:
    first, second = Node(), Node()
    first.other, second.other = second, first
    watched = weakref.ref(first)
    gc.collect()  # both survive and are frozen
    del first, second
    gc.collect()
    assert watched() is not None, "a frozen cycle waits for the sweep"
    found, took_ms = collector.sweep()
    assert watched() is None
    assert found >= 2 and took_ms >= 0


@pytest.fixture
async def slow_server(collector: Collector) -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A real aiohttp server counted by the collector's traffic, with one request that waits for `release`."""
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="done")

    app = web.Application(middlewares=[collector.traffic.middleware])
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", release
    release.set()
    await runner.cleanup()


async def test_the_sweep_waits_until_no_request_is_in_flight(
    collector: Collector, slow_server: tuple[str, asyncio.Event], caplog: pytest.LogCaptureFixture
) -> None:
    url, release = slow_server
    caplog.set_level(logging.INFO, logger="adapters.collector")

    async def warm_up() -> None:
        return None

    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(session.get(f"{url}/slow"))
        runs = asyncio.create_task(collector.run(warm_up))
        await asyncio.wait_for(collector.warmed_up.wait(), timeout=5)
        await asyncio.sleep(0.5)
        assert collector.traffic.in_flight == 1
        assert not any(SWEPT in r.getMessage() for r in caplog.records), "no pause while someone waits"
        release.set()
        (await request).release()
        for _ in range(40):
            if any(SWEPT in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.1)
        runs.cancel()
    assert any(SWEPT in r.getMessage() for r in caplog.records), "swept once the request was answered"
    assert collector.traffic.in_flight == 0
