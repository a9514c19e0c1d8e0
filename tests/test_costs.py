"""After-hours cost terms, money formatting and the next opening in words."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.config import CostSettings
from bot.costs import CostTerm, applicable_costs, describe_when, format_money
from bot.i18n import catalog

CPH = ZoneInfo("Europe/Copenhagen")
POLICY = CostSettings(currency="DKK", oncall_fee=Decimal("1000.00"), surcharge_percent=100)


def cph(*args: int) -> datetime:
    return datetime(*args, tzinfo=CPH)


@pytest.mark.parametrize("critical", [True, False])
def test_nothing_extra_in_normal_hours(critical: bool) -> None:
    assert applicable_costs(POLICY, critical=critical, open_now=True).terms == ()


def test_critical_after_hours_carries_the_surcharge_only() -> None:
    costs = applicable_costs(POLICY, critical=True, open_now=False)
    assert costs.terms == (CostTerm.SURCHARGE,)
    assert costs.surcharge_percent == 100


def test_not_critical_after_hours_carries_fee_and_surcharge() -> None:
    costs = applicable_costs(POLICY, critical=False, open_now=False)
    assert costs.terms == (CostTerm.ONCALL_FEE, CostTerm.SURCHARGE)
    assert costs.oncall_fee == Decimal("1000.00")


def test_amounts_come_from_the_settings() -> None:
    costs = applicable_costs(
        CostSettings(currency="DKK", oncall_fee=Decimal("1250.50"), surcharge_percent=50),
        critical=False,
        open_now=False,
    )
    assert (costs.oncall_fee, costs.surcharge_percent) == (Decimal("1250.50"), 50)


def test_cost_terms_serialise_as_their_ids() -> None:
    assert [str(t) for t in CostTerm] == ["surcharge", "oncall_fee"]


@pytest.mark.parametrize(
    ("amount", "language", "expected"),
    [
        (Decimal("1000"), "da", "1.000,00 kr."),
        (Decimal("1000.00"), "da-DK", "1.000,00 kr."),
        (Decimal("1234567.5"), "da", "1.234.567,50 kr."),
        (Decimal("0"), "da", "0,00 kr."),
        (Decimal("1000"), "en", "DKK 1,000.00"),
        (Decimal("99.95"), "en-US", "DKK 99.95"),
        (Decimal("1000"), "fr", "1.000,00 kr."),  # unknown languages read Danish
    ],
)
def test_format_money(amount: Decimal, language: str, expected: str) -> None:
    assert format_money(amount, language) == expected


def test_format_money_in_another_currency() -> None:
    assert format_money(Decimal("1000"), "da", "EUR") == "1.000,00 €"
    assert format_money(Decimal("1000"), "en", "EUR") == "EUR 1,000.00"


# Wednesday 25 November 2026, evening.
NOW = cph(2026, 11, 25, 21, 0)


@pytest.mark.parametrize(
    ("moment", "danish", "english"),
    [
        (cph(2026, 11, 25, 23, 0), "i dag kl. 23.00", "today at 23:00"),
        (cph(2026, 11, 26, 8, 0), "i morgen kl. 8.00", "tomorrow at 8:00"),
        (cph(2026, 11, 28, 8, 0), "lørdag kl. 8.00", "Saturday at 8:00"),  # 3 days away: the weekday is enough
        (cph(2026, 11, 29, 8, 0), "søndag den 29. november kl. 8.00", "Sunday 29 November at 8:00"),
        (cph(2026, 11, 30, 8, 0), "mandag den 30. november kl. 8.00", "Monday 30 November at 8:00"),
        (cph(2026, 12, 29, 8, 0), "tirsdag den 29. december kl. 8.00", "Tuesday 29 December at 8:00"),
        (cph(2027, 1, 4, 8, 0), "mandag den 4. januar 2027 kl. 8.00", "Monday 4 January 2027 at 8:00"),
    ],
)
def test_describe_when(moment: datetime, danish: str, english: str) -> None:
    assert describe_when(moment, NOW, "da") == danish
    assert describe_when(moment, NOW, "en") == english


def test_the_normal_weekend_names_the_weekday_alone() -> None:
    friday = cph(2026, 11, 27, 15, 0)
    assert describe_when(cph(2026, 11, 30, 8, 0), friday, "da") == "mandag kl. 8.00"
    assert describe_when(cph(2026, 11, 30, 8, 0), friday, "en") == "Monday at 8:00"


def test_christmas_eve_names_the_date_of_the_next_opening() -> None:
    # Thursday 24 December; the office opens again Monday 28 December, four days later.
    christmas_eve = cph(2026, 12, 24, 19, 0)
    assert describe_when(cph(2026, 12, 28, 8, 0), christmas_eve, "da") == "mandag den 28. december kl. 8.00"


@pytest.mark.parametrize(
    ("moment", "danish", "english"),
    [
        (cph(2026, 11, 25, 23, 0), "i dag kl. 23.00", "today 23:00"),
        (cph(2026, 11, 26, 8, 0), "i morgen kl. 8.00", "tomorrow 8:00"),
        (cph(2026, 11, 26, 8, 30), "i morgen kl. 8.30", "tomorrow 8:30"),
        (cph(2026, 11, 28, 8, 0), "lørdag kl. 8.00", "Saturday 8:00"),
        (cph(2026, 12, 28, 8, 0), "28/12 kl. 8.00", "28 Dec 8:00"),
        (cph(2027, 1, 4, 8, 0), "4/1 2027 kl. 8.00", "4 Jan 2027 8:00"),
    ],
)
def test_describe_when_short_for_buttons(moment: datetime, danish: str, english: str) -> None:
    assert describe_when(moment, NOW, "da", short=True) == danish
    assert describe_when(moment, NOW, "en", short=True) == english


def test_describe_when_counts_days_in_the_moments_time_zone() -> None:
    # 23:30 UTC on Wednesday is already Thursday 00:30 in Copenhagen: Thursday 08:00 is "today".
    now = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    assert describe_when(cph(2026, 11, 26, 8, 0), now, "da") == "i dag kl. 8.00"


def test_describe_when_shows_local_time_after_a_dst_change() -> None:
    # Friday 27 March 2026 (winter time) to Monday 30 March 08:00 (summer time).
    assert describe_when(cph(2026, 3, 30, 8, 0), cph(2026, 3, 27, 15, 0), "da") == "mandag kl. 8.00"


def test_describe_when_refuses_naive_moments() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        describe_when(datetime(2026, 11, 26, 8, 0), NOW, "da")


def test_both_catalogs_have_the_same_keys() -> None:
    keys = {lang: {k for k in catalog(lang) if k.startswith("policy.")} for lang in ("da", "en")}
    assert keys["da"] == keys["en"]
    assert keys["da"]
