"""The `Pages` port: page records, their due times, and a claim of a step that succeeds exactly once."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.delivery import MessageRef
from bot.oncall.records import PageRecord, RecordKind, Sending, SentMessage, Step
from tests.contract.conftest import Engine

NOW = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)


def page(case: int, due: datetime | None = NOW, **changes: object) -> PageRecord:
    return replace(PageRecord(case=case, kind=RecordKind.PAGE, primary="morten", backup="sara", due=due), **changes)


async def test_records_are_stored_found_by_due_time_and_removed(engine: Engine) -> None:
    async with engine.opened() as storage:
        pages = storage.pages
        ref = MessageRef("slack", "T1", "D1", "1.0001")
        first = await pages.put(page(10001, NOW).with_sent([SentMessage("morten", "da", ref)]))
        await pages.put(page(10002, NOW + timedelta(minutes=10)))
        await pages.put(PageRecord(case=10003, kind=RecordKind.TEAM))
        await pages.put(page(10004, None, remind_at=NOW - timedelta(minutes=1)))
        assert await pages.get(10001) == first and first.version == 1
        assert await pages.get(10099) is None and not await pages.holds(10099) and await pages.holds(10003)
        assert await pages.due(NOW) == [10001, 10004]
        assert await pages.due(NOW + timedelta(hours=1)) == [10001, 10002, 10004]
        assert await pages.idle() == [10003]
        assert [r.case for r in await pages.drop_idle([10001, 10003])] == [10003], "only records without a timer"
        await pages.remove(10002)
        assert await pages.get(10002) is None and await pages.due(NOW + timedelta(hours=1)) == [10001, 10004]


async def test_a_step_is_claimed_exactly_once_under_concurrent_claims(engine: Engine) -> None:
    async with engine.opened() as storage:
        seen = await storage.pages.put(page(10001))
        escalated = replace(seen, step=Step.BACKUP, due=NOW + timedelta(minutes=10))
        claims = await asyncio.gather(*(storage.pages.claim(seen, escalated) for _ in range(20)))
        won = [c for c in claims if c is not None]
        assert len(won) == 1 and won[0].step is Step.BACKUP and won[0].version == seen.version + 1
        assert await storage.pages.get(10001) == won[0]
        assert await storage.pages.claim(seen, replace(seen, step=Step.EVERYONE)) is None, "a stale claim loses"
        assert await storage.pages.claim(page(10099), escalated) is None, "nothing to claim"


async def test_a_step_is_claimed_once_by_runners_on_several_threads(engine: Engine) -> None:
    async with engine.opened() as storage:
        seen = await storage.pages.put(page(10001))
        wins: list[PageRecord] = []

        def runner() -> None:
            async def claim() -> PageRecord | None:
                return await storage.pages.claim(seen, replace(seen, step=Step.BACKUP))

            if (won := asyncio.run(claim())) is not None:
                wins.append(won)

        threads = [threading.Thread(target=runner) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            await asyncio.to_thread(thread.join)
        assert len(wins) == 1


async def test_a_step_being_sent_is_kept_with_its_lease_and_falls_due_when_the_lease_lapses(engine: Engine) -> None:
    async with engine.opened() as storage:
        lease = NOW + timedelta(seconds=10)
        sending = Sending(Step.BACKUP, ("chat",), lease, "host:4242#7", overdue=True, done=("chat:morten",))
        claimed = await storage.pages.put(page(10001, NOW + timedelta(minutes=10), sending=sending))
        assert await storage.pages.get(10001) == claimed
        assert await storage.pages.due(NOW) == [] and await storage.pages.due(lease) == [10001]
        sent = await storage.pages.claim(claimed, replace(claimed, sending=None))
        assert sent is not None and await storage.pages.due(lease) == [], "sent: only the next step is due, later"
        assert await storage.pages.due(NOW + timedelta(minutes=10)) == [10001]
