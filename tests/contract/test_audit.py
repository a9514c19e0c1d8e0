"""The `AuditLog` port: entries appended in order, read by time and by case, still there after reopening,
read beside the writer, and never changed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.audit import AuditAction, AuditEntry
from tests.contract.conftest import Engine

NOW = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)


def entry(minutes: int, action: AuditAction = AuditAction.ACKNOWLEDGED, case: int | None = 10001) -> AuditEntry:
    return AuditEntry(NOW + timedelta(minutes=minutes), action, "morten", case, {"name": "Morten"})


async def test_entries_are_read_in_order_by_time_and_by_case(engine: Engine) -> None:
    async with engine.opened() as storage:
        log = storage.audit
        assert await log.read() == []
        first, second = entry(0, AuditAction.CONSENT), entry(5, case=10002)
        config = entry(6, AuditAction.CONFIG, case=None)
        later = entry(60 * 24 * 5)  # in December: another month
        for e in (first, second, config, later):
            await log.append(e)
        assert await log.read() == [first, second, config, later]
        assert await log.read(since=NOW + timedelta(minutes=5)) == [second, config, later]
        assert await log.read(case=10001) == [first, later]
        assert await log.read(since=NOW + timedelta(days=1), case=10001) == [later]
    async with engine.opened() as storage:
        assert await storage.audit.read() == [first, second, config, later], "still there after reopening"


async def test_concurrent_appends_are_all_kept(engine: Engine) -> None:
    async with engine.opened() as storage:
        entries = [entry(i, case=10001 + i) for i in range(50)]
        await asyncio.gather(*(storage.audit.append(e) for e in entries))
        assert sorted(await storage.audit.read(), key=lambda e: e.at) == entries


async def test_a_reader_beside_the_writer_sees_what_is_appended_and_appends_its_own(engine: Engine) -> None:
    """The operator's command line records its own changes (an override cancelled) beside the running bot."""
    async with engine.opened() as storage:
        await storage.audit.append(entry(0))
        reader = engine.open_reader()
        try:
            assert await reader.audit.read() == [entry(0)]
            await storage.audit.append(entry(1))
            assert await reader.audit.read() == [entry(0), entry(1)]
            await asyncio.gather(reader.audit.append(entry(2)), storage.audit.append(entry(3)))
        finally:
            await reader.close()
        assert sorted(await storage.audit.read(), key=lambda e: e.at) == [entry(i) for i in range(4)]


async def test_a_damaged_entry_is_named_skipped_and_left_as_it_is(engine: Engine) -> None:
    async with engine.opened() as storage:
        await storage.audit.append(entry(0))
        await storage.audit.append(entry(1))
        where = engine.damage_audit()
        await storage.audit.append(entry(2))
        assert await storage.audit.read() == [entry(1), entry(2)]
        problems = await storage.audit.problems()
        assert len(problems) == 1 and where in problems[0]
        assert engine.audit_untouched()
