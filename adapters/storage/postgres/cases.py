"""`bot.ports.Cases` in PostgreSQL: one row per case, the whole case as jsonb beside the searched columns.

Numbers come from the one row of `case_counter`, updated in the same transaction as the insert: a
second creator waits on that row lock until the first commits (or rolls back, giving the number
back), so numbers are unique, gapless and in commit order across every replica. An update locks its
row (`FOR UPDATE`) and checks the version there, so two replicas never overwrite each other.
What a change announces (`bot.ports.Announcer`) is put in the outbox in the same transaction: the
change and its messages are committed together or not at all.

A case whose document cannot be read (edited by hand) is named and left as it is: `get()` raises,
`find()` leaves it out and `problems()` lists it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Unpack

from psycopg import sql
from psycopg.types.json import Jsonb

from adapters.storage.postgres.database import Connection, Database
from adapters.storage.postgres.outbox import enqueue_in
from bot.cases import Case, CaseEvent, CaseStatus, NewCase
from bot.errors import CaseNotFoundError, StorageError
from bot.ports import Announcer, CaseFilters, VersionConflict

logger = logging.getLogger(__name__)

_FIXED_FIELDS = frozenset({"number", "created_at", "history"})
_COLUMNS = (
    "number, created_at, status, is_open, customer, reporter_platform, reporter_workspace, reporter_user,"
    " category, version, doc"
)


def _row(case: Case) -> tuple[Any, ...]:
    reporter = case.reporter
    return (
        case.number,
        case.created_at,
        case.status.value,
        not case.status.closed,
        case.customer.name,
        reporter.platform,
        reporter.workspace,
        reporter.user_id,
        case.category.value,
        case.version,
        Jsonb(case.to_dict()),
    )


def damaged(number: int) -> str:
    """Where a damaged case is, as every message about it names it."""
    return f"PostgreSQL table cases, case {number}"


class PostgresCases:
    """The numbered cases (see the module's docstring)."""

    def __init__(self, db: Database, *, first_number: int, announce: Announcer | None = None) -> None:
        self.db = db
        self.first_number = first_number
        self._announce = announce
        self._problems: dict[int, str] = {}

    async def create(self, new: NewCase, *, now: datetime) -> Case:
        """Store `new` under the next number; returns once it is committed."""
        if not isinstance(new.description, str) or not new.description.strip():
            raise ValueError("a case needs a description; ask the reporter what is wrong first")
        if now.tzinfo is None:
            raise ValueError("`now` must be timezone-aware")

        async def create() -> Case:
            async with self.db.transaction() as conn:
                cursor = await conn.execute(
                    "INSERT INTO case_counter (last_number) VALUES (%(first)s) ON CONFLICT (only_row)"
                    " DO UPDATE SET last_number = greatest(case_counter.last_number + 1, %(first)s)"
                    " RETURNING last_number",
                    {"first": self.first_number},
                )
                (number,) = await cursor.fetchone() or (None,)
                case = Case.from_new(new, number=int(number), created_at=now)
                await conn.execute(f"INSERT INTO cases ({_COLUMNS}) VALUES ({', '.join(['%s'] * 11)})", _row(case))
                await self._tell(conn, None, case)
            logger.info("case %s created", case.number)
            return case

        return await self.db.run(create)

    async def get(self, number: int) -> Case | None:
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < 2**63:
            return None

        async def get() -> Case | None:
            async with self.db.transaction() as conn:
                cursor = await conn.execute("SELECT doc FROM cases WHERE number = %s", (number,))
                row = await cursor.fetchone()
            return None if row is None else self._parse(number, row[0])

        return await self.db.run(get)

    async def get_many(self, numbers: Iterable[int]) -> list[Case]:
        wanted = [n for n in numbers if isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**63]

        async def get_many() -> list[Case]:
            async with self.db.transaction() as conn:
                cursor = await conn.execute("SELECT number, doc FROM cases WHERE number = ANY(%s)", (wanted,))
                found = dict(await cursor.fetchall())
            return self._readable((n, found[n]) for n in wanted if n in found)

        return await self.db.run(get_many)

    async def find(self, **filters: Unpack[CaseFilters]) -> list[Case]:
        async def find() -> list[Case]:
            async with self.db.transaction() as conn:
                cursor = await conn.execute(*_select("number, doc", filters))
                return self._readable(await cursor.fetchall())

        return await self.db.run(find)

    async def find_numbers(self, **filters: Unpack[CaseFilters]) -> list[int]:
        async def find_numbers() -> list[int]:
            async with self.db.transaction() as conn:
                cursor = await conn.execute(*_select("number", filters))
                return [int(n) for (n,) in await cursor.fetchall()]

        return await self.db.run(find_numbers)

    async def update(
        self, number: int, event: CaseEvent, *, expected_version: int | None = None, **changes: Any
    ) -> Case:
        fixed = _FIXED_FIELDS & changes.keys()
        if fixed:
            raise ValueError(f"a case's {', '.join(sorted(fixed))} cannot be changed")
        if "status" in changes:
            changes["status"] = CaseStatus(changes["status"])

        async def update() -> Case:
            async with self.db.transaction() as conn:
                cursor = await conn.execute("SELECT doc FROM cases WHERE number = %s FOR UPDATE", (number,))
                row = await cursor.fetchone()
                if row is None:
                    raise CaseNotFoundError(f"no case has number {number}")
                case = self._parse(number, row[0])
                if expected_version is not None and case.version != expected_version:
                    raise VersionConflict(
                        f"case {number} changed meanwhile (version {case.version}, not {expected_version})"
                    )
                before, case = case, case.with_event(event, **changes)
                await _replace(conn, case)
                await self._tell(conn, before, case)
            return case

        return await self.db.run(update)

    async def _tell(self, conn: Connection, before: Case | None, case: Case) -> None:
        """Enqueue what the change sends out, in the change's own transaction."""
        if self._announce is not None and (messages := self._announce(before, case)):
            await enqueue_in(conn, messages, now=case.history[-1].at)

    async def problems(self) -> list[str]:
        """Every case whose document cannot be read; reads them all (for the operator, not the hot path)."""
        await self.find()
        return list(self._problems.values())

    async def warm_up(self) -> None:
        """Nothing to prepare: the database keeps its own indexes."""

    async def close(self) -> None:
        """Nothing of its own to close: the engine closes the pool."""

    def _readable(self, rows: Iterable[tuple[int, Any]]) -> list[Case]:
        cases = []
        for number, doc in rows:
            try:
                cases.append(self._parse(int(number), doc))
            except StorageError:
                continue
        return cases

    def _parse(self, number: int, doc: Any) -> Case:
        try:
            return Case.from_dict(doc)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # edited by hand, or by a newer version
            problem = f"{damaged(number)}: it is incomplete and was left as it is ({exc!r})"
            if number not in self._problems:
                logger.error("%s", problem)
            self._problems[number] = problem
            raise StorageError(problem) from exc


async def _replace(conn: Connection, case: Case) -> None:
    row = _row(case)
    await conn.execute(
        "UPDATE cases SET status = %s, is_open = %s, customer = %s, reporter_platform = %s, reporter_workspace = %s,"
        " reporter_user = %s, category = %s, version = %s, doc = %s WHERE number = %s",
        (*row[2:], case.number),
    )


def _select(columns: str, filters: CaseFilters) -> tuple[sql.Composed, dict[str, Any]]:
    """The query for `Cases.find` with these filters, newest first."""
    conditions = [sql.SQL("true")]
    params: dict[str, Any] = {}
    if (status := filters.get("status")) is not None:
        conditions.append(sql.SQL("status = %(status)s"))
        params["status"] = CaseStatus(status).value
    if filters.get("open_only"):
        conditions.append(sql.SQL("is_open"))
    if (customer := filters.get("customer")) is not None:
        conditions.append(sql.SQL("customer = %(customer)s"))
        params["customer"] = customer
    if (reporter := filters.get("reporter")) is not None:
        conditions.append(sql.SQL("(reporter_platform, reporter_workspace, reporter_user) = (%(p)s, %(w)s, %(u)s)"))
        params["p"], params["w"], params["u"] = reporter
    if (category := filters.get("category")) is not None:
        conditions.append(sql.SQL("category = %(category)s"))
        params["category"] = category.value
    if (since := filters.get("since")) is not None:
        if since.tzinfo is None:
            raise ValueError(f"{since.isoformat()} has no time zone")
        conditions.append(sql.SQL("created_at >= %(since)s"))
        params["since"] = since
    query = sql.SQL("SELECT {} FROM cases WHERE {} ORDER BY number DESC").format(
        sql.SQL(columns), sql.SQL(" AND ").join(conditions)
    )
    return query, params
