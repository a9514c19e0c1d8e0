"""The support case: what was reported, what it costs, what happened to it.

Cases are values. The `bot.ports.Cases` port gives them numbers and keeps them; everything else
builds a `NewCase` and reads `Case`s back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.categories import Category, Scope


class CaseStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"

    @property
    def closed(self) -> bool:
        return self in (CaseStatus.RESOLVED, CaseStatus.CANCELLED)


class EventKind(StrEnum):
    """The typed events of a case's append-only history."""

    CREATED = "created"
    PAGED = "paged"
    PAGE_FAILED = "page_failed"
    ESCALATED = "escalated"
    REMINDED = "reminded"
    POSTED_TO_TEAM = "posted_to_team"
    LINKED = "linked"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    REPORTER_NOTIFIED = "reporter_notified"


@dataclass(frozen=True)
class Reporter:
    """Who reported the case, and where to reach them again."""

    platform: str  # "slack", "teams", "local"
    workspace: str  # Slack team id, Teams tenant id, "local"
    user_id: str
    display_name: str = ""
    locale: str = "da"


@dataclass(frozen=True)
class CustomerRef:
    """The customer a workspace belongs to; `known` is False for a workspace not in the config."""

    name: str
    known: bool = True
    agreement: bool = False


@dataclass(frozen=True)
class CostAnswer:
    """Exactly what cost text the reporter was shown and what they answered."""

    terms: tuple[str, ...]  # cost term ids that applied, e.g. ("surcharge", "oncall_fee")
    shown_text: str
    answer: str  # the option id or text the reporter answered with
    accepted: bool
    shown_at: datetime
    answered_at: datetime


@dataclass(frozen=True)
class CaseEvent:
    at: datetime
    kind: EventKind
    actor: str = ""  # "system", a technician id, or the reporter's user id
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewCase:
    """Everything a case has before it gets its number."""

    reporter: Reporter
    customer: CustomerRef
    description: str
    category: Category
    confidence: int
    scope: Scope
    critical: bool
    after_hours: bool
    cost: CostAnswer | None = None
    page_requested: bool = False
    callback_phone: str = ""  # where on-call can ring the reporter back (as typed; "" when not given)


@dataclass(frozen=True)
class Case:
    number: int
    created_at: datetime
    reporter: Reporter
    customer: CustomerRef
    description: str
    category: Category
    confidence: int
    scope: Scope
    critical: bool
    after_hours: bool
    status: CaseStatus = CaseStatus.OPEN
    cost: CostAnswer | None = None
    page_requested: bool = False
    callback_phone: str = ""
    linked_to: int | None = None
    history: tuple[CaseEvent, ...] = ()

    @classmethod
    def from_new(cls, new: NewCase, *, number: int, created_at: datetime) -> Case:
        created = CaseEvent(at=created_at, kind=EventKind.CREATED, actor=new.reporter.user_id)
        return cls(
            number=number,
            created_at=created_at,
            history=(created,),
            **{f: getattr(new, f) for f in NewCase.__dataclass_fields__},
        )

    @property
    def version(self) -> int:
        """Grows by one with every change, since every change appends an event: what `update` checks."""
        return len(self.history)

    def with_event(self, event: CaseEvent, **changes: Any) -> Case:
        """A copy with `event` appended to the history and the given fields changed."""
        return replace(self, history=(*self.history, event), **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; datetimes as ISO-8601 strings."""
        return _jsonable(asdict(self))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Case:
        cost = raw.get("cost")
        return cls(
            number=int(raw["number"]),
            created_at=datetime.fromisoformat(raw["created_at"]),
            reporter=Reporter(**raw["reporter"]),
            customer=CustomerRef(**raw["customer"]),
            description=raw["description"],
            category=Category(raw["category"]),
            confidence=int(raw["confidence"]),
            scope=Scope(raw["scope"]),
            critical=bool(raw["critical"]),
            after_hours=bool(raw["after_hours"]),
            status=CaseStatus(raw["status"]),
            cost=None
            if cost is None
            else CostAnswer(
                terms=tuple(cost["terms"]),
                shown_text=cost["shown_text"],
                answer=cost["answer"],
                accepted=bool(cost["accepted"]),
                shown_at=datetime.fromisoformat(cost["shown_at"]),
                answered_at=datetime.fromisoformat(cost["answered_at"]),
            ),
            page_requested=bool(raw.get("page_requested", False)),
            callback_phone=raw.get("callback_phone", ""),
            linked_to=raw.get("linked_to"),
            history=tuple(
                CaseEvent(
                    at=datetime.fromisoformat(e["at"]),
                    kind=EventKind(e["kind"]),
                    actor=e.get("actor", ""),
                    data=e.get("data", {}),
                )
                for e in raw.get("history", ())
            ),
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
