"""`bot.ports.Overrides` in PostgreSQL: one row per override made in chat.

Taking or cancelling is one `UPDATE … WHERE version = seen`: of several technicians pressing "Jeg tager
den" on as many replicas, exactly one changes the row. Every read goes to the database, so a cancel
from the command line counts at once everywhere.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from psycopg.errors import UniqueViolation

from adapters.storage.postgres.database import Database, versionless
from bot.oncall.overrides import ChatOverride
from bot.ports import VersionConflict


def _override(doc: dict[str, Any], version: int) -> ChatOverride:
    return ChatOverride.from_dict({**doc, "version": version})


class PostgresOverrides:
    """The rota overrides made in chat (see the module's docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, override: ChatOverride) -> ChatOverride:
        try:
            await self.db.fetch(
                "INSERT INTO overrides (id, version, start_at, end_at, doc) VALUES (%s, 1, %s, %s, %s) RETURNING id",
                (override.id, override.start, override.end, versionless(override.to_dict())),
            )
        except UniqueViolation:
            raise VersionConflict(f"override {override.id} exists already") from None
        return replace(override, version=1)

    async def get(self, override_id: str) -> ChatOverride | None:
        rows = await self.db.fetch("SELECT doc, version FROM overrides WHERE id = %s", (override_id,))
        return _override(*rows[0]) if rows else None

    async def change(self, seen: ChatOverride, changed: ChatOverride) -> ChatOverride | None:
        changed = replace(changed, id=seen.id)
        rows = await self.db.fetch(
            "UPDATE overrides SET version = version + 1, start_at = %s, end_at = %s, doc = %s"
            " WHERE id = %s AND version = %s RETURNING version",
            (changed.start, changed.end, versionless(changed.to_dict()), seen.id, seen.version),
        )
        return replace(changed, version=rows[0][0]) if rows else None

    async def all(self, *, ending_after: datetime) -> list[ChatOverride]:
        rows = await self.db.fetch(
            "SELECT doc, version FROM overrides WHERE end_at > %s ORDER BY start_at, id", (ending_after,)
        )
        return [_override(doc, version) for doc, version in rows]
