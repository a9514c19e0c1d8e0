"""What is remembered about each conversation: the open intake, the last finished case, recent deliveries.

Kept through the `bot.ports.Conversations` port, saved once per turn with its e_tag, so two saves
of one conversation can never silently overwrite each other. The records stay few: an open
conversation keeps its last few deliveries, a finished one only its case number and its last
delivery (what a platform's retry needs) for an hour, idle open conversations are forgotten after
a day, and beyond `max_records` the oldest finished ones go first, then the oldest open ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.errors import StorageError
from bot.messages import Choice, Fact, Message
from bot.ports import Conversations
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
    e_tag: str | None = None  # as loaded; None for a conversation never saved

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
            "state": self.state.to_dict() if self.state else None,
            "finished_case": self.finished_case,
            "deliveries": [[d, r] for d, r in self.deliveries],
        }

    @classmethod
    def from_doc(cls, key: str, doc: dict[str, Any], *, updated_at: datetime, e_tag: str) -> Record:
        return cls(
            key=key,
            updated_at=updated_at,
            state=Intake.from_dict(doc["state"]) if doc.get("state") else None,
            finished_case=doc.get("finished_case"),
            deliveries=[(d, r) for d, r in doc.get("deliveries", ())],
            e_tag=e_tag,
        )


class ConversationMemory:
    """Loads and saves records through the port, and forgets idle ones every `PRUNE_EVERY` saves."""

    def __init__(
        self,
        port: Conversations,
        *,
        max_records: int = MAX_RECORDS,
        retention: timedelta = RETENTION,
        finished_retention: timedelta = FINISHED_RETENTION,
    ) -> None:
        self.port = port
        self._max_records = max_records
        self._retention = retention
        self._finished_retention = finished_retention
        self._saves = 0

    async def load(self, key: str, *, now: datetime) -> Record:
        stored = await self.port.load(key)
        if stored is None:
            return Record(key=key, updated_at=now)
        return Record.from_doc(key, stored.state, updated_at=stored.updated_at, e_tag=stored.e_tag)

    async def save(self, record: Record) -> None:
        """Store the record if nobody saved it since it was loaded (else `VersionConflict`)."""
        record.e_tag = await self.port.save(
            record.key, record.to_doc(), updated_at=record.updated_at, open=record.state is not None, e_tag=record.e_tag
        )
        self._saves += 1
        if self._saves % PRUNE_EVERY == 0:
            try:
                await self.prune(record.updated_at)
            except StorageError as exc:  # the record is saved; housekeeping waits for a readable file
                logger.warning("cannot forget idle conversations: %s", exc)

    async def prune(self, now: datetime) -> None:
        """Forget idle records: open ones after a day, finished ones after an hour, then the oldest beyond
        `max_records`, finished ones first (an open conversation is someone in the middle of reporting)."""
        forgotten = await self.port.forget(
            open_before=now - self._retention, finished_before=now - self._finished_retention, keep=self._max_records
        )
        if forgotten:
            logger.info("forgot %d idle conversations", forgotten)
