"""The outbox of the embedded engine (`bot.ports.Outbox`) in `<data>/outbox/`.

Every delivery is a document in a `KeyedStore` (32 small files by id), fsynced before the call
returns. The ones not yet sent are also held in memory, so a claim touches no file: a claim is only
noted in memory, because this process is the only sender (the engine holds the folder's lock), and
after a restart every delivery that was being sent is simply due again (the receiver drops the
duplicate by its idempotency key). Sent deliveries stay on disk until `forget_sent`, except the
newest one, which is always kept so an id is never handed out twice.

The operator's `webhooks` command reads beside the running bot without the lock (`OutboxReader`); its
`resend` drops a request file into `outbox/resend/`, which the bot picks up at its next claim.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.storage.embedded.documents import Worker
from adapters.storage.embedded.files import CorruptFileError, delete_file, load_json_file, make_folder, write_json
from adapters.storage.embedded.keyed import SHARDS, KeyedStore
from bot.errors import StorageError
from bot.ports import Delivery, DeliveryState, Outgoing

logger = logging.getLogger(__name__)

TABLE = "outbox"
RESEND_FOLDER = "resend"


def _key(delivery_id: int) -> str:
    return f"{delivery_id:012d}"


def _parse(raw: Any, where: Path) -> Delivery:
    try:
        return Delivery.from_dict(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptFileError(where, f"a delivery in it is incomplete: {exc!r}") from exc


class EmbeddedOutbox:
    """`bot.ports.Outbox` for the one process that holds the data folder; every call runs on one worker thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.store = KeyedStore(folder, table=TABLE)
        self._worker = Worker("outbox")
        self._unsent: dict[int, Delivery] = {}
        self._newest = 0
        for raw in self.store.values():
            delivery = _parse(raw, folder)
            self._newest = max(self._newest, delivery.id)
            if delivery.state is DeliveryState.SENDING:  # never written so, but a hand edit may say it
                delivery = replace(delivery, state=DeliveryState.PENDING)
            if delivery.state is not DeliveryState.SENT:
                self._unsent[delivery.id] = delivery

    async def enqueue(self, messages: Sequence[Outgoing], *, now: datetime) -> list[Delivery]:
        return await self._worker.run(self._enqueue, list(messages), now)

    def _enqueue(self, messages: list[Outgoing], now: datetime) -> list[Delivery]:
        made = []
        for message in messages:
            delivery = Delivery(
                id=self._newest + 1,
                message=message,
                state=DeliveryState.PENDING,
                created_at=now,
                retry_since=now,
                next_attempt=now,
            )
            self._write(delivery)
            self._newest = delivery.id
            made.append(delivery)
        return made

    async def claim(self, now: datetime, *, limit: int, lease: timedelta) -> list[Delivery]:
        return await self._worker.run(self._claim, now, limit, lease)

    def _claim(self, now: datetime, limit: int, lease: timedelta) -> list[Delivery]:
        self._take_resend_requests(now)
        heads: dict[tuple[str, str, int], Delivery] = {}
        for delivery in sorted(self._unsent.values(), key=lambda d: d.id):
            if delivery.state is not DeliveryState.FAILED:
                heads.setdefault(delivery.queue, delivery)
        claimed = []
        for delivery in heads.values():
            if len(claimed) == limit:
                break
            if delivery.next_attempt is not None and delivery.next_attempt <= now:
                taken = replace(delivery, state=DeliveryState.SENDING, next_attempt=now + lease)
                self._unsent[delivery.id] = taken  # in memory only: see the module's docstring
                claimed.append(taken)
        return claimed

    async def sent(self, delivery_id: int, *, now: datetime) -> None:
        await self._worker.run(self._change, delivery_id, DeliveryState.SENT, None, "", now)

    async def failed(self, delivery_id: int, *, error: str, retry_at: datetime | None, now: datetime) -> None:
        state = DeliveryState.PENDING if retry_at is not None else DeliveryState.FAILED
        await self._worker.run(self._change, delivery_id, state, retry_at, error, now)

    def _change(
        self, delivery_id: int, state: DeliveryState, retry_at: datetime | None, error: str, now: datetime
    ) -> None:
        delivery = self._unsent.get(delivery_id) or self._read(delivery_id)
        if delivery is None:
            return
        delivery = replace(
            delivery,
            state=state,
            attempts=delivery.attempts + 1,
            next_attempt=retry_at,
            last_error=error[:500],
            sent_at=now if state is DeliveryState.SENT else delivery.sent_at,
        )
        self._write(delivery)

    async def resend(self, delivery_id: int, *, now: datetime) -> Delivery | None:
        return await self._worker.run(self._resend, delivery_id, now)

    def _resend(self, delivery_id: int, now: datetime) -> Delivery | None:
        delivery = self._unsent.get(delivery_id) or self._read(delivery_id)
        if delivery is None:
            return None
        delivery = replace(delivery, state=DeliveryState.PENDING, retry_since=now, next_attempt=now)
        self._write(delivery)
        return delivery

    async def get(self, delivery_id: int) -> Delivery | None:
        return await self._worker.run(lambda: self._unsent.get(delivery_id) or self._read(delivery_id))

    async def unsent(self) -> list[Delivery]:
        return await self._worker.run(lambda: sorted(self._unsent.values(), key=lambda d: d.id))

    async def forget_sent(self, *, before: datetime) -> int:
        return await self._worker.run(self._forget_sent, before)

    def _forget_sent(self, before: datetime) -> int:
        old = [
            _key(int(doc["id"]))
            for doc in self.store.values()
            if doc["state"] == DeliveryState.SENT and int(doc["id"]) != self._newest
            if datetime.fromisoformat(doc["sent_at"]) < before
        ]
        return self.store.delete_many(old)

    def close(self) -> None:
        self._worker.close()
        self.store.close()

    def _read(self, delivery_id: int) -> Delivery | None:
        raw = self.store.get(_key(delivery_id))
        return None if raw is None else _parse(raw, self.store.path_of(_key(delivery_id)))

    def _write(self, delivery: Delivery) -> None:
        self.store.put(_key(delivery.id), delivery.to_dict())
        if delivery.state is DeliveryState.SENT:
            self._unsent.pop(delivery.id, None)
        else:
            self._unsent[delivery.id] = delivery

    def _take_resend_requests(self, now: datetime) -> None:
        """Apply the operator's re-sends asked for beside the running bot (`OutboxReader.resend`)."""
        requests = self.folder / RESEND_FOLDER
        if not requests.is_dir():
            return
        for request in sorted(requests.glob("*.json")):
            if request.stem.isdigit() and self._resend(int(request.stem), now) is not None:
                logger.info("delivery %s: re-sent at the operator's request", request.stem)
            delete_file(request)


class OutboxReader:
    """The outbox read beside the running bot, without the lock: every file it reads was renamed into place whole.

    `resend` leaves a request for the bot (or for the next one to start) rather than changing a delivery.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _all(self) -> dict[int, Delivery]:
        found: dict[int, Delivery] = {}
        for index in range(SHARDS):
            path = self.folder / f"{index:02d}-of-{SHARDS}.json"
            for raw in ((load_json_file(path) or {}).get(TABLE) or {}).values():
                delivery = _parse(raw, path)
                found[delivery.id] = delivery
        return found

    async def get(self, delivery_id: int) -> Delivery | None:
        return self._all().get(delivery_id)

    async def unsent(self) -> list[Delivery]:
        return sorted((d for d in self._all().values() if d.state is not DeliveryState.SENT), key=lambda d: d.id)

    async def resend(self, delivery_id: int, *, now: datetime) -> Delivery | None:
        delivery = self._all().get(delivery_id)
        if delivery is None:
            return None
        folder = self.folder / RESEND_FOLDER
        make_folder(folder)
        write_json(folder / f"{delivery_id}.json", {"at": now.isoformat()})
        return delivery

    async def enqueue(self, messages: Sequence[Outgoing], *, now: datetime) -> list[Delivery]:
        raise StorageError(f"{self.folder}: opened to read only")

    async def claim(self, now: datetime, *, limit: int, lease: timedelta) -> list[Delivery]:
        raise StorageError(f"{self.folder}: opened to read only")

    async def sent(self, delivery_id: int, *, now: datetime) -> None:
        raise StorageError(f"{self.folder}: opened to read only")

    async def failed(self, delivery_id: int, *, error: str, retry_at: datetime | None, now: datetime) -> None:
        raise StorageError(f"{self.folder}: opened to read only")

    async def forget_sent(self, *, before: datetime) -> int:
        raise StorageError(f"{self.folder}: opened to read only")
