"""The connection pool of the PostgreSQL engine, on an event loop of its own.

Why a loop of its own: an `AsyncConnectionPool` belongs to the event loop it was opened on, but the
ports are called from the server's loop, from worker threads (`bot.ports.Records` is blocking) and,
in the contract suite, from loops in other threads. So the pool lives on one private loop in a
daemon thread; `run` hands it a coroutine from any loop and `call` from any thread. The hop
costs some tens of microseconds, against a round trip to the database.

A database that cannot be reached (restarted, network down) raises `DatabaseUnavailable` within
`CONNECT_TIMEOUT` rather than leaving the caller waiting; the pool checks each connection before
lending it and reconnects on its own once the server is back.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

import psycopg
from psycopg.abc import Query
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.errors import StorageError

T = TypeVar("T")
CONNECT_TIMEOUT = 5.0  # seconds a caller waits for a connection before being told the database is away
POOL_SIZE = 8

Connection = psycopg.AsyncConnection[TupleRow]


class DatabaseUnavailable(StorageError):
    """The database cannot be reached now; nothing was changed, and the same call may succeed later."""


def versionless(doc: dict[str, Any]) -> Jsonb:
    """A versioned record's document for its row, without `version`: the row's own column is the truth."""
    return Jsonb({key: value for key, value in doc.items() if key != "version"})


def describe(url: str) -> str:
    """The database's address for messages and logs, without user name or password."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


class Database:
    """A pool of connections to the database at `url`, usable from any thread and any event loop."""

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        self.where = describe(url)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="postgres", daemon=True)
        self._thread.start()
        self._pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            timeout=CONNECT_TIMEOUT,
            check=AsyncConnectionPool.check_connection,
            kwargs={"connect_timeout": int(CONNECT_TIMEOUT)},
            name="supportbot",
        )
        try:
            self.call(self._open)
        except BaseException:
            self._stop_loop()
            raise

    async def _open(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except PoolTimeout as exc:
            await self._pool.close()
            raise DatabaseUnavailable(f"the PostgreSQL database {self.where} cannot be reached") from exc

    def call(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run `work()` on the pool's loop and wait for it, from a thread that is not that loop."""
        return asyncio.run_coroutine_threadsafe(self._guarded(work), self._loop).result()

    async def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run `work()` on the pool's loop, from any other event loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._guarded(work), self._loop))

    async def _guarded(self, work: Callable[[], Awaitable[T]]) -> T:
        try:
            return await work()
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise DatabaseUnavailable(f"the PostgreSQL database {self.where} is not answering: {exc}") from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection in a transaction, committed when the block ends (rolled back on an exception)."""
        async with self._pool.connection() as conn, conn.transaction():
            yield conn

    async def fetch(self, query: Query, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one statement run in a transaction of its own (none for a statement without rows)."""
        return await self.run(partial(self._fetch, query, params))

    def fetch_now(self, query: Query, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
        """`fetch`, blocking: for a worker thread (`bot.ports.Records`)."""
        return self.call(partial(self._fetch, query, params))

    async def _fetch(self, query: Query, params: Sequence[Any] | Mapping[str, Any]) -> list[tuple[Any, ...]]:
        async with self.transaction() as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall() if cursor.description else []

    async def healthy(self) -> bool:
        """Whether the database answers a query now."""
        try:
            async with self.transaction() as conn:
                await conn.execute("SELECT 1")
            return True
        except (PoolTimeout, psycopg.Error):
            return False

    def close(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._pool.close(), self._loop).result()
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
