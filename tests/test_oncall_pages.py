"""How a page reads: the description shortened visibly, charges in the reader's money format, the buttons."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from string import Formatter
from zoneinfo import ZoneInfo

import pytest

from bot.cases import Case, CaseEvent, CaseStatus, CostAnswer, CustomerRef, EventKind, NewCase, Reporter
from bot.categories import Category, Scope
from bot.config import Settings, load_settings
from bot.i18n import catalog
from bot.messages import Mention
from bot.oncall.pages import (
    DESCRIPTION_LIMIT,
    confirm_resolve_message,
    is_oncall_choice,
    page_message,
    parse_choice,
)

CPH = ZoneInfo("Europe/Copenhagen")
NIGHT = datetime(2026, 11, 28, 22, 5, tzinfo=CPH)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({"SUPPORTBOT_DATA": str(tmp_path)})


def a_case(**changes: object) -> Case:
    new = NewCase(
        reporter=Reporter("teams", "tenant-x", "aad-1", "Bo", "en-GB"),
        customer=CustomerRef("Demo A/S", known=True, agreement=False),
        description="The printer on the second floor prints blank pages",
        category=Category.PRINTING_DOWN,
        confidence=80,
        scope=Scope.SOME,
        critical=False,
        after_hours=True,
        cost=CostAnswer(("oncall_fee", "surcharge"), "...", "accept", True, NIGHT, NIGHT),
        page_requested=True,
    )
    return replace(Case.from_new(new, number=10042, created_at=NIGHT), **changes)


def facts(message: object) -> dict[str, str]:
    return {f.label: f.value for f in message.facts}  # type: ignore[attr-defined]


def test_a_fee_and_the_surcharge_read_in_the_technicians_money_format(settings: Settings) -> None:
    danish = page_message(a_case(), settings=settings, language="da")
    assert danish.title == "Ikke kritisk – kunden har accepteret gebyret: sag 10042"
    critical = page_message(a_case(critical=True), settings=settings, language="da")
    assert critical.title == "Vagtopkald: kritisk sag 10042"
    assert facts(danish)["Pris"] == (
        "Gebyr på 1.000,00 kr. + moms og 100 % tillæg på timeprisen (accepteret kl. 22.05)"
    )
    assert facts(danish)["Meldt af"] == "Bo via Teams"
    assert facts(danish)["Hvem er ramt"] == "Nogle er ramt"
    english = page_message(a_case(), settings=settings, language="en")
    assert (
        facts(english)["Price"]
        == "Fee of DKK 1,000.00 plus VAT and 100% surcharge on the hourly rate (accepted at 22:05)"
    )
    assert facts(english)["Reported"] == "Saturday 28 Nov at 22:05"
    cheaper = replace(settings, costs=replace(settings.costs, oncall_fee=Decimal("1250.5")))
    assert "Gebyr på 1.250,50 kr. + moms" in facts(page_message(a_case(), settings=cheaper, language="da"))["Pris"]


def test_a_long_description_is_shortened_visibly_and_kept_whole_on_the_case(settings: Settings) -> None:
    words = "Outlook viser en fejl hver gang jeg åbner den og så lukker den ned igen med det samme "
    long = words * 20
    case = a_case(description=long)
    shown = facts(page_message(case, settings=settings, language="da"))["Beskrivelse"]
    assert len(shown) < DESCRIPTION_LIMIT + 60
    assert shown.endswith("… (forkortet – hele teksten står på sag 10042)")
    assert long.startswith(shown.split("…")[0])
    assert case.description == long
    short = facts(page_message(a_case(), settings=settings, language="da"))["Beskrivelse"]
    assert short == "The printer on the second floor prints blank pages"


def test_an_unknown_workspace_is_named_as_such(settings: Settings) -> None:
    case = a_case(customer=CustomerRef("T0UNKNOWN", known=False))
    assert facts(page_message(case, settings=settings, language="da"))["Kunde"] == "Ukendt kunde (workspace T0UNKNOWN)"


def test_the_buttons_follow_the_status(settings: Settings) -> None:
    case = a_case()
    # "Løst" only once someone has acknowledged: one obvious button for a technician woken at night.
    assert [c.id for c in page_message(case, settings=settings, language="da").choices] == ["oncall:ack:10042"]
    acked = case.with_event(
        CaseEvent(NIGHT, EventKind.ACKNOWLEDGED, "morten", {"name": "Morten"}), status=CaseStatus.ACKNOWLEDGED
    )
    message = page_message(acked, settings=settings, language="da")
    assert [c.id for c in message.choices] == ["oncall:resolve:10042"]
    assert message.text.splitlines()[-1] == "Kvitteret af Morten kl. 22.05"
    resolved = acked.with_event(
        CaseEvent(NIGHT, EventKind.RESOLVED, "morten", {"name": "Morten"}), status=CaseStatus.RESOLVED
    )
    assert page_message(resolved, settings=settings, language="da").choices == ()


def test_the_page_names_the_reporter_as_someone_to_write_to_on_their_platform(settings: Settings) -> None:
    [reported_by] = [f for f in page_message(a_case(), settings=settings, language="da").facts if f.label == "Meldt af"]
    assert reported_by.value == "Bo via Teams"
    assert reported_by.mention == Mention("teams", "tenant-x", "aad-1", "Bo")
    local = a_case(reporter=Reporter("local", "local", "emp:1", "", "da"))
    [reported_by] = [f for f in page_message(local, settings=settings, language="da").facts if f.label == "Meldt af"]
    assert reported_by.mention is None  # the local inbox writes to the reporter through the bot instead


def test_resolving_asks_once_and_says_when_nobody_has_acknowledged(settings: Settings) -> None:
    question = confirm_resolve_message(a_case(), "da")
    assert question.text == (
        "Er du sikker? Sag 10042 er ikke kvitteret. Er den løst, lukker jeg sagen, og Bo får besked."
    )
    assert [(c.id, c.label) for c in question.choices] == [("oncall:confirm_resolve:10042", "Ja, sagen er løst")]
    acked = a_case(status=CaseStatus.ACKNOWLEDGED)
    assert confirm_resolve_message(acked, "en").text == "Is case 10042 resolved? Then I'll close the case and tell Bo."


@pytest.mark.parametrize(
    ("choice", "parsed"),
    [
        ("oncall:ack:10042", ("ack", 10042)),
        ("oncall:resolve:7", ("resolve", 7)),
        ("oncall:confirm_resolve:7", ("confirm_resolve", 7)),
        ("oncall:ack:-1", None),
        ("oncall:ack:1:2", None),
        ("oncall:delete:1", None),
        ("oncall:ack:" + "9" * 40, None),
        ("intake:yes", None),
    ],
)
def test_button_ids(choice: str, parsed: tuple[str, int] | None) -> None:
    assert parse_choice(choice) == parsed
    assert is_oncall_choice(choice) == choice.startswith("oncall:")


def test_danish_and_english_catalogs_have_the_same_keys_and_fields() -> None:
    def fields(template: str) -> set[str]:
        return {name for _, name, _, _ in Formatter().parse(template) if name}

    da = {k: v for k, v in catalog("da").items() if k.startswith("oncall.")}
    en = {k: v for k, v in catalog("en").items() if k.startswith("oncall.")}
    assert da.keys() == en.keys()
    assert {k: fields(v) for k, v in da.items()} == {k: fields(v) for k, v in en.items()}


def test_the_callback_number_comes_right_after_the_case_number_when_given(settings: Settings) -> None:
    page = page_message(a_case(callback_phone="22 33 44 55"), settings=settings, language="da")
    assert [f.label for f in page.facts][:2] == ["Sag", "Ring til"]
    assert facts(page)["Ring til"] == "22 33 44 55"
    assert "Ring til" not in facts(page_message(a_case(), settings=settings, language="da"))


def test_a_team_card_says_when_an_after_hours_case_waits_and_that_nobody_paid(settings: Settings) -> None:
    declined = CostAnswer(("surcharge",), "...", "next", False, NIGHT, NIGHT)
    case = a_case(category=Category.PASSWORD_NOT_WORKING, critical=True, page_requested=False, cost=declined)
    card = page_message(case, settings=settings, language="da", team=True)
    assert card.title == "Ny sag 10042"
    assert "Venter til mandag 30. nov. kl. 8.00 – kunden valgte ikke at tilkalde vagten." in card.text
    assert "inden for 60 min" not in card.text and "Driftskritisk" not in card.text
    assert facts(card)["Pris"] == "Ingen (almindelig sag)"
    assert facts(card)["Problem"] == "Adgangskoden virker ikke"  # exactly the employee's label
    english = page_message(case, settings=settings, language="en", team=True)
    assert "Waits until Monday 30 Nov at 8:00 – the customer chose not to page on-call." in english.text
    assert facts(english)["Price"] == "None (ordinary case)"


def test_only_an_open_hours_team_card_promises_a_review_within_the_hour(settings: Settings) -> None:
    open_hours = a_case(after_hours=False, cost=None, page_requested=False, created_at=NIGHT - timedelta(days=3))
    card = page_message(open_hours, settings=settings, language="da", team=True)
    assert "Skal gennemgås inden for 60 min." in card.text
    assert "Pris" not in facts(card)


def test_names_and_labels_read_in_the_readers_language(settings: Settings) -> None:
    nameless = Reporter("local", "local", "u-12d1614b9ef6", "", "en")
    case = a_case(reporter=nameless, scope=Scope.UNKNOWN)
    linked = case.with_event(
        CaseEvent(NIGHT, EventKind.LINKED, "system", {"case": 10043, "reporter": "", "user": "u-77ab"})
    )
    danish = facts(page_message(linked, settings=settings, language="da"))
    assert danish["Meldt af"] == "Medarbejder uden navn (9ef6) via den lokale chat"
    assert danish["Også meldt af"] == "Medarbejder uden navn (77ab) (sag 10043)"
    assert danish["Hvem er ramt"] == "Ikke oplyst"
    assert facts(page_message(linked, settings=settings, language="en"))["Affected"] == "Not known"
