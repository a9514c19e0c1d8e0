"""The engines the contract suite holds to `bot.ports`; an engine is one parameter of the `engine` fixture.

To add an engine: a subclass of `Engine` that says how to open its storage on a fresh place, how a
separate process opens it (`opener`), and how to damage what it stores; then add it to `ENGINES`.
An engine that cannot start on this machine skips with its reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from adapters.storage.embedded import EmbeddedStorage
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

    def open_beside(self) -> Storage:
        """The storage as the operator's command line opens it while a bot has it open (`read_only`)."""
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

    def open(self) -> Storage:
        return EmbeddedStorage(self.folder, first_number=FIRST)

    def open_beside(self) -> Storage:
        return EmbeddedStorage(self.folder, first_number=FIRST, read_only=True)

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


ENGINES = {"embedded": Embedded}


@pytest.fixture(params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield ENGINES[request.param](tmp_path / "data")
