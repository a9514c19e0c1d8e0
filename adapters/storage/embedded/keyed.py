"""String-keyed JSON documents in 32 small TinyDB files, read once and then served from memory.

Conversations, the delivery log and the platform records change on every turn. One TinyDB file
holding all of it would be parsed on every read and dumped and fsynced whole on every write,
stalling the event loop as it grows. Instead a document lives in `<folder>/<NN>-of-32.json`, chosen
by a stable hash of its key (blake2b, not `hash()`, which changes between runs), so a read never
touches the disk and a write rewrites about 1/32 of the data. The engine holds the folder lock, so
this process is the only writer and what it holds in memory is what is on disk.

A damaged shard is never overwritten: every operation on a key in it raises `CorruptFileError`
naming the file, and it is read again next time, so the store recovers once the file is restored.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from adapters.storage.embedded.files import AtomicJSONStorage, CorruptFileError, remove_leftover_temp_files
from bot.errors import StorageError

SHARDS = 32
T = TypeVar("T")
Doc = dict[str, Any]
UNCHANGED: Any = object()  # what `change`'s `decide` returns to write nothing


class KeyedStore:
    """Documents by key; every write is atomic (and, unless `durable` is off, fsynced) before returning. Thread-safe."""

    def __init__(self, folder: Path, *, table: str, shards: int = SHARDS, durable: bool = True) -> None:
        self.folder = Path(folder)
        self.table = table
        self.shards = shards
        self.durable = durable  # False: atomic (a killed process loses nothing) but not fsynced
        self._storages: list[AtomicJSONStorage | None] = [None] * shards
        self._lock = threading.Lock()
        self._validated = [False] * shards
        remove_leftover_temp_files(self.folder)

    def path_of(self, key: str) -> Path:
        """The shard file that holds `key`."""
        return self._path(self._index(key))

    def get(self, key: str) -> Doc | None:
        with self._lock:
            doc = self._docs(self._index(key)).get(key)
            return _copy(doc) if doc is not None else None

    def put(self, key: str, doc: Mapping[str, Any]) -> None:
        """Store `doc` under `key`, replacing what was there."""
        self.change(key, lambda _old: (doc, None))

    def change(self, key: str, decide: Callable[[Doc | None], tuple[Mapping[str, Any] | None, T]]) -> T:
        """Atomically: `decide(current)` gives the new document (None: delete, or leave absent) and a result.

        Nothing else reads or writes the key meanwhile, so a compare-and-set is one call. A `decide` that
        returns `UNCHANGED` writes nothing.
        """
        index = self._index(key)
        with self._lock:
            docs = self._docs(index)
            old = docs.get(key)
            new, result = decide(_copy(old) if old is not None else None)
            if new is UNCHANGED:
                return result
            if new is None and old is not None:
                self._write(index, {key: None})
            elif new is not None:
                self._write(index, {key: _copy(new)})
            return result

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
                    self._write(index, dict.fromkeys(present))
                    removed += len(present)
        return removed

    def values(self) -> Iterator[Mapping[str, Any]]:
        """Every document, read-only and not copied (for scans such as pruning); copy what you keep."""
        return (doc for _, doc in self.items())

    def items(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Every key with its document, as `values()`."""
        for index in range(self.shards):
            with self._lock:
                docs = list(self._docs(index).items())
            for key, doc in docs:
                yield key, MappingProxyType(doc)

    def count(self) -> int:
        with self._lock:
            return sum(len(self._docs(index)) for index in range(self.shards))

    def check(self) -> None:
        """Read every shard now, so damage is reported at start-up rather than at first use."""
        with self._lock:
            for index in range(self.shards):
                self._docs(index)

    def close(self) -> None:
        with self._lock:
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
            storage = AtomicJSONStorage(self._path(index), durable=self.durable, cache=True)
            self._storages[index] = storage
        return storage

    def _docs(self, index: int) -> dict[str, Doc]:
        """The shard's documents as cached by its storage (read from disk the first time)."""
        docs = (self._storage(index).read() or {}).get(self.table, {})
        if not self._validated[index]:
            if not all(isinstance(doc, dict) for doc in docs.values()):
                self._storages[index] = None  # read it again next time: it may have been restored
                raise CorruptFileError(self._path(index), f"a document in table {self.table!r} is not a JSON object")
            self._validated[index] = True
        return docs

    def _write(self, index: int, changes: Mapping[str, Doc | None]) -> None:
        """Rewrite the shard with `changes` (None: delete); on failure memory falls back to what is on disk."""
        storage = self._storage(index)
        tables = storage.read() or {}
        docs = tables.setdefault(self.table, {})
        for key, doc in changes.items():
            if doc is None:
                docs.pop(key, None)
            else:
                docs[key] = doc
        storage.write(tables)


def _copy(doc: Mapping[str, Any]) -> Doc:
    """A deep copy of a JSON document, exactly as it would be read back from disk."""
    try:
        return json.loads(json.dumps(dict(doc)))
    except (TypeError, ValueError) as exc:
        raise StorageError(f"the data cannot be stored as JSON: {exc}") from exc
