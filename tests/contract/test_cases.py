"""The `Cases` port: what every engine promises about the business record."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.cases import CaseEvent, CaseStatus, CustomerRef, EventKind, NewCase, Reporter
from bot.categories import Category, Scope
from bot.errors import CaseNotFoundError, StorageError
from bot.ports import VersionConflict
from tests.contract.conftest import FIRST, Engine

NOW = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)


def new_case(user: str = "U1", *, customer: str = "Acme A/S", category: Category = Category.INTERNET_DOWN) -> NewCase:
    return NewCase(
        reporter=Reporter("slack", "T1", user, "Mette", "da"),
        customer=CustomerRef(customer),
        description="internettet er nede for alle på kontoret",
        category=category,
        confidence=90,
        scope=Scope.ALL,
        critical=True,
        after_hours=True,
    )


def acknowledged(at: datetime = NOW) -> CaseEvent:
    return CaseEvent(at, EventKind.ACKNOWLEDGED, "morten", {"name": "Morten"})


async def test_create_get_find_and_update(engine: Engine) -> None:
    async with engine.opened() as storage:
        cases = storage.cases
        first = await cases.create(new_case("U1"), now=NOW)
        second = await cases.create(
            new_case("U2", customer="Biokube A/S", category=Category.ACCOUNT_LOCKED), now=NOW + timedelta(minutes=5)
        )
        assert (first.number, second.number) == (FIRST, FIRST + 1)
        assert await cases.get(first.number) == first and await cases.get(FIRST + 99) is None
        assert await cases.get_many([second.number, 4, first.number]) == [second, first]
        assert [c.number for c in await cases.find()] == [second.number, first.number], "newest first"
        assert await cases.find(customer="Biokube A/S") == [second]
        assert await cases.find(reporter=("slack", "T1", "U1")) == [first]
        assert await cases.find(category=Category.ACCOUNT_LOCKED) == [second]
        assert await cases.find(since=NOW + timedelta(minutes=1)) == [second]

        changed = await cases.update(first.number, acknowledged(), status=CaseStatus.ACKNOWLEDGED)
        assert changed.status is CaseStatus.ACKNOWLEDGED and changed.history[-1] == acknowledged()
        assert changed.version == first.version + 1
        assert await cases.get(first.number) == changed
        assert await cases.find(status=CaseStatus.ACKNOWLEDGED) == [changed]
        assert await cases.find_numbers(open_only=True) == [second.number, first.number]
        resolved = CaseEvent(NOW, EventKind.RESOLVED, "morten")
        await cases.update(second.number, resolved, status=CaseStatus.RESOLVED)
        assert await cases.find_numbers(open_only=True) == [first.number]
        with pytest.raises(CaseNotFoundError):
            await cases.update(FIRST + 99, acknowledged())
        with pytest.raises(ValueError, match="cannot be changed"):
            await cases.update(first.number, acknowledged(), created_at=NOW)


async def test_an_update_from_a_stale_read_is_refused_and_changes_nothing(engine: Engine) -> None:
    async with engine.opened() as storage:
        case = await storage.cases.create(new_case(), now=NOW)
        await storage.cases.update(case.number, acknowledged(), expected_version=case.version)
        with pytest.raises(VersionConflict):
            resolved = CaseEvent(NOW, EventKind.RESOLVED, "sara")
            await storage.cases.update(case.number, resolved, expected_version=case.version, status=CaseStatus.RESOLVED)
        now = await storage.cases.get(case.number)
        assert now is not None and now.status is CaseStatus.OPEN and now.version == case.version + 1


async def test_of_concurrent_updates_from_one_read_exactly_one_wins(engine: Engine) -> None:
    async with engine.opened() as storage:
        case = await storage.cases.create(new_case(), now=NOW)
        outcomes = await asyncio.gather(
            *(
                storage.cases.update(
                    case.number, acknowledged(NOW + timedelta(seconds=n)), expected_version=case.version
                )
                for n in range(10)
            ),
            return_exceptions=True,
        )
        assert sum(not isinstance(o, Exception) for o in outcomes) == 1
        assert all(isinstance(o, VersionConflict) for o in outcomes if isinstance(o, Exception))
        assert len((await storage.cases.get(case.number)).history) == 2


async def test_numbers_are_unique_and_gapless_under_concurrent_creation_from_threads(engine: Engine) -> None:
    async with engine.opened() as storage:
        numbers: list[int] = []
        lock = threading.Lock()

        def creator(user: str) -> None:
            async def create_many() -> list[int]:
                made = await asyncio.gather(*(storage.cases.create(new_case(user), now=NOW) for _ in range(15)))
                return [case.number for case in made]

            made = asyncio.run(create_many())
            with lock:
                numbers.extend(made)

        threads = [threading.Thread(target=creator, args=(f"U{n}",)) for n in range(7)]
        for thread in threads:
            thread.start()
        for thread in threads:
            await asyncio.to_thread(thread.join)
        assert sorted(numbers) == list(range(FIRST, FIRST + 105))
        assert len(await storage.cases.find()) == 105


CREATOR = """
import asyncio, sys
from datetime import UTC, datetime
from pathlib import Path
from bot.errors import StorageError
from tests.contract.test_cases import new_case
{opener_indented}
async def main():
    try:
        for _ in range(20):
            print((await storage.cases.create(new_case("P"), now=datetime.now(UTC))).number, flush=True)
    finally:
        await storage.close()
asyncio.run(main())
"""


def test_processes_get_unique_gapless_numbers_or_are_refused_clearly(engine: Engine) -> None:
    """Every process that can open the storage gets its own numbers; one that cannot says why in one line."""
    opener = "try:\n" + "".join(f"    {line}\n" for line in engine.opener().splitlines())
    opener += "except StorageError as exc:\n    sys.exit(str(exc))\n"
    script = "from pathlib import Path\n" + CREATOR.format(opener_indented=opener)
    processes = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    numbers: list[int] = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        if process.returncode == 0:
            numbers += [int(line) for line in out.split()]
        else:
            assert out == "" and "in use by another bot (process " in err, err
    assert numbers, "at least one process created cases"
    assert sorted(numbers) == list(range(FIRST, FIRST + len(numbers)))


async def test_a_damaged_case_is_named_left_alone_and_numbering_goes_on(engine: Engine) -> None:
    async with engine.opened() as storage:
        damaged = await storage.cases.create(new_case(), now=NOW)
    where = engine.damage_case(damaged.number)
    async with engine.opened() as storage:
        with pytest.raises(StorageError, match=where):
            await storage.cases.get(damaged.number)
        assert await storage.cases.find() == []
        assert any(where in problem for problem in await storage.cases.problems())
        later = await storage.cases.create(new_case(), now=NOW)
        assert later.number > damaged.number
    assert engine.untouched()
