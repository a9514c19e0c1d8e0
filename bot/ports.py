"""What the bot keeps, stated as the ports a storage engine implements; the core never sees a file or a query.

Each port is named after a need of the domain, and each promise is one an engine can keep in a
single transaction (the embedded engine holds a lock on its data folder; a database engine uses
rows, versions and `INSERT … ON CONFLICT`). `tests/contract/` holds every engine to them. The
composition root (`adapters.storage.open_storage`) picks the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypedDict, Unpack

from bot.audit import AuditEntry
from bot.cases import Case, CaseEvent, CaseStatus, NewCase
from bot.categories import Category
from bot.errors import StorageError
from bot.oncall.overrides import ChatOverride
from bot.oncall.records import PageRecord


class VersionConflict(StorageError):
    """Somebody else changed the record since it was read; read it again and decide again."""


class CaseFilters(TypedDict, total=False):
    """What `Cases.find` filters on: every one given must match."""

    status: CaseStatus | None
    open_only: bool
    customer: str | None
    reporter: tuple[str, str, str] | None  # (platform, workspace, user id)
    category: Category | None
    since: datetime | None


class Cases(Protocol):
    """The numbered cases: the business record."""

    async def create(self, new: NewCase, *, now: datetime) -> Case:
        """Store `new` under the next number, unique and without gaps; returns once it is durable."""
        ...

    async def get(self, number: int) -> Case | None: ...

    async def get_many(self, numbers: Iterable[int]) -> list[Case]:
        """These cases, in this order; missing ones (and ones that cannot be read) left out."""
        ...

    async def find(self, **filters: Unpack[CaseFilters]) -> list[Case]:
        """The cases matching every filter, newest first."""
        ...

    async def find_numbers(self, **filters: Unpack[CaseFilters]) -> list[int]:
        """The numbers `find` would give, without reading the cases where the engine can."""
        ...

    async def update(
        self, number: int, event: CaseEvent, *, expected_version: int | None = None, **changes: Any
    ) -> Case:
        """Append `event` and change `changes`, durably.

        Raises:
            CaseNotFoundError: no case has this number.
            VersionConflict: `expected_version` is given and the case is no longer at it (`Case.version`).
            ValueError: `changes` names a field that never changes (number, created_at, history).
        """
        ...

    async def problems(self) -> list[str]:
        """Data found damaged so far, one message each naming where it is."""
        ...

    async def warm_up(self) -> None:
        """Prepare what `find` needs now rather than on the first call."""
        ...


class Pages(Protocol):
    """The live state of each page and team post, and when its next step or reminder falls due."""

    async def get(self, case: int) -> PageRecord | None: ...

    async def holds(self, case: int) -> bool: ...

    async def put(self, record: PageRecord) -> PageRecord:
        """Store `record` whatever is stored now; returns it as stored (with its new version)."""
        ...

    async def claim(self, seen: PageRecord, changed: PageRecord) -> PageRecord | None:
        """Store `changed` only if the stored record is still at `seen.version`: of several claims of
        the same step exactly one succeeds (returns the stored record), the others get None."""
        ...

    async def remove(self, case: int) -> None: ...

    async def due(self, now: datetime) -> list[int]:
        """Cases whose next step or reminder is due at `now`, oldest first."""
        ...

    async def idle(self) -> list[int]:
        """Cases whose record has no timer."""
        ...

    async def drop_idle(self, cases: list[int]) -> list[PageRecord]:
        """Remove the records of `cases` that have no timer; returns them."""
        ...


@dataclass(frozen=True)
class StoredConversation:
    """A conversation's state as stored: `e_tag` changes with every save."""

    key: str
    state: dict[str, Any]
    updated_at: datetime
    e_tag: str


class Conversations(Protocol):
    """Dialog state by conversation key, with optimistic concurrency."""

    async def load(self, key: str) -> StoredConversation | None: ...

    async def save(
        self, key: str, state: dict[str, Any], *, updated_at: datetime, open: bool, e_tag: str | None
    ) -> str:
        """Store `state` if the stored one still has `e_tag` (None: there must be none); returns the new e_tag.

        `open`: somebody is in the middle of a conversation (kept longer when forgetting idle ones).

        Raises:
            VersionConflict: another save came first.
        """
        ...

    async def forget(self, *, open_before: datetime, finished_before: datetime, keep: int) -> int:
        """Forget idle conversations: open ones not saved since `open_before`, finished
        ones since `finished_before`, then the oldest beyond `keep`, finished ones first; how many."""
        ...

    async def count(self) -> int: ...


class DeliveryLog(Protocol):
    """Deliveries already taken: Slack retries, Teams redelivery, button presses, replayed commands."""

    async def first_time(self, key: str, *, ttl: timedelta, now: datetime) -> bool:
        """True exactly once per `key` within `ttl` of its first sighting, however many callers ask at once."""
        ...

    async def release(self, key: str) -> None:
        """Forget `key`: its handling failed, and the platform's retry must be taken."""
        ...


class Overrides(Protocol):
    """Rota overrides made in chat (`bot.oncall.overrides`). The operator's command line may change
    them beside a running bot, so an engine reads them afresh rather than from a copy in memory."""

    async def add(self, override: ChatOverride) -> ChatOverride:
        """Store a new override; returns it as stored (version 1).

        Raises:
            VersionConflict: an override with its id exists already.
        """
        ...

    async def get(self, override_id: str) -> ChatOverride | None: ...

    async def change(self, seen: ChatOverride, changed: ChatOverride) -> ChatOverride | None:
        """Store `changed` only if the stored override is still at `seen.version`: of several changes
        from the same version exactly one succeeds (returns it as stored), the others get None."""
        ...

    async def all(self, *, ending_after: datetime) -> list[ChatOverride]:
        """Every override whose period ends after `ending_after`, by start."""
        ...


class Records(Protocol):
    """Platform records (Slack installations and OAuth state, Teams references and cards) by kind and key.

    Blocking: the platform adapters call it from worker threads, never on the event loop.
    """

    def get(self, kind: str, key: str) -> dict[str, Any] | None: ...

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None: ...

    def delete(self, kind: str, keys: Iterable[str]) -> int:
        """Forget these keys; how many were there."""
        ...

    def take(self, kind: str, key: str) -> dict[str, Any] | None:
        """Get and delete in one step: of several callers only one gets the record (OAuth state)."""
        ...

    def all(self, kind: str) -> list[Mapping[str, Any]]:
        """Every record of `kind`, read-only and not copied (for scans); copy what you keep."""
        ...


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its first attempt or its next one
    SENDING = "sending"  # claimed by a sender until its lease runs out
    SENT = "sent"
    FAILED = "failed"  # retried for the whole retry period; waits for `resend`


@dataclass(frozen=True)
class Outgoing:
    """A message about a case for a system outside the bot: a webhook call or an e-mail."""

    channel: str  # "webhook" or "email": which sender takes it
    target: str  # the URL or the mailbox
    case: int
    event: str  # "case.created", "case.acknowledged", ...
    event_id: str  # the idempotency key: the same on every attempt and every re-send
    payload: dict[str, Any]


@dataclass(frozen=True)
class Delivery:
    """One `Outgoing` in the outbox, with its attempts. `id` grows with every enqueue."""

    id: int
    message: Outgoing
    state: DeliveryState
    created_at: datetime
    retry_since: datetime  # the retry period runs from here: the enqueue, or the last re-send
    next_attempt: datetime | None  # PENDING: when it is due; SENDING: when the claim lapses
    attempts: int = 0
    last_error: str = ""
    sent_at: datetime | None = None

    @property
    def queue(self) -> tuple[str, str, int]:
        """Deliveries of one queue go out one at a time, in the order they were enqueued."""
        return (self.message.channel, self.message.target, self.message.case)

    def to_dict(self) -> dict[str, Any]:
        message = self.message
        return {
            "id": self.id,
            "channel": message.channel,
            "target": message.target,
            "case": message.case,
            "event": message.event,
            "event_id": message.event_id,
            "payload": message.payload,
            "state": self.state.value,
            "created_at": self.created_at.isoformat(),
            "retry_since": self.retry_since.isoformat(),
            "next_attempt": self.next_attempt.isoformat() if self.next_attempt else None,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Delivery:
        def moment(key: str) -> datetime | None:
            return datetime.fromisoformat(raw[key]) if raw.get(key) else None

        message = Outgoing(
            str(raw["channel"]), str(raw["target"]), int(raw["case"]), str(raw["event"]), str(raw["event_id"]),
            dict(raw["payload"]),
        )  # fmt: skip
        return cls(
            id=int(raw["id"]),
            message=message,
            state=DeliveryState(raw["state"]),
            created_at=datetime.fromisoformat(raw["created_at"]),
            retry_since=datetime.fromisoformat(raw["retry_since"]),
            next_attempt=moment("next_attempt"),
            attempts=int(raw["attempts"]),
            last_error=str(raw.get("last_error", "")),
            sent_at=moment("sent_at"),
        )


# What a change of a case sends out (`before` is None for a new case). The composition root gives it
# to the engine, which enqueues what it returns in the same transaction as the change itself.
Announcer = Callable[[Case | None, Case], Sequence[Outgoing]]


class Outbox(Protocol):
    """Messages to other systems, kept until they are delivered: nothing is lost to a restart or a receiver
    that is down, and the messages about one case reach each receiver in order (one queue per
    channel, target and case; see `Delivery.queue`)."""

    async def enqueue(self, messages: Sequence[Outgoing], *, now: datetime) -> list[Delivery]:
        """Store `messages` as PENDING and due at `now`, durably; returns them with their ids."""
        ...

    async def claim(self, now: datetime, *, limit: int, lease: timedelta) -> list[Delivery]:
        """Up to `limit` due deliveries, each the first unsent one of its queue, marked SENDING until
        `now + lease` (then due again: its sender died). Of several claimers each delivery goes to one.

        Due: PENDING with `next_attempt <= now`, or SENDING with a lapsed claim. A FAILED one does not
        hold up the rest of its queue.
        """
        ...

    async def sent(self, delivery_id: int, *, now: datetime) -> None: ...

    async def failed(self, delivery_id: int, *, error: str, retry_at: datetime | None, now: datetime) -> None:
        """Record a failed attempt: PENDING again at `retry_at`, or FAILED when it is None (given up)."""
        ...

    async def resend(self, delivery_id: int, *, now: datetime) -> Delivery | None:
        """Make a delivery (in any state) due at `now` with a fresh retry period; None when no such id."""
        ...

    async def get(self, delivery_id: int) -> Delivery | None: ...

    async def unsent(self) -> list[Delivery]:
        """Every delivery not SENT (PENDING, SENDING, FAILED), oldest first."""
        ...

    async def forget_sent(self, *, before: datetime) -> int:
        """Drop SENT deliveries sent before `before`; how many."""


# -- the audit log (issue 17) ---------------------------------------------------------------------


class AuditLog(Protocol):
    """Who changed what that matters, and when: appended, never changed or removed.

    One `INSERT` per entry in a database; the embedded engine appends a line to a monthly file. The
    operator's command line appends its own changes (an override cancelled) beside the running bot,
    through the storage it opens `read_only`.
    """

    async def append(self, entry: AuditEntry) -> None:
        """Keep `entry` after every entry appended before it; returns once it is durable."""
        ...

    async def read(self, *, since: datetime | None = None, case: int | None = None) -> list[AuditEntry]:
        """The entries at or after `since` (all when None), only those of `case` when given, oldest first."""
        ...

    async def problems(self) -> list[str]:
        """Entries found damaged by `read` so far, one message each naming where they are."""
        ...


class Storage(Protocol):
    """One engine's implementation of every port, opened and closed together."""

    cases: Cases
    pages: Pages
    conversations: Conversations
    deliveries: DeliveryLog
    overrides: Overrides
    records: Records
    outbox: Outbox
    audit: AuditLog

    async def close(self) -> None: ...
