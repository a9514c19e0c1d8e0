"""The on-call page book with 10,000 records: start-up, a tick with nothing due, a put, and the sweep.

Before (eng-review M2): the whole book in one TinyDB file (`oncall.json`), every record rebuilt
on each 5-second tick and the whole file dumped on each put. Measured with that code on the same
machine: 1,000 records: tick 6.3 ms, put 8.1 ms; 10,000 records (2.9 MB): tick 85 ms, put 91 ms;
50,000: tick 743 ms, put 804 ms, all of it holding the GIL, so the event loop stalled.

Now: records and their due moments are in memory (a tick with nothing due reads no file) and a
put rewrites one shard of 100 case numbers. The sweep (once a minute) drops what can no longer
act; the first one after an upgrade cleans up a bloated book, later ones find little to do.
The 10,000 cases here are on file like bench_case_store's (one every 7 minutes, 10 % open), each
with a record without timers, the way the old book kept them.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from adapters.storage.embedded import EmbeddedStorage
from adapters.storage.embedded.files import write_json
from adapters.storage.embedded.pages import SHARD_SIZE, TABLE, PageBook
from benchmarks.bench_case_store import FIRST, START, write_earlier_cases
from bot.clock import ManualClock
from bot.config import load_settings
from bot.delivery import Address, MessageRef, Messengers
from bot.messages import Message
from bot.oncall.records import PageRecord, RecordKind, SentMessage, Step
from bot.oncall.service import REFRESH_PER_SWEEP, OncallService

RECORDS = 10_000
PUTS = 200
TICKS = 1_000


class Sink:
    """A Messenger that takes everything and counts it (the platforms' own time is not measured here)."""

    def __init__(self) -> None:
        self.sent = 0
        self.updated = 0

    async def send(self, to: Address, message: Message) -> MessageRef:
        self.sent += 1
        return MessageRef(to.platform, to.workspace, to.user_id, str(self.sent))

    async def update(self, ref: MessageRef, message: Message) -> None:
        self.updated += 1


def record(number: int) -> PageRecord:
    """A page that ran its course: reached, acknowledged long ago, no timer left; two copies sent."""
    sent = tuple(
        SentMessage(tech, "da", MessageRef("slack", "T0PROVIDER", f"D{tech}", f"{number}.000100"))
        for tech in ("vagt", "vagt2")
    )
    return PageRecord(
        case=number,
        kind=RecordKind.PAGE,
        step=Step.BACKUP,
        primary="vagt",
        backup="vagt2",
        reached=True,
        sent=sent,
        reminders=6,
    )


def write_book(folder: Path, numbers: range) -> None:
    for block in sorted({n // SHARD_SIZE for n in numbers}):
        docs = {str(n): record(n).to_dict() for n in numbers if n // SHARD_SIZE == block}
        write_json(folder / f"{block * SHARD_SIZE:08d}.json", {TABLE: docs}, durable=False)


async def measure(root: Path) -> dict[str, float]:
    config = root / "supportbot.toml"
    config.write_text("", encoding="utf-8")
    settings = load_settings({"SUPPORTBOT_CONFIG": str(config), "SUPPORTBOT_DATA": str(root / "data")})
    numbers = range(FIRST, FIRST + RECORDS)
    write_earlier_cases(settings.data_dir / "cases", RECORDS)
    write_book(settings.data_dir / "oncall", numbers)
    clock = ManualClock(START + timedelta(minutes=7 * RECORDS))

    started = time.perf_counter()
    book = PageBook(settings.data_dir / "oncall")
    load_ms = (time.perf_counter() - started) * 1000
    book.close()

    storage = EmbeddedStorage(settings.data_dir)
    store, book = storage.cases, storage.pages
    sink = Sink()
    messengers = Messengers()
    messengers.register("slack", sink)
    service = OncallService.on_storage(storage, settings=settings, messengers=messengers, clock=clock)
    await store.find(open_only=True, since=clock.now())  # the case index is built (at start-up, in the background)
    service._swept = clock.now()
    ticks = []
    for _ in range(TICKS):
        started = time.perf_counter()
        await service.tick()
        ticks.append(time.perf_counter() - started)
    puts = []
    for index in range(PUTS):
        due = clock.now() + timedelta(minutes=10)
        page = PageRecord(case=FIRST + RECORDS + index, kind=RecordKind.PAGE, primary="vagt", due=due)
        started = time.perf_counter()
        await book.put(page)
        puts.append(time.perf_counter() - started)
    sweeps: list[float] = []
    before = len(book)
    while not sweeps or len(book) < before:  # until the clean-up is done
        before = len(book)
        started = time.perf_counter()
        await service.sweep()
        sweeps.append(time.perf_counter() - started)
    kept = len(book)
    await storage.close()
    return {
        "records": RECORDS,
        "load_ms": load_ms,
        "tick_us": statistics.median(ticks) * 1e6,
        "put_ms": statistics.median(puts) * 1000,
        "first_sweep_ms": sweeps[0] * 1000,
        "clean_up_sweeps": len(sweeps) - 2,
        "clean_up_max_ms": max(sweeps[1:-1], default=0.0) * 1000,
        "steady_sweep_ms": sweeps[-1] * 1000,
        "kept_after_sweep": kept,
        "messages_updated": sink.updated,
    }


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-oncall-"))
    try:
        r = asyncio.run(measure(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"PageBook with {r['records']:,} records (before: tick 85 ms, put 91 ms at 10,000)")
    print(f"  start-up load       {r['load_ms']:9.1f} ms")
    print(f"  tick, nothing due   {r['tick_us']:9.1f} us  (median of {TICKS})")
    print(f"  put (fsynced)       {r['put_ms']:9.2f} ms  (median of {PUTS})")
    print(f"  first sweep         {r['first_sweep_ms']:9.1f} ms  (drops the records that can no longer act)")
    print(
        f"  then {r['clean_up_sweeps']} sweeps, one a minute, at most {r['clean_up_max_ms']:.1f} ms each: "
        f"{r['messages_updated']} copies of recent cases closed elsewhere updated, {REFRESH_PER_SWEEP} cases a sweep"
    )
    print(f"  steady sweep        {r['steady_sweep_ms']:9.1f} ms  ({r['kept_after_sweep']} records kept)")
    print(json.dumps({"benchmark": "oncall_state", **{k: round(v, 3) for k, v in r.items()}}))


if __name__ == "__main__":
    main()
