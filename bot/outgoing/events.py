"""The case events other systems receive, and the announcer that puts them in the outbox.

A change of a case is announced when it is created or its status changes (acknowledged, resolved,
cancelled). The event id, `<case>-<version>`, names that change of that case: it is the same on every
attempt and every re-send, so a receiver drops what it has seen (the idempotency key).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.cases import Case, CaseStatus, EventKind
from bot.config import Settings
from bot.outgoing.mail import MAIL, mail_for
from bot.ports import Outgoing

WEBHOOK = "webhook"
SCHEMA_VERSION = 1
_EVENT_OF_STATUS = {
    CaseStatus.ACKNOWLEDGED: "case.acknowledged",
    CaseStatus.RESOLVED: "case.resolved",
    CaseStatus.CANCELLED: "case.cancelled",
}
_ACTOR_OF = {
    "acknowledged_by": EventKind.ACKNOWLEDGED,
    "resolved_by": EventKind.RESOLVED,
    "cancelled_by": EventKind.CANCELLED,
}


def event_of(before: Case | None, after: Case) -> str | None:
    """ "case.created", "case.acknowledged", ... for this change; None when it is not announced."""
    if before is None:
        return "case.created"
    if before.status is after.status:
        return None
    return _EVENT_OF_STATUS.get(after.status)


def event_id(case: Case) -> str:
    return f"{case.number}-{case.version}"


def case_event(case: Case, event: str) -> dict[str, Any]:
    """The JSON body of a webhook call (README: "Connecting your ticket system")."""
    change = case.history[-1]
    return {
        "id": event_id(case),
        "type": event,
        "schema": SCHEMA_VERSION,
        "occurred_at": change.at.isoformat(),
        "case": {
            "number": case.number,
            "status": case.status.value,
            "version": case.version,
            "created_at": case.created_at.isoformat(),
            "customer": {
                "name": case.customer.name,
                "known": case.customer.known,
                "agreement": case.customer.agreement,
            },
            "reporter": {
                "name": case.reporter.display_name,
                "platform": case.reporter.platform,
                "workspace": case.reporter.workspace,
                "user_id": case.reporter.user_id,
                "language": case.reporter.locale,
            },
            "description": case.description,
            "category": case.category.value,
            "affected": case.scope.value,
            "critical": case.critical,
            "after_hours": case.after_hours,
            "oncall_requested": case.page_requested,
            "callback_phone": case.callback_phone,
            "cost": None
            if case.cost is None
            else {
                "terms": list(case.cost.terms),
                "accepted": case.cost.accepted,
                "answered_at": case.cost.answered_at.isoformat(),
            },
            "linked_to": case.linked_to,
            **{key: _actor(case, kind) for key, kind in _ACTOR_OF.items()},
            "cancellation": _cancellation(case),
        },
    }


def _cancellation(case: Case) -> dict[str, Any] | None:
    """Why and by whom a cancelled case was cancelled, and whether the accepted terms still apply (`charged`)."""
    event = next((e for e in reversed(case.history) if e.kind is EventKind.CANCELLED), None)
    if event is None or case.status is not CaseStatus.CANCELLED:
        return None
    by = "operator" if event.data.get("source") == "cli" else "reporter"
    return {"by": by, "reason": str(event.data.get("reason", "")), "charged": bool(event.data.get("charged"))}


def _actor(case: Case, kind: EventKind) -> dict[str, str] | None:
    event = next((e for e in reversed(case.history) if e.kind is kind), None)
    if event is None:
        return None
    return {"id": event.actor, "name": str(event.data.get("name", event.actor)), "at": event.at.isoformat()}


class Announcements:
    """The `bot.ports.Announcer` of the running bot: each webhook gets the events it subscribed to, and
    the support mailbox each new case when e-mail is on (`mail_to` not None)."""

    def __init__(self, settings: Settings, *, mail_to: str | None) -> None:
        self._settings = settings
        self._mail_to = mail_to

    def __call__(self, before: Case | None, after: Case) -> Sequence[Outgoing]:
        event = event_of(before, after)
        if event is None:
            return []
        key = event_id(after)
        body = case_event(after, event)
        found = [
            Outgoing(WEBHOOK, hook.url, after.number, event, key, body)
            for hook in self._settings.webhooks
            if event in hook.events
        ]
        if self._mail_to is not None and event == "case.created":
            mail = mail_for(after, settings=self._settings, message_id=key)
            found.append(Outgoing(MAIL, self._mail_to, after.number, event, key, mail))
        return found
