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
from adapters.storage.embedded.cases import CaseStore
from bot.cases import Case, CaseEvent, CaseStatus, CostAnswer, CustomerRef, EventKind, NewCase, Reporter
from bot.categories import Category, Scope

WINTER = datetime(2026, 1, 5, 21, 30, tzinfo=UTC)  # 22:30 in Copenhagen
SUMMER = datetime(2026, 7, 6, 6, 15, tzinfo=UTC)  # 08:15 in Copenhagen


COST_TEXT = (
    "Vi har lukket lige nu og åbner igen mandag kl. 8.00.\n\n"
    "Da det er driftskritisk, er der intet gebyr for at tilkalde vagten – kun 100 % tillæg på timeprisen for arbejdet."
    "\n\nSkal jeg tilkalde vagten nu, eller skal sagen vente til mandag kl. 8.00?"
)


def add_cases(data: Path, *, answer: str = "intake:3:page") -> None:
    store = CaseStore(data / "cases")
    store.create(
        NewCase(
            reporter=Reporter("local", "local", "u-12d1614b-4b6f-4bf0-b71d-0123456789ab", "Mette Sørensen", "da-DK"),
            customer=CustomerRef("Acme A/S", known=True, agreement=True),
            description="Internettet virker ikke for nogen på kontoret, routeren blinker rødt og vi har genstartet",
            category=Category.INTERNET_DOWN,
            confidence=93,
            scope=Scope.ALL,
            critical=True,
            after_hours=True,
            cost=CostAnswer(("surcharge",), COST_TEXT, answer, True, WINTER, WINTER),
            page_requested=True,
            callback_phone="+45 12 34 56 78",
        ),
        now=WINTER,
    )
    paged = {"technician": "vagt", "platform": "slack", "step": "primary"}
    store.update(10001, CaseEvent(WINTER, EventKind.PAGED, "system", paged))
    acknowledged = {"name": "Morten", "platform": "slack"}
    store.update(10001, CaseEvent(WINTER, EventKind.ACKNOWLEDGED, "vagt", acknowledged), status="acknowledged")
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
    assert out.startswith("Der er ingen sager endnu i ")
    assert not data.exists()


def test_list_is_danish_by_default_newest_first_two_lines_a_case(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_cases(data)
    code, out, _ = run(["cases", "list"], capsys)
    assert code == 0
    header, newest, newest_about, oldest, oldest_about, total = out.splitlines()
    assert header.split() == ["Sag", "Oprettet", "Status", "Kunde"]
    assert re.split(r"\s{2,}", newest) == ["10002", "2026-07-06 08:15", "åben", "Ukendt kunde (workspace T0NEW)"]
    assert newest_about == "       Kan ikke printe: printer\ufffd[2J\ufffd broken 🖨️ second line"
    assert re.split(r"\s{2,}", oldest) == [
        "10001",
        "2026-01-05 22:30",
        "kvitteret af Morten",
        "Acme A/S (driftsaftale)",
    ]
    assert oldest_about.startswith("       KRITISK Intet internet på kontoret: Internettet virker ikke")
    assert oldest_about.endswith("…")
    assert total == "2 sager"
    assert max(len(line) for line in out.splitlines()) <= 80


def test_list_in_english(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(data)
    _, out, _ = run(["cases", "list", "--language", "en"], capsys)
    lines = out.splitlines()
    assert lines[0].split() == ["Case", "Created", "Status", "Customer"]
    assert "acknowledged by Morten" in lines[3]
    assert lines[4].startswith("       CRITICAL No internet at the office: ")
    assert lines[-1] == "2 cases"


def test_list_shows_a_paged_case_and_a_linked_case(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(data)
    store = CaseStore(data / "cases")
    paged = {"technician": "vagt", "platform": "slack", "step": "primary"}
    store.update(10002, CaseEvent(SUMMER, EventKind.PAGED, "system", paged))
    store.update(10002, CaseEvent(SUMMER, EventKind.LINKED, "system", {"to": 10001}), linked_to=10001)
    store.close()
    _, out, _ = run(["cases", "list", "--language", "en"], capsys)
    assert "on-call paged" in out.splitlines()[1]
    assert out.splitlines()[2].startswith("       Can't print: (linked to 10001) printer")


def test_list_filters_by_status(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(data)
    _, out, _ = run(["cases", "list", "--status", "acknowledged"], capsys)
    assert [line.split()[0] for line in out.splitlines()[1:-1:2]] == ["10001"]
    _, out, _ = run(["cases", "list", "--status", "resolved"], capsys)
    assert out.strip() == "Der er ingen sager med status løst."
    _, out, _ = run(["cases", "list", "--status", "resolved", "--language", "en"], capsys)
    assert out.strip() == "No cases with status resolved."


@pytest.mark.parametrize("language", ["da", "en"])
def test_list_as_json_is_the_same_in_every_language(
    data: Path, capsys: pytest.CaptureFixture[str], language: str
) -> None:
    add_cases(data)
    code, out, _ = run(["cases", "list", "--json", "--language", language], capsys)
    cases = json.loads(out)
    assert code == 0
    assert [c["number"] for c in cases] == [10002, 10001]
    assert cases[0]["description"] == "printer\x1b[2J\x07 broken 🖨️\nsecond line"
    assert cases[1]["category"] == "internet_down"
    assert cases[1]["status"] == "acknowledged"
    assert cases[1]["cost"]["answer"] == "intake:3:page"


def test_bad_status_lists_the_choices(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["cases", "list", "--status", "closed"], capsys)
    assert code == 2
    assert "invalid choice: 'closed'" in err
    for status in CaseStatus:
        assert status.value in err


def test_show_in_danish_says_everything_in_words(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(data)
    code, out, _ = run(["cases", "show", "10001"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[:14] == [
        "Sag 10001",
        "Oprettet:       2026-01-05 22:30",
        "Status:         kvitteret af Morten",
        "Problem:        Intet internet på kontoret (genkendt med 93 % sikkerhed)",
        "Berørte:        Alle er ramt",
        "Kritisk:        ja",
        "Efter lukketid: ja",
        "Kunde:          Acme A/S (driftsaftale)",
        "Anmelder:       Mette Sørensen (lokal chat, dansk)",
        "Ring tilbage:   +45 12 34 56 78",
        "Vagt ønsket:    ja",
        "Prisvilkår:     tillæg på timeprisen",
        "Svar:           2026-01-05 22:30 – tilkald vagten (accepteret)",
        "Prisen vist 2026-01-05 22:30:",
    ]
    cost = lines[14 : lines.index("Beskrivelse:")]
    assert cost == [
        "  Vi har lukket lige nu og åbner igen mandag kl. 8.00.",
        "",
        "  Da det er driftskritisk, er der intet gebyr for at tilkalde vagten – kun 100 %",
        "  tillæg på timeprisen for arbejdet.",
        "",
        "  Skal jeg tilkalde vagten nu, eller skal sagen vente til mandag kl. 8.00?",
    ]
    assert lines[lines.index("Historik:") + 1 :] == [
        "  2026-01-05 22:30  Oprettet af Mette Sørensen",
        "  2026-01-05 22:30  Vagten tilkaldt: Morten på Slack (primær vagt)",
        "  2026-01-05 22:30  Kvitteret af Morten på Slack",
        "Revisionslog for sagen:",
        "  (ingen poster)",
    ]
    for internal in ("internet_down", "intake:3", "u-12d1614b", "local local", "acknowledged"):
        assert internal not in out
    assert max(len(line) for line in lines) <= 80


def test_show_in_english_from_the_environment(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_cases(data, answer='intake:4:accept "ja jeg accepterer"')
    monkeypatch.setenv("SUPPORTBOT_LANGUAGE", "en_GB.UTF-8")
    _, out, _ = run(["cases", "show", "10001"], capsys)
    lines = out.splitlines()
    assert lines[0] == "Case 10001"
    for expected in (
        "Status:      acknowledged by Morten",
        "Problem:     No internet at the office (recognised with 93 % confidence)",
        "Reporter:    Mette Sørensen (local chat, Danish)",
        "Call back:   +45 12 34 56 78",
        "  2026-01-05 22:30  Acknowledged by Morten on Slack",
    ):
        assert expected in lines
    answer = 'Answer: 2026-01-05 22:30 – page on-call, fee accepted, typed as "ja jeg accepterer" (accepted)'
    assert answer in " ".join(out.split())
    assert max(len(line) for line in lines) <= 80
    _, out, _ = run(["cases", "show", "10001", "--language", "da"], capsys)
    assert out.startswith("Sag 10001")


def test_an_answer_that_is_no_known_choice_is_shown_as_it_is(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(data, answer="accept")
    _, out, _ = run(["cases", "show", "10001"], capsys)
    assert "2026-01-05 22:30 – accept (accepteret)" in out


def test_show_accepts_a_number_as_people_write_it(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(data)
    code, out, _ = run(["cases", "show", "#10 002", "--language", "en"], capsys)
    assert code == 0
    assert "Customer:    Unknown customer (workspace T0NEW)" in out
    assert "Reporter:    no name, user id U9 (Slack, English)" in out
    assert "Call back" not in out and "Cost" not in out
    assert "  printer\ufffd[2J\ufffd broken 🖨️\n  second line\n" in out
    assert "\x1b" not in out


def test_every_kind_of_event_reads_as_a_sentence(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(data)
    store = CaseStore(data / "cases")
    for kind, actor, details in [
        (EventKind.PAGE_FAILED, "system", {"technician": "sara", "platform": "teams", "step": "backup"}),
        (EventKind.PAGE_FAILED, "system", {"target": "team", "platform": "slack"}),
        (EventKind.ESCALATED, "system", {"step": "everyone", "reason": "timeout", "late": False}),
        (EventKind.ESCALATED, "system", {"step": "gave_up", "reason": "unreachable", "late": True}),
        (EventKind.REMINDED, "system", {"technician": "vagt", "platform": "local"}),
        (EventKind.POSTED_TO_TEAM, "system", {"platform": "teams"}),
        (EventKind.LINKED, "system", {"to": 10000}),
        (EventKind.LINKED, "system", {"case": 10003, "reporter": "Ole"}),
        (EventKind.REPORTER_NOTIFIED, "system", {"about": "resolved", "delivered": True}),
        (EventKind.REPORTER_NOTIFIED, "system", {"about": "unanswered", "delivered": False}),
        (EventKind.MESSAGE, "vagt", {"from": "technician", "name": "Morten", "platform": "local", "text": "Tændt?"}),
        (EventKind.MESSAGE, "u-12d1614b-4b6f-4bf0-b71d-0123456789ab", {"from": "reporter", "text": "Ja"}),
        (EventKind.RESOLVED, "vagt", {"name": "Morten", "platform": "slack", "via": 10000}),
        (EventKind.CANCELLED, "u-12d1614b-4b6f-4bf0-b71d-0123456789ab", {}),
    ]:
        store.update(10001, CaseEvent(SUMMER, kind, actor, details))
    store.close()
    assert {kind for kind in EventKind} <= {e.kind for e in _fields_of_case(data, 10001).history}
    _, out, _ = run(["cases", "show", "10001", "--language", "en"], capsys)
    history = out.split("History:\n")[1].split("Audit log of the case:\n")[0]
    assert history.splitlines()[3:] == [
        "  2026-07-06 08:15  Could not reach sara on Teams (the primary and the backup)",
        "  2026-07-06 08:15  Could not post to the team channel on Slack",
        "  2026-07-06 08:15  Escalated to everyone on the rota: not acknowledged in time",
        "  2026-07-06 08:15  Gave up: could not be reached; the reporter was asked to",
        "                    phone (late, after downtime)",
        "  2026-07-06 08:15  Reminder sent to Morten on local chat",
        "  2026-07-06 08:15  Posted to the team channel on Teams",
        "  2026-07-06 08:15  Linked to case 10000 (same outage)",
        "  2026-07-06 08:15  Case 10003 from Ole linked to this case",
        "  2026-07-06 08:15  Reporter told: the case is resolved",
        "  2026-07-06 08:15  Reporter could not be told: on-call did not answer, phone us",
        "  2026-07-06 08:15  Morten on local chat wrote to the reporter: Tændt?",
        "  2026-07-06 08:15  The reporter answered: Ja",
        "  2026-07-06 08:15  Resolved by Morten on Slack (via case 10000)",
        "  2026-07-06 08:15  Cancelled by Mette Sørensen",
    ]
    _, danish, _ = run(["cases", "show", "10001"], capsys)
    assert "08:15 Anmelderen kunne ikke få besked: vagten svarede ikke, ring selv" in " ".join(danish.split())
    assert max(len(line) for line in danish.splitlines()) <= 80


def test_show_as_json_keeps_the_ids(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_cases(data)
    _, out, _ = run(["cases", "show", "10001", "--json"], capsys)
    case = json.loads(out)
    assert case["status"] == "acknowledged"
    assert case["category"] == "internet_down"
    assert case["cost"]["answer"] == "intake:3:page"
    assert case["reporter"]["platform"] == "local"
    assert [e["kind"] for e in case["history"]] == ["created", "paged", "acknowledged"]


@pytest.mark.parametrize("with_cases", [True, False])
def test_unknown_number_is_a_clear_message(data: Path, capsys: pytest.CaptureFixture[str], with_cases: bool) -> None:
    if with_cases:
        add_cases(data)
    code, out, err = run(["cases", "show", "99999"], capsys)
    assert code == 2
    assert out == ""
    assert "Der findes ingen sag med nummer 99999" in err
    code, _, err = run(["cases", "show", "99999", "--language", "en"], capsys)
    assert code == 2
    assert "No case has number 99999" in err


def test_an_unknown_language_in_the_environment_is_one_clear_line(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORTBOT_LANGUAGE", "de")
    code, out, err = run(["cases", "list"], capsys)
    assert code == 2
    assert out == ""
    assert err.strip() == "supportbot: SUPPORTBOT_LANGUAGE='de' is not a language of the reports; use one of da, en"


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


def _fields_of_case(data: Path, number: int) -> Case:
    store = CaseStore(data / "cases")
    case = store.get(number)
    store.close()
    assert case is not None
    return case


def _fields_of(store: CaseStore, number: int) -> dict[str, object]:
    case = store.get(number)
    assert case is not None
    return {name: getattr(case, name) for name in NewCase.__dataclass_fields__}
