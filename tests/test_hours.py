"""Opening hours against the real calendar: edges of the day, public holidays, DST nights, any time zone."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import HoursSettings, load_settings
from bot.errors import ConfigError
from bot.hours import OpeningHours

CPH = ZoneInfo("Europe/Copenhagen")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> HoursSettings:
    folder = tmp_path_factory.mktemp("hours")
    empty = folder / "supportbot.toml"
    empty.write_text("", encoding="utf-8")
    return load_settings({"SUPPORTBOT_CONFIG": str(empty), "SUPPORTBOT_DATA": str(folder)}).hours


@pytest.fixture(scope="module")
def hours(settings: HoursSettings) -> OpeningHours:
    return OpeningHours(settings)


def cph(*args: int) -> datetime:
    return datetime(*args, tzinfo=CPH)


# 2026: Thu 26 Nov, Fri 27 Nov, Mon 30 Nov are ordinary working days.
@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (cph(2026, 11, 27, 14, 59), True),
        (cph(2026, 11, 27, 15, 0), False),
        (cph(2026, 11, 26, 15, 59), True),
        (cph(2026, 11, 26, 16, 0), False),
        (cph(2026, 11, 30, 7, 59), False),
        (cph(2026, 11, 30, 8, 0), True),
        (cph(2026, 11, 28, 12, 0), False),  # Saturday
        (cph(2026, 11, 29, 23, 30), False),  # Sunday night
    ],
)
def test_edges_of_the_working_day(hours: OpeningHours, moment: datetime, is_open: bool) -> None:
    assert hours.is_open(moment) is is_open


def test_friday_afternoon_closes_at_three_and_opens_monday(hours: OpeningHours) -> None:
    assert hours.closes(cph(2026, 11, 27, 14, 59)) == cph(2026, 11, 27, 15, 0)
    assert hours.closes(cph(2026, 11, 27, 15, 0)) is None
    assert hours.next_open(cph(2026, 11, 27, 15, 0)) == cph(2026, 11, 30, 8, 0)


def test_thursday_closes_at_four_and_opens_friday(hours: OpeningHours) -> None:
    assert hours.closes(cph(2026, 11, 26, 15, 59)) == cph(2026, 11, 26, 16, 0)
    assert hours.next_open(cph(2026, 11, 26, 16, 0)) == cph(2026, 11, 27, 8, 0)


def test_monday_morning_before_opening_opens_the_same_day(hours: OpeningHours) -> None:
    assert hours.next_open(cph(2026, 11, 30, 7, 59)) == cph(2026, 11, 30, 8, 0)


def test_next_open_while_open_is_the_start_of_the_next_period(hours: OpeningHours) -> None:
    assert hours.next_open(cph(2026, 11, 30, 8, 0)) == cph(2026, 12, 1, 8, 0)
    assert hours.next_open(cph(2026, 11, 27, 10, 0)) == cph(2026, 11, 30, 8, 0)


def test_sunday_night_opens_monday_morning(hours: OpeningHours) -> None:
    assert hours.next_open(cph(2026, 11, 29, 23, 59)) == cph(2026, 11, 30, 8, 0)


def test_easter_is_skipped_from_friday_afternoon_to_tuesday(hours: OpeningHours) -> None:
    # Skærtorsdag 2 April, langfredag 3 April, påskedag 5 April and 2. påskedag 6 April 2026 are closed.
    assert hours.next_open(cph(2026, 3, 27, 15, 0)) == cph(2026, 3, 30, 8, 0)
    assert hours.next_open(cph(2026, 4, 1, 16, 0)) == cph(2026, 4, 7, 8, 0)
    assert hours.next_open(cph(2026, 4, 3, 15, 0)) == cph(2026, 4, 7, 8, 0)
    assert not hours.is_open(cph(2026, 4, 6, 10, 0))


def test_christmas_day_is_closed(hours: OpeningHours) -> None:
    # Juledag 25 December 2026 is a Friday; 2. juledag is the Saturday.
    assert not hours.is_open(cph(2026, 12, 25, 10, 0))
    assert hours.next_open(cph(2026, 12, 23, 15, 30)) == cph(2026, 12, 28, 8, 0)


def test_store_bededag_is_no_longer_a_holiday(hours: OpeningHours) -> None:
    # Abolished from 2024; in 2026 it would have been Friday 1 May (also not a public holiday).
    assert hours.is_open(cph(2026, 5, 1, 10, 0))
    assert not hours.is_open(cph(2023, 5, 5, 10, 0))  # the last Store Bededag


def test_grundlovsdag_and_christmas_eve_are_closed_every_year_by_default(hours: OpeningHours) -> None:
    # Not public holidays in the holidays package ("optional" category), but closed in Danish offices.
    assert not hours.is_open(cph(2026, 6, 5, 10, 0))
    assert hours.next_open(cph(2026, 6, 4, 16, 0)) == cph(2026, 6, 8, 8, 0)
    assert not hours.is_open(cph(2026, 12, 24, 10, 0))
    assert not hours.is_open(cph(2027, 12, 31, 10, 0))


def test_days_closed_every_year_can_be_reopened(settings: HoursSettings) -> None:
    hours = OpeningHours(dataclasses.replace(settings, closed_every_year=frozenset()))
    assert hours.is_open(cph(2026, 6, 5, 10, 0))


def test_extra_closed_days_are_skipped(settings: HoursSettings) -> None:
    hours = OpeningHours(dataclasses.replace(settings, closed_days=frozenset({date(2026, 12, 28), date(2026, 12, 29)})))
    assert not hours.is_open(cph(2026, 12, 28, 10, 0))
    assert hours.next_open(cph(2026, 12, 23, 16, 0)) == cph(2026, 12, 30, 8, 0)


def test_without_a_holiday_country_holidays_are_working_days(settings: HoursSettings) -> None:
    hours = OpeningHours(dataclasses.replace(settings, holidays_country=""))
    assert hours.is_open(cph(2026, 4, 6, 10, 0))


def test_spring_forward_night(hours: OpeningHours) -> None:
    # 29 March 2026 at 2:00 the clocks jump to 03:00; Monday opens at 8:00 summer time (06:00 UTC).
    saturday_evening = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # 23:00 winter time
    opens = hours.next_open(saturday_evening)
    assert opens == cph(2026, 3, 30, 8, 0)
    assert opens.utcoffset() == timedelta(hours=2)
    assert opens.astimezone(UTC) == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
    assert not hours.is_open(datetime(2026, 3, 29, 1, 30, tzinfo=UTC))


def test_fall_back_night(hours: OpeningHours) -> None:
    # 25 October 2026 at 3:00 the clocks go back to 02:00; Monday opens at 8:00 winter time (07:00 UTC).
    for utc_hour in (0, 1):  # 02:30 summer time, then 02:30 again in winter time
        opens = hours.next_open(datetime(2026, 10, 25, utc_hour, 30, tzinfo=UTC))
        assert opens == cph(2026, 10, 26, 8, 0)
        assert opens.utcoffset() == timedelta(hours=1)
    assert hours.closes(datetime(2026, 10, 23, 12, 59, tzinfo=UTC)) == cph(2026, 10, 23, 15, 0)  # summer, UTC+2
    assert hours.is_open(datetime(2026, 10, 26, 7, 0, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 10, 26, 6, 59, tzinfo=UTC))


def test_input_in_utc_is_converted_first(hours: OpeningHours) -> None:
    # Monday 23 November 2026 06:59 UTC is 07:59 in Copenhagen: closed; 07:00 UTC is 08:00: open.
    assert not hours.is_open(datetime(2026, 11, 23, 6, 59, tzinfo=UTC))
    assert hours.is_open(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    assert hours.closes(datetime(2026, 11, 23, 7, 0, tzinfo=UTC)) == cph(2026, 11, 23, 16, 0)
    # Friday 14:30 UTC is 15:30 in Copenhagen: already closed.
    assert not hours.is_open(datetime(2026, 11, 27, 14, 30, tzinfo=UTC))


def test_input_in_new_york_is_converted_first(hours: OpeningHours) -> None:
    # Sunday 29 November 2026 20:00 in New York is Monday 02:00 in Copenhagen: a different calendar day.
    sunday_evening_ny = datetime(2026, 11, 29, 20, 0, tzinfo=NEW_YORK)
    assert not hours.is_open(sunday_evening_ny)
    assert hours.next_open(sunday_evening_ny) == cph(2026, 11, 30, 8, 0)
    # Monday 03:00 in New York is 09:00 in Copenhagen: open.
    assert hours.is_open(datetime(2026, 11, 30, 3, 0, tzinfo=NEW_YORK))


def test_results_are_in_the_office_time_zone(hours: OpeningHours) -> None:
    at = datetime(2026, 11, 27, 20, 0, tzinfo=NEW_YORK)
    assert hours.next_open(at).tzinfo == CPH
    assert hours.closes(datetime(2026, 11, 30, 3, 0, tzinfo=NEW_YORK)).tzinfo == CPH  # type: ignore[union-attr]


@pytest.mark.parametrize("method", ["is_open", "closes", "next_open"])
def test_naive_moments_are_refused(hours: OpeningHours, method: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        getattr(hours, method)(datetime(2026, 11, 30, 10, 0))


def test_a_week_with_no_open_day_is_a_config_error(settings: HoursSettings) -> None:
    with pytest.raises(ConfigError, match="never open"):
        OpeningHours(dataclasses.replace(settings, week=(None,) * 7))


def test_a_year_of_closed_days_is_a_config_error_not_an_endless_loop(settings: HoursSettings) -> None:
    start = date(2026, 1, 1)
    year = frozenset(start + timedelta(days=n) for n in range(800))
    hours = OpeningHours(dataclasses.replace(settings, closed_days=year))
    with pytest.raises(ConfigError, match="closed_days"):
        hours.next_open(cph(2026, 1, 1, 9, 0))


def test_an_unknown_holiday_country_is_a_config_error(settings: HoursSettings) -> None:
    with pytest.raises(ConfigError, match="holidays_country"):
        OpeningHours(dataclasses.replace(settings, holidays_country="XX"))


def test_hours_that_span_the_dst_gap_are_measured_in_real_time(settings: HoursSettings) -> None:
    # A night shift 01:00-05:00 every day: on 29 March it lasts three real hours, not four.
    night = (time(1, 0), time(5, 0))
    hours = OpeningHours(dataclasses.replace(settings, week=(night,) * 7, holidays_country=""))
    closes = hours.closes(cph(2026, 3, 29, 1, 30))
    assert closes is not None
    assert closes.astimezone(UTC) - cph(2026, 3, 29, 1, 0).astimezone(UTC) == timedelta(hours=3)
    assert hours.is_open(datetime(2026, 3, 29, 1, 30, tzinfo=UTC))  # 03:30 summer time
    assert not hours.is_open(datetime(2026, 3, 29, 3, 0, tzinfo=UTC))  # 05:00 summer time
