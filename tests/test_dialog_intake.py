"""The pure steps: no storage, no clock, no sending. Effects are returned, never performed."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cases import Case, CustomerRef, NewCase, Reporter
from bot.categories import Category, Scope
from bot.config import load_settings
from bot.hours import OpeningHours
from bot.triage import Triage
from dialogs import intake
from dialogs.matching import MAX_DESCRIPTION, Command, clean, command_of, is_greeting
from dialogs.state import Intake, Step

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
ANNA = Reporter("local", "local", "anna", "Anna", "da")
DEMO = CustomerRef("Demo A/S")
TRIAGE = Triage()


def local(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=COPENHAGEN)


def ctx(tmp_path: Path, moment: str = "2026-11-25T10:00", **changes: object) -> intake.Context:
    settings = load_settings({"SUPPORTBOT_DATA": str(tmp_path)})
    base = intake.Context(
        now=local(moment),
        reporter=ANNA,
        customer=DEMO,
        triage=TRIAGE,
        hours=OpeningHours(settings.hours),
        settings=settings,
    )
    return replace(base, **changes)


def test_confirming_in_open_hours_asks_for_the_case_to_be_created(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    first = intake.advance(None, c, text_in="min konto er låst")
    assert first.effect is None and first.state is not None and first.state.step is Step.CONFIRM_CATEGORY
    yes = first.replies[0].choices[0].id
    second = intake.advance(first.state, c, choice=yes)
    assert second.replies == ()  # the reply is written once the case exists
    assert isinstance(second.effect, intake.CreateCase) and second.effect.page is False
    new = second.effect.new
    assert (new.category, new.critical, new.after_hours, new.cost) == (Category.ACCOUNT_LOCKED, True, False, None)
    assert new.description == "min konto er låst" and new.reporter == ANNA and new.customer == DEMO


def test_a_button_of_an_earlier_question_is_not_executed(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    first = intake.advance(None, c, text_in="printeren virker ikke")
    old_yes = first.replies[0].choices[0].id
    second = intake.advance(first.state, c, choice=old_yes)
    assert second.state.step is Step.ASK_SCOPE
    again = intake.advance(second.state, c, choice=old_yes)
    assert again.effect is None and again.state == second.state
    assert again.replies[0].text.startswith("Den knap hører til et tidligere spørgsmål")
    assert [ch.label for ch in again.replies[0].choices] == ["Kun mig", "Flere", "Alle"]


@pytest.mark.parametrize("choice", ["intake:2:bogus", "intake:x", "nonsense", "intake:2:cat:printing_down"])
def test_an_option_never_offered_gets_a_clear_answer(tmp_path: Path, choice: str) -> None:
    c = ctx(tmp_path)
    first = intake.advance(None, c, text_in="printeren virker ikke")
    result = intake.advance(first.state, c, choice=choice)
    assert result.effect is None and result.state == first.state
    assert result.replies[0].text.startswith("Det valg kender jeg ikke")
    assert result.replies[0].choices == first.replies[0].choices


def test_after_thirty_quiet_minutes_the_conversation_starts_over(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    first = intake.advance(None, c, text_in="printeren virker ikke")
    later = replace(c, now=c.now + timedelta(minutes=30))
    result = intake.advance(first.state, later, choice=first.replies[0].choices[0].id)
    assert result.state.step is Step.DESCRIBE and result.effect is None
    assert result.replies[0].text.startswith("Det er et stykke tid siden")
    still = replace(c, now=c.now + timedelta(minutes=29))
    assert intake.advance(first.state, still, choice=first.replies[0].choices[0].id).state.step is Step.ASK_SCOPE


def test_the_cost_question_records_exactly_what_was_shown(tmp_path: Path) -> None:
    c = ctx(tmp_path, "2026-11-28T22:30")
    first = intake.advance(None, c, text_in="ingen internet, alle er ramt")
    offer = intake.advance(first.state, c, choice=first.replies[0].choices[0].id)
    assert offer.state.step is Step.OFFER_ONCALL and offer.state.cost_text == offer.replies[0].text
    later = replace(c, now=c.now + timedelta(minutes=2))
    accepted = intake.advance(offer.state, later, choice=offer.replies[0].choices[0].id)
    new = accepted.effect.new
    assert accepted.effect.page is True and new.page_requested and new.after_hours
    assert new.cost.shown_text == offer.replies[0].text and new.cost.accepted is True
    assert new.cost.shown_at == c.now and new.cost.answered_at == later.now
    assert new.cost.terms == ("surcharge",) and new.cost.answer == offer.replies[0].choices[0].id


def test_an_answer_after_opening_time_is_handled_in_normal_hours(tmp_path: Path) -> None:
    c = ctx(tmp_path, "2026-11-25T07:58")
    first = intake.advance(None, c, text_in="ingen internet, alle er ramt")
    offer = intake.advance(first.state, c, choice=first.replies[0].choices[0].id)
    opened = replace(c, now=local("2026-11-25T08:01"))
    result = intake.advance(offer.state, opened, choice=offer.replies[0].choices[0].id)
    assert result.effect.page is False and result.effect.new.after_hours is False
    assert result.effect.new.cost.accepted is True  # still recorded as answered


def test_case_created_names_the_number_and_ends_the_conversation(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    new = NewCase(ANNA, DEMO, "x", Category.OTHER, 0, Scope.UNKNOWN, critical=False, after_hours=False)
    case = Case.from_new(new, number=10042, created_at=c.now)
    state = Intake(step=Step.DONE, language="da", updated_at=c.now)
    result = intake.case_created(state, case, c)
    assert result.state is None
    assert result.replies[0].title == "Sag 10042"
    number = result.replies[0].facts[0]
    assert (number.label, number.value) == ("Sagsnummer", "10042")


def test_status_never_shows_another_customers_case(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    other = Reporter("slack", "T999", "bob", "Bob", "da")
    new = NewCase(other, CustomerRef("Andet Firma ApS"), "x", Category.OTHER, 0, Scope.UNKNOWN, False, False)
    theirs = Case.from_new(new, number=10007, created_at=c.now)
    refused = intake.status_found(None, [theirs], 10007, c)
    missing = intake.status_found(None, [], 10007, c)
    assert refused.replies == missing.replies
    assert "10007" in refused.replies[0].text and "Andet Firma" not in refused.replies[0].text


def test_a_long_description_is_kept_up_to_the_limit(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    exact = intake.advance(None, c, text_in="p" * MAX_DESCRIPTION)
    assert len(exact.state.description) == MAX_DESCRIPTION
    assert "tegn" not in exact.replies[0].text
    longer = intake.advance(None, c, text_in="printeren virker ikke " + "x" * MAX_DESCRIPTION)
    assert len(longer.state.description) == MAX_DESCRIPTION
    assert longer.replies[0].text.startswith("Din beskrivelse var meget lang, så jeg har gemt de første 10.000 tegn.")


def test_markup_is_kept_as_typed_and_control_characters_dropped() -> None:
    assert clean("<b>printer</b> & <script>x</script>").text == "<b>printer</b> & <script>x</script>"
    assert clean("print\x00er\x1b[31m virker\r\nikke\u200b").text == "printer[31m virker\nikke"
    assert clean("/support printeren virker ikke").text == "printeren virker ikke"
    assert clean("/home/anna er fuld").text == "/home/anna er fuld"


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("annuller", Command.CANCEL),
        ("anuller", Command.CANCEL),
        ("Cancel.", Command.CANCEL),
        ("ANNULLER!", Command.CANCEL),
        ("hjælp", Command.HELP),
        ("Help", Command.HELP),
        ("hjælp!", Command.HELP),
        ("status", Command.STATUS),
        ("Statsu", Command.STATUS),
    ],
)
def test_commands_are_matched_tolerantly(typed: str, command: Command) -> None:
    assert command_of(typed) == (command, None)


def test_status_with_a_number_and_what_is_not_a_command() -> None:
    assert command_of("status 10042") == (Command.STATUS, 10042)
    assert command_of("Status på #10042") == (Command.STATUS, 10042)
    assert command_of("hjælp min printer virker ikke") is None
    assert command_of("10042") is None
    assert command_of("printeren virker ikke") is None
    assert is_greeting("Hej!") and not is_greeting("hej printeren virker ikke")


def test_a_greeting_is_answered_with_the_question_not_counted_as_a_miss(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    start = intake.advance(None, c, text_in="")
    assert start.replies[0].text.startswith("Hej, jeg er OneOffices supportbot.") and start.replies[0].expects_text
    hello = intake.advance(start.state, c, text_in="Hej")
    assert hello.state.step is Step.DESCRIBE and hello.state.misses == 0 and hello.state.description == ""
    assert hello.replies[0].text.startswith("Hvad er der galt?")


def test_typed_answers_are_understood_and_anything_else_asks_for_a_choice(tmp_path: Path) -> None:
    c = ctx(tmp_path, "2026-11-28T22:30")
    first = intake.advance(None, c, text_in="internettet virker ikke")
    scope = intake.advance(first.state, c, text_in="JA!")
    assert scope.state.step is Step.ASK_SCOPE
    offer = intake.advance(scope.state, c, text_in="alle sammen er ramt her")
    assert offer.state.step is Step.OFFER_ONCALL and offer.state.scope is Scope.ALL
    unclear = intake.advance(offer.state, c, text_in="hvad betyder det?")
    assert unclear.effect is None and unclear.state.step is Step.OFFER_ONCALL
    assert unclear.replies[0].text.startswith("Jeg forstod ikke helt dit svar.")
    assert unclear.replies[0].choices == offer.replies[0].choices  # same question, same buttons
    assert "hvad betyder det?" in unclear.state.description  # nothing typed is lost
    by_number = intake.advance(unclear.state, c, text_in="2")
    assert isinstance(by_number.effect, intake.CreateCase) and by_number.effect.page is False
    assert by_number.effect.new.cost.answer == f'intake:{unclear.state.seq}:next "2"'
    assert by_number.effect.new.cost.accepted is False
