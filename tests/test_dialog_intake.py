"""The pure steps: no storage, no clock, no sending. Effects are returned, never performed."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
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
from dialogs.matching import MAX_DESCRIPTION, Command, clean, command_of, is_follow_up, is_greeting
from dialogs.replies import ALL_CATEGORIES
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


def test_a_sure_request_in_open_hours_asks_for_the_case_to_be_created_without_confirmation(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    second = intake.advance(None, c, text_in="min konto er låst")
    assert second.replies == ()  # the reply is written once the case exists
    assert isinstance(second.effect, intake.CreateCase) and second.effect.page is False
    new = second.effect.new
    assert (new.category, new.critical, new.after_hours, new.cost) == (Category.ACCOUNT_LOCKED, True, False, None)
    assert new.description == "min konto er låst" and new.reporter == ANNA and new.customer == DEMO


def test_a_button_of_an_earlier_question_is_not_executed(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    first = intake.advance(None, c, text_in="printeren virker ikke")
    old_me = first.replies[0].choices[0].id
    second = intake.advance(first.state, c, choice=first.replies[0].choices[3].id)  # "Det er noget andet"
    assert second.state.step is Step.CHOOSE_CATEGORY
    again = intake.advance(second.state, c, choice=old_me)
    assert again.effect is None and again.state == second.state
    assert again.replies[0].text.startswith("Den knap hører til et tidligere spørgsmål")
    assert [ch.label for ch in again.replies[0].choices][-1] == "Noget andet"


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
    assert intake.advance(first.state, still, choice=first.replies[0].choices[0].id).effect is not None


def test_the_cost_question_records_exactly_what_was_shown(tmp_path: Path) -> None:
    c = ctx(tmp_path, "2026-11-28T22:30")
    offer = intake.advance(None, c, text_in="ingen internet, alle er ramt")
    assert offer.state.step is Step.OFFER_ONCALL and offer.state.cost_text == offer.replies[0].text
    later = replace(c, now=c.now + timedelta(minutes=2))
    accepted = intake.advance(offer.state, later, choice=offer.replies[0].choices[0].id)
    assert accepted.effect is None and accepted.state.step is Step.ASK_PHONE  # nobody is paged yet
    assert accepted.replies[0].text == "Hvilket telefonnummer kan vagten ringe til dig på?"
    assert [c.label for c in accepted.replies[0].choices] == ["Spring over"] and accepted.replies[0].expects_text
    phoned = intake.advance(accepted.state, replace(c, now=c.now + timedelta(minutes=3)), text_in="+45 20 30 40 50")
    new = phoned.effect.new
    assert phoned.effect.page is True and new.page_requested and new.after_hours
    assert new.callback_phone == "+45 20 30 40 50"
    assert new.cost.shown_text == offer.replies[0].text and new.cost.accepted is True
    assert new.cost.shown_at == c.now and new.cost.answered_at == later.now  # when the price was accepted
    assert new.cost.terms == ("surcharge",) and new.cost.answer == offer.replies[0].choices[0].id


@pytest.mark.parametrize(
    ("typed", "phone"),
    [
        ("12345678", "12345678"),
        ("mit nummer er 20 30  40 50", "20 30 40 50"),
        ("(+45) 2030-4050", "(+45) 2030-4050"),
    ],
)
def test_the_callback_number_is_read_loosely(tmp_path: Path, typed: str, phone: str) -> None:
    asked = _phone_question(tmp_path)
    assert intake.advance(asked.state, asked.ctx, text_in=typed).effect.new.callback_phone == phone


def test_a_number_that_is_not_one_is_asked_for_once_more_then_left_out(tmp_path: Path) -> None:
    asked = _phone_question(tmp_path)
    again = intake.advance(asked.state, asked.ctx, text_in="1234")
    assert again.effect is None and again.state.step is Step.ASK_PHONE and again.state.seq == asked.state.seq
    assert again.replies[0].text.startswith("Det ligner ikke et telefonnummer.")
    given_up = intake.advance(again.state, asked.ctx, text_in="ved ikke")
    assert given_up.effect.page is True and given_up.effect.new.callback_phone == ""


@pytest.mark.parametrize("how", ["button", "spring over", "nej tak"])
def test_the_callback_number_can_be_skipped(tmp_path: Path, how: str) -> None:
    asked = _phone_question(tmp_path)
    if how == "button":
        skipped = intake.advance(asked.state, asked.ctx, choice=asked.replies[0].choices[0].id)
    else:
        skipped = intake.advance(asked.state, asked.ctx, text_in=how)
    assert skipped.effect.page is True and skipped.effect.new.callback_phone == ""
    assert skipped.effect.new.cost.accepted is True


@dataclass(frozen=True)
class _Asked:
    state: Intake
    replies: tuple
    ctx: intake.Context


def _phone_question(tmp_path: Path) -> _Asked:
    c = ctx(tmp_path, "2026-11-28T22:30")
    offer = intake.advance(None, c, text_in="ingen internet, alle er ramt")
    asked = intake.advance(offer.state, c, text_in="ja ring til vagten")
    assert asked.state.step is Step.ASK_PHONE
    return _Asked(asked.state, asked.replies, c)


def test_an_answer_after_opening_time_is_handled_in_normal_hours(tmp_path: Path) -> None:
    c = ctx(tmp_path, "2026-11-25T07:58")
    offer = intake.advance(None, c, text_in="ingen internet, alle er ramt")
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


def _case_of(reporter: Reporter, number: int, c: intake.Context, *, linked_to: int | None = None) -> Case:
    new = NewCase(reporter, DEMO, "Printeren er død", Category.OTHER, 0, Scope.UNKNOWN, False, False)
    return replace(Case.from_new(new, number=number, created_at=c.now), linked_to=linked_to)


def test_a_colleagues_case_is_answered_like_a_number_that_does_not_exist(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    colleague = Reporter("local", "local", "bo", "Bo", "da")
    theirs = _case_of(colleague, 10002, c)
    for number in (None, 10002):  # "10002" or "status på sag 10002" while describing, or in a fresh chat
        asked = intake.advance(None, c, text_in=f"status på sag {number}" if number else "10002")
        assert asked.effect == intake.LookupStatus(10002)
    refused = intake.status_found(None, [theirs], 10002, c)
    missing = intake.status_found(None, [], 10002, c)
    assert refused.replies == missing.replies
    assert "Printeren" not in refused.replies[0].text and "Bo" not in json.dumps(refused.replies[0].facts)
    mine = intake.status_found(None, [_case_of(ANNA, 10003, c)], 10003, c)
    assert mine.replies[0].title == "Sag 10003"


def test_the_same_user_id_in_another_workspace_is_someone_else(tmp_path: Path) -> None:
    c = ctx(tmp_path, reporter=Reporter("slack", "T1", "U1", "Anna", "da"))
    namesake = _case_of(Reporter("slack", "T2", "U1", "Anna", "da"), 10004, c)
    assert intake.status_found(None, [namesake], 10004, c).replies == intake.status_found(None, [], 10004, c).replies


def test_a_customer_that_shares_cases_lets_colleagues_see_them(tmp_path: Path) -> None:
    c = ctx(tmp_path, share_cases=True)
    theirs = _case_of(Reporter("local", "local", "bo", "Bo", "da"), 10002, c)
    assert intake.status_found(None, [theirs], 10002, c).replies[0].title == "Sag 10002"
    other_customer = replace(theirs, customer=CustomerRef("Andet Firma ApS"))
    assert intake.status_found(None, [other_customer], 10002, c).replies[0].title != "Sag 10002"


def test_a_report_linked_to_a_colleagues_case_may_see_that_case(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    first = _case_of(Reporter("local", "local", "bo", "Bo", "da"), 10002, c)
    mine = _case_of(ANNA, 10005, c, linked_to=10002)
    assert intake.status_found(None, [first, mine], 10002, c).replies[0].title == "Sag 10002"
    someone_elses = replace(mine, reporter=Reporter("local", "local", "eva", "Eva", "da"))
    assert intake.status_found(None, [first, someone_elses], 10002, c).replies[0].title != "Sag 10002"


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


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("hvad er status på min sag?", None),
        ("Status på sag 10003", 10003),
        ("hvor langt er I med min sag", None),
        ("er der nyt i min sag?", None),
        ("hvordan går det med min sag?", None),
        ("sag 10003?", 10003),
        ("any news on my case", None),
        ("What's the status of case 10003?", 10003),
        ("how is my case going?", None),
    ],
)
def test_natural_status_questions_are_the_status_command(typed: str, number: int | None) -> None:
    assert command_of(typed) == (Command.STATUS, number)


@pytest.mark.parametrize(
    "typed",
    [
        "statusfeltet i outlook er tomt",
        "status på printeren er fejl",
        "printer status viser fejl",
        "nyt tastatur til sagen",
    ],
)
def test_problems_that_mention_a_status_stay_descriptions(typed: str) -> None:
    assert command_of(typed) is None


def test_a_case_number_alone_asks_about_that_case(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    assert intake.advance(None, c, text_in="10003").effect == intake.LookupStatus(10003)
    asked = intake.advance(None, c, text_in="")
    assert intake.advance(asked.state, c, text_in="#10003").effect == intake.LookupStatus(10003)


def test_an_ordinary_request_in_open_hours_becomes_a_case_at_once(tmp_path: Path) -> None:
    result = intake.advance(None, ctx(tmp_path), text_in="skal bruge ny mus")
    assert isinstance(result.effect, intake.CreateCase) and result.effect.new.category is Category.OTHER
    assert result.effect.new.critical is False and result.replies == ()


def test_an_ordinary_request_after_hours_goes_to_the_free_case_with_a_way_to_say_it_is_urgent(tmp_path: Path) -> None:
    c = ctx(tmp_path, "2026-11-28T22:30")
    offer = intake.advance(None, c, text_in="skal bruge ny mus")
    assert offer.state.step is Step.OFFER_NEXT_OPENING  # no "is it not critical? Passer det?"
    message = offer.replies[0]
    assert "Passer det?" not in message.text and "Det her lyder ikke som et af dem" in message.text
    assert [ch.label for ch in message.choices] == [
        "Opret sag til mandag kl. 8.00",
        "Det er akut",
        "Tilkald vagten alligevel",
        "Annuller",
    ]
    urgent = intake.advance(offer.state, c, text_in="det er akut")
    assert urgent.state.step is Step.CHOOSE_CATEGORY and urgent.state.suggestions == ALL_CATEGORIES
    picked = intake.advance(urgent.state, c, choice=f"intake:{urgent.state.seq}:cat:account_locked")
    assert picked.state.step is Step.OFFER_ONCALL
    # both cost texts the employee saw are kept for the case, in order
    assert picked.state.cost_text == f"{message.text}\n\n{picked.replies[0].text}"
    assert picked.state.cost_shown_at == c.now
    back = intake.advance(urgent.state, c, choice=f"intake:{urgent.state.seq}:cat:other")
    assert back.state.step is Step.OFFER_NEXT_OPENING
    assert "urgent" not in {ch.id.rsplit(":", 1)[1] for ch in back.replies[0].choices}  # every category was shown


def test_a_sure_critical_category_is_said_not_asked_and_can_be_corrected(tmp_path: Path) -> None:
    c = ctx(tmp_path, "2026-11-28T22:30")
    first = intake.advance(None, c, text_in="jeg tror vi er blevet hacket")
    assert first.state.step is Step.OFFER_ONCALL and first.state.assumed
    assert first.replies[0].text.startswith("Jeg forstår, at I måske er blevet hacket. Vi har lukket lige nu")
    labels = [ch.label for ch in first.replies[0].choices]
    assert labels == ["Ja, tilkald vagten", "Nej, vent til mandag kl. 8.00", "Det er noget andet", "Annuller"]
    corrected = intake.advance(first.state, c, text_in="det er noget andet")
    assert corrected.state.step is Step.CHOOSE_CATEGORY and not corrected.state.assumed
    picked = intake.advance(corrected.state, c, choice=f"intake:{corrected.state.seq}:cat:{Category.OTHER}")
    assert picked.state.step is Step.OFFER_NEXT_OPENING and "Jeg forstår" not in picked.replies[0].text


def test_a_critical_case_after_hours_is_told_there_is_no_fee(tmp_path: Path) -> None:
    c = ctx(tmp_path, "2026-11-28T22:30")
    offer = intake.advance(None, c, text_in="jeg tror vi er blevet hacket")
    assert (
        "Da det er driftskritisk, er der intet gebyr for at tilkalde vagten – kun 100 % tillæg" in offer.replies[0].text
    )
    assert "1.000,00" not in offer.replies[0].text


@pytest.mark.parametrize(
    ("problem", "scope", "reason"),
    [
        ("printeren virker ikke", "Flere", "Printerproblemer er kun akutte, når ingen på kontoret kan printe."),
        ("internettet virker ikke", "Kun mig", "Internetproblemer er kun akutte, når ingen på kontoret kan komme på"),
        ("citrix virker ikke", "Flere", "Problemer med IT-løsningen er kun akutte, når ingen"),
    ],
)
def test_a_problem_that_only_some_have_is_told_why_it_is_not_critical(
    tmp_path: Path, problem: str, scope: str, reason: str
) -> None:
    c = ctx(tmp_path, "2026-11-28T22:30")
    asked = intake.advance(None, c, text_in=problem)
    assert asked.state.step is Step.ASK_SCOPE, asked.replies[0].text
    offer = intake.advance(asked.state, c, text_in=scope)
    assert offer.state.step is Step.OFFER_NEXT_OPENING and reason in offer.replies[0].text
    assert "Det er akut" not in [ch.label for ch in offer.replies[0].choices]


def _offer_oncall(c: intake.Context) -> intake.StepResult:
    return intake.advance(None, c, text_in="ingen internet, alle er ramt")


@pytest.mark.parametrize(
    "typed", ["ja ring til vagten", "ja tilkald", "yes call them", "Ja, ring til vagten nu!", "ja"]
)
def test_a_typed_yes_with_extra_words_accepts_paging(tmp_path: Path, typed: str) -> None:
    c = ctx(tmp_path, "2026-11-28T22:30")
    offer = _offer_oncall(c)
    accepted = intake.advance(offer.state, c, text_in=typed)
    assert accepted.state.step is Step.ASK_PHONE
    assert accepted.state.cost_answer == f"intake:{offer.state.seq}:page {json.dumps(typed)}"


@pytest.mark.parametrize("typed", ["nej", "nej tak", "Nej, det kan vente", "no thanks"])
def test_a_typed_no_declines_paging(tmp_path: Path, typed: str) -> None:
    c = ctx(tmp_path, "2026-11-28T22:30")
    declined = intake.advance(_offer_oncall(c).state, c, text_in=typed)
    assert declined.effect.page is False and declined.effect.new.cost.accepted is False


@pytest.mark.parametrize(("typed", "free_case"), [("nej tak", True), ("no thanks", True), ("nej det er akut", False)])
def test_no_thanks_to_the_paid_on_call_takes_the_free_case(tmp_path: Path, typed: str, free_case: bool) -> None:
    c = ctx(tmp_path, "2026-11-28T22:30")
    offer = intake.advance(None, c, text_in="skal bruge ny mus")
    answered = intake.advance(offer.state, c, text_in=typed)
    assert (answered.effect is not None and answered.effect.page is False) is free_case


@pytest.mark.parametrize(
    "typed", ["ring", "ja tilkald ikke vagten", "ja men kun hvis det er gratis", "nej ring til vagten", "hmm ja"]
)
def test_paging_needs_a_clear_yes(tmp_path: Path, typed: str) -> None:
    c = ctx(tmp_path, "2026-11-28T22:30")
    offer = _offer_oncall(c)
    unclear = intake.advance(offer.state, c, text_in=typed)
    assert unclear.effect is None and unclear.state.step is Step.OFFER_ONCALL
    assert unclear.replies[0].text.startswith("Jeg forstod ikke helt dit svar.")


def test_the_fee_is_accepted_by_a_typed_yes_with_words(tmp_path: Path) -> None:
    c = ctx(tmp_path, "2026-11-28T22:30")
    offer = intake.advance(None, c, text_in="skal bruge ny mus")
    confirm = intake.advance(offer.state, c, text_in="tilkald vagten alligevel")
    assert confirm.state.step is Step.CONFIRM_FEE
    assert intake.advance(confirm.state, c, text_in="ja jeg accepterer prisen").state.step is Step.ASK_PHONE


@pytest.mark.parametrize("moment", ["2026-11-28T22:30", "2026-12-24T19:00", "2026-11-25T06:00", "2026-11-25T17:00"])
@pytest.mark.parametrize("language", ["da", "en"])
def test_buttons_with_the_next_opening_stay_short(tmp_path: Path, moment: str, language: str) -> None:
    c = ctx(tmp_path, moment, reporter=replace(ANNA, locale=language))
    mouse = intake.advance(None, c, text_in="skal bruge ny mus" if language == "da" else "I need a new mouse")
    offer = _offer_oncall(c)
    labels = [ch.label for r in (mouse, offer) for ch in r.replies[0].choices if ch.id.endswith(":next")]
    assert len(labels) == 2 and all(len(label) <= 32 for label in labels), labels


def test_christmas_eve_names_the_date_of_the_next_opening(tmp_path: Path) -> None:
    offer = intake.advance(None, ctx(tmp_path, "2026-12-24T19:00"), text_in="skal bruge ny mus")
    assert "som vi tager fat på mandag den 28. december kl. 8.00" in offer.replies[0].text
    assert offer.replies[0].choices[0].label == "Opret sag til 28/12 kl. 8.00"


@pytest.mark.parametrize("typed", ["7", "", "  "])
def test_a_number_that_is_no_choice_or_an_empty_line_names_the_choices(tmp_path: Path, typed: str) -> None:
    c = ctx(tmp_path)
    first = intake.advance(None, c, text_in="printeren virker ikke")
    again = intake.advance(first.state, c, text_in=typed)
    assert again.state.seq == first.state.seq and again.state.description == "printeren virker ikke"
    assert again.replies[0].text.startswith("Vælg en af mulighederne herunder, eller svar med et tal fra 1 til 4.")


@pytest.mark.parametrize(
    ("typed", "follows_up"),
    [
        ("det virker stadig ikke", True),
        ("Det virker STADIG ikke!!", True),
        ("virker ik stadig", True),
        ("sagen er stadig ikke løst", True),
        ("It still doesn't work", True),
        ("still not working", True),
        ("det virker ikke", False),  # a new report, triaged as usual
        ("min skærm er gået i stykker", False),
        ("det virker stadig ikke " + "og her er en lang forklaring af problemet " * 3, False),
    ],
)
def test_a_short_it_still_does_not_work_is_a_follow_up(typed: str, follows_up: bool) -> None:
    assert is_follow_up(typed) is follows_up


def test_it_still_does_not_work_right_after_a_case_looks_that_case_up(tmp_path: Path) -> None:
    result = intake.advance(None, ctx(tmp_path, finished_case=10001), text_in="det virker stadig ikke")
    assert result.effect == intake.LookupStatus(10001) and result.replies == ()
    named = intake.advance(None, ctx(tmp_path), text_in="sag 10003 virker stadig ikke")
    assert named.effect == intake.LookupStatus(10003)
    unknown = intake.advance(None, ctx(tmp_path), text_in="det virker stadig ikke")
    # Not knowing which case, the bot asks for its number (or what is wrong), and looks nothing up.
    assert unknown.effect is None and unknown.state.step is Step.DESCRIBE_AGAIN
    assert unknown.replies[0].text.startswith("Beklager, at det stadig ikke virker. Skriv nummeret på sagen")


def test_the_case_keeps_what_triage_first_offered_so_a_correction_can_be_counted(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    sure = intake.advance(None, c, text_in="min konto er låst")
    assert sure.effect.new.triaged_as is Category.ACCOUNT_LOCKED and sure.effect.new.category is Category.ACCOUNT_LOCKED
    first = intake.advance(None, c, text_in="printeren virker ikke")
    other = intake.advance(first.state, c, choice=first.replies[0].choices[3].id)  # "Det er noget andet"
    picked = intake.advance(other.state, c, choice=f"intake:{other.state.seq}:cat:{Category.SYSTEM_ERROR}")
    new = picked.effect.new
    assert (new.triaged_as, new.category) == (Category.PRINTING_DOWN, Category.SYSTEM_ERROR)
    stored = Case.from_new(new, number=10001, created_at=c.now)
    assert stored.triage_corrected and Case.from_dict(stored.to_dict()) == stored
    old = stored.to_dict()
    del old["triaged_as"]  # a case stored before the field existed
    assert Case.from_dict(old).triaged_as is None and not Case.from_dict(old).triage_corrected
