"""What the bot keeps, stated as the ports a storage engine implements; the core never sees a file or a query.

Each port is named after a need of the domain, and each promise is one an engine can keep in a
single transaction (the embedded engine holds a lock on its data folder; a database engine uses
rows, versions and `INSERT … ON CONFLICT`). `tests/contract/` holds every engine to them. The
composition root (`adapters.storage.open_storage`) picks the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypedDict, Unpack

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


class Storage(Protocol):
    """One engine's implementation of every port, opened and closed together."""

    cases: Cases
    pages: Pages
    conversations: Conversations
    deliveries: DeliveryLog
    overrides: Overrides
    records: Records

    async def close(self) -> None: ...
