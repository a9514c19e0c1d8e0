"""Block Kit rendering: escaping, limits, visible truncation, button ids."""

from __future__ import annotations

from adapters.slack.convert import (
    escape,
    fallback_text,
    is_status_command,
    key_of,
    reply_to_blocks,
    without_buttons,
)
from adapters.slack.frontend import plain_text
from bot.messages import Choice, Fact, Message
from tests.slack.fake_slack import check_blocks


def test_user_text_cannot_mention_anyone() -> None:
    message = Message(text="Hjælp <!channel> & <@U123> <https://evil|klik>", facts=(Fact("Beskrivelse", "<!here>"),))
    blocks = reply_to_blocks(message, language="da")
    rendered = repr(blocks) + fallback_text(message, language="da")
    assert "<!channel>" not in rendered and "<!here>" not in rendered and "<@U123>" not in rendered
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in blocks[0]["text"]["text"]
    assert check_blocks(blocks) == []


def test_long_text_is_truncated_visibly_within_limits() -> None:
    long = "<!channel> " + "æ" * 4000 + "&" * 50
    message = Message(
        text=long,
        title="T" * 400,
        facts=tuple(Fact(f"Felt {n}", "x" * 2500) for n in range(25)),
        choices=tuple(Choice(f"c{n}", "Knap " * 30) for n in range(30)),
    )
    blocks = reply_to_blocks(message, language="da")
    assert check_blocks(blocks) == []
    section = blocks[1]["text"]["text"]
    assert len(section) <= 3000 and section.endswith("… (forkortet)")
    assert len(blocks[0]["text"]["text"]) <= 150
    assert reply_to_blocks(message, language="en")[1]["text"]["text"].endswith("… (shortened)")
    assert len(fallback_text(message, language="da")) <= 3000


def test_truncation_never_leaves_half_an_entity() -> None:
    text = "a" * 2990 + "<<<<<<"
    section = reply_to_blocks(Message(text=text), language="da")[0]["text"]["text"]
    body = section.removesuffix(" … (forkortet)")
    assert not body.endswith(("&", "&l", "&lt"))


def test_buttons_have_unique_action_ids_and_carry_the_key() -> None:
    message = Message(
        text="?", choices=(Choice("a", "A", "primary"), Choice("a", "A igen"), Choice("b", "B", "weird")), key="intake"
    )
    blocks = reply_to_blocks(message, language="da")
    actions = blocks[-1]
    ids = [e["action_id"] for e in actions["elements"]]
    assert len(set(ids)) == 3
    assert [e["value"] for e in actions["elements"]] == ["a", "a", "b"]
    assert actions["elements"][0]["style"] == "primary" and "style" not in actions["elements"][2]
    assert key_of(actions["block_id"]) == "intake"
    changed = reply_to_blocks(Message(text="!", choices=message.choices, key="intake"), language="da")
    assert changed[-1]["block_id"] != actions["block_id"], "a new version of a message gets a new block id"


def test_answered_message_loses_its_buttons() -> None:
    blocks = reply_to_blocks(Message(text="Hvem?", choices=(Choice("x", "Alle"),)), language="da")
    answered = without_buttons(blocks, answer="Alle <3", language="da")
    assert all(b["type"] != "actions" for b in answered)
    assert answered[-1]["elements"][0]["text"] == "✔ Du svarede: Alle &lt;3"
    assert check_blocks(answered) == []


def test_slack_markup_becomes_what_the_person_saw() -> None:
    assert plain_text("Printer &lt;3 &amp; <@U1> <https://x.dk|siden> <#C1|general> <!here>") == (
        "Printer <3 & @U1 siden general @here"
    )
    assert escape(plain_text("&lt;!channel&gt;")) == "&lt;!channel&gt;"


def test_status_command() -> None:
    assert is_status_command("status") and is_status_command("Status 10042")
    assert not is_status_command("statusen på printeren") and not is_status_command("")


def test_an_empty_message_is_still_a_valid_message() -> None:
    assert check_blocks(reply_to_blocks(Message(text=""), language="da")) == []
