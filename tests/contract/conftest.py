"""The engines the contract suite holds to `bot.ports`; an engine is one parameter of the `engine` fixture.

To add an engine: a subclass of `Engine` that says how to open its storage on a fresh place, how a
separate process opens it (`opener`), and how to damage what it stores; then add it to `ENGINES`
and the `engine` fixture.
An engine that cannot start on this machine skips with its reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import ClassVar

import psycopg
import pytest
from psycopg.types.json import Jsonb

from adapters.storage.embedded import EmbeddedStorage
from adapters.storage.postgres import PostgresStorage
from adapters.storage.postgres.audit import damaged as damaged_entry
from adapters.storage.postgres.cases import damaged
from bot.ports import Announcer, Storage

FIRST = 10001


class Engine:
    """One engine on one place (a data folder, a database), opened as often as a test needs."""

    name: str

    def open(self, *, announce: Announcer | None = None) -> Storage:
        """The storage; `announce` says what a change of a case puts in the outbox."""
        raise NotImplementedError

    @asynccontextmanager
    async def opened(self, *, announce: Announcer | None = None) -> AsyncIterator[Storage]:
        storage = self.open(announce=announce)
        try:
            yield storage
        finally:
            await storage.close()

    def open_reader(self) -> Storage:
        """A read-only view of the same place, as the operator's commands open it beside the bot."""
        raise NotImplementedError

    def damage_audit(self) -> str:
        """Damage the first audit entry stored; what a report of it must name."""
        raise NotImplementedError

    def audit_untouched(self) -> bool:
        raise NotImplementedError

    def opener(self) -> str:
        """Python code that binds `storage` to this engine's storage on the same place, for another process."""
        raise NotImplementedError

    def damage_case(self, number: int) -> str:
        """Damage the stored case `number` as a disk or a hand edit could; what a report of it must name."""
        raise NotImplementedError

    def untouched(self) -> bool:
        """Whether the damage is still there exactly as made (nothing overwrote it)."""
        raise NotImplementedError


class Embedded(Engine):
    name = "embedded"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._damaged: tuple[Path, bytes] | None = None

    def open(self, *, announce: Announcer | None = None) -> Storage:
        return EmbeddedStorage(self.folder, first_number=FIRST, announce=announce)

    def open_reader(self) -> Storage:
        return EmbeddedStorage(self.folder, first_number=FIRST, read_only=True)

    def damage_audit(self) -> str:
        path = next((self.folder / "audit").glob("*.jsonl"))
        first, rest = path.read_bytes().split(b"\n", 1)
        damaged = first[:20] + b"\n" + rest
        path.write_bytes(damaged)
        self._audit = (path, damaged)
        return f"{path}, line 1"

    def audit_untouched(self) -> bool:
        path, content = self._audit
        return path.read_bytes().startswith(content)

    def opener(self) -> str:
        return (
            "from adapters.storage.embedded import EmbeddedStorage\n"
            f"storage = EmbeddedStorage(Path({str(self.folder)!r}), first_number={FIRST})\n"
        )

    def damage_case(self, number: int) -> str:
        path = self.folder / "cases" / f"{number // 100 * 100:08d}.json"
        content = path.read_bytes()[:40]
        path.write_bytes(content)
        self._damaged = (path, content)
        return str(path)

    def untouched(self) -> bool:
        assert self._damaged is not None
        path, content = self._damaged
        return path.read_bytes() == content


class Postgres(Engine):
    """A fresh database of the test session's throwaway cluster (skipped, saying why, where there is none)."""

    name = "postgres"
    DAMAGE: ClassVar = {"number": "broken by hand"}

    def __init__(self, url: str) -> None:
        self.url = url

    def open(self, *, announce: Announcer | None = None) -> Storage:
        return PostgresStorage(self.url, first_number=FIRST, announce=announce)

    def open_reader(self) -> Storage:
        return PostgresStorage(self.url, first_number=FIRST)

    def damage_audit(self) -> str:
        """Change the first entry's document by hand, as a superuser can past the append-only trigger."""
        with psycopg.connect(self.url) as conn:
            conn.execute("SET session_replication_role = replica")
            (entry_id,) = conn.execute(
                "UPDATE audit SET doc = %s WHERE id = (SELECT min(id) FROM audit) RETURNING id", (Jsonb(self.DAMAGE),)
            ).fetchone() or (None,)
        self._audit = entry_id
        return damaged_entry(entry_id)

    def audit_untouched(self) -> bool:
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SELECT doc FROM audit WHERE id = %s", (self._audit,)).fetchone()
        return row == (self.DAMAGE,)

    def opener(self) -> str:
        return (
            "from adapters.storage.postgres import PostgresStorage\n"
            f"storage = PostgresStorage({self.url!r}, first_number={FIRST})\n"
        )

    def damage_case(self, number: int) -> str:
        with psycopg.connect(self.url) as conn:
            conn.execute("UPDATE cases SET doc = %s WHERE number = %s", (Jsonb(self.DAMAGE), number))
        self._damaged = number
        return damaged(number)

    def untouched(self) -> bool:
        with psycopg.connect(self.url) as conn:
            return conn.execute("SELECT doc FROM cases WHERE number = %s", (self._damaged,)).fetchone() == (
                self.DAMAGE,
            )


ENGINES = ("embedded", "postgres")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgres":
        yield Postgres(request.getfixturevalue("postgres_url"))
    else:
        yield Embedded(tmp_path / "data")
