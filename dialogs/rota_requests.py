"""What a technician (or an employee) asks about the rota in chat, read from their words.

"hvem har vagten?", "/support vagt", "send en testside", "kan nogen tage min vagt lørdag 8.00 til
søndag 8.00?", "jeg tager vagten fredag 15.00 til mandag 8.00", in Danish or English. Pure: the
moment and the time zone come in as arguments, so "lørdag" is the coming Saturday.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.text import tidy

MAX_REQUEST = 120  # longer messages are descriptions of a problem, not rota questions
# A date this long ago means this year's (a slip, told it is over); longer ago, next year's ("5. januar" in December).
RECENT = timedelta(days=31)


class Ask(StrEnum):
    WHO = "who"
    TEST_PAGE = "test_page"
    OFFER = "offer"  # hand a period over: offered to the other technicians
    TAKE = "take"  # take a period directly


@dataclass(frozen=True)
class RotaRequest:
    ask: Ask
    start: datetime | None = None  # OFFER and TAKE: the period, None when it could not be read
    end: datetime | None = None


_WHO = re.compile(
    r"^(?:vagt|vagten|vagtplan|vagtplanen|oncall|on-call|on call|rota"
    r"|hvem har vagt(?:en)?(?: nu)?|hvem er på vagt(?: nu)?|hvem har vagten i (?:nat|aften|dag|weekenden)"
    r"|who(?:'s| is) on(?: |-)?call(?: now)?|who has the pager)\??$"
)
_TEST = re.compile(r"^(?:send (?:mig )?en testside|testside|send (?:me )?a test page|test ?page)\??$")
_OFFER = re.compile(
    r"\b(?:kan nogen tage|vil nogen tage|kan en af jer tage|byt(?:te)? vagt|can (?:someone|anyone|somebody) take"
    r"|could (?:someone|anyone|somebody) take|swap (?:my )?shift)\b"
)
_TAKE = re.compile(r"^(?:jeg tager|i'll take|i will take|i take)\b")
_DAYS = {
    "mandag": 0, "tirsdag": 1, "onsdag": 2, "torsdag": 3, "fredag": 4, "lørdag": 5, "søndag": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
}  # fmt: skip
_RELATIVE = {"i dag": 0, "today": 0, "i morgen": 1, "tomorrow": 1, "i overmorgen": 2}
_MONTHS = {
    **{m: i for i, m in enumerate(("januar", "februar", "marts", "april", "maj", "juni", "juli", "august",
                                   "september", "oktober", "november", "december"), start=1)},
    **{m: i for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                   "september", "october", "november", "december"), start=1)},
}  # fmt: skip
_DAY = (
    rf"(?:(?:{'|'.join(_DAYS)})(?: den)?(?: \d{{1,2}}\.? ?(?:{'|'.join(_MONTHS)})| \d{{1,2}}/\d{{1,2}})?"
    rf"|{'|'.join(_RELATIVE)}|\d{{1,2}}\.? ?(?:{'|'.join(_MONTHS)})|\d{{1,2}}/\d{{1,2}})"
)
_TIME = r"(?:kl\.? ?|at )?\d{1,2}(?:[.:]\d{2})?"
_PERIOD = re.compile(
    rf"(?:fra |from )?(?P<d1>{_DAY}) (?P<t1>{_TIME}) ?(?:til|-|–|to|until) ?(?:(?P<d2>{_DAY}) )?(?P<t2>{_TIME})\b"
)


def rota_request(said: str, *, now: datetime, zone: ZoneInfo) -> RotaRequest | None:
    """The rota request `said` is, or None when it is something else (a problem, a case question)."""
    norm = tidy(said)
    if not norm or len(norm) > MAX_REQUEST:
        return None
    if _WHO.match(norm):
        return RotaRequest(Ask.WHO)
    if _TEST.match(norm):
        return RotaRequest(Ask.TEST_PAGE)
    ask = Ask.OFFER if _OFFER.search(norm) else Ask.TAKE if _TAKE.search(norm) else None
    if ask is None:
        return None
    period = _period(norm, now.astimezone(zone), zone)
    return RotaRequest(ask, *period) if period else RotaRequest(ask)


def _period(norm: str, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    found = _PERIOD.search(norm)
    if found is None:
        return None
    try:
        start_day = _day(found["d1"], now.date())
        start = datetime.combine(start_day, _time(found["t1"]), tzinfo=zone)
        if found["d1"] in _DAYS and start < now - timedelta(hours=12):
            start += timedelta(days=7)  # "lørdag" said on a Sunday: the coming Saturday
        end_day = _day(found["d2"], start.date()) if found["d2"] else start.date()
        end = datetime.combine(end_day, _time(found["t2"]), tzinfo=zone)
    except ValueError:
        return None
    while end <= start:  # "fredag 16.00 til 8.00", "lørdag 8.00 til lørdag 8.00": the next such moment
        end += timedelta(days=1)
    return start, end


def _day(word: str, after: date) -> date:
    """The date `word` names: a weekday on or after `after`; a date in `after`'s year, or the next year's
    when this year's is more than `RECENT` ago. A weekday with a date must match it ("mandag den 7.
    december" is the Monday, also when it has just passed, so the technician is told it is over)."""
    word = word.replace(" den ", " ")
    if word in _RELATIVE:
        return after + timedelta(days=_RELATIVE[word])
    first = word.split()[0]
    weekday = _DAYS.get(first)
    rest = word.removeprefix(first).strip() if weekday is not None else word
    if not rest:
        return after + timedelta(days=(_DAYS[first] - after.weekday()) % 7)
    numbers = re.match(r"(\d{1,2})\.? ?(\w+)$|(\d{1,2})/(\d{1,2})$", rest)
    if numbers is None:
        raise ValueError(word)
    if numbers[3]:
        day, month = int(numbers[3]), int(numbers[4])
    else:
        day, month = int(numbers[1]), _MONTHS[numbers[2]]
    this_year, next_year = date(after.year, month, day), date(after.year + 1, month, day)
    likely = (this_year, next_year) if this_year >= after - RECENT else (next_year, this_year)
    matching = [d for d in likely if weekday is None or d.weekday() == weekday]
    if not matching:
        raise ValueError(f"{word}: not that weekday in {after.year} or {after.year + 1}")
    return matching[0]


def _time(word: str) -> time:
    digits = re.sub(r"^(?:kl\.? ?|at )", "", word)
    hours, _, minutes = digits.replace(":", ".").partition(".")
    return time(int(hours), int(minutes or 0))
