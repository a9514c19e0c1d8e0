"""`supportbot cases list|show`: the operator's view, including unknown numbers and damaged files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.cli import main
from bot.case_store import CaseStore
from bot.cases import CaseEvent, CaseStatus, CostAnswer, CustomerRef, EventKind, NewCase, Reporter
from bot.categories import Category, Scope

WINTER = datetime(2026, 1, 5, 21, 30, tzinfo=UTC)  # 22:30 in Copenhagen
SUMMER = datetime(2026, 7, 6, 6, 15, tzinfo=UTC)  # 08:15 in Copenhagen


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SUPPORTBOT_CONFIG", raising=False)
    monkeypatch.setenv("SUPPORTBOT_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def add_cases(data: Path) -> None:
    store = CaseStore(data / "cases")
    store.create(
        NewCase(
            reporter=Reporter("teams", "tenant-1", "user-1", "Mette Sørensen", "da-DK"),
            customer=CustomerRef("Acme A/S", known=True, agreement=True),
            description="Internettet virker ikke for nogen på kontoret, routeren blinker rødt og vi har genstartet",
            category=Category.INTERNET_DOWN,
            confidence=93,
            scope=Scope.ALL,
            critical=True,
            after_hours=True,
            cost=CostAnswer(("surcharge",), "100 % tillæg på timeprisen", "accept", True, WINTER, WINTER),
            page_requested=True,
        ),
        now=WINTER,
    )
    store.update(10001, CaseEvent(WINTER, EventKind.ACKNOWLEDGED, "vagt", {"name": "Vagten"}), status="acknowledged")
    store.create(
        NewCase(
            reporter=Reporter("slack", "T0NEW", "U9", "", "en"),
            customer=CustomerRef("T0NEW", known=False),
            description="printer\x1b[2J\x07 broken 🖨️\nsecond line",
            category=Category.PRINTING_DOWN,
            confidence=70,
            scope=Scope.ME,
            critical=False,
            after_hours=False,
        ),
        now=SUMMER,
    )
    store.close()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_list_without_any_cases_says_so_and_creates_nothing(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["cases", "list"], capsys)
    assert code == 0
    assert "No cases yet" in out
    assert not data.exists()


def test_list_is_a_table_newest_first_in_office_time(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(data)
    code, out, _ = run(["cases", "list"], capsys)
    assert code == 0
    header, newest, oldest = out.splitlines()
    assert header.split() == ["Number", "Created", "Status", "Critical", "Customer", "Category", "Description"]
    assert re.split(r"\s{2,}", newest) == [
        "10002",
        "2026-07-06 08:15",
        "open",
        "no",
        "T0NEW (unknown)",
        "printing_down",
        "printer\ufffd[2J\ufffd broken 🖨️ second line",
    ]
    assert re.split(r"\s{2,}", oldest) == [
        "10001",
        "2026-01-05 22:30",
        "acknowledged",
        "yes",
        "Acme A/S",
        "internet_down",
        "Internettet virker ikke for nogen på kontoret, ro…",
    ]


def test_list_filters_by_status(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(data)
    _, out, _ = run(["cases", "list", "--status", "acknowledged"], capsys)
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["10001"]
    _, out, _ = run(["cases", "list", "--status", "resolved"], capsys)
    assert out.strip() == "No cases with status resolved."


def test_list_as_json(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(data)
    code, out, _ = run(["cases", "list", "--json"], capsys)
    cases = json.loads(out)
    assert code == 0
    assert [c["number"] for c in cases] == [10002, 10001]
    assert cases[0]["description"] == "printer\x1b[2J\x07 broken 🖨️\nsecond line"


def test_bad_status_lists_the_choices(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["cases", "list", "--status", "closed"], capsys)
    assert code == 2
    assert "invalid choice: 'closed'" in err
    for status in CaseStatus:
        assert status.value in err


def test_show_prints_every_field_and_the_history(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(data)
    code, out, _ = run(["cases", "show", "10001"], capsys)
    assert code == 0
    for expected in (
        "Case 10001",
        "Created:      2026-01-05 22:30",
        "Status:       acknowledged",
        "Critical:     yes",
        "After hours:  yes",
        "internet_down (confidence 93, affected: all)",
        "Acme A/S, support agreement",
        "Mette Sørensen (teams tenant-1 user-1, locale da-DK)",
        "Cost terms:   surcharge",
        "accept (accepted)",
        "  Internettet virker ikke",
        "created  user-1",
        'acknowledged  vagt {"name": "Vagten"}',
    ):
        assert expected in out


def test_show_accepts_a_number_as_people_write_it(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(data)
    code, out, _ = run(["cases", "show", "#10 002"], capsys)
    assert code == 0
    assert "Customer:     T0NEW (unknown workspace)" in out
    assert "\x1b" not in out


def test_show_as_json(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(data)
    _, out, _ = run(["cases", "show", "10001", "--json"], capsys)
    case = json.loads(out)
    assert case["status"] == "acknowledged"
    assert [e["kind"] for e in case["history"]] == ["created", "acknowledged"]


@pytest.mark.parametrize("with_cases", [True, False])
def test_unknown_number_is_a_clear_message(data: Path, capsys: pytest.CaptureFixture[str], with_cases: bool) -> None:
    if with_cases:
        add_cases(data)
    code, out, err = run(["cases", "show", "99999"], capsys)
    assert code == 2
    assert out == ""
    assert "no case has number 99999" in err


def test_not_a_number_is_an_argument_error(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["cases", "show", "abc"], capsys)
    assert code == 2
    assert "'abc' is not a case number" in err


def test_damaged_file_is_named_and_never_a_traceback(data: Path) -> None:
    add_cases(data)
    store = CaseStore(data / "cases", first_number=20001)  # a second, healthy shard
    store.create(NewCase(**_fields_of(store, 10002)), now=SUMMER)
    store.close()
    shard = data / "cases" / "00010000.json"
    shard.write_bytes(shard.read_bytes()[:200])
    env = {"SUPPORTBOT_DATA": str(data), "PATH": "/usr/bin:/bin"}

    listing = subprocess.run(
        [sys.executable, "-m", "bot", "cases", "list"], capture_output=True, text=True, env=env, cwd=data.parent
    )
    assert listing.returncode == 1
    assert "Traceback" not in listing.stderr
    assert "00010000.json" in listing.stderr and "move it aside" in listing.stderr
    assert listing.stdout.splitlines()[1].startswith("20001")

    show = subprocess.run(
        [sys.executable, "-m", "bot", "cases", "show", "10001"],
        capture_output=True,
        text=True,
        env=env,
        cwd=data.parent,
    )
    assert show.returncode == 2
    assert "Traceback" not in show.stderr
    assert "00010000.json" in show.stderr
    assert shard.stat().st_size == 200


def _fields_of(store: CaseStore, number: int) -> dict[str, object]:
    case = store.get(number)
    assert case is not None
    return {name: getattr(case, name) for name in NewCase.__dataclass_fields__}
