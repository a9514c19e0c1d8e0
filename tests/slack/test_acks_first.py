"""Acks before answers: when a whole office writes at once, every request is acked within Slack's 3 s
before the answers take the event loop, and no answer waits longer than the front end's patience."""

from __future__ import annotations

import asyncio
import time

from adapters.slack import SLACK
from adapters.slack.acks_first import AcksFirst
from adapters.slack.frontend import WORKERS
from tests.slack.conftest import SlackUser


async def test_an_answer_starts_only_once_no_request_waits_for_its_ack(slack: SlackUser) -> None:
    front = slack.app[SLACK]
    started: list[str] = []

    async def answer() -> None:
        started.append("answer")

    with front.acks.acking():  # a second request is still being read and acked
        front.spawn(answer())
        await asyncio.sleep(0.1)
        assert started == [], "the answer waited while a request was still waiting for its ack"
    await front.drain()
    assert started == ["answer"]


async def test_a_burst_keeps_answers_waiting_until_it_ends() -> None:
    acks = AcksFirst(patience=5.0, lull=0.05)
    answer = asyncio.create_task(acks.wait_turn(since=time.monotonic()))
    burst_ends = time.monotonic() + 0.4
    while time.monotonic() < burst_ends:  # a request every 10 ms, each acked at once
        with acks.acking():
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        assert not answer.done(), "an answer started in the gap between two requests of a burst"
    await asyncio.wait_for(answer, timeout=1.0)
    assert time.monotonic() - burst_ends < 0.5


async def test_a_stream_of_requests_delays_answers_by_at_most_the_patience() -> None:
    acks = AcksFirst(patience=0.2)
    spawned = time.monotonic()
    with acks.acking():  # requests keep coming and are never all acked
        await asyncio.wait_for(acks.wait_turn(since=spawned), timeout=5)
    waited = time.monotonic() - spawned
    assert 0.2 <= waited < 5, "the answer ran after its patience although acks were still being served"


async def test_an_answer_that_already_waited_its_patience_does_not_wait_again() -> None:
    acks = AcksFirst(patience=0.2)
    with acks.acking():
        before = time.monotonic()
        await acks.wait_turn(since=before - 1.0)  # spawned a second ago, queued behind other answers since
        assert time.monotonic() - before < 0.1


async def test_a_burst_of_commands_is_acked_and_every_one_answered(slack: SlackUser) -> None:
    responses = await asyncio.gather(
        *(slack.command(f"Printeren virker ikke {n}", user=f"U{n:04d}") for n in range(30))
    )
    assert [r.status for r in responses] == [200] * 30
    await slack.settle()
    answered = {call.params["channel"] for call in slack.fake.called("chat.postMessage")}
    assert len(answered) == 30, "every person got their answer in their own DM"


async def test_past_capacity_the_ack_says_the_answer_is_late_and_a_flood_is_turned_away(slack: SlackUser) -> None:
    front = slack.app[SLACK]
    release = asyncio.Event()

    async def slow() -> None:
        await asyncio.sleep(0.05)

    for _ in range(WORKERS):  # the front end learns how long a piece of work takes
        front.spawn(slow())
    await front.drain()

    async def stuck() -> None:
        await release.wait()

    def backlog(seconds: float) -> None:
        for _ in range(100_000):
            if front.expected_wait() >= seconds:
                return
            front.spawn(stuck())
        raise AssertionError(f"no backlog: {front.expected_wait()} s")

    try:
        backlog(3.0)  # answers start about 3 s from now: past the 2-second target
        late = await slack.command("Printeren virker ikke", user="ULATE")
        assert "mit svar kommer om lidt" in await late.text()
        backlog(12.0)  # and 12 s: better to say so than to answer that late
        away = await slack.command("Printeren virker ikke", user="UAWAY")
        told = await away.text()
        assert "Prøv igen om et par minutter" in told and "ring på" in told
    finally:
        release.set()
    await slack.settle()
    answered = {call.params["channel"] for call in slack.fake.called("chat.postMessage")}
    assert slack.fake.dm("ULATE") in answered, "a late answer still comes"
    assert slack.fake.dm("UAWAY") not in answered, "a command turned away is not answered later"
