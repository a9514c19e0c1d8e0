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
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

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
OPEN_SHARDS = 32  # parsed shards kept in memory (the newest one is the hot one)
_LOCK_RECORD = 64
_FIXED_FIELDS = frozenset({"number", "created_at", "history"})
T = TypeVar("T")


@dataclass(frozen=True)
class _Summary:
    """What `find()` filters on, for every case, without loading the case."""

    number: int
    created_at: datetime
    status: CaseStatus
    reporter: tuple[str, str, str]
    customer: str
    category: Category

    @classmethod
    def of(cls, raw: dict[str, Any]) -> _Summary:
        reporter = raw["reporter"]
        return cls(
            number=int(raw["number"]),
            created_at=datetime.fromisoformat(raw["created_at"]),
            status=CaseStatus(raw["status"]),
            reporter=(reporter["platform"], reporter["workspace"], reporter["user_id"]),
            customer=raw["customer"]["name"],
            category=Category(raw["category"]),
        )


class _Summaries:
    """All case summaries, with the two lookups the bot makes often: open cases, one reporter's cases."""

    def __init__(self) -> None:
        self.all: dict[int, _Summary] = {}
        self.open: set[int] = set()
        self.by_reporter: dict[tuple[str, str, str], set[int]] = {}

    def put(self, summary: _Summary) -> None:
        self.all[summary.number] = summary
        self.by_reporter.setdefault(summary.reporter, set()).add(summary.number)
        if summary.status.closed:
            self.open.discard(summary.number)
        else:
            self.open.add(summary.number)


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
        self._hot: dict[int, Case] = {}  # parsed cases that are not closed: what the bot looks at over and over
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

    def find(
        self,
        *,
        status: CaseStatus | None = None,
        open_only: bool = False,
        customer: str | None = None,
        reporter: tuple[str, str, str] | None = None,
        category: Category | None = None,
        since: datetime | None = None,
    ) -> list[Case]:
        """The cases matching every given filter, newest first. Cases in damaged files are left out."""
        with self._locked():
            summaries = self._index()
            if reporter is not None:
                candidates: set[int] | dict[int, _Summary] = summaries.by_reporter.get(tuple(reporter), set())
            elif open_only:
                candidates = summaries.open
            else:
                candidates = summaries.all
            tests: list[Callable[[_Summary], bool]] = []
            if status is not None:
                tests.append(lambda s: s.status == status)
            if open_only:
                tests.append(lambda s: not s.status.closed)
            if customer is not None:
                tests.append(lambda s: s.customer == customer)
            if category is not None:
                tests.append(lambda s: s.category == category)
            if since is not None:
                tests.append(lambda s: s.created_at >= since)
            numbers = sorted(
                (n for n in candidates if all(test(summaries.all[n]) for test in tests)),
                reverse=True,
            )
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
                    shard = [_Summary.of(raw) for raw in (data.get(TABLE) or {}).values()]
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    problem = CorruptFileError(path, f"a case in it is incomplete: {exc!r}")
                    logger.error("%s", problem)
                    self._damaged[path] = str(problem)
                    continue
                for summary in shard:
                    summaries.put(summary)
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
            self._summaries.put(_Summary.of(doc))
        if case.status.closed:
            self._hot.pop(case.number, None)
        else:
            self._hot[case.number] = case

    def _load_quietly(self, number: int) -> Case | None:
        if number in self._hot:
            return self._hot[number]
        try:
            raw = self._table(number).get(doc_id=number)
        except CorruptFileError as exc:  # damaged since the index was built
            self._damaged[exc.path] = str(exc)
            return None
        if raw is None:
            return None
        case = self._parse(number, raw)
        if not case.status.closed:
            self._hot[number] = case
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

    async def find(
        self,
        *,
        status: CaseStatus | None = None,
        open_only: bool = False,
        customer: str | None = None,
        reporter: tuple[str, str, str] | None = None,
        category: Category | None = None,
        since: datetime | None = None,
    ) -> list[Case]:
        return await self._run(
            self.store.find,
            status=status,
            open_only=open_only,
            customer=customer,
            reporter=reporter,
            category=category,
            since=since,
        )

    async def problems(self) -> list[str]:
        return await self._run(self.store.problems)

    async def close(self) -> None:
        """Finish the calls already queued, then close the store."""
        if self._closed:
            return
        await self._run(self.store.close)
        self._closed = True
        self._worker.shutdown(wait=False)
