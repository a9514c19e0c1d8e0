"""The audit log in `<data>/audit/`: one JSON Lines file per month (UTC), only ever appended to.

Appends run in order on one worker thread: the line is written with `O_APPEND` in one `write` and
fsynced before `append` returns, so the operator's command line (an override cancelled) appends
beside the running bot without a lock. A reader (the operator's `audit` command beside the bot) reads
whole lines only: a last line still being written, or one cut short by a crash, has no newline
yet and is left for later; a line that does not parse is named in `problems()` and skipped, never
rewritten.
"""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from adapters.storage.embedded.files import fsync_directory, make_folder
from bot.audit import AuditEntry
from bot.errors import StorageError


class EmbeddedAuditLog:
    """`bot.ports.AuditLog` on monthly files, for the bot and for the operator's commands beside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._problems: dict[str, str] = {}
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-log")

    async def append(self, entry: AuditEntry) -> None:
        line = (json.dumps(entry.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        await asyncio.get_running_loop().run_in_executor(self._writer, self._append, self._path(entry.at), line)

    async def read(self, *, since: datetime | None = None, case: int | None = None) -> list[AuditEntry]:
        return await asyncio.to_thread(self._read, since, case)

    async def problems(self) -> list[str]:
        return list(self._problems.values())

    def close(self) -> None:
        self._writer.shutdown(wait=True)

    def _path(self, moment: datetime) -> Path:
        return self.folder / f"{moment.astimezone(UTC):%Y-%m}.jsonl"

    def _append(self, path: Path, line: bytes) -> None:
        try:
            make_folder(self.folder)
            new = not path.exists()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if new:
                fsync_directory(self.folder)
        except OSError as exc:
            raise StorageError(f"{path}: cannot append to the audit log ({exc.strerror or exc})") from exc

    def _read(self, since: datetime | None, case: int | None) -> list[AuditEntry]:
        first = None if since is None else self._path(since).name
        found = []
        for path in sorted(self.folder.glob("*.jsonl")) if self.folder.is_dir() else []:
            if first is not None and path.name < first:
                continue
            try:
                raw = path.read_bytes()
            except OSError as exc:
                raise StorageError(f"{path}: cannot read the audit log ({exc.strerror or exc})") from exc
            for number, line in enumerate(
                raw.split(b"\n")[:-1], start=1
            ):  # the part after the last newline is unfinished
                try:
                    entry = AuditEntry.from_dict(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    self._problems[f"{path}:{number}"] = (
                        f"{path}, line {number}: an audit entry is damaged ({exc}); it is skipped and left as it is"
                    )
                    continue
                if (since is None or entry.at >= since) and (case is None or entry.case == case):
                    found.append(entry)
        return found
