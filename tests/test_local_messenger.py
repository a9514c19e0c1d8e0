"""The local messenger keeps each local person's feed, updates in place, and survives a restart."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.local.messenger import LocalMessenger
from adapters.storage.embedded.documents import EmbeddedRecords
from bot.clock import ManualClock
from bot.delivery import Address, DeliveryError, MessageRef
from bot.errors import StorageError
from bot.messages import Choice, Message

NIGHT = datetime(2026, 11, 28, 22, 30, tzinfo=ZoneInfo("Europe/Copenhagen"))
VAGT = Address("local", "local", "vagt", "da")
MEDARBEJDER = Address("local", "local", "u-1", "da")


def messenger(path: Path, **kwargs: int) -> LocalMessenger:
    return LocalMessenger(EmbeddedRecords(path), clock=ManualClock(NIGHT), **kwargs)


async def test_send_then_update_in_place(tmp_path: Path) -> None:
    local = messenger(tmp_path)
    page = Message(text="Sag 10001: ingen internet", choices=(Choice("oncall:ack:10001", "Kvittér"),), key="page:10001")
    ref = await local.send(VAGT, page)
    assert ref == MessageRef("local", "local", "vagt", ref.message_id)
    seen = local.cursor

    await local.update(ref, Message(text="Sag 10001: kvitteret af Vagten", key="page:10001"))

    changed = local.feed("local", "vagt", after=seen)
    assert [e["id"] for e in changed] == [int(ref.message_id)]
    assert changed[0]["message"]["text"] == "Sag 10001: kvitteret af Vagten"
    assert changed[0]["message"]["choices"] == []
    assert len(local.feed("local", "vagt")) == 1
    assert local.feed("local", "u-1") == []


async def test_same_key_replaces_the_last_message_in_place(tmp_path: Path) -> None:
    local = messenger(tmp_path)
    first = await local.record(MEDARBEJDER, Message(text="Passer det?", choices=(Choice("yes", "Ja"),), key="intake"))
    second = await local.record(MEDARBEJDER, Message(text="Hvem er ramt?", key="intake"))

    assert second["id"] == first["id"]
    assert [e["message"]["text"] for e in local.feed("local", "u-1")] == ["Hvem er ramt?"]


async def test_same_key_after_the_person_wrote_keeps_history_and_drops_old_buttons(tmp_path: Path) -> None:
    local = messenger(tmp_path)
    question = await local.record(MEDARBEJDER, Message(text="Passer det?", choices=(Choice("y", "Ja"),), key="intake"))
    await local.record(MEDARBEJDER, Message(text="Ja"), role="user")
    seen = local.cursor

    await local.record(MEDARBEJDER, Message(text="Sag 10001 er oprettet.", key="intake"))

    feed = local.feed("local", "u-1")
    assert [(e["role"], e["message"]["text"], e["superseded"]) for e in feed] == [
        ("bot", "Passer det?", True),
        ("user", "Ja", False),
        ("bot", "Sag 10001 er oprettet.", False),
    ]
    assert {e["id"] for e in local.feed("local", "u-1", after=seen)} == {question["id"], feed[-1]["id"]}


async def test_a_restart_keeps_the_inbox_and_the_cursor_moves_on(tmp_path: Path) -> None:
    local = messenger(tmp_path)
    ref = await local.send(VAGT, Message(text="Sag 10001", key="page:10001"))
    cursor = local.cursor

    again = messenger(tmp_path)
    assert [e["message"]["text"] for e in again.feed("local", "vagt")] == ["Sag 10001"]
    assert again.cursor == cursor
    await again.update(ref, Message(text="Sag 10001: løst", key="page:10001"))
    assert again.cursor > cursor
    new = await again.send(VAGT, Message(text="Sag 10002"))
    assert int(new.message_id) > int(ref.message_id)


async def test_updating_a_message_that_is_gone_is_a_delivery_error(tmp_path: Path) -> None:
    local = messenger(tmp_path)
    with pytest.raises(DeliveryError):
        await local.update(MessageRef("local", "local", "vagt", "999"), Message(text="x"))
    ref = await local.send(VAGT, Message(text="Sag 10001"))
    with pytest.raises(DeliveryError):  # the right id, but another person's feed
        await local.update(MessageRef("local", "local", "vagt2", ref.message_id), Message(text="x"))


async def test_old_entries_are_forgotten_beyond_the_limit(tmp_path: Path) -> None:
    local = messenger(tmp_path, keep=3)
    for n in range(5):
        await local.send(VAGT, Message(text=f"Sag {n}"))
    await local.send(MEDARBEJDER, Message(text="Hej"))

    assert [e["message"]["text"] for e in local.feed("local", "vagt")] == ["Sag 2", "Sag 3", "Sag 4"]
    assert len(messenger(tmp_path).feed("local", "vagt")) == 3


async def test_the_label_of_a_pressed_button_is_found_for_the_echo(tmp_path: Path) -> None:
    local = messenger(tmp_path)
    await local.record(MEDARBEJDER, Message(text="Passer det?", choices=(Choice("intake:1:yes", "Ja"),)))
    assert local.find_choice_label("local", "u-1", "intake:1:yes") == "Ja"
    assert local.find_choice_label("local", "u-1", "intake:1:no") is None


def test_a_damaged_file_is_reported_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "local" / "messages" / "07-of-32.json"
    path.parent.mkdir(parents=True)
    path.write_text("{ not json", encoding="utf-8")
    with pytest.raises(StorageError, match=r"07-of-32\.json: the data file is damaged"):
        messenger(tmp_path)
    assert path.read_text(encoding="utf-8") == "{ not json"
