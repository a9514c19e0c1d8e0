"""Conversations, the delivery log and the platform records of the PostgreSQL engine.

Each promise of the ports is one statement, so it holds across replicas without any lock of ours:
a conversation is saved only `WHERE e_tag = seen` (or inserted `ON CONFLICT DO NOTHING` when there
was none), a delivery is taken by the `INSERT … ON CONFLICT` that returns a row, and OAuth state is
taken by the `DELETE … RETURNING` that finds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from adapters.storage.postgres.database import Database
from bot.ports import StoredConversation, VersionConflict

PRUNE_EVERY = 200  # deliveries between deletions of the expired ones


class PostgresConversations:
    """`bot.ports.Conversations`; the e_tag is a counter in its own column."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self, key: str) -> StoredConversation | None:
        rows = await self.db.fetch("SELECT state, updated_at, e_tag FROM conversations WHERE key = %s", (key,))
        if not rows:
            return None
        state, updated_at, e_tag = rows[0]
        return StoredConversation(key, state, updated_at, str(e_tag))

    async def save(
        self, key: str, state: dict[str, Any], *, updated_at: datetime, open: bool, e_tag: str | None
    ) -> str:
        if e_tag is None:
            rows = await self.db.fetch(
                "INSERT INTO conversations (key, state, updated_at, is_open, e_tag) VALUES (%s, %s, %s, %s, 1)"
                " ON CONFLICT (key) DO NOTHING RETURNING e_tag",
                (key, Jsonb(state), updated_at, open),
            )
        elif e_tag.isdigit():
            rows = await self.db.fetch(
                "UPDATE conversations SET state = %s, updated_at = %s, is_open = %s, e_tag = e_tag + 1"
                " WHERE key = %s AND e_tag = %s RETURNING e_tag",
                (Jsonb(state), updated_at, open, key, int(e_tag)),
            )
        else:
            rows = []
        if not rows:
            raise VersionConflict(f"conversation {key!r} was saved meanwhile")
        return str(rows[0][0])

    async def forget(self, *, open_before: datetime, finished_before: datetime, keep: int) -> int:
        """Idle ones first, then the oldest beyond `keep` (finished before open), in one statement."""
        rows = await self.db.fetch(
            "WITH idle AS (DELETE FROM conversations WHERE updated_at < CASE WHEN is_open THEN %(open)s"
            " ELSE %(finished)s END RETURNING key),"
            " ranked AS (SELECT key, row_number() OVER (ORDER BY is_open DESC, updated_at DESC, key DESC) AS place"
            " FROM conversations WHERE key NOT IN (SELECT key FROM idle)),"
            " surplus AS (DELETE FROM conversations WHERE key IN (SELECT key FROM ranked WHERE place > %(keep)s)"
            " RETURNING key)"
            " SELECT (SELECT count(*) FROM idle) + (SELECT count(*) FROM surplus)",
            {"open": open_before, "finished": finished_before, "keep": keep},
        )
        return int(rows[0][0])

    async def count(self) -> int:
        return int((await self.db.fetch("SELECT count(*) FROM conversations"))[0][0])


class PostgresDeliveryLog:
    """`bot.ports.DeliveryLog`: each key with the moment it may be taken again."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._calls = 0

    async def first_time(self, key: str, *, ttl: timedelta, now: datetime) -> bool:
        self._calls += 1
        if self._calls % PRUNE_EVERY == 0:
            await self.db.fetch("DELETE FROM deliveries WHERE until <= %s", (now,))
        rows = await self.db.fetch(
            "INSERT INTO deliveries (key, until) VALUES (%(key)s, %(until)s) ON CONFLICT (key)"
            " DO UPDATE SET until = EXCLUDED.until WHERE deliveries.until <= %(now)s RETURNING 1",
            {"key": key, "until": now + ttl, "now": now},
        )
        return bool(rows)

    async def release(self, key: str) -> None:
        await self.db.fetch("DELETE FROM deliveries WHERE key = %s", (key,))


class PostgresRecords:
    """`bot.ports.Records` (blocking, for the platform adapters' worker threads) by kind and key."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        rows = self.db.fetch_now("SELECT doc FROM records WHERE kind = %s AND key = %s", (kind, key))
        return rows[0][0] if rows else None

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        self.db.fetch_now(
            "INSERT INTO records (kind, key, doc) VALUES (%s, %s, %s)"
            " ON CONFLICT (kind, key) DO UPDATE SET doc = EXCLUDED.doc",
            (kind, key, Jsonb(doc)),
        )

    def delete(self, kind: str, keys: Iterable[str]) -> int:
        rows = self.db.fetch_now(
            "DELETE FROM records WHERE kind = %s AND key = ANY(%s) RETURNING 1", (kind, list(keys))
        )
        return len(rows)

    def take(self, kind: str, key: str) -> dict[str, Any] | None:
        rows = self.db.fetch_now("DELETE FROM records WHERE kind = %s AND key = %s RETURNING doc", (kind, key))
        return rows[0][0] if rows else None

    def all(self, kind: str) -> list[Mapping[str, Any]]:
        return [doc for (doc,) in self.db.fetch_now("SELECT doc FROM records WHERE kind = %s", (kind,))]
