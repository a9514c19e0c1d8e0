"""Reading a rota request's period from a technician's words: the dates they mean, or none."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dialogs.rota_requests import Ask, rota_request

CPH = ZoneInfo("Europe/Copenhagen")
WEDNESDAY_9_DECEMBER = datetime(2026, 12, 9, 10, 0, tzinfo=CPH)


def period(said: str) -> tuple[str, str] | None:
    request = rota_request(said, now=WEDNESDAY_9_DECEMBER, zone=CPH)
    assert request is not None and request.ask in (Ask.OFFER, Ask.TAKE)
    if request.start is None or request.end is None:
        return None
    return request.start.strftime("%Y-%m-%d %H:%M"), request.end.strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("kan nogen tage min vagt lørdag 8.00 til søndag 8.00?", ("2026-12-12 08:00", "2026-12-13 08:00")),
        ("jeg tager vagten fredag den 11. december 15.00 til mandag 8.00", ("2026-12-11 15:00", "2026-12-14 08:00")),
        ("jeg tager vagten 5. januar 8.00 til 16.00", ("2027-01-05 08:00", "2027-01-05 16:00")),
        ("i'll take tuesday 5 january 8:00 to 16:00", ("2027-01-05 08:00", "2027-01-05 16:00")),
        # Just past: this year's, so the technician hears that the period is over, not a date a year on.
        ("jeg tager vagten mandag den 7. december 8.00 til 9.00", ("2026-12-07 08:00", "2026-12-07 09:00")),
        ("jeg tager vagten 7. december 8.00 til 9.00", ("2026-12-07 08:00", "2026-12-07 09:00")),
    ],
)
def test_the_period_is_the_one_the_technician_means(said: str, expected: tuple[str, str]) -> None:
    assert period(said) == expected


@pytest.mark.parametrize(
    "said",
    [
        "jeg tager vagten onsdag den 7. december 8.00 til 9.00",  # a Monday in 2026, a Tuesday in 2027
        "jeg tager vagten mandag den 31. februar 8.00 til 9.00",
        "kan nogen tage min vagt 12/13 8.00 til 9.00",
    ],
)
def test_a_weekday_that_does_not_fit_its_date_or_an_impossible_date_is_not_guessed(said: str) -> None:
    assert period(said) is None
