"""The audit log's entries: who changed what that matters, and when; appended through `bot.ports.AuditLog`.

An entry names its action, its actor (a technician id, a reporter's user id, or "system"), the case
when there is one, and a small JSON-ready `data` with the facts (never a secret: a webhook's signing
secret is recorded as a keyed fingerprint, `secret_fingerprint`, that tells two secrets apart and
gives neither away). The configuration is recorded as the policy values that changed since the last
recorded configuration (`policy_values`, `policy_changes`), and a webhook's secret when its
fingerprint differs from the last one recorded for that webhook (`secret_changes`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.errors import StorageError

if TYPE_CHECKING:
    from bot.ports import AuditLog

logger = logging.getLogger(__name__)

SYSTEM = "system"


class AuditAction(StrEnum):
    CONSENT = "consent"  # the reporter accepted (or declined) the after-hours cost; data: terms, accepted
    ACKNOWLEDGED = "acknowledged"  # a technician acknowledged a case
    RESOLVED = "resolved"  # a technician resolved a case
    CANCELLED = "cancelled"  # the reporter withdrew a case, or the operator cancelled it; data: reason, source, charged
    OVERRIDE = "override"  # the rota was changed for a period (taken, swapped or cancelled in chat)
    CONFIG = "config"  # the configuration was loaded and differs from the last recorded one; data: changes
    # A webhook's signing secret was set or replaced; data: webhook, fingerprint, previous (never the secret).
    SECRET_ROTATED = "secret_rotated"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    action: AuditAction
    actor: str
    case: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "action": self.action.value, "actor": self.actor, "case": self.case,
                "data": self.data}  # fmt: skip

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AuditEntry:
        case = raw.get("case")
        return cls(
            at=datetime.fromisoformat(raw["at"]),
            action=AuditAction(raw["action"]),
            actor=str(raw["actor"]),
            case=None if case is None else int(case),
            data=dict(raw.get("data") or {}),
        )


async def record(log: AuditLog, entry: AuditEntry) -> None:
    """Append `entry`; a log that cannot be written is logged loudly but does not undo or stop the change
    itself (the case's own history holds it too)."""
    try:
        await log.append(entry)
    except StorageError:
        logger.exception("the audit log could not record %s of case %s by %s", entry.action, entry.case, entry.actor)


# The constant key of the secrets' fingerprints: the same secret always gives the same fingerprint.
FINGERPRINT_LABEL = b"supportbot/audit/webhook-secret-fingerprint/v1"
FINGERPRINT_CHARS = 8  # 32 bits: enough to see a change, too few to test guesses of a long secret against


def secret_fingerprint(secret: str) -> str:
    """The first 8 hex characters of HMAC-SHA256 of `secret` under a constant label."""
    return hmac.new(FINGERPRINT_LABEL, secret.encode("utf-8"), hashlib.sha256).hexdigest()[:FINGERPRINT_CHARS]


def secret_changes(
    fingerprints: Mapping[str, str], entries: Sequence[AuditEntry]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(claim key, entry data) for each webhook (url -> fingerprint of its secret now) whose fingerprint is not
    the last one recorded for it. The key names this one change (the last entry and the new fingerprint), so
    replicas starting together record it once by claiming the key (`bot.ports.DeliveryLog.first_time`)."""
    last: dict[str, AuditEntry] = {}
    for entry in entries:
        if entry.action is AuditAction.SECRET_ROTATED:
            last[str(entry.data.get("webhook"))] = entry
    for url, fingerprint in sorted(fingerprints.items()):
        before = last.get(url)
        previous = before.data.get("fingerprint") if before is not None else None
        if previous == fingerprint:
            continue
        since = before.at.isoformat() if before is not None else "-"
        key = f"audit:secret:{url}:{previous or '-'}@{since}:{fingerprint}"
        yield key, {"webhook": url, "fingerprint": fingerprint, "previous": previous}


# Settings that are not policy: where the bot runs and its data, and the clock for trying it out.
NOT_POLICY = ("host", "port", "data_dir", "start_at", "config_path")


def policy_values(settings: Settings) -> dict[str, str]:
    """Every policy value by its path: `costs.oncall_fee` is "1000.00", `customers[Acme A/S].agreement` "True"."""
    values: dict[str, str] = {}
    for f in dataclasses.fields(settings):
        if f.name not in NOT_POLICY:
            _flatten(f.name, getattr(settings, f.name), values)
    return values


def policy_changes(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, list[str | None]]:
    """`path -> [before, after]` for every value that changed, appeared (before None) or went (after None)."""
    return {
        key: [before.get(key), after.get(key)] for key in sorted({*before, *after}) if before.get(key) != after.get(key)
    }


def _flatten(path: str, value: object, into: dict[str, str]) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _flatten(f"{path}.{f.name}", getattr(value, f.name), into)
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            _flatten(f"{path}[{_name(item, i)}]", item, into)
    elif isinstance(value, frozenset | set):
        into[path] = ", ".join(sorted(map(_text, value)))
    else:
        into[path] = _text(value)


def _name(item: object, index: int) -> str:
    """A customer by its name and a technician by its id, so a change of order is no change."""
    for attribute in ("id", "name"):
        if isinstance(getattr(item, attribute, None), str):
            return str(getattr(item, attribute))
    return str(index)


def _text(value: object) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.total_seconds() / 60:g} min"
    if isinstance(value, Path):
        return str(value)
    return str(value)
