"""Conversations (with e_tags), the delivery log and the platform records."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.ports import VersionConflict
from tests.contract.conftest import Engine

NOW = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)
TTL = timedelta(minutes=10)


async def test_conversations_are_saved_with_an_e_tag_and_a_stale_save_is_refused(engine: Engine) -> None:
    async with engine.opened() as storage:
        conversations = storage.conversations
        assert await conversations.load("k") is None
        tag = await conversations.save("k", {"step": 1}, updated_at=NOW, open=True, e_tag=None)
        stored = await conversations.load("k")
        assert stored is not None and stored.state == {"step": 1} and stored.e_tag == tag
        assert stored.updated_at == NOW
        newer = await conversations.save("k", {"step": 2}, updated_at=NOW, open=True, e_tag=tag)
        assert newer != tag
        with pytest.raises(VersionConflict):
            await conversations.save("k", {"step": 3}, updated_at=NOW, open=True, e_tag=tag)
        with pytest.raises(VersionConflict):
            await conversations.save("k", {"step": 3}, updated_at=NOW, open=True, e_tag=None)
        assert (await conversations.load("k")).state == {"step": 2}


async def test_of_concurrent_saves_from_one_load_exactly_one_wins(engine: Engine) -> None:
    async with engine.opened() as storage:
        tag = await storage.conversations.save("k", {"n": 0}, updated_at=NOW, open=True, e_tag=None)
        outcomes = await asyncio.gather(
            *(storage.conversations.save("k", {"n": n}, updated_at=NOW, open=True, e_tag=tag) for n in range(1, 11)),
            return_exceptions=True,
        )
        winners = [o for o in outcomes if not isinstance(o, BaseException)]
        assert len(winners) == 1 and all(isinstance(o, VersionConflict) for o in outcomes if o not in winners)


async def test_idle_conversations_are_forgotten_finished_ones_first(engine: Engine) -> None:
    async with engine.opened() as storage:
        conversations = storage.conversations
        await conversations.save("open-old", {}, updated_at=NOW - timedelta(days=2), open=True, e_tag=None)
        await conversations.save("open", {}, updated_at=NOW - timedelta(hours=2), open=True, e_tag=None)
        await conversations.save("done-old", {}, updated_at=NOW - timedelta(hours=2), open=False, e_tag=None)
        await conversations.save("done-1", {}, updated_at=NOW - timedelta(minutes=2), open=False, e_tag=None)
        await conversations.save("done-2", {}, updated_at=NOW - timedelta(minutes=1), open=False, e_tag=None)
        forgotten = await conversations.forget(
            open_before=NOW - timedelta(days=1), finished_before=NOW - timedelta(hours=1), keep=2
        )
        assert forgotten == 3 and await conversations.count() == 2
        assert await conversations.load("open") is not None and await conversations.load("done-2") is not None


async def test_first_time_is_true_exactly_once_per_key_within_its_ttl(engine: Engine) -> None:
    async with engine.opened() as storage:
        log = storage.deliveries
        answers = await asyncio.gather(*(log.first_time("slack\nEv1", ttl=TTL, now=NOW) for _ in range(20)))
        assert answers.count(True) == 1
        assert await log.first_time("slack\nEv2", ttl=TTL, now=NOW), "another key is its own"
        assert not await log.first_time("slack\nEv1", ttl=TTL, now=NOW + TTL - timedelta(seconds=1))
        assert await log.first_time("slack\nEv1", ttl=TTL, now=NOW + TTL), "after its TTL, a new delivery"
        assert not await log.first_time("slack\nEv1", ttl=TTL, now=NOW + TTL)
        await log.release("slack\nEv2")  # its handling failed: the retry is taken
        assert await log.first_time("slack\nEv2", ttl=TTL, now=NOW)


async def test_platform_records_are_kept_by_kind_and_taken_once(engine: Engine) -> None:
    async with engine.opened() as storage:
        records = storage.records
        records.put("teams/references", "a:1", {"conversation": "a:1", "users": ["u"]})
        records.put("teams/references", "a:2", {"conversation": "a:2"})
        records.put("slack/installations", "a:1", {"team": "T1"})
        assert records.get("teams/references", "a:1") == {"conversation": "a:1", "users": ["u"]}
        assert sorted(d["conversation"] for d in records.all("teams/references")) == ["a:1", "a:2"]
        assert records.delete("teams/references", ["a:2", "never"]) == 1
        assert records.get("teams/references", "a:2") is None
        assert records.get("slack/installations", "a:1") == {"team": "T1"}, "kinds are apart"
        records.put("slack/oauth-states", "s1", {"issued": 1.0})
        taken = await asyncio.gather(*(asyncio.to_thread(records.take, "slack/oauth-states", "s1") for _ in range(8)))
        assert [t for t in taken if t is not None] == [{"issued": 1.0}]


async def test_everything_is_still_there_after_reopening(engine: Engine) -> None:
    from tests.contract.test_cases import NOW as CASE_TIME
    from tests.contract.test_cases import new_case
    from tests.contract.test_pages import page

    async with engine.opened() as storage:
        case = await storage.cases.create(new_case(), now=CASE_TIME)
        record = await storage.pages.put(page(case.number))
        tag = await storage.conversations.save("k", {"step": 4}, updated_at=NOW, open=True, e_tag=None)
        assert await storage.deliveries.first_time("teams\nA1", ttl=TTL, now=NOW)
        storage.records.put("teams/cards", "c1", {"live": True})
    async with engine.opened() as storage:
        assert await storage.cases.get(case.number) == case
        assert await storage.pages.get(case.number) == record and await storage.pages.due(NOW) == [case.number]
        stored = await storage.conversations.load("k")
        assert stored is not None and stored.state == {"step": 4} and stored.e_tag == tag
        assert not await storage.deliveries.first_time("teams\nA1", ttl=TTL, now=NOW + timedelta(minutes=1))
        assert storage.records.get("teams/cards", "c1") == {"live": True}
        assert (await storage.cases.create(new_case(), now=CASE_TIME)).number == case.number + 1
