"""Overrides made in chat: a technician hands a period over ("Kan nogen tage min vagt ...") or takes one.

A period first offered to the others is OFFERED; the first technician who presses "Jeg tager den"
turns it TAKEN (a compare-and-set through `bot.ports.Overrides`, so of two presses at once one wins).
A period taken directly is TAKEN from the start. A TAKEN override is part of the rota at once
(`Rota.with_chat`) and wins over the config's overrides for the same period; CANCELLED ones (from
the CLI, or an offer nobody took) are kept for the record and ignored.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.audit import AuditAction, AuditEntry
from bot.config import RotaOverride

ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or typed from a phone
ID_LENGTH = 6


class OverrideStatus(StrEnum):
    OFFERED = "offered"  # waiting for another technician to take it
    TAKEN = "taken"  # in force: `primary` is on call for the period
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ChatOverride:
    """A period of the rota handed over in chat. `requester` asked for cover ("" when taken directly)."""

    id: str
    start: datetime
    end: datetime
    requester: str
    primary: str  # who covers; "" while offered
    status: OverrideStatus
    created_at: datetime
    by: str = ""  # who made the last change (took it, cancelled it; "cli" from the command line)
    version: int = 0  # set by the store: how many times it was stored

    @property
    def in_force(self) -> bool:
        return self.status is OverrideStatus.TAKEN

    def taken_by(self, technician: str) -> ChatOverride:
        return replace(self, primary=technician, status=OverrideStatus.TAKEN, by=technician)

    def cancelled(self, by: str) -> ChatOverride:
        return replace(self, status=OverrideStatus.CANCELLED, by=by)

    def as_rota_override(self) -> RotaOverride:
        return RotaOverride(start=self.start, end=self.end, primary=self.primary, backup=None, origin=self.id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "requester": self.requester,
            "primary": self.primary,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
            "by": self.by,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ChatOverride:
        return cls(
            id=raw["id"],
            start=datetime.fromisoformat(raw["start"]),
            end=datetime.fromisoformat(raw["end"]),
            requester=raw["requester"],
            primary=raw["primary"],
            status=OverrideStatus(raw["status"]),
            created_at=datetime.fromisoformat(raw["created_at"]),
            by=raw.get("by", ""),
            version=int(raw.get("version", 0)),
        )


def new_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def offer(start: datetime, end: datetime, *, requester: str, now: datetime) -> ChatOverride:
    return ChatOverride(new_id(), start, end, requester, "", OverrideStatus.OFFERED, now, by=requester)


def take(start: datetime, end: datetime, *, technician: str, now: datetime) -> ChatOverride:
    return ChatOverride(new_id(), start, end, "", technician, OverrideStatus.TAKEN, now, by=technician)


def audit_entry(override: ChatOverride, change: str, *, at: datetime) -> AuditEntry:
    """The audit log's record of a change of the rota made in chat: `change` is "taken" (a period taken
    directly), "swapped" (an offer taken by a colleague) or "cancelled"; the actor is `override.by`."""
    data = {"id": override.id, "change": change, "start": override.start.isoformat(), "end": override.end.isoformat()}
    if override.primary:
        data["primary"] = override.primary
    if override.requester:
        data["requester"] = override.requester
    return AuditEntry(at, AuditAction.OVERRIDE, override.by, None, data)
