"""`bot.ports.Pages` in PostgreSQL: one row per page record, with its version and next due moment.

Claiming a step is one `UPDATE … WHERE version = seen`: of several replicas that read the same
record and decided the same step, exactly one changes a row, so exactly one sends. `due` is an
index scan of `next_due`, so a tick without due work costs one short query.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from adapters.storage.postgres.database import Database, versionless
from bot.oncall.records import PageRecord


def _record(doc: dict[str, Any], version: int) -> PageRecord:
    return PageRecord.from_dict({**doc, "version": version})


class PostgresPages:
    """The live page records (see the module's docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, case: int) -> PageRecord | None:
        rows = await self.db.fetch("SELECT doc, version FROM pages WHERE case_number = %s", (case,))
        return _record(*rows[0]) if rows else None

    async def holds(self, case: int) -> bool:
        return bool(await self.db.fetch("SELECT 1 FROM pages WHERE case_number = %s", (case,)))

    async def put(self, record: PageRecord) -> PageRecord:
        (version,), *_ = await self.db.fetch(
            "INSERT INTO pages (case_number, version, next_due, doc) VALUES (%s, 1, %s, %s)"
            " ON CONFLICT (case_number) DO UPDATE SET version = pages.version + 1,"
            " next_due = EXCLUDED.next_due, doc = EXCLUDED.doc RETURNING version",
            (record.case, record.next_due, versionless(record.to_dict())),
        )
        return replace(record, version=version)

    async def claim(self, seen: PageRecord, changed: PageRecord) -> PageRecord | None:
        changed = replace(changed, case=seen.case)
        rows = await self.db.fetch(
            "UPDATE pages SET version = version + 1, next_due = %s, doc = %s"
            " WHERE case_number = %s AND version = %s RETURNING version",
            (changed.next_due, versionless(changed.to_dict()), seen.case, seen.version),
        )
        return replace(changed, version=rows[0][0]) if rows else None

    async def remove(self, case: int) -> None:
        await self.db.fetch("DELETE FROM pages WHERE case_number = %s RETURNING 1", (case,))

    async def due(self, now: datetime) -> list[int]:
        rows = await self.db.fetch("SELECT case_number FROM pages WHERE next_due <= %s ORDER BY case_number", (now,))
        return [int(n) for (n,) in rows]

    async def idle(self) -> list[int]:
        rows = await self.db.fetch("SELECT case_number FROM pages WHERE next_due IS NULL ORDER BY case_number")
        return [int(n) for (n,) in rows]

    async def drop_idle(self, cases: list[int]) -> list[PageRecord]:
        rows = await self.db.fetch(
            "DELETE FROM pages WHERE case_number = ANY(%s) AND next_due IS NULL RETURNING doc, version", (cases,)
        )
        return sorted((_record(doc, version) for doc, version in rows), key=lambda r: r.case)
