"""What the page book keeps in memory per record stays small (issue 7): no per-instance dicts, same files."""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from adapters.storage.embedded.pages import PageBook
from bot.delivery import MessageRef
from bot.oncall.records import PageRecord, RecordKind, SentMessage


def team_record(number: int, version: int = 0) -> PageRecord:
    ref = MessageRef("local", "local", "oncall", str(number * 2))
    return PageRecord(case=number, kind=RecordKind.TEAM, version=version).with_sent([SentMessage("", "da", ref)])


async def test_records_have_no_dict_and_survive_a_restart_unchanged(tmp_path: Path) -> None:
    book = PageBook(tmp_path / "oncall")
    for number in range(10001, 10011):
        await book.put(team_record(number))
    book.close()
    kept = book.get_now(10005)
    assert kept is not None
    assert not hasattr(kept, "__dict__") and not hasattr(kept.sent[0], "__dict__")

    # Written as before: the reference as a plain object with its four fields.
    stored = json.loads((tmp_path / "oncall" / "00010000.json").read_text())["pages"]["10005"]
    assert stored["sent"] == [
        {
            "technician": "",
            "language": "da",
            "ref": {"platform": "local", "workspace": "local", "channel": "oncall", "message_id": "20010"},
        }
    ]
    again = PageBook(tmp_path / "oncall")
    assert again.get_now(10005) == kept and len(again) == 10
    again.close()


def page_record(number: int, due: datetime | None, version: int = 0) -> PageRecord:
    ref = MessageRef("slack", "T-OO", "U-morten", str(number))
    return PageRecord(case=number, kind=RecordKind.PAGE, due=due, version=version).with_sent(
        [SentMessage("U-morten", "da", ref)]
    )


def on_disk(folder: Path) -> set[int]:
    return {int(n) for path in folder.glob("*.json") for n in json.loads(path.read_text())["pages"]}


async def test_records_without_timers_leave_memory_once_written_and_are_read_back_when_asked(tmp_path: Path) -> None:
    folder = tmp_path / "oncall"
    book = PageBook(folder)
    for number in range(10001, 11001):
        await book.put(team_record(number))
    due = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
    await book.put(page_record(10500, due))  # one of them is paged again: it has a timer now
    gc.collect()
    tracemalloc.start()
    again = PageBook(folder)
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert size < 250 * 1000, f"{size} bytes for 1,000 records without timers"

    for b in (book, again):
        assert len(b) == 1000 and await b.holds(10001) and not await b.holds(11001)
        assert b.get_now(10005) == team_record(10005, 1) and b.get_now(11001) is None
        assert b.get_now(10500) == page_record(10500, due, 2) and await b.due(due) == [10500]
        assert sorted(await b.idle()) == [n for n in range(10001, 11001) if n != 10500]
    book.close()

    # Changing one record of a shard keeps the others of it, read from disk.
    changed = team_record(10007).with_sent([SentMessage("", "en", MessageRef("teams", "", "19:team", "m1"))])
    writing = asyncio.ensure_future(again.put(changed))
    await asyncio.sleep(0)
    changed = replace(changed, version=2)
    assert again.get_now(10007) == changed, "a change is seen before its shard is written"
    await writing
    await again.remove(10008)
    dropped = await again.drop_idle([10009, 10500, 10010])  # 10500 has a timer: kept
    assert sorted(r.case for r in dropped) == [10009, 10010] and dropped[0] == team_record(dropped[0].case, 1)
    assert again.get_now(10007) == changed and again.get_now(10008) is None and again.get_now(10009) is None
    again.close()
    assert on_disk(folder) == set(range(10001, 11001)) - {10008, 10009, 10010}
    third = PageBook(folder)
    assert third.get_now(10007) == changed and third.get_now(10006) == team_record(10006, 1) and len(third) == 997
    third.close()
