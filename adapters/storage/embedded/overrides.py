"""The chat overrides of the embedded engine: one small TinyDB file, `<data>/overrides/overrides.json`.

Unlike the other stores this one is also written by the operator's command line (`python -m bot
oncall cancel ID`) while the bot runs, so nothing is kept in memory: every call takes a short
`flock` on `<data>/overrides/.lock`, reads the file, and writes it atomically before letting go.
The file holds a handful of periods, so reading it on every page and tick costs next to nothing.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from adapters.storage.embedded.documents import Worker
from adapters.storage.embedded.files import CorruptFileError, load_json_file, make_folder, write_json
from bot.oncall.overrides import ChatOverride
from bot.ports import VersionConflict

T = TypeVar("T")
TABLE = "overrides"
FILE = "overrides.json"


class EmbeddedOverrides:
    """`bot.ports.Overrides` in `<data>/overrides/` (see the module's docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / FILE
        self._worker = Worker("overrides")

    async def add(self, override: ChatOverride) -> ChatOverride:
        def decide(docs: dict[str, Any]) -> ChatOverride:
            if override.id in docs:
                raise VersionConflict(f"an override with id {override.id!r} exists already")
            return self._store(docs, override, 1)

        stored = await self._worker.run(self._change, decide)
        assert stored is not None
        return stored

    async def get(self, override_id: str) -> ChatOverride | None:
        return await self._worker.run(self._get, override_id)

    async def change(self, seen: ChatOverride, changed: ChatOverride) -> ChatOverride | None:
        def decide(docs: dict[str, Any]) -> ChatOverride | None:
            current = docs.get(seen.id)
            if current is None or int(current.get("version", 0)) != seen.version:
                return None
            return self._store(docs, changed, seen.version + 1)

        return await self._worker.run(self._change, decide)

    async def all(self, *, ending_after: datetime) -> list[ChatOverride]:
        found = await self._worker.run(self._all)
        return sorted((o for o in found if o.end > ending_after), key=lambda o: (o.start, o.id))

    def close(self) -> None:
        self._worker.close()

    @staticmethod
    def _store(docs: dict[str, Any], override: ChatOverride, version: int) -> ChatOverride:
        doc = {**override.to_dict(), "version": version}
        docs[override.id] = doc
        return ChatOverride.from_dict(doc)

    def _get(self, override_id: str) -> ChatOverride | None:
        with self._locked():
            doc = self._read().get(override_id)
            return ChatOverride.from_dict(doc) if doc is not None else None

    def _all(self) -> list[ChatOverride]:
        with self._locked():
            return [ChatOverride.from_dict(doc) for doc in self._read().values()]

    def _change(self, decide: Callable[[dict[str, Any]], T | None]) -> T | None:
        """`decide` changes the documents and returns the stored override, or None to write nothing."""
        with self._locked():
            docs = self._read()
            result = decide(docs)
            if result is not None:
                write_json(self.path, {TABLE: docs})
            return result

    def _read(self) -> dict[str, Any]:
        data = load_json_file(self.path) or {}
        docs = data.get(TABLE, {})
        try:
            for doc in docs.values():
                ChatOverride.from_dict(doc)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptFileError(self.path, f"an override cannot be read ({exc})") from exc
        return docs

    @contextmanager
    def _locked(self) -> Iterator[None]:
        make_folder(self.folder)
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the lock
