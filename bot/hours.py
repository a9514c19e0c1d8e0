"""Normal support hours: when the office is open, when it closes, when it opens next.

Every moment is converted to the office's time zone before the rules are applied, and every
comparison is made in UTC, so input in any zone and the nights when daylight saving changes
give the same answers. Public holidays come from the `holidays` package, never a hand-kept list.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays

from bot.config import HoursSettings
from bot.errors import ConfigError

# Enough to cross any run of closed days a real calendar has (Christmas plus a closed week
# between the holidays is about ten); beyond this the configuration must be wrong.
_SEARCH_DAYS = 400


class OpeningHours:
    """Answers "are we open?" for any timezone-aware moment; results are in the office's time zone."""

    def __init__(self, settings: HoursSettings) -> None:
        if len(settings.week) != 7:
            raise ConfigError(f"[hours] needs opening hours for all 7 weekdays, got {len(settings.week)}")
        if not any(settings.week):
            raise ConfigError(
                "[hours] every weekday is closed, so support would never open; give at least one weekday opening hours"
            )
        self._settings = settings
        self._zone = settings.timezone
        self._holidays: holidays.HolidayBase | None = None
        if settings.holidays_country:
            try:
                self._holidays = holidays.country_holidays(settings.holidays_country)
            except NotImplementedError as exc:
                raise ConfigError(
                    f"[hours.holidays_country] {settings.holidays_country!r} is not a country the holidays package "
                    'knows; use an ISO code such as "DK", or "" for none'
                ) from exc

    def is_open(self, at: datetime) -> bool:
        """Whether `at` falls inside an opening period."""
        return self.closes(at) is not None

    def closes(self, at: datetime) -> datetime | None:
        """The end of the opening period `at` falls in; None when closed at `at`."""
        moment = _utc(at)
        period = self._period(moment.astimezone(self._zone).date())
        if period is not None and period[0] <= moment < period[1]:
            return period[1].astimezone(self._zone)
        return None

    def next_open(self, at: datetime) -> datetime:
        """The start of the first opening period that begins after `at` (when open: the one after this)."""
        moment = _utc(at)
        day = moment.astimezone(self._zone).date()
        for offset in range(_SEARCH_DAYS):
            period = self._period(day + timedelta(days=offset))
            if period is not None and period[0] > moment:
                return period[0].astimezone(self._zone)
        raise ConfigError(
            f"[hours] support is closed for more than {_SEARCH_DAYS} days after {day.isoformat()}; "
            "check hours.closed_days and the weekday hours"
        )

    def _period(self, day: date) -> tuple[datetime, datetime] | None:
        """The opening period of a local calendar day in UTC, or None when closed all day."""
        hours = self._settings.week[day.weekday()]
        closed = day in self._settings.closed_days or (day.month, day.day) in self._settings.closed_every_year
        if hours is None or closed:
            return None
        if self._holidays is not None and day in self._holidays:
            return None
        opens, closes = hours
        start = datetime.combine(day, opens, tzinfo=self._zone)
        end = datetime.combine(day, closes, tzinfo=self._zone)
        return start.astimezone(UTC), end.astimezone(UTC)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"opening hours need a timezone-aware moment, got the naive {at.isoformat()}")
    return at.astimezone(UTC)
