"""The escalation ladder as pure functions: a page, the case's state, the rota and the time in; the next action out.

No I/O and no clock: the runner (`bot.oncall.service`) loads the page record and the case, calls
`decide`, claims the record it returns through the `Pages` port (so one runner acts, once) and then
performs the action. Because every due time is in the stored record, a step that fell due while
the bot was down is decided at the next look, at once, and marked late.

The ladder: the primary is paged; not acknowledged within `ack_timeout`, the primary again and the
backup (BACKUP); still nothing after `escalate_all_after`, every technician (EVERYONE); then the
reporter is told to phone (GAVE_UP). With phone escalation configured, a step not acknowledged
within `sms_after` also goes by SMS, and within `call_after` by a voice call, to that step's
technicians (Phone: one claim each, so each goes out once per step). Who is primary and backup is
fixed when the page starts, so a handover during a page does not change whom it escalates to. Once
acknowledged, the acknowledger is reminded every `reminder_after`, at most `max_reminders` times,
until the case is resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.cases import CaseStatus
from bot.config import OncallSettings
from bot.oncall.records import PageRecord, RecordKind, Step
from bot.oncall.rota import OnCall

LATE = timedelta(minutes=1)  # a step decided later than this after it fell due says so


@dataclass(frozen=True)
class Escalate:
    """Page the targets of `step` (GAVE_UP has none: the reporters are told to phone)."""

    step: Step
    late: bool  # it fell due while nobody looked (the bot was down)


@dataclass(frozen=True)
class Remind:
    """Remind the technician who acknowledged that the case is still not resolved."""

    count: int


@dataclass(frozen=True)
class Forget:
    """The case is closed (resolved or cancelled outside on-call): drop the record, update its messages."""


@dataclass(frozen=True)
class Phone:
    """Reach the technicians of the current `step` by phone too: an SMS, a voice call, or both (after downtime)."""

    step: Step
    sms: bool
    call: bool
    late: bool


Action = Escalate | Remind | Forget | Phone


@dataclass(frozen=True)
class Decision:
    """What to do now (None: nothing), and the record as it must be stored first (the claim)."""

    action: Action | None
    record: PageRecord


def start(case: int, on_call: OnCall, now: datetime, oncall: OncallSettings) -> PageRecord:
    """The record of a new page: the primary and backup on call now, the next step due after `ack_timeout`."""
    record = PageRecord(
        case=case,
        kind=RecordKind.PAGE,
        primary=on_call.primary.id if on_call.primary else "",
        backup=on_call.backup.id if on_call.backup else "",
        due=now + oncall.ack_timeout,
    )
    return _phone_times(record, Step.PRIMARY, now, oncall)


def decide(
    record: PageRecord,
    status: CaseStatus,
    acknowledged_at: datetime | None,
    oncall: OncallSettings,
    now: datetime,
) -> Decision:
    """The next action for a page record whose case has `status` (acknowledged at `acknowledged_at`)."""
    if status.closed:
        return Decision(Forget(), record)
    if status is CaseStatus.ACKNOWLEDGED:
        return _after_acknowledgement(record, acknowledged_at or now, oncall, now)
    if record.kind is not RecordKind.PAGE:
        return Decision(None, record)
    if record.due is None or record.due > now:
        return _phone_due(record, now)
    step, due = record.step, record.due
    while due is not None and due <= now:  # after downtime: only the latest step that fell due
        step = Step(step + 1)
        due = due_after(step, due, oncall)
    claimed = replace(record, step=step, due=due_after(step, now, oncall), failed=())
    return Decision(Escalate(step, late=now - record.due > LATE), _phone_times(claimed, step, now, oncall))


def unreached(
    record: PageRecord, step: Step, technicians: tuple[str, ...], now: datetime, oncall: OncallSettings
) -> PageRecord:
    """After a step reached none of `technicians`: the next step, at once rather than after a timeout."""
    following = Step(step + 1)
    failed = (*record.failed, *technicians)
    record = replace(record, failed=failed, step=following, due=due_after(following, now, oncall))
    return _phone_times(record, following, now, oncall)


def targets(record: PageRecord, step: Step, everyone: tuple[str, ...]) -> list[str]:
    """Who a step pages: the page's primary; then primary and backup; then every technician of the rota."""
    ids = {
        Step.PRIMARY: [record.primary],
        Step.BACKUP: [record.primary, record.backup],
        Step.EVERYONE: list(everyone),
        Step.GAVE_UP: [],
    }[step]
    return [i for i in dict.fromkeys(ids) if i and i not in record.failed]


def due_after(step: Step, start: datetime, oncall: OncallSettings) -> datetime | None:
    """When the step after `step` falls due if nobody acknowledges (None after giving up)."""
    if step is Step.PRIMARY:
        return start + oncall.ack_timeout
    if step is Step.GAVE_UP:
        return None
    return start + oncall.escalate_all_after


def acknowledged(record: PageRecord, at: datetime, oncall: OncallSettings) -> PageRecord:
    """The record once its case is acknowledged at `at`: the ladder and the phone stop, reminders start."""
    remind_at = first_reminder(at, oncall) if record.kind is RecordKind.PAGE else None
    return replace(record, due=None, sms_at=None, call_at=None, remind_at=remind_at, reminders=0)


def first_reminder(acknowledged_at: datetime, oncall: OncallSettings) -> datetime | None:
    """When the acknowledger of an unresolved case is first reminded (never, with max_reminders = 0)."""
    return acknowledged_at + oncall.reminder_after if oncall.max_reminders > 0 else None


def _after_acknowledgement(
    record: PageRecord, acknowledged_at: datetime, oncall: OncallSettings, now: datetime
) -> Decision:
    if (record.due, record.sms_at, record.call_at) != (None, None, None):
        record = acknowledged(record, acknowledged_at, oncall)  # the ladder was not stopped (a crash in between)
    if record.kind is not RecordKind.PAGE or record.remind_at is None or record.remind_at > now:
        return Decision(None, record)
    count = record.reminders + 1
    remind_at = now + oncall.reminder_after if count < oncall.max_reminders else None
    return Decision(Remind(count), replace(record, reminders=count, remind_at=remind_at))


def _phone_times(record: PageRecord, step: Step, start: datetime, oncall: OncallSettings) -> PageRecord:
    """The record with the SMS and call of `step` (paged at `start`) scheduled, as configured."""
    if step is Step.GAVE_UP:
        return replace(record, sms_at=None, call_at=None)
    sms_at = start + oncall.sms_after if oncall.sms_after is not None else None
    call_at = start + oncall.call_after if oncall.call_after is not None else None
    return replace(record, sms_at=sms_at, call_at=call_at)


def _phone_due(record: PageRecord, now: datetime) -> Decision:
    """The SMS and the call of the current step that fell due, claimed by clearing their times."""
    sms = record.sms_at is not None and record.sms_at <= now
    call = record.call_at is not None and record.call_at <= now
    if not (sms or call):
        return Decision(None, record)
    fell_due = min(m for m in (record.sms_at, record.call_at) if m is not None and m <= now)
    claimed = replace(record, sms_at=None if sms else record.sms_at, call_at=None if call else record.call_at)
    return Decision(Phone(record.step, sms=sms, call=call, late=now - fell_due > LATE), claimed)
