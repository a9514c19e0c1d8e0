"""The on-call timers and the messages sent about each paged case, kept across restarts.

Why files of their own (`data_dir/oncall/`) and not the case history: the case history is the
business record (who was paged, who acknowledged, every step is there as an event), while this is
machinery: the next due moment of each active page, and the platform references of every message
sent, so all copies can be updated in place. Only records that can still act are kept: the service
drops a record when its case is closed, and a record without timers once it is old (see
`OncallService`), so the book stays small however long the bot runs.

Every record with a timer is held in memory, with its next due moment, so a tick without due work
touches no file. A record without timers (a team post, an acknowledged page whose reminders are
over) is kept in memory only until its shard is written; after that only its case number is, and
`get()` reads it from its shard (at most 100 records) when asked: such records are looked at
rarely (a button press, a duplicate report), and an open backlog of thousands of team posts would
otherwise cost some 660 bytes each. A change rewrites only its shard (the records of 100
consecutive case numbers, like the case store), not the whole book. The case store stays the
authority on status; the service re-reads the case before acting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

from bot.delivery import MessageRef
from bot.errors import StorageError
from bot.storage import (
    CorruptFileError,
    fsync_directory,
    load_json_file,
    remove_all_leftover_temp_files,
    write_atomically,
)

logger = logging.getLogger(__name__)

SHARD_SIZE = 100  # case numbers per file
TABLE = "pages"


class Step(IntEnum):
    """The escalation ladder of one page."""

    PRIMARY = 0  # the on-call primary is paged
    BACKUP = 1  # not acknowledged in time: the primary again, and the backup
    EVERYONE = 2  # still nothing: every technician on the rota
    GAVE_UP = 3  # nobody reached or nobody answered: the reporter is told to phone

    @property
    def label(self) -> str:
        return self.name.lower()


class RecordKind(StrEnum):
    PAGE = "page"  # after hours: escalation and reminders
    TEAM = "team"  # opening hours: posted to the team channel, no timers


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One page or post that went out, so it can be updated in place in the reader's language."""

    technician: str  # "" for a team channel
    language: str
    ref: MessageRef

    def to_dict(self) -> dict[str, Any]:
        ref = self.ref  # not `ref.__dict__`: that would give every reference kept in memory a dict of its own
        return {
            "technician": self.technician,
            "language": self.language,
            "ref": {
                "platform": ref.platform,
                "workspace": ref.workspace,
                "channel": ref.channel,
                "message_id": ref.message_id,
            },
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SentMessage:
        return cls(technician=raw["technician"], language=raw["language"], ref=MessageRef(**raw["ref"]))


@dataclass(frozen=True, slots=True)
class PageRecord:
    """The live state of one paged (or team-posted) case."""

    case: int
    kind: RecordKind
    step: Step = Step.PRIMARY
    primary: str = ""  # technician ids on call when the page started
    backup: str = ""
    due: datetime | None = None  # when the next escalation step falls due
    reached: bool = False  # somebody got a page at some step
    failed: tuple[str, ...] = ()  # technicians who could not be reached in the current run of steps
    sent: tuple[SentMessage, ...] = ()
    remind_at: datetime | None = None
    reminders: int = 0

    def with_sent(self, messages: list[SentMessage]) -> PageRecord:
        known = {m.ref for m in self.sent}
        fresh = [m for m in messages if m.ref not in known]
        return replace(self, sent=(*self.sent, *fresh))

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "kind": self.kind.value,
            "step": int(self.step),
            "primary": self.primary,
            "backup": self.backup,
            "due": self.due.isoformat() if self.due else None,
            "reached": self.reached,
            "failed": list(self.failed),
            "sent": [m.to_dict() for m in self.sent],
            "remind_at": self.remind_at.isoformat() if self.remind_at else None,
            "reminders": self.reminders,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PageRecord:
        return cls(
            case=int(raw["case"]),
            kind=RecordKind(raw["kind"]),
            step=Step(raw["step"]),
            primary=raw.get("primary", ""),
            backup=raw.get("backup", ""),
            due=_moment(raw.get("due")),
            reached=bool(raw.get("reached", False)),
            failed=tuple(raw.get("failed", ())),
            sent=tuple(SentMessage.from_dict(m) for m in raw.get("sent", ())),
            remind_at=_moment(raw.get("remind_at")),
            reminders=int(raw.get("reminders", 0)),
        )


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class PageBook:
    """The live page records, each change made durable in its shard before returning.

    Records with a timer, and records not written yet, are in memory; the others only on disk (see
    above). One service owns the folder (it trusts what it holds in memory), so two bots must not
    share a data folder. Writes run in order on one worker thread, off the event loop; reads never
    wait for them. `legacy` is the single `oncall.json` of earlier versions: its records are moved
    into the shards once.
    """

    def __init__(self, folder: Path, *, legacy: Path | None = None) -> None:
        self.folder = folder
        self._records: dict[int, PageRecord] = {}  # with a timer, or not written yet
        self._stored: set[int] = set()  # the others: without a timer, and only in their shard
        self._timers: dict[int, datetime] = {}  # case number -> its next due step or reminder
        self._mutex = threading.Lock()  # the writer thread reads and changes what the event loop changes
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oncall-book")
        if folder.is_dir():
            remove_all_leftover_temp_files(folder)
            for path in sorted(folder.glob("*.json")):
                for record in _parse(path):
                    if record.due is None and record.remind_at is None:
                        self._stored.add(record.case)
                    else:
                        self._remember(record)
        if legacy is not None and legacy.exists():
            self._import(legacy)

    def __len__(self) -> int:
        return len(self._records) + len(self._stored)

    def __contains__(self, number: object) -> bool:
        return number in self._records or number in self._stored

    def get(self, number: int) -> PageRecord | None:
        """The record of this case; one without timers may be read from its shard (a few hundred µs)."""
        with self._mutex:
            record = self._records.get(number)
            if record is not None or number not in self._stored:
                return record
        # Its shard holds it until it leaves `_stored`, and is only ever replaced whole (renamed).
        return self._read([number]).get(number)

    def idle(self) -> list[int]:
        """The case numbers whose record has no timer, without reading any record."""
        with self._mutex:
            return [n for n in self._records if n not in self._timers] + list(self._stored)

    def due(self, now: datetime) -> list[int]:
        """Case numbers with an escalation step or a reminder due at `now`, oldest first."""
        return sorted(number for number, at in self._timers.items() if at <= now)

    async def put(self, record: PageRecord) -> None:
        with self._mutex:
            self._remember(record)
            self._stored.discard(record.case)
        await self._write(record.case)

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
        moments = [m for m in (record.due, record.remind_at) if m is not None]
        if moments:
            self._timers[record.case] = min(moments)
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
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"{self.folder}: cannot create the folder ({exc.strerror or exc})") from exc
            write_atomically(path, json.dumps({TABLE: docs}, separators=(",", ":")).encode("utf-8"))
        elif path.exists():
            path.unlink()
            fsync_directory(self.folder)
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

    def _import(self, legacy: Path) -> None:
        """Move the records of an earlier version's single file into shards; it is kept as `*.imported`."""
        fresh = [r for r in _parse(legacy) if r.case not in self]
        for record in fresh:
            self._remember(record)
        for block in sorted({r.case // SHARD_SIZE for r in fresh}):
            self._write_shard(block)
        legacy.replace(legacy.with_name(f"{legacy.name}.imported"))
        fsync_directory(legacy.parent)
        logger.info("moved %d on-call records from %s to %s", len(fresh), legacy, self.folder)


def _parse(path: Path) -> list[PageRecord]:
    """The records in one file; a damaged file is reported (naming it) and never overwritten."""
    data = load_json_file(path) or {}
    try:
        return [PageRecord.from_dict(dict(raw)) for raw in data.get(TABLE, {}).values()]
    except (KeyError, ValueError, TypeError) as exc:
        raise CorruptFileError(path, f"an on-call record is damaged: {exc!r}") from exc
