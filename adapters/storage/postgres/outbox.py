"""`bot.ports.Outbox` in PostgreSQL: one row per delivery, claimed by replicas with `FOR UPDATE SKIP LOCKED`.

A claim is one statement: it marks SENDING, until `now + lease`, the due deliveries that have no
earlier unsent delivery in their queue, skipping the rows another replica is claiming at that very
moment. A replica that dies while sending leaves its rows SENDING until the lease runs out; then they
are due again and another replica sends them (the receiver drops the duplicate by its idempotency key).

`enqueue_in` inserts in the caller's transaction: the case engine uses it so that a change of a case
and what it announces are committed together (or not at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from adapters.storage.postgres.database import Connection, Database
from bot.ports import Delivery, DeliveryState, Outgoing

_COLUMNS = (
    "id, channel, target, case_number, event, event_id, payload, state, created_at, retry_since, next_attempt,"
    " attempts, last_error, sent_at"
)
_UNSENT = "state IN ('pending', 'sending')"


def _delivery(row: Sequence[Any]) -> Delivery:
    (id_, channel, target, case, event, event_id, payload, state, created_at, retry_since, next_attempt,
     attempts, last_error, sent_at) = row  # fmt: skip
    return Delivery(
        id=int(id_),
        message=Outgoing(channel, target, int(case), event, event_id, dict(payload)),
        state=DeliveryState(state),
        created_at=created_at,
        retry_since=retry_since,
        next_attempt=next_attempt,
        attempts=int(attempts),
        last_error=last_error,
        sent_at=sent_at,
    )


async def enqueue_in(conn: Connection, messages: Sequence[Outgoing], *, now: datetime) -> list[Delivery]:
    """Insert `messages` as PENDING, due at `now`, in the transaction of `conn`."""
    made = []
    for m in messages:
        cursor = await conn.execute(
            "INSERT INTO outbox (channel, target, case_number, event, event_id, payload, state, created_at,"
            f" retry_since, next_attempt) VALUES (%s, %s, %s, %s, %s, %s, 'pending', %s, %s, %s) RETURNING {_COLUMNS}",
            (m.channel, m.target, m.case, m.event, m.event_id, Jsonb(m.payload), now, now, now),
        )
        made.append(_delivery(await cursor.fetchone() or ()))
    return made


class PostgresOutbox:
    """The outbox shared by every replica (see the module's docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(self, messages: Sequence[Outgoing], *, now: datetime) -> list[Delivery]:
        async def enqueue() -> list[Delivery]:
            async with self.db.transaction() as conn:
                return await enqueue_in(conn, messages, now=now)

        return await self.db.run(enqueue)

    async def claim(self, now: datetime, *, limit: int, lease: timedelta) -> list[Delivery]:
        rows = await self.db.fetch(
            f"UPDATE outbox SET state = 'sending', next_attempt = %(until)s WHERE id IN ("
            f" SELECT o.id FROM outbox o WHERE o.{_UNSENT} AND o.next_attempt <= %(now)s"
            "  AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.channel = o.channel AND e.target = o.target"
            f"   AND e.case_number = o.case_number AND e.id < o.id AND e.{_UNSENT})"
            f" ORDER BY o.id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) RETURNING {_COLUMNS}",
            {"now": now, "until": now + lease, "limit": limit},
        )
        return sorted(map(_delivery, rows), key=lambda d: d.id)

    async def sent(self, delivery_id: int, *, now: datetime) -> None:
        await self.db.fetch(
            "UPDATE outbox SET state = 'sent', attempts = attempts + 1, next_attempt = NULL, last_error = '',"
            " sent_at = %s WHERE id = %s",
            (now, delivery_id),
        )

    async def failed(self, delivery_id: int, *, error: str, retry_at: datetime | None, now: datetime) -> None:
        state = DeliveryState.PENDING if retry_at is not None else DeliveryState.FAILED
        await self.db.fetch(
            "UPDATE outbox SET state = %s, attempts = attempts + 1, next_attempt = %s, last_error = %s WHERE id = %s",
            (state.value, retry_at, error[:500], delivery_id),
        )

    async def resend(self, delivery_id: int, *, now: datetime) -> Delivery | None:
        rows = await self.db.fetch(
            "UPDATE outbox SET state = 'pending', retry_since = %(now)s, next_attempt = %(now)s"
            f" WHERE id = %(id)s RETURNING {_COLUMNS}",
            {"now": now, "id": delivery_id},
        )
        return _delivery(rows[0]) if rows else None

    async def get(self, delivery_id: int) -> Delivery | None:
        rows = await self.db.fetch(f"SELECT {_COLUMNS} FROM outbox WHERE id = %s", (delivery_id,))
        return _delivery(rows[0]) if rows else None

    async def unsent(self) -> list[Delivery]:
        rows = await self.db.fetch(f"SELECT {_COLUMNS} FROM outbox WHERE state <> 'sent' ORDER BY id")
        return [_delivery(row) for row in rows]

    async def forget_sent(self, *, before: datetime) -> int:
        """Drop old SENT rows, keeping the newest row as the embedded engine does (ids are never reused anyway)."""
        rows = await self.db.fetch(
            "DELETE FROM outbox WHERE state = 'sent' AND sent_at < %s AND id <> (SELECT max(id) FROM outbox)"
            " RETURNING 1",
            (before,),
        )
        return len(rows)
