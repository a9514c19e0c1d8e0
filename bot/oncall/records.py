"""The live state of each page or team post: its step on the ladder, its timers, the messages sent.

Machinery, not the business record (that is the case history): the next due moment of each active
page, and the platform references of every message sent, so all copies can be updated in place.
Kept through the `bot.ports.Pages` port; `version` grows with every stored change, so claiming a
step is a compare-and-set that succeeds once. A claimed step carries its `Sending` lease until it has
been sent and recorded, so a runner that dies in between leaves the step to another runner.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from bot.delivery import MessageRef


class Step(IntEnum):
    """The escalation ladder of one page."""

    PRIMARY = 0  # the on-call primary is paged
    BACKUP = 1  # not acknowledged in time: the primary again, and the backup
    EVERYONE = 2  # still nothing: every technician on the rota
    GAVE_UP = 3  # nobody reached or nobody answered: the reporter is told to phone

    @property
    def label(self) -> str:
        return self.name.lower()


class RecordKind(StrEnum):
    PAGE = "page"  # after hours: escalation and reminders
    TEAM = "team"  # opening hours: posted to the team channel, no timers


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One page or post that went out, so it can be updated in place in the reader's language."""

    technician: str  # "" for a team channel
    language: str
    ref: MessageRef

    def to_dict(self) -> dict[str, Any]:
        ref = self.ref  # not `ref.__dict__`: that would give every reference kept in memory a dict of its own
        return {
            "technician": self.technician,
            "language": self.language,
            "ref": {
                "platform": ref.platform,
                "workspace": ref.workspace,
                "channel": ref.channel,
                "message_id": ref.message_id,
            },
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SentMessage:
        return cls(technician=raw["technician"], language=raw["language"], ref=MessageRef(**raw["ref"]))


CHAT = "chat"  # a step's chat page; its SMS and call go `via` `bot.oncall.phone.SMS` and `VOICE`


@dataclass(frozen=True, slots=True)
class Sending:
    """A claimed step being sent, under a lease: the runner `by` renews `until` while it sends, and clears
    the whole thing once every target is sent and recorded. Found lapsed, the step is re-sent by another
    runner to the targets not in `done` (one key per target recorded as sent: "chat:morten", "sms:sara")."""

    step: Step
    via: tuple[str, ...]  # (CHAT,) for the chat page of `step`; SMS and/or VOICE for the phone
    until: datetime  # the lease: after this moment the runner `by` is taken to be gone
    by: str  # the claim's token: "host:pid#n" of the runner sending it
    overdue: bool = False  # a chat page sent because nobody answered in time (its note says so)
    late_since: datetime | None = None  # the step fell due this long ago while the bot was down
    done: tuple[str, ...] = ()
    resends: int = 0  # how many times a lapsed lease was taken over

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": int(self.step),
            "via": list(self.via),
            "until": self.until.isoformat(),
            "by": self.by,
            "overdue": self.overdue,
            "late_since": self.late_since.isoformat() if self.late_since else None,
            "done": list(self.done),
            "resends": self.resends,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Sending:
        return cls(
            step=Step(raw["step"]),
            via=tuple(raw["via"]),
            until=datetime.fromisoformat(raw["until"]),
            by=str(raw["by"]),
            overdue=bool(raw.get("overdue", False)),
            late_since=_moment(raw.get("late_since")),
            done=tuple(raw.get("done", ())),
            resends=int(raw.get("resends", 0)),
        )


@dataclass(frozen=True, slots=True)
class PageRecord:
    """The live state of one paged (or team-posted) case."""

    case: int
    kind: RecordKind
    step: Step = Step.PRIMARY
    primary: str = ""  # technician ids on call when the page started
    backup: str = ""
    due: datetime | None = None  # when the next escalation step falls due
    reached: bool = False  # somebody got a page at some step
    failed: tuple[str, ...] = ()  # technicians who could not be reached in the current run of steps
    sent: tuple[SentMessage, ...] = ()
    remind_at: datetime | None = None
    reminders: int = 0
    sms_at: datetime | None = None  # when the current step also goes by SMS, then by a call, if not acknowledged
    call_at: datetime | None = None
    sending: Sending | None = None  # a claimed step not yet sent and recorded
    version: int = 0  # set by the store: how many times this record was stored

    @property
    def next_due(self) -> datetime | None:
        """The earliest of the next step, the next reminder, the SMS, the call and the end of a sending lease:
        when the runner must look again."""
        lease = self.sending.until if self.sending else None
        moments = [m for m in (self.due, self.remind_at, self.sms_at, self.call_at, lease) if m is not None]
        return min(moments, default=None)

    def with_sent(self, messages: list[SentMessage]) -> PageRecord:
        known = {m.ref for m in self.sent}
        fresh = [m for m in messages if m.ref not in known]
        return replace(self, sent=(*self.sent, *fresh))

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "kind": self.kind.value,
            "step": int(self.step),
            "primary": self.primary,
            "backup": self.backup,
            "due": self.due.isoformat() if self.due else None,
            "reached": self.reached,
            "failed": list(self.failed),
            "sent": [m.to_dict() for m in self.sent],
            "remind_at": self.remind_at.isoformat() if self.remind_at else None,
            "reminders": self.reminders,
            "sms_at": self.sms_at.isoformat() if self.sms_at else None,
            "call_at": self.call_at.isoformat() if self.call_at else None,
            "sending": self.sending.to_dict() if self.sending else None,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PageRecord:
        return cls(
            case=int(raw["case"]),
            kind=RecordKind(raw["kind"]),
            step=Step(raw["step"]),
            primary=raw.get("primary", ""),
            backup=raw.get("backup", ""),
            due=_moment(raw.get("due")),
            reached=bool(raw.get("reached", False)),
            failed=tuple(raw.get("failed", ())),
            sent=tuple(SentMessage.from_dict(m) for m in raw.get("sent", ())),
            remind_at=_moment(raw.get("remind_at")),
            reminders=int(raw.get("reminders", 0)),
            sms_at=_moment(raw.get("sms_at")),
            call_at=_moment(raw.get("call_at")),
            sending=Sending.from_dict(raw["sending"]) if raw.get("sending") else None,
            version=int(raw.get("version", 0)),
        )


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
