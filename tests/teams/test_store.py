"""TeamsStore on its own: references and cards across restarts, which cards are kept, the old single file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.storage.embedded.documents import EmbeddedRecords
from adapters.teams.store import PRUNE_EVERY, TeamsStore
from bot.errors import StorageError

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TENANT = "0b5e7d21-provider-tenant"
CHAT = "a:1-personal-chat"
CHOICES = {"text": "Hvem er berørt?", "choices": [["intake:2:me", "Kun mig", ""]], "key": ""}
PAGE = {"text": "Ny sag 10001", "choices": [["oncall:ack:10001", "Kvittér", "primary"]], "key": "page:10001"}


def reference(conversation: str, service_url: str = "https://smba.trafficmanager.net/emea/") -> dict:
    return {"conversation": {"id": conversation, "tenantId": TENANT}, "serviceUrl": service_url, "channelId": "msteams"}


def remember(store: TeamsStore, conversation: str, user: str, at: datetime, **extra: str) -> None:
    store.save_reference(reference(conversation, **extra), tenant=TENANT, user_ids=(user, ""), personal=True, now=at)


def test_references_and_cards_survive_a_restart(tmp_path: Path) -> None:
    store = TeamsStore(EmbeddedRecords(tmp_path))
    remember(store, "a:old-chat", "aad-anna", NOW - timedelta(days=2))
    remember(store, CHAT, "aad-anna", NOW, service_url="https://smba.trafficmanager.net/new/")
    assert store.welcome_once(CHAT) is True
    store.save_card(CHAT, "1:page", message=PAGE, language="en", proactive=True, now=NOW)
    store.save_card(CHAT, "1:question", message=CHOICES, language="da", proactive=False, now=NOW)

    again = TeamsStore(EmbeddedRecords(tmp_path))
    again.check()
    assert again.reference_for(TENANT, "aad-anna") == reference(CHAT, "https://smba.trafficmanager.net/new/")
    assert again.reference_for(TENANT, "aad-bo") is None
    assert again.service_url_for(TENANT) == "https://smba.trafficmanager.net/new/"
    assert again.welcome_once(CHAT) is False
    assert again.card(CHAT, "1:page")["language"] == "en"
    assert again.proactive_card(CHAT, "page:10001")["activity"] == "1:page"
    assert [c["activity"] for c in again.live_replies(CHAT)] == ["1:question"]
    again.forget(CHAT)
    assert again.reference_of(CHAT) is None
    assert (tmp_path / "teams" / "cards").is_dir() and (tmp_path / "teams" / "references").is_dir()


def test_a_retired_reply_is_forgotten_and_a_proactive_card_kept(tmp_path: Path) -> None:
    store = TeamsStore(EmbeddedRecords(tmp_path))
    store.save_card(CHAT, "1:question", message=CHOICES, language="da", proactive=False, now=NOW)
    store.save_card(CHAT, "1:page", message=PAGE, language="da", proactive=True, now=NOW)
    retired = {**CHOICES, "choices": CHOICES["choices"][:1]}
    store.save_card(CHAT, "1:question", message=retired, language="da", proactive=False, chosen="intake:2:me", now=NOW)
    resolved = {"text": "Løst af Sara", "choices": [], "key": "page:10001"}
    store.save_card(CHAT, "1:page", message=resolved, language="da", proactive=True, now=NOW)

    again = TeamsStore(EmbeddedRecords(tmp_path))
    assert again.live_replies(CHAT) == []
    assert again.card(CHAT, "1:question") is None
    assert again.proactive_card(CHAT, "page:10001")["message"] == resolved


def test_old_cards_are_forgotten_in_batches(tmp_path: Path) -> None:
    store = TeamsStore(EmbeddedRecords(tmp_path), card_retention=timedelta(days=30))
    store.save_card(CHAT, "1:old-page", message=PAGE, language="da", proactive=True, now=NOW - timedelta(days=31))
    for n in range(PRUNE_EVERY - 2):
        store.save_card("a:other", f"1:{n}", message=CHOICES, language="da", proactive=False, now=NOW)
    assert store.card(CHAT, "1:old-page") is not None, "pruning waits for a batch"
    store.save_card("a:other", "1:last", message=CHOICES, language="da", proactive=False, now=NOW)
    assert store.card(CHAT, "1:old-page") is None
    assert store.proactive_card(CHAT, "page:10001") is None
    assert len(store.live_replies("a:other")) == PRUNE_EVERY - 1


def test_beyond_the_cap_the_oldest_tenth_goes_at_once(tmp_path: Path) -> None:
    store = TeamsStore(EmbeddedRecords(tmp_path), max_cards=20)
    for n in range(21):
        store.save_card(
            CHAT, f"1:{n:02d}", message=CHOICES, language="da", proactive=False, now=NOW + timedelta(seconds=n)
        )
    kept = sorted(c["activity"] for c in store.live_replies(CHAT))
    assert kept == [f"1:{n:02d}" for n in range(3, 21)]


def test_a_damaged_card_shard_is_reported_by_check_and_left_alone(tmp_path: Path) -> None:
    store = TeamsStore(EmbeddedRecords(tmp_path))
    store.save_card(CHAT, "1:page", message=PAGE, language="da", proactive=True, now=NOW)
    (shard,) = (tmp_path / "teams" / "cards").glob("*.json")
    shard.write_text('{"cards": {', encoding="utf-8")
    again = TeamsStore(EmbeddedRecords(tmp_path))
    with pytest.raises(StorageError, match=shard.name):
        again.check()
    with pytest.raises(StorageError):
        again.save_card(CHAT, "1:other", message=PAGE, language="da", proactive=True, now=NOW)
    assert shard.read_text(encoding="utf-8") == '{"cards": {'
