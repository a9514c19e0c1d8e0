"""The on-call page records in `<data>/oncall/`: one file per hundred case numbers, like the cases.

Every record with a timer is held in memory with its next due moment, so a tick without due work
touches no file. A record without timers (a team post, an acknowledged page whose reminders are
over) is kept in memory only until its shard is written; after that only its case number is, and
`get()` reads it from its shard when asked: such records are looked at rarely (a button press, a
duplicate report), and an open backlog of thousands of team posts would otherwise cost some 660
bytes each. A change rewrites only its shard. The case store stays the authority on status.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from adapters.storage.embedded.files import (
    CorruptFileError,
    delete_file,
    load_json_file,
    remove_leftover_temp_files,
    write_json,
)
from bot.oncall.records import PageRecord

SHARD_SIZE = 100  # case numbers per file
TABLE = "pages"


class PageBook:
    """The live page records (`bot.ports.Pages`), each change made durable in its shard before returning.

    Records with a timer, and records not written yet, are in memory; the others only on disk (see
    above). The engine owns the folder, so what is in memory is what is on disk. Writes run in order
    on one worker thread, off the event loop; reads never wait for them.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._records: dict[int, PageRecord] = {}  # with a timer, or not written yet
        self._stored: set[int] = set()  # the others: without a timer, and only in their shard
        self._timers: dict[int, datetime] = {}  # case number -> its next due step or reminder
        self._mutex = threading.Lock()  # the writer thread reads and changes what the event loop changes
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oncall-book")
        if folder.is_dir():
            remove_leftover_temp_files(folder)
            for path in sorted(folder.glob("*.json")):
                for record in _parse(path):
                    if record.next_due is None:
                        self._stored.add(record.case)
                    else:
                        self._remember(record)

    def __len__(self) -> int:
        return len(self._records) + len(self._stored)

    async def holds(self, case: int) -> bool:
        return case in self._records or case in self._stored

    async def get(self, case: int) -> PageRecord | None:
        return self.get_now(case)

    def get_now(self, number: int) -> PageRecord | None:
        """The record of this case; one without timers may be read from its shard (a few hundred µs)."""
        with self._mutex:
            record = self._records.get(number)
            if record is not None or number not in self._stored:
                return record
        # Its shard holds it until it leaves `_stored`, and is only ever replaced whole (renamed).
        return self._read([number]).get(number)

    async def idle(self) -> list[int]:
        """The case numbers whose record has no timer, without reading any record."""
        with self._mutex:
            return [n for n in self._records if n not in self._timers] + list(self._stored)

    async def due(self, now: datetime) -> list[int]:
        """Case numbers with an escalation step or a reminder due at `now`, oldest first."""
        return sorted(number for number, at in self._timers.items() if at <= now)

    async def put(self, record: PageRecord) -> PageRecord:
        with self._mutex:
            current = self._records.get(record.case)
            stored = (
                self._read([record.case]).get(record.case)
                if current is None and record.case in self._stored
                else current
            )
            record = replace(record, version=(stored.version if stored else 0) + 1)
            self._remember(record)
            self._stored.discard(record.case)
        await self._write(record.case)
        return record

    async def claim(self, seen: PageRecord, changed: PageRecord) -> PageRecord | None:
        with self._mutex:
            current = self._records.get(seen.case)
            if current is None and seen.case in self._stored:
                current = self._read([seen.case]).get(seen.case)
            if current is None or current.version != seen.version:
                return None
            record = replace(changed, case=seen.case, version=seen.version + 1)
            self._remember(record)
            self._stored.discard(record.case)
        await self._write(record.case)
        return record

    async def remove(self, number: int) -> None:
        with self._mutex:
            if self._records.pop(number, None) is None and number not in self._stored:
                return
            self._stored.discard(number)
            self._timers.pop(number, None)
        await self._write(number)

    async def drop_idle(self, numbers: list[int]) -> list[PageRecord]:
        """Remove those of `numbers` that have no timer now; each changed shard is written once."""
        with self._mutex:
            dropped = [self._records.pop(n) for n in numbers if n in self._records and n not in self._timers]
            from_disk = [n for n in numbers if n in self._stored]
            # Read while they are still in `_stored`, so no write of their shard can leave them out yet.
            found = self._read(from_disk)
            self._stored.difference_update(from_disk)
        dropped += found.values()
        for block in sorted({r.case // SHARD_SIZE for r in dropped}):
            await self._write(block * SHARD_SIZE)
        return dropped

    def close(self) -> None:
        """Finish the writes already queued."""
        self._writer.shutdown(wait=True)

    def _remember(self, record: PageRecord) -> None:
        self._records[record.case] = record
        if record.next_due is not None:
            self._timers[record.case] = record.next_due
        else:
            self._timers.pop(record.case, None)

    async def _write(self, number: int) -> None:
        await asyncio.get_running_loop().run_in_executor(self._writer, self._write_shard, number // SHARD_SIZE)

    def _write_shard(self, block: int) -> None:
        """Write the shard as it is now (a later queued write of it sees later changes), or delete it when empty.

        Then the records without timers it wrote leave memory, unless changed meanwhile.
        """
        path = self._path(block * SHARD_SIZE)
        numbers = range(block * SHARD_SIZE, (block + 1) * SHARD_SIZE)
        # Only this thread writes shards, so what is on disk for the numbers in `_stored` stays as read here.
        on_disk = ((load_json_file(path) or {}).get(TABLE) or {}) if any(n in self._stored for n in numbers) else {}
        with self._mutex:
            kept = {n: record for n in numbers if (record := self._records.get(n)) is not None}
            docs = {str(n): record.to_dict() for n, record in kept.items()}
            for n in numbers:
                if n in self._stored and str(n) in on_disk:
                    docs[str(n)] = on_disk[str(n)]
            docs = dict(sorted(docs.items(), key=lambda item: int(item[0])))
        if docs:
            write_json(path, {TABLE: docs})
        else:
            delete_file(path)
        with self._mutex:
            for n, record in kept.items():
                if n not in self._timers and self._records.get(n) is record:
                    self._stored.add(n)  # first, so a reader without the lock finds it in one place or the other
                    del self._records[n]

    def _path(self, number: int) -> Path:
        return self.folder / f"{number // SHARD_SIZE * SHARD_SIZE:08d}.json"

    def _read(self, numbers: list[int]) -> dict[int, PageRecord]:
        """The records of `numbers` as their shards hold them, one read per shard; missing ones left out."""
        found: dict[int, PageRecord] = {}
        blocks: dict[int, list[int]] = {}
        for n in numbers:
            blocks.setdefault(n // SHARD_SIZE, []).append(n)
        for block, wanted in sorted(blocks.items()):
            path = self._path(block * SHARD_SIZE)
            stored = (load_json_file(path) or {}).get(TABLE) or {}
            for n in wanted:
                if (raw := stored.get(str(n))) is not None:
                    try:
                        found[n] = PageRecord.from_dict(dict(raw))
                    except (KeyError, ValueError, TypeError) as exc:
                        raise CorruptFileError(path, f"an on-call record is damaged: {exc!r}") from exc
        return found


def _parse(path: Path) -> list[PageRecord]:
    """The records in one file; a damaged file is reported (naming it) and never overwritten."""
    data = load_json_file(path) or {}
    try:
        return [PageRecord.from_dict(dict(raw)) for raw in data.get(TABLE, {}).values()]
    except (KeyError, ValueError, TypeError) as exc:
        raise CorruptFileError(path, f"an on-call record is damaged: {exc!r}") from exc
