"""The on-call shifts as an RFC 5545 calendar that technicians subscribe to in Outlook, Google or Apple Calendar.

Events are in office time with a TZID and the VTIMEZONE that defines it, so a shift from Monday
8.00 stays 8.00 on both sides of a daylight-saving change. A shift's UID is its role and its start,
which do not change from one fetch to the next, so a subscribed calendar updates an event (for
instance when an override gives the week to someone else) instead of showing it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vDuration

from bot.config import Technician
from bot.i18n import text
from bot.oncall.shifts import Shift

REFRESH = timedelta(hours=1)  # the refresh hint; the HTTP cache lifetime is shorter
PRODUCT = "-//OneOffice//supportbot on-call calendar//EN"
UID_DOMAIN = "oncall.supportbot"
_Say = Callable[..., str]


def calendar_feed(
    shifts: Sequence[Shift], *, technician: Technician | None, language: str, zone_name: str, now: datetime
) -> bytes:
    """The calendar of `shifts`: every one when `technician` is None, else only that technician's.

    Args:
        shifts: the rota's shifts, both roles (the other role names the partner in each description).
        technician: whose feed this is; None for the whole rota, where each summary names the technician.
        language: catalog language of the summaries and descriptions.
        zone_name: the office's time zone (its VTIMEZONE is included).
        now: the moment of the fetch (DTSTAMP).
    """

    def say(key: str, **params: object) -> str:
        return text(f"oncall.calendar.{key}", language, **params)

    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    name = say("name_of", name=technician.name) if technician else say("name")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", zone_name)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))  # Outlook's older name for it
    mine = [s for s in shifts if technician is None or s.technician.id == technician.id]
    for shift in mine:
        event = Event()
        event.add("uid", shift_uid(shift))
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        if technician is None:
            event.add("summary", say(f"{shift.role}_of", name=shift.technician.name))
        else:
            event.add("summary", say(shift.role))
        event.add("description", _description(shift, shifts, say))
        event.add("transp", "TRANSPARENT")  # being on call does not make anyone busy in free/busy searches
        calendar.add_component(event)
    if mine:
        first = min(s.start for s in mine).date() - timedelta(days=1)
        last = max(s.end for s in mine).date() + timedelta(days=1)
        calendar.add_missing_timezones(first_date=first, last_date=last)
    return calendar.to_ical()


def shift_uid(shift: Shift) -> str:
    """The shift's name across fetches: its role and start (one role has one shift starting at a moment)."""
    return f"{shift.role}-{shift.start.astimezone(UTC):%Y%m%dT%H%M%SZ}@{UID_DOMAIN}"


def _description(shift: Shift, shifts: Sequence[Shift], say: _Say) -> str:
    """Who holds the other role during the shift, and whether an override changed it."""
    partners: list[str] = []
    for other in shifts:
        overlaps = other.start < shift.end and shift.start < other.end
        if other.role != shift.role and overlaps and other.technician.name not in partners:
            partners.append(other.technician.name)
    lines = [say(f"{shift.role}_partner", name=", ".join(partners)) if partners else say("no_partner")]
    if shift.changed:
        lines.append(say("changed"))
    return "\n".join(lines)
