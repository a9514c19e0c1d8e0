"""Conversations, the delivery log and the platform records of the embedded engine, on `KeyedStore`s."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from adapters.storage.embedded.files import make_folder
from adapters.storage.embedded.keyed import UNCHANGED, Doc, KeyedStore
from bot.ports import StoredConversation, VersionConflict

T = TypeVar("T")
PRUNE_EVERY = 200  # deliveries between scans for expired ones


class Worker:
    """One thread per store for its fsyncs: the event loop never waits on disk, and writes keep their order."""

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(call, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()  # compared as text


class EmbeddedConversations:
    """`bot.ports.Conversations` in `<data>/conversations/`; the e_tag is a counter kept in the document."""

    def __init__(self, folder: Path) -> None:
        self.store = KeyedStore(folder, table="conversations")
        self._worker = Worker("conversations")

    async def load(self, key: str) -> StoredConversation | None:
        doc = await self._worker.run(self.store.get, key)
        if doc is None:
            return None
        doc = _with_e_tag(doc)
        return StoredConversation(key, doc["state"], datetime.fromisoformat(doc["updated_at"]), str(doc["e_tag"]))

    async def save(
        self, key: str, state: dict[str, Any], *, updated_at: datetime, open: bool, e_tag: str | None
    ) -> str:
        def decide(old: Doc | None) -> tuple[Doc, str]:
            if (None if old is None else str(_with_e_tag(old)["e_tag"])) != e_tag:
                raise VersionConflict(f"conversation {key!r} was saved meanwhile")
            tag = str(int(e_tag or 0) + 1)
            return {"key": key, "state": state, "updated_at": _utc(updated_at), "open": open, "e_tag": tag}, tag

        return await self._worker.run(self.store.change, key, decide)

    async def forget(self, *, open_before: datetime, finished_before: datetime, keep: int) -> int:
        return await self._worker.run(self._forget, _utc(open_before), _utc(finished_before), keep)

    def _forget(self, open_cutoff: str, finished_cutoff: str, keep: int) -> int:
        old, rest = [], []
        for doc in map(_with_e_tag, self.store.values()):
            if doc["updated_at"] < (open_cutoff if doc["open"] else finished_cutoff):
                old.append(doc["key"])
            else:
                rest.append((bool(doc["open"]), doc["updated_at"], doc["key"]))
        if len(rest) > keep:
            rest.sort()
            old += [key for _, _, key in rest[: len(rest) - keep]]
        return self.store.delete_many(old)

    async def count(self) -> int:
        return await self._worker.run(self.store.count)

    def close(self) -> None:
        self._worker.close()
        self.store.close()


def _with_e_tag(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """A conversation as stored; one saved before the ports (the record's fields at the top level, no
    e_tag) is read as at e_tag "0". Conversations live a day at most, so this can go in a later version."""
    if "e_tag" in doc:
        return doc
    state = {name: doc.get(name) for name in ("state", "finished_case", "deliveries")}
    return {**doc, "state": state, "open": bool(doc.get("state")), "e_tag": "0"}


class EmbeddedDeliveryLog:
    """`bot.ports.DeliveryLog` in `<data>/deliveries/`: each key with the moment it may be taken again.

    Written atomically but not fsynced, as it is checked on every Slack event and Teams activity: a
    killed bot forgets nothing; a power cut may forget the last seconds, and a platform's retry of one
    of those is then recognised by the conversation's own record of its deliveries, which gives the
    same replies again instead of running the turn twice.
    """

    def __init__(self, folder: Path) -> None:
        self.store = KeyedStore(folder, table="deliveries", durable=False)
        self._worker = Worker("deliveries")
        self._calls = 0

    async def first_time(self, key: str, *, ttl: timedelta, now: datetime) -> bool:
        return await self._worker.run(self._first_time, key, _utc(now), _utc(now + ttl))

    def _first_time(self, key: str, now: str, until: str) -> bool:
        self._calls += 1
        if self._calls % PRUNE_EVERY == 0:
            self.store.delete_many([k for k, d in self.store.items() if d["until"] <= now])
        # Only the moment: Slack's 10-minute redelivery window holds some 3 keys a conversation in memory.
        return self.store.change(
            key, lambda old: (UNCHANGED, False) if old and old["until"] > now else ({"until": until}, True)
        )

    async def release(self, key: str) -> None:
        await self._worker.run(self.store.delete_many, [key])

    def close(self) -> None:
        self._worker.close()
        self.store.close()


class EmbeddedRecords:
    """`bot.ports.Records`: each kind ("teams/cards") in its own folder of the data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._stores: dict[str, KeyedStore] = {}

    def store(self, kind: str) -> KeyedStore:
        store = self._stores.get(kind)
        if store is None:
            folder = self.data_dir / kind
            if kind.startswith("slack/"):
                make_folder(folder.parent, mode=0o700)  # Slack's records hold bot tokens
            store = self._stores[kind] = KeyedStore(folder, table=kind.rpartition("/")[2])
        return store

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.store(kind).get(key)

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        self.store(kind).put(key, doc)

    def delete(self, kind: str, keys: Iterable[str]) -> int:
        return self.store(kind).delete_many(keys)

    def take(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.store(kind).change(key, lambda old: (None, old))

    def all(self, kind: str) -> list[Mapping[str, Any]]:
        return list(self.store(kind).values())

    def close(self) -> None:
        for store in self._stores.values():
            store.close()
