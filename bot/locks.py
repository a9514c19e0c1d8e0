"""One asyncio lock per key, dropped as soon as nobody holds or waits for it.

The on-call service serializes the work on each case, the conversation runner the turns of each
conversation; keeping a lock for every key ever seen would grow without bound, so a lock lives
only while it is in use.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class KeyedLocks:
    """`async with locks.hold(key):` runs one holder of `key` at a time, in arrival order."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, list[int]]] = {}

    def __len__(self) -> int:
        """Keys held or waited for right now."""
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[key]
