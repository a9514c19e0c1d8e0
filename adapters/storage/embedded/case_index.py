"""The in-memory summary of every case that `find()` filters on, kept in columns.

Machine-integer `array`s (one slot per case; each customer name and reporter stored once) rather
than one object per case: 100,000 cases cost a few MB instead of some 60 MB, and the garbage
collector has nothing per case to walk. A running maximum of the creation times makes `since=` a
binary search, so the duplicate check and the on-call sweep look only at recent cases. Derived
data: built from the case files on the first `find()`, never written, never stale after a crash.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, insort
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from bot.cases import CaseStatus
from bot.categories import Category

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Statuses and categories as small codes (their position here); `bytes` indexed by code say if it is open.
_STATUSES = tuple(CaseStatus)
_STATUS_CODES = {status: code for code, status in enumerate(_STATUSES)}
_IS_OPEN = bytes(not status.closed for status in _STATUSES)
_CATEGORY_CODES = {category: code for code, category in enumerate(Category)}


def _micros(moment: datetime) -> int:
    """Microseconds since 1970 UTC: exact, and orders like the aware datetimes it stands for."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone")
    return (moment - _EPOCH) // _MICROSECOND


class Summaries:
    """What `find()` filters on, for every case, without loading the case: one column per field.

    Position i of every column describes case `numbers[i]`; `numbers` is ascending. Columns are
    `array`s and `bytearray`s of machine integers, so no Python object exists per case (only an
    `int` per open case, in `open`) and the garbage collector has nothing to walk; a customer name
    or reporter is stored once and referred to by its position in `customers` or `reporters`.
    Besides the columns: the numbers of the cases that are not closed (`open`) and the numbers of
    each reporter's cases, the two lookups the bot makes in conversations, and `newest_so_far[i]`,
    the latest creation time among positions 0..i, which lets `since=` skip by binary search every
    case created before it (all of them when the clock never went back, as creation times then grow
    with the numbers).
    """

    def __init__(self) -> None:
        self.numbers = array("q")
        self.created = array("q")  # microseconds since 1970 UTC
        self.newest_so_far = array("q")  # running maximum of `created`
        self.status = bytearray()  # code in _STATUSES
        self.category = bytearray()  # code in _CATEGORY_CODES
        self.customer = array("I")  # position in `customers`
        self.reporter = array("I")  # position in `reporters`
        self.customers: list[str] = []
        self.customer_codes: dict[str, int] = {}
        self.reporters: list[tuple[str, str, str]] = []
        self.reporter_codes: dict[tuple[str, str, str], int] = {}
        self.by_reporter: list[array[int]] = []  # ascending case numbers, by reporter code
        self.open: set[int] = set()

    @staticmethod
    def row(raw: dict[str, Any]) -> tuple[int, int, int, str, tuple[str, str, str], int]:
        """(number, created, status, customer, reporter, category) of a stored case; raises if incomplete."""
        reporter = raw["reporter"]
        platform, workspace, user = reporter["platform"], reporter["workspace"], reporter["user_id"]
        customer = raw["customer"]["name"]
        if not all(isinstance(value, str) for value in (platform, workspace, user, customer)):
            raise TypeError("the reporter and the customer name must be text")
        number = int(raw["number"])
        if not 0 <= number < 2**63:
            raise ValueError(f"{number} is not a case number")
        return (
            number,
            _micros(datetime.fromisoformat(raw["created_at"])),
            _STATUS_CODES[CaseStatus(raw["status"])],
            customer,
            (platform, workspace, user),
            _CATEGORY_CODES[Category(raw["category"])],
        )

    def put(
        self, number: int, created: int, status: int, customer: str, who: tuple[str, str, str], category: int
    ) -> None:
        """Add a case, or replace what is known of one."""
        customer_code = self.customer_codes.get(customer)
        if customer_code is None:
            customer_code = self.customer_codes[customer] = len(self.customers)
            self.customers.append(customer)
        reporter_code = self.reporter_codes.get(who)
        if reporter_code is None:
            reporter_code = self.reporter_codes[who] = len(self.reporters)
            self.reporters.append(who)
            self.by_reporter.append(array("q"))
        at = bisect_left(self.numbers, number)
        if at < len(self.numbers) and self.numbers[at] == number:  # an update
            if self.reporter[at] != reporter_code:  # reassigned to someone else
                self.by_reporter[self.reporter[at]].remove(number)
                insort(self.by_reporter[reporter_code], number)
            self.status[at], self.category[at] = status, category
            self.customer[at], self.reporter[at] = customer_code, reporter_code
            if self.created[at] != created:
                self.created[at] = created
                self._recount_newest(at)
        elif at == len(self.numbers):  # a new case: the usual way, as numbers only grow
            self._insert(at, number, created, status, customer_code, reporter_code, category)
            self.newest_so_far.append(max(created, self.newest_so_far[-1]) if at else created)
            self.by_reporter[reporter_code].append(number)
        else:  # found in a shard out of order (moved by hand)
            self._insert(at, number, created, status, customer_code, reporter_code, category)
            self.newest_so_far.insert(at, created)
            self._recount_newest(at)
            insort(self.by_reporter[reporter_code], number)
        if _IS_OPEN[status]:
            self.open.add(number)
        else:
            self.open.discard(number)

    def select(
        self,
        *,
        status: CaseStatus | None = None,
        open_only: bool = False,
        customer: str | None = None,
        reporter: tuple[str, str, str] | None = None,
        category: Category | None = None,
        since: datetime | None = None,
    ) -> list[int]:
        """The numbers of the cases matching every given filter, newest first."""
        wanted_status = wanted_customer = wanted_reporter = wanted_category = -1
        if status is not None and (wanted_status := _STATUS_CODES.get(status, -1)) < 0:
            return []
        if customer is not None and (wanted_customer := self.customer_codes.get(customer, -1)) < 0:
            return []
        if reporter is not None and (wanted_reporter := self.reporter_codes.get(tuple(reporter), -1)) < 0:
            return []
        if category is not None and (wanted_category := _CATEGORY_CODES.get(category, -1)) < 0:
            return []
        start = 0 if since is None else bisect_left(self.newest_so_far, _micros(since))
        wanted_created = -(2**63) if since is None else _micros(since)
        # Look only at the smallest of: the reporter's cases, the cases since `since`, the open cases.
        choices: list[tuple[int, Iterable[int]]] = [(len(self.numbers) - start, range(start, len(self.numbers)))]
        if wanted_reporter >= 0:
            mine = self.by_reporter[wanted_reporter]
            choices.append((len(mine), map(self._position, mine)))
        if open_only or (wanted_status >= 0 and _IS_OPEN[wanted_status]):
            choices.append((len(self.open), map(self._position, self.open)))
        positions = min(choices, key=itemgetter(0))[1]
        numbers, created, states = self.numbers, self.created, self.status
        found = [
            numbers[at]
            for at in positions
            if created[at] >= wanted_created
            and (not open_only or _IS_OPEN[states[at]])
            and (wanted_status < 0 or states[at] == wanted_status)
            and (wanted_customer < 0 or self.customer[at] == wanted_customer)
            and (wanted_reporter < 0 or self.reporter[at] == wanted_reporter)
            and (wanted_category < 0 or self.category[at] == wanted_category)
        ]
        found.sort(reverse=True)
        return found

    def _position(self, number: int) -> int:
        return bisect_left(self.numbers, number)

    def _insert(
        self, at: int, number: int, created: int, status: int, customer: int, reporter: int, category: int
    ) -> None:
        self.numbers.insert(at, number)
        self.created.insert(at, created)
        self.status.insert(at, status)
        self.customer.insert(at, customer)
        self.reporter.insert(at, reporter)
        self.category.insert(at, category)

    def _recount_newest(self, start: int) -> None:
        newest = self.newest_so_far[start - 1] if start else self.created[0]
        for at in range(start, len(self.numbers)):
            newest = max(newest, self.created[at])
            self.newest_so_far[at] = newest
