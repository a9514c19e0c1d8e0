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
from adapters.storage.postgres.cases import damaged
from bot.ports import Storage

FIRST = 10001


class Engine:
    """One engine on one place (a data folder, a database), opened as often as a test needs."""

    name: str

    def open(self) -> Storage:
        raise NotImplementedError

    @asynccontextmanager
    async def opened(self) -> AsyncIterator[Storage]:
        storage = self.open()
        try:
            yield storage
        finally:
            await storage.close()

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

    def open(self) -> Storage:
        return EmbeddedStorage(self.folder, first_number=FIRST)

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

    def open(self) -> Storage:
        return PostgresStorage(self.url, first_number=FIRST)

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
