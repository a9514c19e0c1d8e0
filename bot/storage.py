"""Crash-safe JSON files for TinyDB.

TinyDB's own `JSONStorage` rewrites its file in place: a kill in the middle of a write leaves a
half-written file, and an empty or broken file is silently read as an empty database, so the next
write throws the old contents away. `AtomicJSONStorage` instead writes a temporary file in the
same folder, flushes and fsyncs it, renames it over the old file and fsyncs the folder, so the
file on disk is always either the old or the new version. A file that does not parse raises
`CorruptFileError` (a `StorageError`) naming the file; it is never overwritten.

Usage: `TinyDB(path, storage=AtomicJSONStorage)`; dialog state, on-call state and the case store
share it.

`KeyedStore` builds on it for state that is looked up by a string key and changes on every turn
(conversation records, Teams references and cards). One TinyDB file holding all of it would be
parsed on every read and parsed, dumped and fsynced whole on every write, holding the GIL and so
stalling the event loop as the data grows. Instead the documents are spread over `SHARDS` small
TinyDB files by a stable hash of the key, each kept in memory after its first read, so a read never
touches the disk and a write rewrites about 1/32 of the data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tinydb.storages import Storage

from bot.errors import StorageError

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"


class CorruptFileError(StorageError):
    """A data file exists but cannot be loaded (truncated, garbage, empty)."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(
            f"{path}: the data file is damaged ({problem}). Restore it from a backup or move it aside; "
            "the bot will not overwrite it."
        )


def fsync_directory(folder: Path) -> None:
    """Make a rename or a new file in `folder` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, payload: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `payload` so that readers and crashes see the old or the new file, never a mix.

    With `durable` the data and the directory entry are fsynced before returning.
    """
    temp = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        temp.replace(path)
        if durable:
            fsync_directory(path.parent)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise StorageError(f"{path}: cannot write the data file ({exc.strerror or exc}); nothing was changed") from exc


def remove_leftover_temp_files(path: Path) -> None:
    """Delete temporary files of `path` left by writers that were killed (their process is gone)."""
    _remove_leftovers(path.parent, f".{path.name}.*{TEMP_SUFFIX}")


def remove_all_leftover_temp_files(folder: Path) -> None:
    """Delete the temporary files of every data file in `folder` whose writer is gone."""
    _remove_leftovers(folder, f".*{TEMP_SUFFIX}")


def _remove_leftovers(folder: Path, pattern: str) -> None:
    try:
        leftovers = list(folder.glob(pattern))
    except OSError:
        return
    for temp in leftovers:
        pid_text = temp.name[: -len(TEMP_SUFFIX)].rpartition(".")[2]
        if pid_text.isdigit() and not _process_alive(int(pid_text)):
            logger.info("removing the leftover temporary file %s", temp)
            temp.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_json_file(path: Path) -> dict[str, Any] | None:
    """The parsed contents of a TinyDB file; None when it does not exist; `CorruptFileError` when damaged."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"{path}: cannot read the data file ({exc.strerror or exc})") from exc
    if not raw.strip():
        raise CorruptFileError(path, "the file is empty")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptFileError(path, f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(table, dict) for table in data.values()):
        raise CorruptFileError(path, "not a TinyDB database (expected an object of tables)")
    return data


class AtomicJSONStorage(Storage):
    """A TinyDB storage that never leaves a half-written file and never reads a damaged one as empty.

    Args:
        path: the JSON file; created (with its folders) on the first write, not before.
        durable: fsync the file and its folder on every write (turn off only for bulk imports).
        cache: keep the last read or written data in memory and skip re-reading the file. Only for
            a single writer that owns the file (the case store, `KeyedStore`); otherwise changes made
            through another instance would go unseen.
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True, cache: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.durable = durable
        self._use_cache = cache
        self._cached: dict[str, Any] | None = None
        remove_leftover_temp_files(self.path)

    def read(self) -> dict[str, Any] | None:
        if self._cached is not None:
            return self._cached
        data = load_json_file(self.path)
        if self._use_cache:
            self._cached = data
        return data

    def write(self, data: dict[str, Any]) -> None:
        # TinyDB mutates the dict it read before handing it back here: if anything fails, forget it.
        self._cached = None
        try:
            payload = json.dumps(data, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise StorageError(f"{self.path}: the data cannot be stored as JSON: {exc}") from exc
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{self.path.parent}: cannot create the data folder ({exc.strerror or exc})") from exc
        write_atomically(self.path, payload, durable=self.durable)
        if self._use_cache:
            self._cached = data

    def close(self) -> None:
        self._cached = None


SHARDS = 32


class KeyedStore:
    """String-keyed JSON documents in `shards` small TinyDB files, read once and then served from memory.

    A document lives in `<folder>/<NN>-of-<shards>.json`, chosen by a stable hash of its key
    (blake2b, not `hash()`, which changes between runs), under its key as the TinyDB document id.
    Each shard is opened with `AtomicJSONStorage(cache=True)`: **this process must be the only
    writer of the folder** (the bot runs as one process), since changes made by another process
    would go unseen. Every write rewrites one shard atomically and durably before returning.

    Documents are plain JSON: `put` stores a copy as it would come back from disk (tuples become
    lists) and `get` returns a copy, so callers can never change the stored data by accident.

    A damaged shard is never overwritten: every operation on a key in it (and `values`, `count`,
    `check`) raises `CorruptFileError` naming the file, and is retried from the disk next time, so
    the store recovers once the file is restored; keys in other shards keep working. Thread-safe.
    """

    def __init__(self, folder: str | os.PathLike[str], *, table: str, shards: int = SHARDS) -> None:
        self.folder = Path(folder)
        self.table = table
        self.shards = shards
        self._storages: list[AtomicJSONStorage | None] = [None] * shards
        self._lock = threading.Lock()
        self._checked = False
        self._validated = [False] * shards

    def path_of(self, key: str) -> Path:
        """The shard file that holds `key`."""
        return self._path(self._index(key))

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            doc = self._docs(self._index(key)).get(key)
            return _copy(doc) if doc is not None else None

    def put(self, key: str, doc: Mapping[str, Any]) -> None:
        """Store `doc` under `key`, replacing what was there."""
        self.put_many({key: doc})

    def put_many(self, docs: Mapping[str, Mapping[str, Any]]) -> None:
        """Store several documents with one write per shard they touch (bulk imports)."""
        by_shard: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
        for key, doc in docs.items():
            by_shard[self._index(key)][key] = _copy(doc)
        with self._lock:
            for index, new in by_shard.items():
                self._write(index, partial(_add, docs=new))

    def delete(self, key: str) -> bool:
        """Forget `key`; False when it was not there (nothing is written then)."""
        return self.delete_many([key]) == 1

    def delete_many(self, keys: Iterable[str]) -> int:
        """Forget several keys with one write per shard that held any of them; how many were there."""
        by_shard: dict[int, list[str]] = defaultdict(list)
        for key in keys:
            by_shard[self._index(key)].append(key)
        removed = 0
        with self._lock:
            for index, gone in by_shard.items():
                present = [key for key in gone if key in self._docs(index)]
                if present:
                    self._write(index, partial(_remove, keys=present))
                    removed += len(present)
        return removed

    def values(self) -> Iterator[Mapping[str, Any]]:
        """Every document, read-only and not copied (for scans such as pruning); copy what you keep.

        Taken shard by shard: a write made during the scan may or may not be seen by it.
        """
        for index in range(self.shards):
            with self._lock:
                docs = list(self._docs(index).values())
            for doc in docs:
                yield MappingProxyType(doc)

    def count(self) -> int:
        """The number of documents, from memory once every shard has been read."""
        with self._lock:
            return sum(len(self._docs(index)) for index in range(self.shards))

    def check(self) -> None:
        """Read every shard now, so damage is reported at start-up rather than at first use.

        Raises:
            StorageError: a shard is damaged or unreadable, or the folder holds shards of another layout.
        """
        with self._lock:
            self._check_layout()
            for index in range(self.shards):
                self._docs(index)

    def close(self) -> None:
        with self._lock:
            for storage in self._storages:
                if storage is not None:
                    storage.close()
            self._storages = [None] * self.shards
            self._validated = [False] * self.shards

    def _index(self, key: str) -> int:
        digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.shards

    def _path(self, index: int) -> Path:
        return self.folder / f"{index:02d}-of-{self.shards}.json"

    def _storage(self, index: int) -> AtomicJSONStorage:
        storage = self._storages[index]
        if storage is None:
            if not self._checked:
                self._check_layout()
            storage = self._storages[index] = AtomicJSONStorage(self._path(index), cache=True)
        return storage

    def _docs(self, index: int) -> dict[str, dict[str, Any]]:
        """The shard's documents as cached by its storage (read from disk the first time)."""
        tables = self._storage(index).read()
        docs = (tables or {}).get(self.table, {})
        if not self._validated[index]:
            if not all(isinstance(doc, dict) for doc in docs.values()):
                self._storage(index).close()  # read it again next time: it may have been restored
                raise CorruptFileError(self._path(index), f"a document in table {self.table!r} is not a JSON object")
            self._validated[index] = True
        return docs

    def _write(self, index: int, change: Callable[[dict[str, dict[str, Any]]], object]) -> None:
        """Apply `change` to the shard's documents and rewrite the shard; on failure the storage forgets
        its cache, so memory falls back to what is on disk."""
        self._docs(index)  # a damaged shard raises here, before anything is written
        storage = self._storage(index)
        tables = storage.read() or {}
        change(tables.setdefault(self.table, {}))
        storage.write(tables)

    def _check_layout(self) -> None:
        """Refuse a folder written with another shard count: its keys would be looked for in the wrong files."""
        try:
            foreign = sorted(
                p.name for p in self.folder.glob("*-of-*.json") if not p.name.endswith(f"-of-{self.shards}.json")
            )
        except OSError as exc:
            raise StorageError(f"{self.folder}: cannot list the data folder ({exc.strerror or exc})") from exc
        if foreign:
            raise StorageError(
                f"{self.folder}: holds {', '.join(foreign[:3])}, written with another number of shards than "
                f"{self.shards}; the bot will not read or change them"
            )
        self._checked = True


def _add(stored: dict[str, dict[str, Any]], *, docs: dict[str, dict[str, Any]]) -> None:
    stored.update(docs)


def _remove(stored: dict[str, dict[str, Any]], *, keys: list[str]) -> None:
    for key in keys:
        del stored[key]


def _copy(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of a JSON document, exactly as it would be read back from disk."""
    try:
        return json.loads(json.dumps(dict(doc)))
    except (TypeError, ValueError) as exc:
        raise StorageError(f"the data cannot be stored as JSON: {exc}") from exc


def import_once(path: Path, load: Callable[[dict[str, Any]], None]) -> bool:
    """Hand a data file of an earlier layout to `load` once, then move it aside as `<name>.imported`.

    `load` must be idempotent (a crash before the move imports the file again on the next start).
    A damaged file raises `CorruptFileError` and stays where it is, so nothing is lost silently.
    Returns whether there was a file to import.
    """
    data = load_json_file(path)
    if data is None:
        return False
    load(data)
    target = path.with_name(f"{path.name}.imported")
    suffix = 1
    while target.exists():
        suffix += 1
        target = path.with_name(f"{path.name}.imported-{suffix}")
    try:
        path.replace(target)
        fsync_directory(path.parent)
    except OSError as exc:
        raise StorageError(f"{path}: imported, but cannot move it aside ({exc.strerror or exc})") from exc
    logger.info("imported %s into the sharded layout; the old file is kept as %s", path, target.name)
    return True
