"""The numbered support cases, kept with TinyDB in `<data>/cases/`.

Why this layout. Plain TinyDB rewrites its whole JSON file on every insert, so one file of 100,000
cases costs about a second per new case. Here the cases live in *shards*: one small TinyDB file per
block of `SHARD_SIZE` (100) consecutive numbers, `cases/00010000.json` holding 10000-10099, with the
case number as TinyDB's doc_id. Numbers only grow, so a create rewrites at most 100 cases, whatever
the total (see `benchmarks/bench_case_store.py`). Every create and update is exactly one atomic,
fsynced file write, so there is no second file a crash could leave out of step with the cases.

Numbers are unique, gapless and never reused: one writer process owns the data folder (the
engine's folder lock) and a thread lock serializes its callers. `.high` records the highest number
handed out before its case is written, so a case deleted by hand never gets its number reused and
a crash between the two can at most skip a number. A reader (the operator's `cases` command beside
a running server) takes no lock: every file it reads was renamed into place whole.

A damaged shard is never overwritten: `get()` of a number in it raises `StorageError`, `find()`
leaves it out and reports it in `problems()`, and new cases continue in the next block.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar, Unpack

from tinydb import TinyDB
from tinydb.table import Document, Table

from adapters.storage.embedded.case_index import Summaries
from adapters.storage.embedded.files import (
    AtomicJSONStorage,
    CorruptFileError,
    load_json_file,
    make_folder,
    remove_leftover_temp_files,
    write_failure,
)
from bot.cases import Case, CaseEvent, CaseStatus, NewCase
from bot.errors import CaseNotFoundError, StorageError, StorageFullError
from bot.ports import Announcer, CaseFilters, Outbox, VersionConflict

logger = logging.getLogger(__name__)

SHARD_SIZE = 100
TABLE = "cases"
HIGH_FILE = ".high"
# Parsed shards kept in memory (the newest one is the hot one). Each holds ~4,000 objects the garbage
# collector walks; the open cases the bot looks at again are in the HOT_CASES cache anyway.
OPEN_SHARDS = 8
HOT_CASES = 512  # parsed open cases kept in memory, least recently used dropped first
_FIXED_FIELDS = frozenset({"number", "created_at", "history"})
T = TypeVar("T")


class CaseStore:
    """Sync, thread-safe and durable: a case is fsynced on disk before `create()` returns its number.

    Args:
        folder: the store's own folder (`<data dir>/cases`).
        first_number: the first number handed out; numbers then only increase.
        read_only: for a reader beside the running bot: no lock, no writes.
    """

    def __init__(self, folder: Path, *, first_number: int = 10001, read_only: bool = False) -> None:
        self.folder = Path(folder)
        self.first_number = first_number
        self.read_only = read_only
        self._thread_lock = threading.Lock()
        self._closed = False
        self._shards: OrderedDict[int, TinyDB] = OrderedDict()
        self._summaries: Summaries | None = None
        # Parsed cases that are not closed, most recently used last: what the bot looks at over and over.
        self._hot: OrderedDict[int, Case] = OrderedDict()
        self._damaged: dict[Path, str] = {}
        self._high_fd = -1
        if not read_only:
            make_folder(self.folder)
            remove_leftover_temp_files(self.folder)
            try:
                self._high_fd = os.open(self.folder / HIGH_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise write_failure(self.folder / HIGH_FILE, exc, "open") from None
        self._last = max(self._recorded_high(), self._highest_on_disk())

    def create(self, new: NewCase, *, now: datetime) -> Case:
        """Give `new` the next number and store it; returns only once the case is fsynced on disk."""
        if not isinstance(new.description, str) or not new.description.strip():
            raise ValueError("a case needs a description; ask the reporter what is wrong first")
        if now.tzinfo is None:
            raise ValueError("`now` must be timezone-aware")
        with self._locked(writing=True):
            number = max(self._last + 1, self.first_number)
            while True:
                case = Case.from_new(new, number=number, created_at=now)
                doc = case.to_dict()
                self._record_high(number)
                self._last = number  # used from now on, even if the write below fails
                try:
                    self._table(number).insert(Document(doc, doc_id=number))
                    break
                except CorruptFileError as exc:
                    # Leave the damaged shard for the operator and carry on in the next block.
                    logger.error("case %s skipped: %s", number, exc)
                    number = (number // SHARD_SIZE + 1) * SHARD_SIZE
                except StorageFullError:
                    self._give_back(number)
                    raise
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

    def update(self, number: int, event: CaseEvent, *, expected_version: int | None = None, **changes: Any) -> Case:
        """Append `event` to the case's history and change the given fields, durably (see `bot.ports.Cases`)."""
        return self.change(number, event, expected_version=expected_version, **changes)[1]

    def change(
        self, number: int, event: CaseEvent, *, expected_version: int | None = None, **changes: Any
    ) -> tuple[Case, Case]:
        """`update`, returning the case as it was before and as it is now."""
        fixed = _FIXED_FIELDS & changes.keys()
        if fixed:
            raise ValueError(f"a case's {', '.join(sorted(fixed))} cannot be changed")
        if "status" in changes:
            changes["status"] = CaseStatus(changes["status"])
        with self._locked(writing=True):
            table = self._table(number)
            raw = table.get(doc_id=number)
            if raw is None:
                raise CaseNotFoundError(f"no case has number {number}")
            case = self._parse(number, raw)
            if expected_version is not None and case.version != expected_version:
                raise VersionConflict(
                    f"case {number} changed meanwhile (version {case.version}, not {expected_version})"
                )
            before, case = case, case.with_event(event, **changes)
            doc = case.to_dict()
            table.update(doc, doc_ids=[number])
            self._remember(case, doc)
            return before, case

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
            if self._high_fd >= 0:
                os.close(self._high_fd)

    # -- internals -------------------------------------------------------------------------------

    @contextmanager
    def _locked(self, *, writing: bool = False) -> Iterator[None]:
        with self._thread_lock:
            if self._closed:
                raise StorageError(f"{self.folder}: the case store is closed")
            if writing and self.read_only:
                raise StorageError(f"{self.folder}: opened to read only")
            yield

    def _recorded_high(self) -> int:
        try:
            return int(os.pread(self._high_fd, 32, 0).decode("ascii").strip() or 0) if self._high_fd >= 0 else 0
        except (OSError, UnicodeDecodeError, ValueError):
            return 0

    def _record_high(self, high: int) -> None:
        # One small pwrite is all-or-nothing for a killed process; after a power cut the shards still rule.
        try:
            os.pwrite(self._high_fd, f"{high}".ljust(31).encode("ascii") + b"\n", 0)
        except OSError as exc:
            raise write_failure(self.folder / HIGH_FILE, exc, "write") from None

    def _give_back(self, number: int) -> None:
        """The disk had no room for case `number`: hand the number out again, unless the write got as far as
        renaming the shard into place (only its folder's fsync failed), so a full disk leaves no gaps."""
        try:
            written = self._table(number).get(doc_id=number) is not None  # the failed write dropped the cache
        except StorageError:
            written = True  # cannot tell: keep the number used
        if not written:
            self._last = number - 1

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
        if not self.folder.is_dir():
            return []
        paths = (p for p in self.folder.glob("*.json") if p.stem.isdigit())
        return sorted(paths, key=lambda p: int(p.stem))

    def _highest_on_disk(self) -> int:
        if not self.folder.is_dir():
            return 0
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

    def _index(self) -> Summaries:
        if self._summaries is None:
            summaries = Summaries()
            for path in self._shard_paths():
                try:
                    data = load_json_file(path) or {}
                except CorruptFileError as exc:
                    logger.error("%s", exc)
                    self._damaged[path] = str(exc)
                    continue
                try:
                    shard = sorted(map(Summaries.row, (data.get(TABLE) or {}).values()), key=itemgetter(0))
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
            self._summaries.put(*Summaries.row(doc))
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


class EmbeddedCases:
    """The case store for the event loop: every call runs on one dedicated worker thread.

    The loop never waits on disk, and writes are serialized in the order they were made.
    """

    def __init__(self, store: CaseStore, *, announce: Announcer | None = None, outbox: Outbox | None = None) -> None:
        self.store = store
        self._announce = announce
        self._outbox = outbox
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
        case = await self._run(self.store.create, new, now=now)
        await self._tell(None, case)
        return case

    async def get(self, number: int) -> Case | None:
        return await self._run(self.store.get, number)

    async def update(
        self, number: int, event: CaseEvent, *, expected_version: int | None = None, **changes: Any
    ) -> Case:
        before, case = await self._run(self.store.change, number, event, expected_version=expected_version, **changes)
        await self._tell(before, case)
        return case

    async def _tell(self, before: Case | None, case: Case) -> None:
        """Enqueue what the change sends out, before the caller hears that it is made.

        The case file and the outbox are two files here, so a crash between the two writes (a few
        milliseconds) can lose the message; a database engine does both in one transaction. An outbox
        that cannot be written is logged and does not undo the change the caller has made.
        """
        if self._announce is None or self._outbox is None:
            return
        messages = self._announce(before, case)
        if not messages:
            return
        try:
            await self._outbox.enqueue(messages, now=case.history[-1].at)
        except StorageError:
            logger.exception("case %s: its messages to other systems could not be stored", case.number)

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
