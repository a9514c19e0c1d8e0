"""The report's figures against cases built by hand (tests/report_cases.py), worked out beside each case."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from bot.categories import Category
from bot.report import Durations, Period, build_report
from tests.report_cases import ZONE, hand_built

FEE = Decimal("1000.00")
NOVEMBER_TO_DECEMBER_5 = Period(start=date(2026, 11, 23), end=date(2026, 12, 5))


def minutes(*values: float) -> tuple[timedelta, ...]:
    return tuple(timedelta(minutes=v) for v in values)


def test_cases_by_category_critical_and_out_of_hours() -> None:
    report = build_report(hand_built(), period=NOVEMBER_TO_DECEMBER_5, fee=FEE, zone=ZONE)
    assert [f.number for f in report.cases] == [10001, 10002, 10003, 10004, 10005, 10006], "10007 is after the period"
    assert [(c.category, c.total, c.critical, c.after_hours) for c in report.categories] == [
        (Category.INTERNET_DOWN, 2, 2, 2),
        (Category.OTHER, 2, 0, 2),
        (Category.PASSWORD_NOT_WORKING, 1, 1, 1),
        (Category.PRINTING_DOWN, 1, 0, 0),
    ]
    assert (report.critical, report.after_hours, report.pages) == (3, 5, 3), "the linked 10006 is no page"


def test_time_to_acknowledge_and_resolve_for_pages_overall_by_technician_and_by_customer() -> None:
    report = build_report(hand_built(), period=NOVEMBER_TO_DECEMBER_5, fee=FEE, zone=ZONE)
    assert report.to_acknowledge == Durations(3, *minutes(14, 25, 25))  # 6, 14, 25 min
    assert report.to_resolve == Durations(2, *minutes(50, 60, 60))  # 40, 60 min
    assert report.acknowledge_by_technician == {
        "morten": Durations(2, *minutes(15.5, 25, 25)),
        "sara": Durations(1, *minutes(14, 14, 14)),
    }
    assert report.resolve_by_technician == {
        "morten": Durations(1, *minutes(40, 40, 40)),
        "sara": Durations(1, *minutes(60, 60, 60)),
    }
    assert report.acknowledge_by_customer == {
        "Acme A/S": Durations(1, *minutes(6, 6, 6)),
        "Biokube A/S": Durations(2, *minutes(19.5, 25, 25)),
    }
    assert report.weekly_acknowledge["2026-W48"] == Durations(3, *minutes(14, 25, 25))
    assert report.weekly_acknowledge["2026-W49"] == Durations(0, None, None, None)


def test_escalations_money_and_triage_corrections() -> None:
    report = build_report(hand_built(), period=NOVEMBER_TO_DECEMBER_5, fee=FEE, zone=ZONE)
    assert report.escalations == {"backup": 1, "everyone": 1}, "each case counted once, at its highest step"
    assert (report.fees, report.fee_total, report.surcharges) == (1, FEE, 3), "10005 declined; 10006 is linked"
    assert report.corrections == {
        (Category.PRINTING_DOWN, Category.OTHER): 1,
        (Category.SYSTEM_ERROR, Category.OTHER): 1,
    }
    by_number = {f.number: f for f in report.cases}
    assert by_number[10004].escalated_to == "everyone" and by_number[10004].fee == FEE
    assert by_number[10003].acknowledged_by == "sara" and by_number[10003].to_resolve == timedelta(minutes=60)


def test_weeks_run_from_the_first_case_to_the_last_and_a_customer_is_named_in_any_case() -> None:
    report = build_report(hand_built(), period=Period(), fee=FEE, zone=ZONE)
    assert report.weeks == ("2026-W48", "2026-W49", "2026-W50")
    assert report.weekly_categories["2026-W49"] == {Category.OTHER: 1}
    biokube = build_report(hand_built(), period=Period(customer="biokube a/s"), fee=FEE, zone=ZONE)
    assert [f.number for f in biokube.cases] == [10003, 10004]
    empty = build_report([], period=Period(), fee=FEE, zone=ZONE)
    assert empty.cases == () and empty.weeks == () and empty.to_acknowledge == Durations(0, None, None, None)
