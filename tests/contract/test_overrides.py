"""The `Overrides` port: rota overrides made in chat, taken once however many press at once, and
changed by the operator's command line beside a running bot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.oncall.overrides import OverrideStatus, offer, take
from bot.ports import VersionConflict
from tests.contract.conftest import Engine

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 12, 12, 7, 0, tzinfo=UTC)


async def test_overrides_are_stored_listed_by_start_and_kept_after_reopening(engine: Engine) -> None:
    async with engine.opened() as storage:
        later = await storage.overrides.add(
            take(SATURDAY + timedelta(days=7), SATURDAY + timedelta(days=8), technician="sara", now=NOW)
        )
        first = await storage.overrides.add(offer(SATURDAY, SATURDAY + timedelta(days=1), requester="morten", now=NOW))
        assert first.version == 1 and first.status is OverrideStatus.OFFERED
        assert await storage.overrides.get(first.id) == first
        assert await storage.overrides.get("nothere") is None
        assert [o.id for o in await storage.overrides.all(ending_after=NOW)] == [first.id, later.id]
        assert [o.id for o in await storage.overrides.all(ending_after=SATURDAY + timedelta(days=2))] == [later.id]
        with pytest.raises(VersionConflict):
            await storage.overrides.add(first)
    async with engine.opened() as storage:
        assert await storage.overrides.get(later.id) == later


async def test_of_twenty_technicians_taking_an_offer_at_once_one_gets_it(engine: Engine) -> None:
    async with engine.opened() as storage:
        seen = await storage.overrides.add(offer(SATURDAY, SATURDAY + timedelta(days=1), requester="morten", now=NOW))
        takes = await asyncio.gather(*(storage.overrides.change(seen, seen.taken_by(f"tech{i}")) for i in range(20)))
        won = [t for t in takes if t is not None]
        assert len(won) == 1 and won[0].version == 2 and won[0].status is OverrideStatus.TAKEN
        assert await storage.overrides.get(seen.id) == won[0]
        assert await storage.overrides.change(seen, seen.cancelled("morten")) is None, "a stale change loses"


async def test_the_command_line_cancels_beside_a_running_bot_and_the_bot_sees_it_at_once(engine: Engine) -> None:
    async with engine.opened() as storage:
        taken = await storage.overrides.add(take(SATURDAY, SATURDAY + timedelta(days=1), technician="sara", now=NOW))
        beside = engine.open_reader()
        try:
            seen = await beside.overrides.get(taken.id)
            assert seen == taken
            assert await beside.overrides.change(seen, seen.cancelled("cli")) is not None
        finally:
            await beside.close()
        now = await storage.overrides.get(taken.id)
        assert now is not None and now.status is OverrideStatus.CANCELLED and now.by == "cli"
