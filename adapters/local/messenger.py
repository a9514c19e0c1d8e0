"""The local channel's messenger: every message to a local person is kept, so the pages can fetch it.

The chat page and the on-call inbox poll for entries changed since their cursor. Each entry has a
stable `id` (its DOM identity and the `MessageRef.message_id`), a `seq` that orders the feed and a
`version` (a counter over all changes) that drives the polling cursor. Entries are plain dicts,
exactly as stored. The feed is also kept as platform records (`bot.ports.Records`, kind
"local/messages"), so a restart keeps the technician's inbox and the employee's chat.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.clock import Clock
from bot.delivery import Address, DeliveryError, MessageRef
from bot.messages import Message
from bot.ports import Records

logger = logging.getLogger(__name__)

PLATFORM = "local"
WORKSPACE = "local"
KIND = "local/messages"


def message_to_dict(message: Message) -> dict[str, Any]:
    """The JSON form the pages render (text only; the page never interprets markup)."""
    return {
        "text": message.text,
        "title": message.title,
        "facts": [{"label": f.label, "value": f.value} for f in message.facts],
        "choices": [{"id": c.id, "label": c.label, "style": c.style} for c in message.choices],
        "expects_text": message.expects_text,
        "key": message.key,
        "language": message.language,
        "metadata": dict(message.metadata),
    }


def feed_of(workspace: str, user_id: str) -> str:
    return f"{workspace}/{user_id}"


class LocalMessenger:
    """Sends to and updates the feeds of local people; registered under the platform "local"."""

    def __init__(self, records: Records, *, clock: Clock, keep: int = 300) -> None:
        self._clock = clock
        self._keep = keep
        self._records = records
        self._entries: dict[int, dict[str, Any]] = {int(doc["id"]): dict(doc) for doc in records.all(KIND)}
        self._version = max((e["version"] for e in self._entries.values()), default=0)
        self._next_id = max(self._entries, default=0) + 1
        self._write_lock = asyncio.Lock()

    async def send(self, to: Address, message: Message) -> MessageRef:
        entry = await self.record(to, message)
        return MessageRef(PLATFORM, to.workspace, to.user_id, str(entry["id"]))

    async def update(self, ref: MessageRef, message: Message) -> None:
        entry = self._entries.get(int(ref.message_id)) if ref.message_id.isdigit() else None
        if entry is None or entry["feed"] != feed_of(ref.workspace, ref.channel):
            raise DeliveryError(f"local message {ref.message_id} no longer exists")
        entry.update(message=message_to_dict(message), version=self._bump())
        await self._persist([entry], [])

    async def record(self, to: Address, message: Message, *, role: str = "bot") -> dict[str, Any]:
        """Add a message to a feed, honouring `Message.key`.

        A bot message whose key matches the feed's last entry replaces it in place. When the person
        has written since, the earlier message stays as history but is marked superseded (its
        buttons disappear) and the new one is added at the end, as a chat reads.
        """
        feed = feed_of(to.workspace, to.user_id)
        previous = self._by_key(feed, message.key) if message.key and role == "bot" else None
        changed: list[dict[str, Any]] = []
        last_seq = max((e["seq"] for e in self._entries.values() if e["feed"] == feed), default=0)
        if previous is not None and previous["seq"] == last_seq:
            previous.update(message=message_to_dict(message), version=self._bump())
            await self._persist([previous], [])
            return previous
        if previous is not None:
            previous.update(superseded=True, version=self._bump())
            changed.append(previous)
        version = self._bump()
        entry = {
            "id": self._next_id,
            "feed": feed,
            "role": role,
            "at": self._clock.now().isoformat(),
            "seq": version,
            "version": version,
            "superseded": False,
            "message": message_to_dict(message),
        }
        self._next_id += 1
        self._entries[entry["id"]] = entry
        await self._persist([*changed, entry], self._trim(feed))
        return entry

    def feed(self, workspace: str, user_id: str, *, after: int = 0) -> list[dict[str, Any]]:
        """The entries of one feed changed after the cursor `after`, in feed order."""
        name = feed_of(workspace, user_id)
        changed = [e for e in self._entries.values() if e["feed"] == name and e["version"] > after]
        return sorted(changed, key=lambda e: e["seq"])

    @property
    def cursor(self) -> int:
        """The newest version; a page that has seen everything up to it passes it as `after`."""
        return self._version

    def find_choice_label(self, workspace: str, user_id: str, choice: str) -> str | None:
        """The label of a button offered in this feed, so the chat can echo what the person pressed."""
        for entry in reversed(self.feed(workspace, user_id)):
            for offered in entry["message"]["choices"]:
                if offered["id"] == choice:
                    return str(offered["label"])
        return None

    def _bump(self) -> int:
        self._version += 1
        return self._version

    def _by_key(self, feed: str, key: str) -> dict[str, Any] | None:
        matches = [
            e
            for e in self._entries.values()
            if e["feed"] == feed and e["message"]["key"] == key and not e.get("superseded")
        ]
        return max(matches, key=lambda e: e["seq"], default=None)

    def _trim(self, feed: str) -> list[int]:
        """Forget the oldest entries of a feed beyond `keep`, so the file stays small."""
        entries = sorted((e for e in self._entries.values() if e["feed"] == feed), key=lambda e: e["seq"])
        dropped = [e["id"] for e in entries[: max(0, len(entries) - self._keep)]]
        for entry_id in dropped:
            del self._entries[entry_id]
        return dropped

    async def _persist(self, changed: list[dict[str, Any]], dropped: list[int]) -> None:
        """Write on a worker thread, one write at a time, so the event loop never waits for fsync."""
        snapshot = [dict(e) for e in changed]
        async with self._write_lock:
            await asyncio.to_thread(self._write, snapshot, dropped)

    def _write(self, changed: list[dict[str, Any]], dropped: list[int]) -> None:
        for entry in changed:
            self._records.put(KIND, str(entry["id"]), entry)
        if dropped:
            self._records.delete(KIND, map(str, dropped))
