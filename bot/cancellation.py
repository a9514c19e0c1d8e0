"""Cancelling a case: its reporter withdraws it in chat, or the operator cancels it from the command line.

Who may: a reporter only their own case (another person's is answered as if the number did not
exist, as "status" does), and not one that colleagues' reports of the same outage are linked to (on-call
still works on it for them); the operator any open case, with the reports linked to it.

What it costs (POLICY.md): the fee and the surcharge are due when the task is started. A case
withdrawn before a technician acknowledged it costs nothing; once acknowledged, the technician has
started, so what the reporter accepted applies to the work done. The CANCELLED event records that as
`charged`, and the report counts only charged cases' money.

The change is the case store's `update`, so `case.cancelled` is queued for the ticket systems with it
(`bot.ports.Announcer`); the on-call ladder stops at its next step (`bot.oncall.ladder` forgets closed
cases), and a running bot brings the page up to date at once (`OncallService.withdrawn`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.audit import AuditAction, AuditEntry
from bot.audit import record as record_audit
from bot.cases import Case, CaseEvent, CaseStatus, EventKind, Reporter
from bot.oncall.pages import linked_numbers
from bot.ports import AuditLog, Cases, VersionConflict

REPORTER = "chat"  # `source` of a withdrawal in chat
OPERATOR = "cli"  # `source` of the operator's `cases cancel`


class Refusal(StrEnum):
    NOT_FOUND = "not_found"  # no such case, or not the person's own
    CLOSED = "closed"  # resolved or cancelled already
    SHARED = "shared"  # colleagues' open reports of the same outage are linked to it


@dataclass(frozen=True)
class Outcome:
    """The case as it is now: cancelled (with the linked reports cancelled too), or as found when `refused`."""

    case: Case | None
    refused: Refusal | None = None
    linked: tuple[Case, ...] = ()

    @property
    def charged(self) -> bool:
        return self.case is not None and charged(self.case)


def charged(case: Case) -> bool:
    """Whether what the reporter accepted applies: the case was cancelled after a technician acknowledged it."""
    event = next((e for e in reversed(case.history) if e.kind is EventKind.CANCELLED), None)
    return event is not None and bool(event.data.get("charged"))


def may_cancel(case: Case | None, reporter: Reporter | None, open_linked: int) -> Refusal | None:
    """Why `case` may not be cancelled (by `reporter`, or by the operator when None); None when it may."""
    if case is None or (reporter is not None and not reported_by(case, reporter)):
        return Refusal.NOT_FOUND
    if case.status.closed:
        return Refusal.CLOSED
    if reporter is not None and open_linked:
        return Refusal.SHARED
    return None


def reported_by(case: Case, person: Reporter) -> bool:
    mine = (case.reporter.platform, case.reporter.workspace, case.reporter.user_id)
    return mine == (person.platform, person.workspace, person.user_id)


async def cancel_case(
    store: Cases,
    audit: AuditLog,
    number: int,
    *,
    actor: str,
    name: str,
    reason: str,
    source: str,
    now: datetime,
    reporter: Reporter | None = None,
) -> Outcome:
    """Cancel case `number` (by its `reporter`, or by the operator when None) and record it in the audit log.

    A change made meanwhile (a technician acknowledging) is seen: the case is read again and decided again.
    """
    while True:
        case = await store.get(number)
        linked = await _open_linked(store, case)
        refused = may_cancel(case, reporter, len(linked))
        if case is None or refused is not None:
            return Outcome(case, refused)
        cost = case.cost
        data = {
            "name": name,
            "reason": reason,
            "source": source,
            "charged": case.status is CaseStatus.ACKNOWLEDGED and cost is not None and cost.accepted,
        }
        event = CaseEvent(now, EventKind.CANCELLED, actor, data)
        try:
            case = await store.update(number, event, expected_version=case.version, status=CaseStatus.CANCELLED)
            break
        except VersionConflict:
            continue
    also = []
    for other in linked:  # the operator only: a reporter is refused while any are open
        event = CaseEvent(now, EventKind.CANCELLED, actor, {**data, "via": number})
        also.append(await store.update(other.number, event, status=CaseStatus.CANCELLED))
    for changed in (case, *also):
        facts = data if changed is case else {**data, "via": number}
        await record_audit(audit, AuditEntry(now, AuditAction.CANCELLED, actor, changed.number, facts))
    return Outcome(case, None, tuple(also))


async def _open_linked(store: Cases, case: Case | None) -> list[Case]:
    if case is None:
        return []
    return [c for c in await store.get_many(linked_numbers(case)) if not c.status.closed]
