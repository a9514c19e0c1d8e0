"""The PostgreSQL engine: every port of `bot.ports` on one database that several replicas share.

Chosen by `SUPPORTBOT_DATABASE_URL=postgresql://…`. Every guarantee is kept by the database in a
transaction, never by a lock in one process, so any number of `bot serve` processes may use the
same database at once (see the README, "Running several replicas"):

    cases.py       numbers from a locked counter row; updates with a version check
    pages.py       a step claimed by a compare-and-set of the record's version
    documents.py   conversations with e_tags, the delivery log, platform records
    outbox.py      webhook calls and e-mails, claimed with FOR UPDATE SKIP LOCKED, one queue at a time
    audit.py       the audit log, a table a trigger keeps append-only
    overrides.py   rota overrides made in chat, taken by a compare-and-set of their version
    migrations/    the schema, numbered SQL files applied at start-up under an advisory lock
"""

from __future__ import annotations

import asyncio

from adapters.storage.postgres import migrations
from adapters.storage.postgres.audit import PostgresAuditLog
from adapters.storage.postgres.cases import PostgresCases
from adapters.storage.postgres.database import Database, DatabaseUnavailable
from adapters.storage.postgres.documents import PostgresConversations, PostgresDeliveryLog, PostgresRecords
from adapters.storage.postgres.outbox import PostgresOutbox
from adapters.storage.postgres.overrides import PostgresOverrides
from adapters.storage.postgres.pages import PostgresPages
from bot.ports import Announcer

__all__ = ["DatabaseUnavailable", "PostgresStorage"]


class PostgresStorage:
    """Every port on the database at `url`, its schema brought up to date first (unless `upgrade` is False).

    `announce`: what a change of a case sends out, enqueued in the outbox in the change's transaction.
    """

    def __init__(
        self,
        url: str,
        *,
        first_number: int = 10001,
        upgrade: bool = True,
        announce: Announcer | None = None,
    ) -> None:
        self.db = Database(url)
        try:
            if upgrade:
                migrations.upgrade_now(self.db)
        except BaseException:
            self.db.close()
            raise
        self.cases = PostgresCases(self.db, first_number=first_number, announce=announce)
        self.pages = PostgresPages(self.db)
        self.conversations = PostgresConversations(self.db)
        self.deliveries = PostgresDeliveryLog(self.db)
        self.records = PostgresRecords(self.db)
        self.outbox = PostgresOutbox(self.db)
        self.audit = PostgresAuditLog(self.db)
        self.overrides = PostgresOverrides(self.db)

    async def healthy(self) -> bool:
        """Whether the database answers now (for `/healthz`)."""
        return await self.db.run(self.db.healthy)

    async def close(self) -> None:
        await asyncio.to_thread(self.db.close)
