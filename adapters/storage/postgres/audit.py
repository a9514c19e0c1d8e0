"""`bot.ports.AuditLog` in PostgreSQL: one `INSERT` per entry into a table a trigger keeps append-only.

Entries are read in the order they were appended (by id), filtered by their moment and case in
the query. An entry whose document cannot be read (changed by hand, bypassing the trigger) is named
in `problems()` and skipped, never rewritten.
"""

from __future__ import annotations

from datetime import datetime

from psycopg.types.json import Jsonb

from adapters.storage.postgres.database import Database
from bot.audit import AuditEntry


def damaged(entry_id: int) -> str:
    """Where a damaged entry is, as every message about it names it."""
    return f"PostgreSQL table audit, entry {entry_id}"


class PostgresAuditLog:
    """The audit log shared by every replica and the operator's commands (a cancel from the command line
    is recorded too)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._problems: dict[int, str] = {}

    async def append(self, entry: AuditEntry) -> None:
        await self.db.fetch(
            "INSERT INTO audit (at, case_number, doc) VALUES (%s, %s, %s)",
            (entry.at, entry.case, Jsonb(entry.to_dict())),
        )

    async def read(self, *, since: datetime | None = None, case: int | None = None) -> list[AuditEntry]:
        rows = await self.db.fetch(
            "SELECT id, doc FROM audit WHERE (%(since)s::timestamptz IS NULL OR at >= %(since)s)"
            " AND (%(case)s::bigint IS NULL OR case_number = %(case)s) ORDER BY id",
            {"since": since, "case": case},
        )
        found = []
        for entry_id, doc in rows:
            try:
                found.append(AuditEntry.from_dict(doc))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                self._problems[entry_id] = (
                    f"{damaged(entry_id)}: it is damaged ({exc!r}); it is skipped and left as it is"
                )
        return found

    async def problems(self) -> list[str]:
        return list(self._problems.values())
