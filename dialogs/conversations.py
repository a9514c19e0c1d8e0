"""Durable conversation records: the open intake state, the last finished case, the recent deliveries.

One document per conversation key in a `bot.storage.KeyedStore` (`<data dir>/conversations/`, 32
small TinyDB files kept in memory), written crash-safely once per turn: a load is a lookup in
memory and a save rewrites one small file, so a turn costs the same with 10 or 5,000 records. The
records still stay few, because they live in memory: an open conversation keeps its last few
deliveries, a finished one only its case number and its last delivery (what a platform's retry
needs) for an hour, idle open conversations are dropped after a day, and beyond `max_records` the
oldest finished ones go first, then the oldest open ones.

The single `conversations.json` of earlier versions is imported on first use and then kept as
`conversations.json.imported` (see `bot.storage.import_once`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.errors import StorageError
from bot.messages import Choice, Fact, Message
from bot.storage import KeyedStore, import_once
from dialogs.state import Intake

logger = logging.getLogger(__name__)

MAX_DELIVERIES_PER_KEY = 5  # platforms retry a delivery within minutes, a few times at most
MAX_RECORDS = 500
RETENTION = timedelta(days=1)
FINISHED_RETENTION = timedelta(hours=1)  # Slack retries for minutes, Teams after 15 s
PRUNE_EVERY = 50  # saves between scans for idle records
TABLE = "conversations"


def message_to_dict(message: Message) -> dict[str, Any]:
    return {
        "text": message.text,
        "title": message.title,
        "facts": [[f.label, f.value] for f in message.facts],
        "choices": [[c.id, c.label, c.style] for c in message.choices],
        "expects_text": message.expects_text,
        "key": message.key,
        "language": message.language,
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
        language=raw.get("language", ""),
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
    """Sync and thread-safe; the router calls it from one worker thread so the event loop never waits on disk.

    Args:
        path: `<data dir>/conversations.json`; the records live in the folder of the same name without
            `.json`, and a file at `path` (the layout of earlier versions) is imported on first use.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_records: int = MAX_RECORDS,
        retention: timedelta = RETENTION,
        finished_retention: timedelta = FINISHED_RETENTION,
    ) -> None:
        self.path = Path(path)
        self.folder = self.path.with_suffix("")
        self._records = KeyedStore(self.folder, table=TABLE)
        self._lock = threading.Lock()
        self._max_records = max_records
        self._retention = retention
        self._finished_retention = finished_retention
        self._saves = 0
        self._imported = self.folder == self.path

    def load(self, key: str, *, now: datetime) -> Record:
        with self._lock:
            self._import()
            doc = self._records.get(key)
        if doc is None:
            return Record(key=key, updated_at=now)
        return Record.from_doc(doc)

    def save(self, record: Record) -> None:
        with self._lock:
            self._import()
            self._records.put(record.key, record.to_doc())
            self._saves += 1
            if self._saves % PRUNE_EVERY == 0:
                try:
                    self._prune(record.updated_at)
                except StorageError as exc:  # the record is saved; housekeeping waits for a readable file
                    logger.warning("cannot forget idle conversations: %s", exc)

    def count(self) -> int:
        with self._lock:
            self._import()
            return self._records.count()

    def prune(self, now: datetime) -> None:
        with self._lock:
            self._import()
            self._prune(now)

    def close(self) -> None:
        with self._lock:
            self._records.close()

    def _import(self) -> None:
        if not self._imported:
            import_once(self.path, self._import_tables)
            self._imported = True

    def _import_tables(self, tables: dict[str, Any]) -> None:
        docs = [doc for doc in tables.get(TABLE, {}).values() if isinstance(doc, dict) and doc.get("key")]
        self._records.put_many({doc["key"]: doc for doc in docs})
        logger.info("imported %d conversation records", len(docs))

    def _prune(self, now: datetime) -> None:
        """Forget idle records: open ones after a day, finished ones after an hour, then the oldest beyond
        `max_records`, finished ones first (an open conversation is someone in the middle of reporting)."""
        cutoff = (now - self._retention).astimezone(UTC).isoformat()
        finished_cutoff = (now - self._finished_retention).astimezone(UTC).isoformat()
        old, rest = [], []
        for doc in self._records.values():
            is_open = bool(doc.get("state"))
            if doc["updated_at"] < (cutoff if is_open else finished_cutoff):
                old.append(doc["key"])
            else:
                rest.append((is_open, doc["updated_at"], doc["key"]))
        if len(rest) > self._max_records:
            rest.sort()
            old += [key for _, _, key in rest[: len(rest) - self._max_records]]
        if old:
            self._records.delete_many(old)
            logger.info("forgot %d idle conversations", len(old))
