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

A claimed step (the first page, an escalation, a step's SMS and call) is stored with a `Sending`
lease of `LEASE`, which its runner renews while it sends and clears once every target is sent and
recorded. A runner that dies in between stops renewing; once the lease has lapsed, the next look
decides a `Resend` of that same step, claimed under a new lease (so one runner takes it over), to
the targets not yet recorded as sent. So a page is never lost to a dead runner, and a technician
gets at most one duplicate: when the runner died after their message went out but before it was
recorded. Runners compare leases with their own clocks, so the machines' clocks must agree (NTP)
to well within `LEASE`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.cases import CaseStatus
from bot.config import OncallSettings
from bot.oncall.phone import SMS, VOICE
from bot.oncall.records import CHAT, PageRecord, RecordKind, Sending, Step
from bot.oncall.rota import OnCall

LATE = timedelta(minutes=1)  # a step decided later than this after it fell due says so
# How long a claimed step stays with its runner without being renewed: two poll intervals of the
# runner (`bot.oncall.service.POLL_INTERVAL`, 5 s). A dead runner's step is re-sent within 15 s (the
# lease, then one poll), small beside an ack timeout of minutes; a live runner renews the lease every
# third of it, so a slow chat platform (Slack's retries alone may take most of a minute) never makes
# another runner send the step as well, and a renewal may be late twice before the lease lapses.
LEASE = timedelta(seconds=10)


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


@dataclass(frozen=True)
class Resend:
    """The runner that claimed this step is gone (its lease lapsed): send it again to whoever it did not reach."""

    step: Step
    via: tuple[str, ...]


Action = Escalate | Remind | Forget | Phone | Resend


@dataclass(frozen=True)
class Decision:
    """What to do now (None: nothing), and the record as it must be stored first (the claim)."""

    action: Action | None
    record: PageRecord


def start(case: int, on_call: OnCall, now: datetime, oncall: OncallSettings, by: str) -> PageRecord:
    """The record of a new page: the primary and backup on call now, the next step due after `ack_timeout`,
    and the first page claimed by the runner `by`."""
    record = PageRecord(
        case=case,
        kind=RecordKind.PAGE,
        primary=on_call.primary.id if on_call.primary else "",
        backup=on_call.backup.id if on_call.backup else "",
        due=now + oncall.ack_timeout,
        sending=Sending(Step.PRIMARY, (CHAT,), now + LEASE, by),
    )
    return _phone_times(record, Step.PRIMARY, now, oncall)


def decide(
    record: PageRecord,
    status: CaseStatus,
    acknowledged_at: datetime | None,
    oncall: OncallSettings,
    now: datetime,
    by: str,
) -> Decision:
    """The next action for a page record whose case has `status` (acknowledged at `acknowledged_at`),
    claimed for the runner `by` when it sends something."""
    if status.closed:
        return Decision(Forget(), record)
    if status is CaseStatus.ACKNOWLEDGED:
        return _after_acknowledgement(record, acknowledged_at or now, oncall, now)
    if record.kind is not RecordKind.PAGE:
        return Decision(None, record)
    if record.sending is not None:  # a claimed step comes first: nothing else until it is sent
        return _taken_over(record, now, by)
    if record.due is None or record.due > now:
        return _phone_due(record, now, by)
    step, due = record.step, record.due
    while due is not None and due <= now:  # after downtime: only the latest step that fell due
        step = Step(step + 1)
        due = due_after(step, due, oncall)
    late = now - record.due > LATE
    sending = Sending(step, (CHAT,), now + LEASE, by, overdue=True, late_since=record.due if late else None)
    claimed = replace(record, step=step, due=due_after(step, now, oncall), failed=(), sending=sending)
    return Decision(Escalate(step, late=late), _phone_times(claimed, step, now, oncall))


def unreached(
    record: PageRecord, step: Step, technicians: tuple[str, ...], now: datetime, oncall: OncallSettings, by: str
) -> PageRecord:
    """After a step reached none of `technicians`: the next step, at once rather than after a timeout,
    claimed by the runner `by` that sent this one."""
    following = Step(step + 1)
    failed = (*record.failed, *technicians)
    sending = Sending(following, (CHAT,), now + LEASE, by)
    record = replace(record, failed=failed, step=following, due=due_after(following, now, oncall), sending=sending)
    return _phone_times(record, following, now, oncall)


def renewed(record: PageRecord, now: datetime) -> PageRecord:
    """The record with its sending lease running on from `now` (its runner is still sending)."""
    assert record.sending is not None
    return replace(record, sending=replace(record.sending, until=now + LEASE))


def recorded(record: PageRecord, target: str) -> PageRecord:
    """The record once `target` ("chat:morten", "sms:sara") of the step being sent has got its message."""
    assert record.sending is not None
    return replace(record, sending=replace(record.sending, done=(*record.sending.done, target)))


def finished(record: PageRecord) -> PageRecord:
    """The record once its claimed step has been sent to every target and recorded: the lease is given up."""
    return replace(record, sending=None)


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
    return replace(record, due=None, sms_at=None, call_at=None, sending=None, remind_at=remind_at, reminders=0)


def first_reminder(acknowledged_at: datetime, oncall: OncallSettings) -> datetime | None:
    """When the acknowledger of an unresolved case is first reminded (never, with max_reminders = 0)."""
    return acknowledged_at + oncall.reminder_after if oncall.max_reminders > 0 else None


def _after_acknowledgement(
    record: PageRecord, acknowledged_at: datetime, oncall: OncallSettings, now: datetime
) -> Decision:
    if (record.due, record.sms_at, record.call_at, record.sending) != (None, None, None, None):
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


def _phone_due(record: PageRecord, now: datetime, by: str) -> Decision:
    """The SMS and the call of the current step that fell due, claimed by clearing their times."""
    sms = record.sms_at is not None and record.sms_at <= now
    call = record.call_at is not None and record.call_at <= now
    if not (sms or call):
        return Decision(None, record)
    fell_due = min(m for m in (record.sms_at, record.call_at) if m is not None and m <= now)
    late = now - fell_due > LATE
    via = tuple(kind for kind, wanted in ((SMS, sms), (VOICE, call)) if wanted)
    sending = Sending(record.step, via, now + LEASE, by, late_since=fell_due if late else None)
    claimed = replace(
        record, sms_at=None if sms else record.sms_at, call_at=None if call else record.call_at, sending=sending
    )
    return Decision(Phone(record.step, sms=sms, call=call, late=late), claimed)


def _taken_over(record: PageRecord, now: datetime, by: str) -> Decision:
    """Nothing while the step's runner holds its lease; once it lapsed, the same step, claimed by `by`."""
    sending = record.sending
    assert sending is not None
    if sending.until > now:
        return Decision(None, record)
    taken = replace(sending, until=now + LEASE, by=by, resends=sending.resends + 1)
    return Decision(Resend(sending.step, sending.via), replace(record, sending=taken))
