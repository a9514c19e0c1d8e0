"""The schema as numbered SQL files (`migrations/0001_init.sql`, ...), applied in order, each once.

Every replica applies what is missing at start-up; an advisory lock held for the transaction makes
the others wait and then find nothing left to do. All pending files run in one transaction, so a
failing one leaves the schema as it was. A file, once released, is never edited: a change is a new
file with the next number.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from importlib.resources import files
from typing import TypeVar

from adapters.storage.postgres.database import Connection, Database

T = TypeVar("T")
# Any number, the same in every replica: pg_advisory_xact_lock takes a 64-bit key.
LOCK_KEY = 0x5355_5050_4F52_5442  # "SUPPORTB"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class Status:
    applied: list[tuple[int, str, datetime]]
    pending: list[Migration]
    unknown: list[int]  # applied by a newer version of the bot


def known() -> list[Migration]:
    """The migrations shipped with this version of the bot, in order."""
    found = []
    for entry in files("adapters.storage.postgres").joinpath("migrations").iterdir():
        number, _, rest = entry.name.partition("_")
        if entry.name.endswith(".sql") and number.isdigit():
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


async def _prepare(conn: Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )


async def status(conn: Connection) -> Status:
    """What is applied and what is not (in the caller's transaction)."""
    await _prepare(conn)
    cursor = await conn.execute("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
    applied = [(int(v), str(n), at) for v, n, at in await cursor.fetchall()]
    done = {version for version, _, _ in applied}
    shipped = known()
    names = {m.version for m in shipped}
    return Status(applied, [m for m in shipped if m.version not in done], sorted(done - names))


async def upgrade(conn: Connection) -> list[Migration]:
    """Apply the pending migrations (in the caller's transaction, under the lock); those applied."""
    pending = (await status(conn)).pending
    for migration in pending:
        await conn.execute(migration.sql.encode())
        await conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (migration.version, migration.name)
        )
    return pending


def upgrade_now(db: Database) -> list[Migration]:
    """`upgrade` in a transaction of its own, blocking (at start-up and for `supportbot db upgrade`)."""
    return db.call(partial(_in_transaction, db, upgrade))


def status_now(db: Database) -> Status:
    return db.call(partial(_in_transaction, db, status))


async def _in_transaction(db: Database, work: Callable[[Connection], Awaitable[T]]) -> T:
    async with db.transaction() as conn:
        return await work(conn)
