"""The numbered support cases, kept with TinyDB in the data folder.

Why this layout. Plain TinyDB rewrites its whole JSON file on every insert, so one file of
100,000 cases costs about a second per new case. Here the cases live in *shards*: one small
TinyDB file per block of `SHARD_SIZE` (100) consecutive numbers, `cases/00010000.json` holding
10000-10099, with the case number as TinyDB's doc_id. Numbers only grow, so a new case always
lands in the newest shard and a create rewrites at most 100 cases, whatever the total: the cost
stays flat from 1,000 to 100,000 cases (see `benchmarks/bench_case_store.py`). Every create and
update is exactly one atomic, fsynced file write (`bot.storage.AtomicJSONStorage`), so there is
no second file (index, counter) that a crash could leave out of step with the cases.

Lookups across all cases (an employee's open cases, duplicates within the last half hour, the
operator's list) use an in-memory summary of every case (status, reporter, customer, category,
time), built from the shards on the first `find()` and kept up to date by this store. It is
derived data, so it is never written and can never be stale after a crash. Building it reads
every shard once (about a second per 100,000 cases); `get()` and `create()` never need it.

The summary is kept in columns (`array`s of machine integers, one slot per case; each customer name
and reporter stored once) rather than as one object per case: 100,000 cases cost a few MB instead
of some 60 MB, and the garbage collector has nothing per case to walk (a full collection over 100,000
dataclass summaries took 70 ms, and every such pause stalls the event loop). A running maximum of the
creation times makes `since=` a binary search, so the duplicate check and the on-call sweep look only
at recent cases. Parsed open cases are cached too, but only the `HOT_CASES` used most recently.

Numbers are unique, increasing and never reused, also across processes that share the folder:
every operation holds an exclusive `flock` on `cases/.lock`, which also records a generation
counter and the highest number ever handed out. A process that sees another's generation drops
its caches and re-reads the newest shard; the recorded high-water mark keeps a number from being
handed out again even if the newest cases were deleted by hand. Within a process a thread lock
serializes callers. A number is recorded as used before its case is written, so a crash between
the two can at most skip a number, never repeat one.

A damaged shard is never overwritten: `get()` of a number in it raises `StorageError`, `find()`
leaves it out and reports it in `problems()`, and new cases continue in the next block.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
from array import array
from bisect import bisect_left, insort
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Unpack

from tinydb import TinyDB
from tinydb.table import Document, Table

from bot.cases import Case, CaseEvent, CaseStatus, NewCase
from bot.categories import Category
from bot.errors import CaseNotFoundError, StorageError
from bot.storage import AtomicJSONStorage, CorruptFileError, load_json_file, remove_all_leftover_temp_files

if TYPE_CHECKING:
    from bot.config import Settings

logger = logging.getLogger(__name__)

SHARD_SIZE = 100
TABLE = "cases"
LOCK_FILE = ".lock"
# Parsed shards kept in memory (the newest one is the hot one). Each holds ~4,000 objects the garbage
# collector walks; the open cases the bot looks at again are in the HOT_CASES cache anyway.
OPEN_SHARDS = 8
HOT_CASES = 512  # parsed open cases kept in memory, least recently used dropped first
_LOCK_RECORD = 64
_FIXED_FIELDS = frozenset({"number", "created_at", "history"})
T = TypeVar("T")


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


class _Summaries:
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


class _SharedState:
    """The lock file: an exclusive flock per operation, plus "generation high-water" shared by processes."""

    def __init__(self, path: Path) -> None:
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"{path}: cannot open the case store's lock file ({exc.strerror or exc})") from exc
        self.path = path

    def acquire(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def read(self) -> tuple[int, int]:
        """(generation, highest number handed out); (-1, 0) when the record is missing or damaged."""
        try:
            generation, high = os.pread(self._fd, _LOCK_RECORD, 0).decode("ascii").split()
            return int(generation), int(high)
        except (UnicodeDecodeError, ValueError):
            return -1, 0

    def write(self, generation: int, high: int) -> None:
        # One small pwrite is all-or-nothing for a killed process; after a power cut the shards still rule.
        record = f"{generation} {high}".ljust(_LOCK_RECORD - 1) + "\n"
        os.pwrite(self._fd, record.encode("ascii"), 0)

    def close(self) -> None:
        os.close(self._fd)


class CaseFilters(TypedDict, total=False):
    """What `CaseStore.find` can filter on: every one given must match (`_Summaries.select` applies them)."""

    status: CaseStatus | None
    open_only: bool
    customer: str | None
    reporter: tuple[str, str, str] | None
    category: Category | None
    since: datetime | None


class CaseStore:
    """Sync, thread-safe and durable: a case is fsynced on disk before `create()` returns its number.

    Args:
        folder: the store's own folder (normally `<data dir>/cases`, see `for_settings`).
        first_number: the first number handed out; numbers then only increase.
    """

    def __init__(self, folder: Path, *, first_number: int = 10001) -> None:
        self.folder = Path(folder)
        self.first_number = first_number
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{self.folder}: cannot create the case folder ({exc.strerror or exc})") from exc
        self._thread_lock = threading.Lock()
        self._shared = _SharedState(self.folder / LOCK_FILE)
        self._closed = False
        self._generation: int | None = None
        self._last = 0
        self._shards: OrderedDict[int, TinyDB] = OrderedDict()
        self._summaries: _Summaries | None = None
        # Parsed cases that are not closed, most recently used last: what the bot looks at over and over.
        self._hot: OrderedDict[int, Case] = OrderedDict()
        self._damaged: dict[Path, str] = {}
        with self._locked():
            remove_all_leftover_temp_files(self.folder)

    @classmethod
    def for_settings(cls, settings: Settings) -> CaseStore:
        """The store of a running bot: `<SUPPORTBOT_DATA>/cases`, numbered from `[cases] first_number`."""
        return cls(settings.data_dir / "cases", first_number=settings.cases.first_number)

    def create(self, new: NewCase, *, now: datetime) -> Case:
        """Give `new` the next number and store it; returns only once the case is fsynced on disk."""
        if not isinstance(new.description, str) or not new.description.strip():
            raise ValueError("a case needs a description; ask the reporter what is wrong first")
        if now.tzinfo is None:
            raise ValueError("`now` must be timezone-aware")
        with self._locked():
            number = max(self._last + 1, self.first_number)
            while True:
                case = Case.from_new(new, number=number, created_at=now)
                doc = case.to_dict()
                self._record_write(high=number)
                self._last = number  # used from now on, even if the write below fails
                try:
                    self._table(number).insert(Document(doc, doc_id=number))
                    break
                except CorruptFileError as exc:
                    # Leave the damaged shard for the operator and carry on in the next block.
                    logger.error("case %s skipped: %s", number, exc)
                    number = (number // SHARD_SIZE + 1) * SHARD_SIZE
                except ValueError as exc:  # TinyDB: the doc_id exists. Never overwrite a case.
                    raise StorageError(f"case {number} already exists on disk; it was not overwritten") from exc
            self._remember(case, doc)
            logger.info("case %s created", number)
            return case

    def get(self, number: int) -> Case | None:
        """The case with this number, or None. A damaged shard raises `StorageError`."""
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            return None
        with self._locked():
            raw = self._table(number).get(doc_id=number)
            return None if raw is None else self._parse(number, raw)

    def update(self, number: int, event: CaseEvent, **changes: Any) -> Case:
        """Append `event` to the case's history and change the given fields, durably.

        Raises:
            CaseNotFoundError: no case has this number.
            ValueError: `changes` names a field that never changes (number, created_at, history).
        """
        fixed = _FIXED_FIELDS & changes.keys()
        if fixed:
            raise ValueError(f"a case's {', '.join(sorted(fixed))} cannot be changed")
        if "status" in changes:
            changes["status"] = CaseStatus(changes["status"])
        with self._locked():
            table = self._table(number)
            raw = table.get(doc_id=number)
            if raw is None:
                raise CaseNotFoundError(f"no case has number {number}")
            case = self._parse(number, raw).with_event(event, **changes)
            doc = case.to_dict()
            self._record_write(high=self._last)
            table.update(doc, doc_ids=[number])
            self._remember(case, doc)
            return case

    def find(self, **filters: Unpack[CaseFilters]) -> list[Case]:
        """The cases matching every given filter (see `CaseFilters`), newest first. Cases in damaged files are left out.

        Raises:
            ValueError: `since` has no time zone.
        """
        with self._locked():
            return self._load_all(self._index().select(**filters))

    def find_numbers(self, **filters: Unpack[CaseFilters]) -> list[int]:
        """The numbers `find()` would return, newest first, from the summary alone: no case is read or parsed.

        Cases in files found damaged while building the summary are left out; one damaged later is not
        (`get_many` leaves it out).
        """
        with self._locked():
            return self._index().select(**filters)

    def get_many(self, numbers: Iterable[int]) -> list[Case]:
        """The cases with these numbers, in that order; missing ones and ones in damaged files are left out."""
        with self._locked():
            return self._load_all(n for n in numbers if isinstance(n, int) and not isinstance(n, bool) and n >= 0)

    def _load_all(self, numbers: Iterable[int]) -> list[Case]:
        """The cases with these numbers that can be read, in that order (the lock is held)."""
        return [case for case in map(self._load_quietly, numbers) if case is not None]

    def warm_up(self) -> None:
        """Build the in-memory summary of all cases now rather than on the first `find()`."""
        with self._locked():
            self._index()

    def problems(self) -> list[str]:
        """Damaged case files found so far (their cases are missing from `find()`), one message each."""
        with self._locked():
            self._index()
            return list(self._damaged.values())

    def close(self) -> None:
        with self._thread_lock:
            if self._closed:
                return
            self._closed = True
            self._drop_caches()
            self._shared.close()

    # -- internals -------------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            if self._closed:
                raise StorageError(f"{self.folder}: the case store is closed")
            self._shared.acquire()
            try:
                self._sync()
                yield
            finally:
                self._shared.release()

    def _sync(self) -> None:
        """Catch up with writes made by another process since our last operation."""
        generation, high = self._shared.read()
        if generation == self._generation:
            return
        self._drop_caches()
        self._last = max(high, self._highest_on_disk())
        self._generation = generation

    def _record_write(self, *, high: int) -> None:
        generation = (-1 if self._generation is None else self._generation) + 1
        self._shared.write(generation, max(high, self._last))
        self._generation = generation

    def _drop_caches(self) -> None:
        for db in self._shards.values():
            db.close()
        self._shards.clear()
        self._summaries = None
        self._hot.clear()
        self._damaged.clear()

    def _shard_path(self, block: int) -> Path:
        return self.folder / f"{block * SHARD_SIZE:08d}.json"

    def _shard_paths(self) -> list[Path]:
        """Every shard file, oldest block first."""
        paths = (p for p in self.folder.glob("*.json") if p.stem.isdigit())
        return sorted(paths, key=lambda p: int(p.stem))

    def _highest_on_disk(self) -> int:
        for path in reversed(self._shard_paths()):
            try:
                data = load_json_file(path)
            except CorruptFileError as exc:
                logger.error("%s", exc)
                return int(path.stem) + SHARD_SIZE - 1  # its numbers may have been handed out
            numbers = [int(n) for n in ((data or {}).get(TABLE) or {})]
            if numbers:
                return max(numbers)
        return 0

    def _table(self, number: int) -> Table:
        block = number // SHARD_SIZE
        db = self._shards.get(block)
        if db is None:
            db = TinyDB(self._shard_path(block), storage=AtomicJSONStorage, cache=True)
            self._shards[block] = db
            if len(self._shards) > OPEN_SHARDS:
                self._shards.popitem(last=False)[1].close()
        self._shards.move_to_end(block)
        return db.table(TABLE, cache_size=0)

    def _index(self) -> _Summaries:
        if self._summaries is None:
            summaries = _Summaries()
            for path in self._shard_paths():
                try:
                    data = load_json_file(path) or {}
                except CorruptFileError as exc:
                    logger.error("%s", exc)
                    self._damaged[path] = str(exc)
                    continue
                try:
                    shard = sorted(map(_Summaries.row, (data.get(TABLE) or {}).values()), key=itemgetter(0))
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    problem = CorruptFileError(path, f"a case in it is incomplete: {exc!r}")
                    logger.error("%s", problem)
                    self._damaged[path] = str(problem)
                    continue
                for row in shard:
                    summaries.put(*row)
            self._summaries = summaries
        return self._summaries

    def _parse(self, number: int, raw: dict[str, Any]) -> Case:
        try:
            return Case.from_dict(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # edited by hand, or by a newer version
            path = self._shard_path(number // SHARD_SIZE)
            raise CorruptFileError(path, f"case {number} in it is incomplete: {exc!r}") from exc

    def _remember(self, case: Case, doc: dict[str, Any]) -> None:
        if self._summaries is not None:
            self._summaries.put(*_Summaries.row(doc))
        if case.status.closed:
            self._hot.pop(case.number, None)
        else:
            self._keep_hot(case)

    def _keep_hot(self, case: Case) -> None:
        self._hot[case.number] = case
        self._hot.move_to_end(case.number)
        if len(self._hot) > HOT_CASES:
            self._hot.popitem(last=False)

    def _load_quietly(self, number: int) -> Case | None:
        case = self._hot.get(number)
        if case is not None:
            self._hot.move_to_end(number)
            return case
        try:
            raw = self._table(number).get(doc_id=number)
        except CorruptFileError as exc:  # damaged since the index was built
            self._damaged[exc.path] = str(exc)
            return None
        if raw is None:
            return None
        case = self._parse(number, raw)
        if not case.status.closed:
            self._keep_hot(case)
        return case


class AsyncCaseStore:
    """The case store for the event loop: every call runs on one dedicated worker thread.

    The loop never waits on disk, and writes are serialized in the order they were made.
    """

    def __init__(self, store: CaseStore) -> None:
        self.store = store
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="case-store")
        self._closed = False
        # Read all cases in the background now, so the first employee asking for status does not wait.
        self._worker.submit(self._warm_up)

    def _warm_up(self) -> None:
        try:
            self.store.warm_up()
        except Exception:  # reported again, to the caller, by the first find()
            logger.exception("could not read the cases in %s", self.store.folder)

    async def warm_up(self) -> None:
        """Return once the summary of all cases is built (it is started in the background on creation).

        Raises what building it raised, e.g. `StorageError` when the case folder cannot be read.
        """
        await self._run(self.store.warm_up)

    async def _run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._closed:
            raise StorageError(f"{self.store.folder}: the case store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._worker, partial(call, *args, **kwargs))

    async def create(self, new: NewCase, *, now: datetime) -> Case:
        return await self._run(self.store.create, new, now=now)

    async def get(self, number: int) -> Case | None:
        return await self._run(self.store.get, number)

    async def update(self, number: int, event: CaseEvent, **changes: Any) -> Case:
        return await self._run(self.store.update, number, event, **changes)

    async def find(self, **filters: Unpack[CaseFilters]) -> list[Case]:
        """`CaseStore.find` on the store's worker thread."""
        return await self._run(self.store.find, **filters)

    async def find_numbers(self, **filters: Unpack[CaseFilters]) -> list[int]:
        return await self._run(self.store.find_numbers, **filters)

    async def get_many(self, numbers: Iterable[int]) -> list[Case]:
        return await self._run(self.store.get_many, list(numbers))

    async def problems(self) -> list[str]:
        return await self._run(self.store.problems)

    async def close(self) -> None:
        """Finish the calls already queued, then close the store."""
        if self._closed:
            return
        await self._run(self.store.close)
        self._closed = True
        self._worker.shutdown(wait=False)
