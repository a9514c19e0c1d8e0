"""The on-call service's background jobs: held until they end, failures logged, a clean stop at shutdown."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from bot.jobs import Jobs


async def test_a_job_nobody_else_holds_runs_to_the_end() -> None:
    jobs, done = Jobs(), asyncio.Event()
    release = asyncio.Event()

    async def work() -> None:
        await release.wait()
        done.set()

    jobs.start("page of case 1", work())
    gc.collect()  # only `jobs` holds the task: it must survive a collection
    release.set()
    await jobs.settled()
    assert done.is_set() and len(jobs) == 0


async def test_a_failing_job_is_logged_and_the_others_go_on(caplog: pytest.LogCaptureFixture) -> None:
    jobs, finished = Jobs(), []

    async def broken() -> None:
        raise RuntimeError("the store is gone")

    async def fine() -> None:
        finished.append("fine")

    with caplog.at_level(logging.ERROR, logger="bot.jobs"):
        jobs.start("page of case 1", broken())
        jobs.start("page of case 2", fine())
        await jobs.settled()
    assert finished == ["fine"]
    [record] = caplog.records
    assert record.getMessage() == "page of case 1 failed" and record.exc_info is not None


async def test_settled_waits_for_jobs_that_running_jobs_start() -> None:
    jobs, order = Jobs(), []

    async def second() -> None:
        order.append("second")

    async def first() -> None:
        order.append("first")
        jobs.start("team post of case 2", second())

    jobs.start("page of case 1", first())
    await jobs.settled()
    assert order == ["first", "second"]


async def test_stop_lets_quick_jobs_finish_and_cancels_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    jobs, quick_done, hung = Jobs(), asyncio.Event(), asyncio.Event()
    cancelled = []

    async def quick() -> None:
        quick_done.set()

    async def stuck() -> None:
        try:
            await hung.wait()  # never set: a platform that does not answer
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    jobs.start("page of case 1", quick())
    jobs.start("page of case 2", stuck())
    await asyncio.sleep(0)  # both have started
    with caplog.at_level(logging.WARNING, logger="bot.jobs"):
        await jobs.stop(grace=0.05)
    assert quick_done.is_set() and cancelled == [True] and len(jobs) == 0
    assert [r.getMessage() for r in caplog.records] == [
        "page of case 2 had not finished after 0.05 s at shutdown; cancelling it"
    ]
