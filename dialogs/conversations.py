"""Durable conversation records: the open intake state, the last finished case, the recent deliveries.

One TinyDB document per conversation key in `<data dir>/conversations.json`, written crash-safely
(`AtomicJSONStorage`) once per turn. TinyDB rewrites the whole file on every save, so the file must
stay small whatever the traffic: an open conversation keeps its last few deliveries, a finished one
only its case number and its last delivery (what a platform's retry needs) for an hour, idle open
conversations are dropped after a day, and there are at most `max_records` records.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tinydb import Query, TinyDB

from bot.messages import Choice, Fact, Message
from bot.storage import AtomicJSONStorage
from dialogs.state import Intake

logger = logging.getLogger(__name__)

MAX_DELIVERIES_PER_KEY = 5  # platforms retry a delivery within minutes, a few times at most
MAX_RECORDS = 500
RETENTION = timedelta(days=1)
FINISHED_RETENTION = timedelta(hours=1)  # Slack retries for minutes, Teams after 15 s
PRUNE_EVERY = 50  # saves between scans for idle records


def message_to_dict(message: Message) -> dict[str, Any]:
    return {
        "text": message.text,
        "title": message.title,
        "facts": [[f.label, f.value] for f in message.facts],
        "choices": [[c.id, c.label, c.style] for c in message.choices],
        "expects_text": message.expects_text,
        "key": message.key,
        "metadata": dict(message.metadata),
    }


def message_from_dict(raw: dict[str, Any]) -> Message:
    return Message(
        text=raw["text"],
        title=raw.get("title", ""),
        facts=tuple(Fact(label, value) for label, value in raw.get("facts", ())),
        choices=tuple(Choice(cid, label, style) for cid, label, style in raw.get("choices", ())),
        expects_text=bool(raw.get("expects_text", False)),
        key=raw.get("key", ""),
        metadata=dict(raw.get("metadata", {})),
    )


@dataclass
class Record:
    """What is remembered about one conversation key."""

    key: str
    updated_at: datetime
    state: Intake | None = None
    finished_case: int | None = None  # the case number the last finished round ended with
    deliveries: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)

    def replies_for(self, delivery_id: str) -> list[Message] | None:
        """The replies already given to this delivery, or None when it is new."""
        for seen, replies in self.deliveries:
            if seen == delivery_id:
                return [message_from_dict(r) for r in replies]
        return None

    def remember(self, delivery_id: str, replies: list[Message]) -> None:
        self.deliveries.append((delivery_id, [message_to_dict(m) for m in replies]))
        del self.deliveries[: -self._deliveries_kept()]

    def _deliveries_kept(self) -> int:
        """A finished conversation can only be retried on its last delivery."""
        return MAX_DELIVERIES_PER_KEY if self.state is not None else 1

    def to_doc(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "updated_at": self.updated_at.astimezone(UTC).isoformat(),  # UTC: compared as text when pruning
            "state": self.state.to_dict() if self.state else None,
            "finished_case": self.finished_case,
            "deliveries": [[d, r] for d, r in self.deliveries],
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Record:
        return cls(
            key=doc["key"],
            updated_at=datetime.fromisoformat(doc["updated_at"]),
            state=Intake.from_dict(doc["state"]) if doc.get("state") else None,
            finished_case=doc.get("finished_case"),
            deliveries=[(d, r) for d, r in doc.get("deliveries", ())],
        )


class ConversationStore:
    """Sync and thread-safe; the router calls it from one worker thread so the event loop never waits on disk."""

    def __init__(
        self,
        path: Path,
        *,
        max_records: int = MAX_RECORDS,
        retention: timedelta = RETENTION,
        finished_retention: timedelta = FINISHED_RETENTION,
    ) -> None:
        self.path = Path(path)
        self._db = TinyDB(self.path, storage=AtomicJSONStorage)
        self._table = self._db.table("conversations")
        self._lock = threading.Lock()
        self._max_records = max_records
        self._retention = retention
        self._finished_retention = finished_retention
        self._saves = 0

    def load(self, key: str, *, now: datetime) -> Record:
        with self._lock:
            doc = self._table.get(Query().key == key)
        if doc is None:
            return Record(key=key, updated_at=now)
        return Record.from_doc(dict(doc))

    def save(self, record: Record) -> None:
        with self._lock:
            self._table.upsert(record.to_doc(), Query().key == record.key)
            self._saves += 1
            if self._saves % PRUNE_EVERY == 0:
                self._prune(record.updated_at)

    def count(self) -> int:
        with self._lock:
            return len(self._table)

    def prune(self, now: datetime) -> None:
        with self._lock:
            self._prune(now)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _prune(self, now: datetime) -> None:
        """Forget idle records: open ones after a day, finished ones after an hour, the oldest beyond `max_records`."""
        docs = self._table.all()
        cutoff = (now - self._retention).astimezone(UTC).isoformat()
        finished_cutoff = (now - self._finished_retention).astimezone(UTC).isoformat()
        old = [d.doc_id for d in docs if d["updated_at"] < (cutoff if d.get("state") else finished_cutoff)]
        if len(docs) - len(old) > self._max_records:
            rest = sorted((d for d in docs if d.doc_id not in set(old)), key=lambda d: d["updated_at"])
            old += [d.doc_id for d in rest[: len(rest) - self._max_records]]
        if old:
            self._table.remove(doc_ids=old)
            logger.info("forgot %d idle conversations", len(old))
