"""Case creation time with 1,000, 10,000 and 100,000 earlier cases on file, every case fsynced.

Target (issue 2): median under 2 ms at 100,000 and less than 1.5x growth from 1,000 to 100,000.
The earlier cases are written straight into shard files through the same storage class (without
fsync, to build 100,000 cases in seconds); the measured creates go through `CaseStore.create`.
Also prints: opening the store; building the in-memory summary of all cases (`warm_up()`, done in
the background when the bot starts); the first `find(open_only=True)` (loads every open case, 10 %
of the earlier ones); and one employee's open cases after that (the `status` command; cold: their
28 open cases lie in 28 shards and the cache keeps only the open cases used last, so each is read).

Then, in a fresh process holding 100,000 cases (10 % open) after `warm_up()` as the server does:
resident memory (RSS), the time of a full `gc.collect()` (what an event-loop stall costs when
generation 2 fills), and the lookups the bot makes during conversations: one employee's open cases
(the `status` command), the duplicate check (one customer's open cases of one category within 30
minutes) and the on-call sweep (open cases of the last 14 days). Targets (issue 7): nothing blocks
the event loop for more than 20 ms, the server under 150 MB; lookups during a turn sub-millisecond.
Run: `python -m benchmarks.bench_case_store [--memory-only]`.
"""

from __future__ import annotations

import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.storage.embedded.cases import SHARD_SIZE, TABLE, CaseStore
from adapters.storage.embedded.files import AtomicJSONStorage
from bot.cases import Case, CaseEvent, CaseStatus, CostAnswer, CustomerRef, EventKind, NewCase, Reporter
from bot.categories import Category, Scope

SIZES = (1_000, 10_000, 100_000)
HELD = 100_000
CREATES = 300
FIRST = 10001
# One case every 7 minutes from here: 100,000 of them end on 24 November 2026, before the moment the
# server benchmarks run at (bench_http's NOW), so none lies in the future of the bot's clock.
START = datetime(2025, 7, 26, 8, 0, tzinfo=UTC)


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


# Has ~1 case in 3,600, all open (index % 10 == 0): what an employee with a few open cases sees.
OWN = ("teams", "tenant-10", "user-10")


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
        store.find(reporter=OWN, open_only=True)
        own_open = time.perf_counter() - started
        store.close()
        timings.sort()
        return {
            "earlier_cases": count,
            "median_ms": statistics.median(timings) * 1000,
            "p95_ms": timings[int(len(timings) * 0.95) - 1] * 1000,
            "p99_ms": timings[int(len(timings) * 0.99) - 1] * 1000,
            "open_ms": opened * 1000,
            "index_ms": index * 1000,
            "all_open_cases_ms": all_open * 1000,
            "own_open_cases_ms": own_open * 1000,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def full_collection_ms(times: int = 5) -> float:
    """Median time of a full (generation 2) collection."""
    timings = []
    for _ in range(times):
        started = time.perf_counter()
        gc.collect()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def lookup_ms(call: Callable[[], object], times: int = 200) -> float:
    """Median time of `call()`, warmed up once."""
    call()
    timings = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def hold(folder: Path, count: int) -> dict[str, float]:
    """In this (fresh) process: open the store on `folder`, warm it up and measure memory, GC and lookups."""
    gc.collect()
    before = resident_mb()
    store = CaseStore(folder, first_number=FIRST)
    started = time.perf_counter()
    store.warm_up()
    warm_up = time.perf_counter() - started
    gc.collect()
    after_warm_up = resident_mb()
    gc_warm = full_collection_ms()
    last = START + timedelta(minutes=7 * (count - 1))
    customer = f"Kunde {(count - 1) % 40} ApS"
    started = time.perf_counter()
    store.find(reporter=OWN, open_only=True)
    own_cold = time.perf_counter() - started
    own = lookup_ms(lambda: store.find(reporter=OWN, open_only=True))
    duplicates = lookup_ms(
        lambda: store.find(
            open_only=True, customer=customer, category=Category.INTERNET_DOWN, since=last - timedelta(minutes=30)
        )
    )
    sweep = lookup_ms(lambda: store.find(open_only=True, since=last - timedelta(days=14)), times=20)
    started = time.perf_counter()
    everything_open = len(store.find(open_only=True))
    all_open = time.perf_counter() - started
    gc.collect()
    after_all_open = resident_mb()
    gc_all_open = full_collection_ms()
    gc.freeze()
    gc_frozen = full_collection_ms()
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    store.close()
    return {
        "cases": count,
        "open_cases": everything_open,
        "rss_start_mb": round(before, 1),
        "warm_up_ms": round(warm_up * 1000, 1),
        "rss_after_warm_up_mb": round(after_warm_up, 1),
        "gc_full_ms": round(gc_warm, 2),
        "own_open_cases_ms": round(own, 4),
        "own_open_cases_first_ms": round(own_cold * 1000, 2),
        "duplicate_check_ms": round(duplicates, 4),
        "sweep_14_days_ms": round(sweep, 3),
        "all_open_cases_ms": round(all_open * 1000, 1),
        "rss_after_all_open_mb": round(after_all_open, 1),
        "gc_full_after_all_open_ms": round(gc_all_open, 2),
        "gc_full_frozen_ms": round(gc_frozen, 2),
        "frozen_objects": frozen,
    }


def measure_held(count: int) -> dict[str, float]:
    """`hold()` in a fresh interpreter, so the memory figures are not those of the process that wrote the cases."""
    root = Path(tempfile.mkdtemp(prefix="bench-cases-held-"))
    try:
        write_earlier_cases(root / "cases", count)
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_case_store", "--hold", str(root / "cases"), str(count)],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def print_held(held: dict[str, float]) -> None:
    print(
        f"A process holding {held['cases']:,} cases ({held['open_cases']:,} open) after warm_up()"
        f" ({held['warm_up_ms']:.0f} ms):"
    )
    print(
        f"  RSS {held['rss_after_warm_up_mb']:.1f} MB (interpreter and imports: {held['rss_start_mb']:.1f} MB);"
        f" after loading every open case: {held['rss_after_all_open_mb']:.1f} MB"
    )
    print(
        f"  full gc.collect(): {held['gc_full_ms']:.1f} ms; after loading every open case:"
        f" {held['gc_full_after_all_open_ms']:.1f} ms; after gc.freeze(): {held['gc_full_frozen_ms']:.1f} ms"
        f" ({held['frozen_objects']:,} objects frozen) (target: under 20 ms)"
    )
    print(
        f"  find(): own open cases {held['own_open_cases_ms']:.3f} ms (first time:"
        f" {held['own_open_cases_first_ms']:.1f} ms); duplicate check"
        f" {held['duplicate_check_ms']:.3f} ms; sweep of 14 days {held['sweep_14_days_ms']:.2f} ms;"
        f" all {held['open_cases']:,} open cases {held['all_open_cases_ms']:.0f} ms"
    )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--hold":
        print(json.dumps(hold(Path(sys.argv[2]), int(sys.argv[3]))))
        return
    held = measure_held(HELD)
    if "--memory-only" in sys.argv:
        print_held(held)
        print(json.dumps({"benchmark": "case_store_held", "held": held}))
        return
    results = [measure(count) for count in SIZES]
    ratio = results[-1]["median_ms"] / results[0]["median_ms"]
    print(f"CaseStore.create, {CREATES} creates per size, each fsynced (file and folder); shard size {SHARD_SIZE}")
    heads = ("earlier cases", "median ms", "p95 ms", "p99 ms", "open ms", "index ms", "all open ms", "own open ms")
    print("  ".join(f"{head:>13}" for head in heads))
    for r in results:
        print(
            f"{r['earlier_cases']:>13,}  {r['median_ms']:>13.3f}  {r['p95_ms']:>13.3f}  {r['p99_ms']:>13.3f}"
            f"  {r['open_ms']:>13.1f}"
            f"  {r['index_ms']:>13.1f}  {r['all_open_cases_ms']:>13.1f}  {r['own_open_cases_ms']:>13.3f}"
        )
    print(f"median 100k / 1k: {ratio:.2f}x (target < 1.5x); median at 100k target < 2 ms")
    print_held(held)
    print(
        json.dumps(
            {"benchmark": "case_store_create", "results": results, "ratio_100k_1k": round(ratio, 3), "held": held}
        )
    )


if __name__ == "__main__":
    main()
