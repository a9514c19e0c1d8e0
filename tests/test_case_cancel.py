"""Cancelling a case: the reporter withdraws it in chat (Danish and English), the operator from the command
line (a real process); on-call stops, the page says so, the audit log and the ticket system hear of it."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.storage.embedded import EmbeddedStorage
from adapters.wiring import build_services
from bot.audit import AuditAction
from bot.cases import CaseStatus, EventKind
from bot.clock import ManualClock
from bot.delivery import Address
from bot.report import CaseFacts
from tests.test_webhooks import SECRET, SECRET_ENV, Receiver, receiver, settings_with_hook  # noqa: F401
from tests.transcripts.harness import COPENHAGEN, Bench, Employee, RecordingMessenger, local

ROOT = Path(__file__).resolve().parents[1]
SATURDAY_NIGHT = "2026-11-28T22:30"

WORDS = {
    "da": {
        "report": "jeg tror vi er blevet hacket",
        "page": "ja ring til vagten",
        "skip": "Spring over",
        "withdraw": "annuller sag 10001",
        "works": "det virker igen, luk sagen",
        "ask": "Vil du annullere sag 10001 (Mistanke om hacking)?",
        "free": "Det koster ikke noget, for ingen tekniker er gået i gang endnu.",
        "yes": "Ja, annullér sagen",
        "no": "Nej, behold den",
        "done": "Sag 10001 er annulleret.",
        "told": "Vagten har fået besked og ringer ikke.",
        "page_line": "Annulleret kl. 22.32 af den, der meldte sagen",
        "started": "Morten er allerede gået i gang med sagen. Det, du accepterede (100 % tillæg på timeprisen)",
        "charged": "Teknikeren var gået i gang, så det, du accepterede (100 % tillæg på timeprisen), gælder",
        "kept": "Okay, sag 10001 er stadig åben.",
        "status": "status 10001",
    },
    "en": {
        "report": "I think we have been hacked",
        "page": "yes call them",
        "skip": "Skip",
        "withdraw": "cancel case 10001",
        "works": "it works again, close the case",
        "ask": "Do you want to cancel case 10001 (Suspected hack)?",
        "free": "It costs nothing, as no technician has started yet.",
        "yes": "Yes, cancel the case",
        "no": "No, keep it",
        "done": "Case 10001 is cancelled.",
        "told": "On-call has been told and will not call.",
        "page_line": "Annulleret kl. 22.32 af den, der meldte sagen",  # the technician reads Danish
        "started": "Morten has already started on the case. What you accepted (100% surcharge on the hourly rate)",
        "charged": "The technician had started, so what you accepted (100% surcharge on the hourly rate) applies",
        "kept": "Okay, case 10001 is still open.",
        "status": "status 10001",
    },
}


async def _paged_case(bench: Bench, anna: Employee, words: dict[str, str]) -> None:
    await anna.say(words["report"])
    await anna.say(words["page"])
    await anna.press(words["skip"])
    await bench.services.oncall.settled()
    assert len(bench.local.to("vagt")) == 1


@pytest.mark.parametrize("lang", ["da", "en"])
async def test_the_reporter_withdraws_a_paged_case_and_on_call_stops(tmp_path: Path, lang: str) -> None:
    words = WORDS[lang]
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    anna = Employee(bench, lang=lang)
    try:
        await _paged_case(bench, anna, words)
        bench.clock.advance(timedelta(minutes=2))
        await anna.say(words["withdraw"])
        assert words["ask"] in anna.text and words["free"] in anna.text
        assert [c.label for c in anna.question.choices] == [words["yes"], words["no"]]
        await anna.press(words["yes"])
        assert words["done"] in anna.text and words["told"] in anna.text and not anna.replies[-1].choices

        case = await bench.services.store.get(10001)
        assert case.status is CaseStatus.CANCELLED
        cancelled = case.history[-1]
        assert cancelled.kind is EventKind.CANCELLED and cancelled.actor == "anna"
        assert cancelled.data == {"name": "Anna", "reason": "", "source": "chat", "charged": False}
        assert await bench.services.storage.pages.get(10001) is None, "no timer left"
        (ref, updated) = bench.local.updated[-1]
        assert ref.channel == "vagt" and words["page_line"] in updated.text and not updated.choices

        [entry] = [e for e in await bench.services.storage.audit.read(case=10001) if e.action is AuditAction.CANCELLED]
        assert entry.actor == "anna" and entry.data["source"] == "chat" and entry.data["charged"] is False
        facts = CaseFacts.of(case, fee=bench.services.settings.costs.oncall_fee, zone=COPENHAGEN)
        assert not facts.surcharge and facts.fee is None, "withdrawn before anyone started: no money"

        bench.clock.advance(timedelta(minutes=30))  # past every escalation step
        await bench.services.oncall.tick()
        await bench.services.oncall.settled()
        assert len(bench.local.to("vagt")) == 1 and bench.local.to("vagt2") == [], "nobody else is paged"
    finally:
        await bench.close()


@pytest.mark.parametrize("lang", ["da", "en"])
async def test_after_acknowledgement_the_reporter_is_told_the_accepted_terms_apply(tmp_path: Path, lang: str) -> None:
    words = WORDS[lang]
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    anna = Employee(bench, lang=lang)
    try:
        await _paged_case(bench, anna, words)
        await bench.services.oncall.press("oncall:ack:10001", Address("local", "local", "vagt", "da"))
        await anna.say(words["works"])
        assert words["started"] in anna.text
        await anna.press(words["no"])
        assert words["kept"] in anna.text
        assert (await bench.services.store.get(10001)).status is CaseStatus.ACKNOWLEDGED

        await anna.say(words["works"])
        await anna.say("ja" if lang == "da" else "yes")
        assert words["done"] in anna.text and words["charged"] in anna.text
        case = await bench.services.store.get(10001)
        assert case.status is CaseStatus.CANCELLED and case.history[-1].data["charged"] is True
        facts = CaseFacts.of(case, fee=bench.services.settings.costs.oncall_fee, zone=COPENHAGEN)
        assert facts.surcharge, "the technician had started: the surcharge applies to the work done"
    finally:
        await bench.close()


async def test_another_employee_cannot_cancel_someone_elses_case(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    anna = Employee(bench)
    bob = Employee(bench, user="bob", conversation="dm-bob")
    try:
        await _paged_case(bench, anna, WORDS["da"])
        status_answer = (await bob.say("status 10001"))[0].text
        answer = (await bob.say("annuller sag 10001"))[0].text
        assert answer == status_answer, "word for word what a number that does not exist gets"
        assert "Jeg kan ikke finde sag 10001" in answer and not bob.replies[-1].choices
        assert (await bob.say("det virker igen, luk sagen"))[0].text.startswith("Du har ingen åbne sager")
        case = await bench.services.store.get(10001)
        assert case.status is CaseStatus.OPEN and case.history[-1].kind is not EventKind.CANCELLED
        assert await bench.services.storage.pages.get(10001) is not None, "on-call still has it"
    finally:
        await bench.close()


async def test_a_closed_case_and_several_open_ones_get_clear_answers(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, "2026-11-25T10:00")
    anna = Employee(bench)
    try:
        await anna.say("skal bruge ny mus")
        await anna.say("skal bruge nyt tastatur")
        await anna.say("luk sagen")
        assert "Du har flere åbne sager: 10001, 10002." in anna.text and '"annuller sag 10001"' in anna.text
        await anna.say("annuller sag 10002")
        await anna.press("Ja")
        assert "Sag 10002 er annulleret." in anna.text and "Vagten" not in anna.text
        await anna.say("annuller sag 10002")
        assert "Sag 10002 er allerede lukket (annulleret)" in anna.text
    finally:
        await bench.close()


async def test_the_ticket_system_receives_case_cancelled(tmp_path: Path, receiver: Receiver) -> None:  # noqa: F811
    clock = ManualClock(local(SATURDAY_NIGHT))
    services = build_services(settings_with_hook(tmp_path, receiver.url), clock=clock, environ={SECRET_ENV: SECRET})
    bench = Bench(services, clock, RecordingMessenger())
    services.messengers.register("local", bench.local)
    anna = Employee(bench)
    try:
        await _paged_case(bench, anna, WORDS["da"])
        await anna.say("annuller sag 10001")
        await anna.press("Ja")
        assert await services.outbox.deliver_due() == 2
        assert receiver.seen() == [(10001, "case.created"), (10001, "case.cancelled")]
        cancelled = receiver.events[-1]
        assert cancelled["case"]["status"] == "cancelled"
        assert cancelled["case"]["cancelled_by"]["name"] == "Anna"
        assert cancelled["case"]["cancellation"] == {"by": "reporter", "reason": "", "charged": False}
        assert receiver.bad_signatures == 0
    finally:
        await services.close()


def _cli(data: Path, *args: str, lang: str = "da", database: str = "") -> subprocess.CompletedProcess[str]:
    env = {"SUPPORTBOT_DATA": str(data), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SUPPORTBOT_LANGUAGE": lang}
    env |= {"SUPPORTBOT_DATABASE_URL": database} if database else {}
    return subprocess.run(
        [sys.executable, "-m", "bot", "cases", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )


async def test_the_operator_cancels_a_case_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bench = Bench.start(data, SATURDAY_NIGHT)
    anna = Employee(bench)
    await _paged_case(bench, anna, WORDS["da"])
    await bench.close()

    done = _cli(data, "cancel", "10001", "--reason", "kunden ringede: internettet virker igen")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Sag 10001 er annulleret. Begrundelse: kunden ringede: internettet virker igen"
    again = _cli(data, "cancel", "10001", "--reason", "igen", lang="en")
    assert (
        again.returncode == 1
        and again.stdout.strip() == "Case 10001 is already closed (cancelled); nothing was changed."
    )
    missing = _cli(data, "cancel", "99999", "--reason", "x")
    assert missing.returncode == 2 and "Der findes ingen sag med nummer 99999." in missing.stderr
    blank = _cli(data, "cancel", "10001", "--reason", "  ")
    assert blank.returncode == 2 and "--reason" in blank.stderr and "Traceback" not in blank.stderr

    storage = EmbeddedStorage(data)  # the bot starts again: its sweep updates the page, no step is sent
    try:
        case = await storage.cases.get(10001)
        assert case.status is CaseStatus.CANCELLED
        assert case.history[-1].data["source"] == "cli" and case.history[-1].data["reason"].startswith("kunden")
        [entry] = [e for e in await storage.audit.read(case=10001) if e.action is AuditAction.CANCELLED]
        assert entry.actor == "operator" and entry.data["reason"] == "kunden ringede: internettet virker igen"
        running = _cli(data, "cancel", "10001", "--reason", "x")  # this process holds the folder now
        assert running.returncode == 2 and "Botten kører på datamappen" in running.stderr
    finally:
        await storage.close()
    shown = _cli(data, "show", "10001")
    assert "Annulleret af" in shown.stdout and "annullerede sagen (kunden ringede" in shown.stdout


async def test_with_postgresql_the_operator_cancels_beside_the_running_bot(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", postgres_url)
    bench = Bench.start(tmp_path / "data", SATURDAY_NIGHT)  # the running bot, on the database
    anna = Employee(bench)
    try:
        await _paged_case(bench, anna, WORDS["da"])
        done = _cli(tmp_path / "cli", "cancel", "10001", "--reason", "dobbeltsag", database=postgres_url)
        assert done.returncode == 0, done.stderr
        bench.clock.advance(timedelta(minutes=11))  # the backup's step falls due: the ladder forgets the case
        await bench.services.oncall.tick()
        await bench.services.oncall.settled()
        assert bench.local.to("vagt2") == [], "nobody else is paged"
        (ref, updated) = bench.local.updated[-1]
        assert ref.channel == "vagt" and re.search(
            r"\nAnnulleret af supporten kl\. \d+\.\d\d: dobbeltsag$", updated.text
        )
        assert (await bench.services.store.get(10001)).status is CaseStatus.CANCELLED
        pressed = await bench.services.oncall.press("oncall:ack:10001", Address("local", "local", "vagt", "da"))
        assert pressed.text == "Sag 10001 er annulleret af supporten (dobbeltsag). Der er ikke mere at gøre."
        events = [d.message.event for d in await bench.services.storage.outbox.unsent()]
        assert events == [], "no webhooks configured, nothing queued"
    finally:
        await bench.close()


async def test_a_case_colleagues_reports_are_linked_to_stays_but_their_own_report_can_go(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    anna = Employee(bench)
    bob = Employee(bench, user="bob", conversation="dm-bob")
    try:
        await _paged_case(bench, anna, WORDS["da"])
        for words in (WORDS["da"]["report"], WORDS["da"]["page"]):
            await bob.say(words)
        await bob.press(WORDS["da"]["skip"])
        await bench.services.oncall.settled()
        assert (await bench.services.store.get(10002)).linked_to == 10001, "the same outage"

        await anna.say("det virker igen, luk sagen")
        assert anna.text.startswith("Sag 10001 kan ikke annulleres herfra: Dine kolleger har meldt det samme problem")
        await bob.say("luk sagen")
        assert "Vil du annullere sag 10002" in bob.text
        await bob.press("Ja")
        assert "Sag 10002 er annulleret." in bob.text
        assert (await bench.services.store.get(10002)).status is CaseStatus.CANCELLED
        assert (await bench.services.store.get(10001)).status is CaseStatus.OPEN
        assert await bench.services.storage.pages.get(10001) is not None, "on-call still has Anna's case"
    finally:
        await bench.close()


@pytest.mark.parametrize(
    ("lang", "help_word", "example", "close"),
    [("da", "hjælp", '"luk sag 10042"', "luk sag 10001"), ("en", "help", '"close case 10042"', "close case 10001")],
)
async def test_help_tells_how_to_withdraw_and_those_words_work(
    tmp_path: Path, lang: str, help_word: str, example: str, close: str
) -> None:
    bench = Bench.start(tmp_path, "2026-11-25T10:00")
    anna = Employee(bench, lang=lang)
    try:
        await anna.say(WORDS[lang]["report"] if lang == "en" else "skal bruge ny mus")
        await anna.say(help_word)
        assert example in anna.text
        await anna.say(close)
        assert WORDS[lang]["ask"].split(" (")[0] in anna.text
    finally:
        await bench.close()
