"""What the Teams front end must remember across restarts: conversation references and sent cards.

A proactive message (a page at night, a reporter update) can only be sent into a conversation
the bot has seen, so each person's personal-chat reference is kept from their first message or
the app's installation. Each card the bot sent is kept with the choices it offered, so a press
can be checked against what was really offered and the card replaced in place afterwards.

One TinyDB file (`teams.json` in the data folder) written through `AtomicJSONStorage`; every
call runs on a worker thread so the event loop never waits for an fsync.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinydb import Query, TinyDB

from bot.storage import AtomicJSONStorage

logger = logging.getLogger(__name__)

# Cards older than the newest this many are forgotten: their buttons then answer "no longer valid".
MAX_CARDS = 5000


class TeamsStore:
    """Conversation references (per person and per conversation) and sent cards, durable on return."""

    def __init__(self, path: Path) -> None:
        self._db = TinyDB(path, storage=AtomicJSONStorage)
        self._references = self._db.table("references")
        self._cards = self._db.table("cards")
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def check(self) -> None:
        """Read the file once at start-up, so a damaged one is reported then, not at the first message.

        Raises:
            StorageError: naming the file and what to do.
        """
        with self._lock:
            len(self._references)

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
        with self._lock:
            old = self._references.get(Query().conversation == conversation)
            if old is not None and old.get("reference") == reference and old.get("users") == doc["users"]:
                return  # unchanged: no write, no fsync
            if old is not None:
                doc["welcomed"] = old.get("welcomed", False)
            self._references.upsert(doc, Query().conversation == conversation)

    def reference_for(self, tenant: str, user_id: str) -> dict[str, Any] | None:
        """The personal-chat reference of a user (AAD object id or Teams user id), newest first."""
        q = Query()
        with self._lock:
            docs = self._references.search((q.tenant == tenant) & q.users.any([user_id]) & (q.personal == True))  # noqa: E712
        docs.sort(key=lambda d: d["updated_at"], reverse=True)
        return docs[0]["reference"] if docs else None

    def reference_of(self, conversation: str) -> dict[str, Any] | None:
        with self._lock:
            doc = self._references.get(Query().conversation == conversation)
        return doc["reference"] if doc else None

    def service_url_for(self, tenant: str) -> str | None:
        """The Bot Connector endpoint last seen for a tenant (Teams' endpoints are regional)."""
        with self._lock:
            docs = self._references.search(Query().tenant == tenant)
        docs.sort(key=lambda d: d["updated_at"], reverse=True)
        return docs[0]["reference"].get("serviceUrl") if docs else None

    def welcome_once(self, conversation: str) -> bool:
        """True the first time after an installation: Teams announces one install with two events."""
        with self._lock:
            doc = self._references.get(Query().conversation == conversation)
            if doc is None or doc.get("welcomed"):
                return False
            self._references.update({"welcomed": True}, Query().conversation == conversation)
            return True

    def forget(self, conversation: str) -> None:
        """The app was uninstalled there: no more proactive messages, a welcome on reinstall."""
        with self._lock:
            self._references.remove(Query().conversation == conversation)

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
        """Remember a sent message: its content (to redraw it), whether its buttons are still live."""
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
        q = Query()
        with self._lock:
            self._cards.upsert(doc, (q.conversation == conversation) & (q.activity == activity_id))
            if len(self._cards) > MAX_CARDS:
                oldest = sorted(self._cards.all(), key=lambda d: d["sent_at"])[: len(self._cards) - MAX_CARDS]
                self._cards.remove(doc_ids=[d.doc_id for d in oldest])

    def card(self, conversation: str, activity_id: str) -> dict[str, Any] | None:
        q = Query()
        with self._lock:
            doc = self._cards.get((q.conversation == conversation) & (q.activity == activity_id))
        return dict(doc) if doc else None

    def proactive_card(self, conversation: str, key: str) -> dict[str, Any] | None:
        """The newest proactive message with this key: a reply with the same key replaces it in place."""
        q = Query()
        with self._lock:
            docs = self._cards.search((q.conversation == conversation) & (q.key == key) & (q.proactive == True))  # noqa: E712
        return dict(max(docs, key=lambda d: d["sent_at"])) if docs else None

    def live_replies(self, conversation: str) -> list[dict[str, Any]]:
        """Conversation replies whose buttons can still be pressed (to be retired on the next turn)."""
        q = Query()
        with self._lock:
            docs = self._cards.search((q.conversation == conversation) & (q.live == True) & (q.proactive == False))  # noqa: E712
        return [dict(d) for d in docs]


class AsyncTeamsStore:
    """`TeamsStore` with coroutine methods: the file work runs on a worker thread."""

    def __init__(self, store: TeamsStore) -> None:
        self.sync = store

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.sync, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        return call
