"""The on-call timers and the messages sent about each paged case, kept across restarts.

Why a file of its own (`data_dir/oncall.json`) and not the case history: the case history is the
business record (who was paged, who acknowledged, every step is there as an event), while this is
machinery: the next due moment of each active page, and the platform references of every message
sent, so all copies can be updated in place. The tick reads only the few active records instead
of scanning every case, and a record disappears when its case is resolved or cancelled.
The case store stays the authority on status; the service re-reads the case before acting.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.table import Document

from bot.delivery import MessageRef
from bot.storage import AtomicJSONStorage


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


@dataclass(frozen=True)
class SentMessage:
    """One page or post that went out, so it can be updated in place in the reader's language."""

    technician: str  # "" for a team channel
    language: str
    ref: MessageRef

    def to_dict(self) -> dict[str, Any]:
        return {"technician": self.technician, "language": self.language, "ref": self.ref.__dict__}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SentMessage:
        return cls(technician=raw["technician"], language=raw["language"], ref=MessageRef(**raw["ref"]))


@dataclass(frozen=True)
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
    """The active page records in a crash-safe TinyDB file; file work runs off the event loop.

    One service owns the file (it caches what it wrote), so two bots must not share a data folder.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = TinyDB(path, storage=AtomicJSONStorage, cache=True)
        self._table = self._db.table("pages")

    async def get(self, number: int) -> PageRecord | None:
        return await asyncio.to_thread(self._get, number)

    async def put(self, record: PageRecord) -> None:
        await asyncio.to_thread(self._put, record)

    async def remove(self, number: int) -> None:
        await asyncio.to_thread(self._remove, number)

    async def due(self, now: datetime) -> list[int]:
        """Case numbers with an escalation step or a reminder due at `now`, oldest first."""
        records = await asyncio.to_thread(self._all)
        return sorted(
            r.case for r in records if (r.due is not None and r.due <= now) or (r.remind_at and r.remind_at <= now)
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _get(self, number: int) -> PageRecord | None:
        with self._lock:
            raw = self._table.get(doc_id=number)
        return PageRecord.from_dict(dict(raw)) if raw is not None else None

    def _put(self, record: PageRecord) -> None:
        with self._lock:
            self._table.upsert(Document(record.to_dict(), doc_id=record.case))

    def _remove(self, number: int) -> None:
        with self._lock:
            if self._table.contains(doc_id=number):
                self._table.remove(doc_ids=[number])

    def _all(self) -> list[PageRecord]:
        with self._lock:
            return [PageRecord.from_dict(dict(doc)) for doc in self._table.all()]
