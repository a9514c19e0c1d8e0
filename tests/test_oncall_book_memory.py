"""What the page book keeps in memory per record stays small (issue 7): no per-instance dicts, same files."""

from __future__ import annotations

import json
from pathlib import Path

from bot.delivery import MessageRef
from bot.oncall.state import PageBook, PageRecord, RecordKind, SentMessage


def team_record(number: int) -> PageRecord:
    ref = MessageRef("local", "local", "oncall", str(number * 2))
    return PageRecord(case=number, kind=RecordKind.TEAM).with_sent([SentMessage("", "da", ref)])


async def test_records_have_no_dict_and_survive_a_restart_unchanged(tmp_path: Path) -> None:
    book = PageBook(tmp_path / "oncall")
    for number in range(10001, 10011):
        await book.put(team_record(number))
    book.close()
    kept = book.get(10005)
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
    assert again.get(10005) == kept and len(again) == 10
    again.close()
