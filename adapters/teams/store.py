"""What the Teams front end must remember across restarts: conversation references and sent cards.

A proactive message (a page at night, a reporter update) can only be sent into a conversation
the bot has seen, so each person's personal-chat reference is kept from their first message or
the app's installation. Each card the bot sent is kept with the choices it offered, so a press
can be checked against what was really offered and the card replaced in place afterwards.

Both are platform records (`bot.ports.Records`, kinds "teams/references" and "teams/cards"). Only
cards that may still change are kept: proactive ones (pages and updates, replaced in place by key)
and replies whose buttons are live; a retired reply is forgotten at once, and every card after
`CARD_RETENTION` (and beyond `MAX_CARDS`, oldest first, in batches). A small in-memory index per
conversation answers "the live replies here" and "the proactive card with this key" without
reading every card. Every call runs on a worker thread so the event loop never waits for a write,
except that a reference that is already stored as it is (every later message of a conversation)
is recognised from an in-memory digest without leaving the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from bot.ports import Records

logger = logging.getLogger(__name__)

# A card older than this can no longer be replaced in place (a later update is posted as a new message)
# and its buttons answer "no longer valid". Pages are acknowledged and resolved well within it.
CARD_RETENTION = timedelta(days=30)
MAX_CARDS = 5000  # also a bound on memory: beyond it the oldest tenth is forgotten in one batch
PRUNE_EVERY = 100  # card saves between scans for expired cards
REFERENCES, CARDS = "teams/references", "teams/cards"


class _Card(NamedTuple):
    """What the per-conversation index keeps of a card, to find it without reading every card."""

    key: str
    proactive: bool
    live: bool
    sent_at: str


class _Kind:
    """The records of one kind, with the calls this store makes."""

    def __init__(self, records: Records, kind: str) -> None:
        self.records, self.kind = records, kind

    def get(self, key: str) -> dict[str, Any] | None:
        return self.records.get(self.kind, key)

    def put(self, key: str, doc: dict[str, Any]) -> None:
        self.records.put(self.kind, key, doc)

    def delete(self, key: str) -> None:
        self.records.delete(self.kind, [key])

    def delete_many(self, keys: Iterable[str]) -> None:
        self.records.delete(self.kind, keys)

    def values(self) -> list[Mapping[str, Any]]:
        return self.records.all(self.kind)


def _card_id(conversation: str, activity: str) -> str:
    return f"{conversation}\n{activity}"  # Teams ids never contain a line break


class TeamsStore:
    """Conversation references (per person and per conversation) and sent cards, durable on return.

    Args:
        records: the platform records port of the storage engine.
    """

    def __init__(
        self, records: Records, *, max_cards: int = MAX_CARDS, card_retention: timedelta = CARD_RETENTION
    ) -> None:
        self._max_cards = max_cards
        self._card_retention = card_retention
        self._references = _Kind(records, REFERENCES)
        self._cards = _Kind(records, CARDS)
        self._lock = threading.Lock()
        self._index: dict[str, dict[str, _Card]] | None = None  # conversation -> activity -> card
        self._saves = 0
        # conversation -> digest of the reference last saved or found unchanged (see `has_reference`)
        self._stamps: dict[str, bytes] = {}

    def check(self) -> None:
        """Read everything once at start-up, so a damaged file is reported then, not at the first message.

        Raises:
            StorageError: naming the file and what to do.
        """
        with self._lock:
            self._open()

    # -- references ---------------------------------------------------------------------------
    def save_reference(
        self, reference: dict[str, Any], *, tenant: str, user_ids: tuple[str, ...], personal: bool, now: datetime
    ) -> None:
        """Remember where to reach a conversation; a personal one also reaches its user later."""
        conversation = reference["conversation"]["id"]
        doc = {
            "conversation": conversation,
            "tenant": tenant,
            "users": [u for u in user_ids if u] if personal else [],
            "personal": personal,
            "reference": reference,
            "updated_at": now.astimezone(UTC).isoformat(),
        }
        stamp = _stamp(doc)
        with self._lock:
            self._open()
            old = self._references.get(conversation)
            if old is None or _stamp(old) != stamp:
                if old is not None:
                    doc["welcomed"] = old.get("welcomed", False)
                self._references.put(conversation, doc)
            self._stamps[conversation] = stamp

    def has_reference(
        self, reference: dict[str, Any], *, tenant: str, user_ids: tuple[str, ...], personal: bool
    ) -> bool:
        """Whether `save_reference` would change nothing; answered from memory without the lock.

        Teams sends the same reference with every message of a conversation, so the common case is
        answered on the caller's thread, without a hop to a worker thread or waiting for a write.
        """
        conversation = reference["conversation"]["id"]
        users = [u for u in user_ids if u] if personal else []
        stamp = _stamp({"tenant": tenant, "users": users, "personal": personal, "reference": reference})
        return self._stamps.get(conversation) == stamp

    def reference_for(self, tenant: str, user_id: str) -> dict[str, Any] | None:
        """The personal-chat reference of a user (AAD object id or Teams user id), newest first."""
        with self._lock:
            self._open()
            newest = max(
                (
                    (d["updated_at"], d["conversation"])
                    for d in self._references.values()
                    if d.get("personal") and d.get("tenant") == tenant and user_id in d.get("users", ())
                ),
                default=None,
            )
            doc = self._references.get(newest[1]) if newest else None
        return doc["reference"] if doc else None

    def reference_of(self, conversation: str) -> dict[str, Any] | None:
        with self._lock:
            self._open()
            doc = self._references.get(conversation)
        return doc["reference"] if doc else None

    def service_url_for(self, tenant: str) -> str | None:
        """The Bot Connector endpoint last seen for a tenant (Teams' endpoints are regional)."""
        with self._lock:
            self._open()
            newest = max(
                (
                    (d["updated_at"], d["reference"].get("serviceUrl"))
                    for d in self._references.values()
                    if d.get("tenant") == tenant
                ),
                default=None,
            )
        return newest[1] if newest else None

    def welcome_once(self, conversation: str) -> bool:
        """True the first time after an installation: Teams announces one install with two events."""
        with self._lock:
            self._open()
            doc = self._references.get(conversation)
            if doc is None or doc.get("welcomed"):
                return False
            self._references.put(conversation, {**doc, "welcomed": True})
            return True

    def forget(self, conversation: str) -> None:
        """The app was uninstalled there: no more proactive messages, a welcome on reinstall."""
        with self._lock:
            self._open()
            self._stamps.pop(conversation, None)
            self._references.delete(conversation)

    # -- cards --------------------------------------------------------------------------------
    def save_card(
        self,
        conversation: str,
        activity_id: str,
        *,
        message: dict[str, Any],
        language: str,
        proactive: bool,
        chosen: str = "",
        now: datetime,
    ) -> None:
        """Remember a sent message: its content (to redraw it), whether its buttons are still live.

        A reply whose buttons were retired will never change again, so it is forgotten instead.
        """
        doc = {
            "conversation": conversation,
            "activity": activity_id,
            "key": message.get("key", ""),
            "message": message,
            "language": language,
            "proactive": proactive,
            "live": bool(message.get("choices")) and not chosen,
            "chosen": chosen,
            "sent_at": now.astimezone(UTC).isoformat(),
        }
        with self._lock:
            index = self._open()
            if not proactive and not doc["live"]:
                self._forget_cards([(conversation, activity_id)])
                return
            self._cards.put(_card_id(conversation, activity_id), doc)
            index.setdefault(conversation, {})[activity_id] = _summary(doc)
            self._saves += 1
            if self._saves % PRUNE_EVERY == 0 or sum(map(len, index.values())) > self._max_cards:
                self._prune(now)

    def card(self, conversation: str, activity_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._open()
            return self._cards.get(_card_id(conversation, activity_id))

    def proactive_card(self, conversation: str, key: str) -> dict[str, Any] | None:
        """The newest proactive message with this key: a reply with the same key replaces it in place."""
        with self._lock:
            cards = self._open().get(conversation, {})
            newest = max(
                ((c.sent_at, activity) for activity, c in cards.items() if c.proactive and c.key == key), default=None
            )
            return self._cards.get(_card_id(conversation, newest[1])) if newest else None

    def live_replies(self, conversation: str) -> list[dict[str, Any]]:
        """Conversation replies whose buttons can still be pressed (to be retired on the next turn)."""
        with self._lock:
            cards = self._open().get(conversation, {})
            live = [activity for activity, c in cards.items() if c.live and not c.proactive]
            found = [self._cards.get(_card_id(conversation, activity)) for activity in live]
        return [doc for doc in found if doc is not None]

    # -- housekeeping -------------------------------------------------------------------------
    def _open(self) -> dict[str, dict[str, _Card]]:
        """On first use: read every record, index the cards by conversation."""
        if self._index is None:
            self._references.values()
            index: dict[str, dict[str, _Card]] = {}
            for doc in self._cards.values():
                if _is_card(doc):
                    index.setdefault(doc["conversation"], {})[doc["activity"]] = _summary(doc)
            self._index = index
        return self._index

    def _prune(self, now: datetime) -> None:
        """Forget cards past `CARD_RETENTION`; beyond `MAX_CARDS` the oldest too, down to 90 % (a sort per batch)."""
        cutoff = (now - self._card_retention).astimezone(UTC).isoformat()
        cards = [(c.sent_at, conversation, activity) for conversation, activity, c in self._all_cards()]
        old = [(conversation, activity) for sent_at, conversation, activity in cards if sent_at < cutoff]
        rest = len(cards) - len(old)
        if rest > self._max_cards:
            newer = sorted(card for card in cards if card[0] >= cutoff)
            old += [(conversation, activity) for _, conversation, activity in newer[: rest - self._max_cards * 9 // 10]]
        if old:
            self._forget_cards(old)
            logger.info("forgot %d old Teams cards", len(old))

    def _all_cards(self) -> list[tuple[str, str, _Card]]:
        index = self._index or {}
        return [(conversation, activity, c) for conversation, cards in index.items() for activity, c in cards.items()]

    def _forget_cards(self, cards: list[tuple[str, str]]) -> None:
        self._cards.delete_many(_card_id(conversation, activity) for conversation, activity in cards)
        index = self._index or {}
        for conversation, activity in cards:
            held = index.get(conversation, {})
            held.pop(activity, None)
            if not held:
                index.pop(conversation, None)


def _is_card(doc: Any) -> bool:
    """A card document has what the index needs (one edited by hand might not; it is then ignored)."""
    return isinstance(doc, Mapping) and all(
        isinstance(doc.get(f), str) for f in ("conversation", "activity", "sent_at")
    )


def _stamp(doc: Mapping[str, Any]) -> bytes:
    """A digest of what makes a reference document differ (not when it was saved, not the welcome)."""
    fields = [doc.get("tenant"), doc.get("users"), bool(doc.get("personal")), doc.get("reference")]
    return hashlib.blake2b(json.dumps(fields, sort_keys=True).encode("utf-8"), digest_size=16).digest()


def _summary(doc: Any) -> _Card:
    return _Card(doc.get("key", ""), bool(doc.get("proactive")), bool(doc.get("live")), doc["sent_at"])


class AsyncTeamsStore:
    """`TeamsStore` with coroutine methods: the file work runs on a worker thread."""

    def __init__(self, store: TeamsStore) -> None:
        self.sync = store

    async def save_reference(
        self, reference: dict[str, Any], *, tenant: str, user_ids: tuple[str, ...], personal: bool, now: datetime
    ) -> None:
        """`TeamsStore.save_reference`, skipped without a thread hop when the stored reference is the same."""
        if not self.sync.has_reference(reference, tenant=tenant, user_ids=user_ids, personal=personal):
            await asyncio.to_thread(
                self.sync.save_reference, reference, tenant=tenant, user_ids=user_ids, personal=personal, now=now
            )

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.sync, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        return call
