"""Case creation time with 1,000, 10,000 and 100,000 earlier cases on file, every case fsynced.

Target (issue 2): median under 2 ms at 100,000 and less than 1.5x growth from 1,000 to 100,000.
The earlier cases are written straight into shard files through the same storage class (without
fsync, to build 100,000 cases in seconds); the measured creates go through `CaseStore.create`.
Also prints: opening the store; building the in-memory summary of all cases (`warm_up()`, done in
the background when the bot starts); the first `find(open_only=True)` (loads every open case, 10 %
of the earlier ones); and one employee's open cases after that (the `status` command).
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.case_store import SHARD_SIZE, TABLE, CaseStore
from bot.cases import Case, CaseEvent, CaseStatus, CostAnswer, CustomerRef, EventKind, NewCase, Reporter
from bot.categories import Category, Scope
from bot.storage import AtomicJSONStorage

SIZES = (1_000, 10_000, 100_000)
CREATES = 300
FIRST = 10001
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def sample_case(index: int) -> NewCase:
    """A realistic after-hours case: a couple of sentences, the cost text shown and the answer."""
    at = START + timedelta(minutes=7 * index)
    return NewCase(
        reporter=Reporter("teams", f"tenant-{index % 40}", f"user-{index % 900}", "Mette Sørensen", "da-DK"),
        customer=CustomerRef(f"Kunde {index % 40} ApS", known=True, agreement=index % 3 == 0),
        description="Internettet virker ikke for nogen på kontoret siden i morges, routeren blinker rødt. "
        "Vi har prøvet at genstarte den, men det hjælper ikke.",
        category=Category.INTERNET_DOWN,
        confidence=91,
        scope=Scope.ALL,
        critical=True,
        after_hours=True,
        cost=CostAnswer(
            terms=("surcharge",),
            shown_text="Arbejde uden for normal åbningstid faktureres med 100 % tillæg på timeprisen.",
            answer="accept",
            accepted=True,
            shown_at=at,
            answered_at=at,
        ),
        page_requested=True,
    )


def write_earlier_cases(folder: Path, count: int) -> None:
    """`count` closed and open cases written shard by shard, as the store would have left them."""
    folder.mkdir(parents=True, exist_ok=True)
    docs: dict[str, dict] = {}
    for number in range(FIRST, FIRST + count):
        index = number - FIRST
        case = Case.from_new(sample_case(index), number=number, created_at=START + timedelta(minutes=7 * index))
        if index % 10:
            resolved = CaseEvent(at=case.created_at, kind=EventKind.RESOLVED, actor="vagt")
            case = case.with_event(resolved, status=CaseStatus.RESOLVED)
        docs[str(number)] = case.to_dict()
        if (number + 1) % SHARD_SIZE == 0 or number == FIRST + count - 1:
            path = folder / f"{number // SHARD_SIZE * SHARD_SIZE:08d}.json"
            AtomicJSONStorage(path, durable=False).write({TABLE: docs})
            docs = {}


def measure(count: int) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="bench-cases-"))
    try:
        folder = root / "cases"
        write_earlier_cases(folder, count)
        started = time.perf_counter()
        store = CaseStore(folder, first_number=FIRST)
        opened = time.perf_counter() - started
        timings = []
        for index in range(CREATES):
            new = sample_case(count + index)
            now = START + timedelta(minutes=7 * (count + index))
            started = time.perf_counter()
            store.create(new, now=now)
            timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        store.warm_up()
        index = time.perf_counter() - started
        started = time.perf_counter()
        store.find(open_only=True)
        all_open = time.perf_counter() - started
        started = time.perf_counter()
        store.find(reporter=("teams", "tenant-1", "user-1"), open_only=True)
        own_open = time.perf_counter() - started
        store.close()
        timings.sort()
        return {
            "earlier_cases": count,
            "median_ms": statistics.median(timings) * 1000,
            "p95_ms": timings[int(len(timings) * 0.95) - 1] * 1000,
            "open_ms": opened * 1000,
            "index_ms": index * 1000,
            "all_open_cases_ms": all_open * 1000,
            "own_open_cases_ms": own_open * 1000,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    results = [measure(count) for count in SIZES]
    ratio = results[-1]["median_ms"] / results[0]["median_ms"]
    print(f"CaseStore.create, {CREATES} creates per size, each fsynced (file and folder); shard size {SHARD_SIZE}")
    heads = ("earlier cases", "median ms", "p95 ms", "open ms", "index ms", "all open ms", "own open ms")
    print("  ".join(f"{head:>13}" for head in heads))
    for r in results:
        print(
            f"{r['earlier_cases']:>13,}  {r['median_ms']:>13.3f}  {r['p95_ms']:>13.3f}  {r['open_ms']:>13.1f}"
            f"  {r['index_ms']:>13.1f}  {r['all_open_cases_ms']:>13.1f}  {r['own_open_cases_ms']:>13.3f}"
        )
    print(f"median 100k / 1k: {ratio:.2f}x (target < 1.5x); median at 100k target < 2 ms")
    print(json.dumps({"benchmark": "case_store_create", "results": results, "ratio_100k_1k": round(ratio, 3)}))


if __name__ == "__main__":
    main()
