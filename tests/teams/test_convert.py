"""The pure translations: activity to Turn, Message to Adaptive Card / Markdown."""

from __future__ import annotations

import html
from typing import Any

import pytest
from botbuilder.schema import Activity
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from adapters.teams.convert import (
    activity_to_turn,
    escape_markdown,
    fallback_text,
    message_to_activity,
    message_to_card,
    submitted_choice,
    tenant_of,
    typed_text,
)
from bot.messages import Choice, Fact, Message
from tests.teams.conftest import card_errors

QUESTION = Message(
    "Vi har lukket lige nu.\n\nSkal jeg tilkalde vagten nu?",
    title="Uden for åbningstid",
    facts=(Fact("Sag", "10001"),),
    choices=(Choice("intake:3:page", "Ja, tilkald vagten", "danger"), Choice("intake:3:next", "Nej", "primary")),
    key="intake",
)


def teams_activity(**fields: Any) -> Activity:
    raw = {
        "type": "message",
        "id": "1700000000001",
        "channelId": "msteams",
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "from": {"id": "29:1abc", "name": "Mette Hansen", "aadObjectId": "aad-mette"},
        "conversation": {"id": "a:1xyz", "conversationType": "personal", "tenantId": "tenant-1"},
        "recipient": {"id": "28:bot", "name": "OneOffice Support"},
        "channelData": {"tenant": {"id": "tenant-1"}},
        "locale": "en-GB",
        "text": "printer is broken",
        **fields,
    }
    return Activity().deserialize(raw)


def test_activity_to_turn() -> None:
    turn = activity_to_turn(teams_activity())
    assert (turn.key.platform, turn.key.workspace, turn.key.conversation, turn.key.user) == (
        "teams",
        "tenant-1",
        "a:1xyz",
        "aad-mette",
    )
    assert turn.reporter.display_name == "Mette Hansen" and turn.reporter.locale == "en-GB"
    assert (turn.text, turn.choice, turn.delivery_id) == ("printer is broken", "", "1700000000001")


def test_the_tenant_comes_from_channel_data_because_botbuilder_drops_conversation_tenant_id() -> None:
    activity = teams_activity()
    assert activity.conversation.tenant_id is None  # botbuilder 4.17.1 maps "tenantID", not Teams' "tenantId"
    assert tenant_of(activity) == "tenant-1"
    assert tenant_of(teams_activity(channelData={}, channelId="emulator")) == "emulator"


def test_without_an_aad_id_the_teams_user_id_is_the_user() -> None:
    turn = activity_to_turn(teams_activity(**{"from": {"id": "29:1abc"}}))
    assert turn.key.user == "29:1abc" and turn.reporter.user_id == "29:1abc"


def test_the_bots_mention_is_removed() -> None:
    mention = {"type": "mention", "text": "<at>OneOffice Support</at>", "mentioned": {"id": "28:bot", "name": "x"}}
    activity = teams_activity(text="<at>OneOffice Support</at>&nbsp;printeren  driller\n", entities=[mention])
    assert typed_text(activity) == "printeren driller"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ({"choice": "intake:1:yes"}, "intake:1:yes"),
        ({"choice": ""}, ""),
        ({"choice": 7}, ""),
        ({"other": "x"}, ""),
        ("text", ""),
        ([1], ""),
        ({"choice": "x" * 201}, ""),
    ],
)
def test_submitted_choice(value: Any, expected: str | None) -> None:
    assert submitted_choice(teams_activity(value=value)) == expected


def test_a_press_turn_carries_the_choice_and_no_text() -> None:
    turn = activity_to_turn(teams_activity(text=None), choice="intake:1:yes")
    assert (turn.choice, turn.text) == ("intake:1:yes", "")


def test_the_card_is_valid_adaptive_card_1_5_in_every_state() -> None:
    for card in (
        message_to_card(QUESTION, "da"),
        message_to_card(QUESTION, "da", live=False),
        message_to_card(QUESTION, "en", chosen="intake:3:page"),
        message_to_card(Message("Kun tekst"), "da"),
    ):
        assert card_errors(card) == []


def test_the_card_has_one_submit_per_choice_with_styles() -> None:
    card = message_to_card(QUESTION, "da")
    assert card["version"] == "1.5" and card["lang"] == "da"
    assert card["actions"] == [
        {
            "type": "Action.Submit",
            "title": "Ja, tilkald vagten",
            "data": {"choice": "intake:3:page"},
            "style": "destructive",
        },
        {"type": "Action.Submit", "title": "Nej", "data": {"choice": "intake:3:next"}, "style": "positive"},
    ]
    texts = [block.get("text") for block in card["body"]]
    assert texts[:3] == ["Uden for åbningstid", "Vi har lukket lige nu.", "Skal jeg tilkalde vagten nu?"]
    assert card["body"][3] == {"type": "FactSet", "facts": [{"title": "Sag", "value": "10001"}]}


def test_an_answered_card_shows_the_choice_and_has_no_buttons() -> None:
    card = message_to_card(QUESTION, "da", chosen="intake:3:page")
    assert "actions" not in card
    assert card["body"][-1]["text"] == "✔ Du valgte: Ja, tilkald vagten"
    assert "1." not in card["fallbackText"]
    assert "actions" not in message_to_card(QUESTION, "da", live=False)


def test_the_fallback_text_numbers_the_choices() -> None:
    assert fallback_text(QUESTION, "en").splitlines()[-3:] == [
        "1. Ja, tilkald vagten",
        "2. Nej",
        "Reply with the number or the word.",
    ]


def test_a_plain_message_is_markdown_without_a_card() -> None:
    activity = message_to_activity(Message("Linje et\nLinje to", title="Sag 10001"), "da")
    assert activity.attachments is None
    assert activity.text == "**Sag 10001**\n\nLinje et\n\nLinje to"


def test_a_card_message_has_a_notification_summary() -> None:
    activity = message_to_activity(QUESTION, "da")
    assert activity.summary == "Uden for åbningstid"
    assert activity.attachments[0].content_type == "application/vnd.microsoft.card.adaptive"


def commonmark(markdown: str) -> str:
    """HTML as a CommonMark renderer makes it, the reference for what Teams' Markdown does."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        pytest.fail("the Markdown checks need a CommonMark renderer: pip install markdown-it-py")
    return MarkdownIt("commonmark").render(markdown)


def shown_as(markdown: str) -> str:
    """The text a reader sees, or AssertionError when the renderer made anything but one plain paragraph."""
    rendered = commonmark(markdown)
    assert rendered.startswith("<p>") and rendered.endswith("</p>\n"), rendered
    inner = rendered.removeprefix("<p>").removesuffix("</p>\n")
    assert "<" not in inner.replace("<br />", ""), f"markup was interpreted: {rendered}"
    return html.unescape(inner.replace("<br />\n", "\n"))


@pytest.mark.parametrize(
    ("typed", "escaped"),
    [
        (
            "[Nulstil din kode](https://evil.example) **haster**",
            r"\[Nulstil din kode\](https://evil.example) \*\*haster\*\*",
        ),
        ("App_Pool_01 virker ikke", r"App\_Pool\_01 virker ikke"),
        ("- punkt", r"\- punkt"),
        ("1. punkt", r"1\. punkt"),
        ("# Overskrift", r"\# Overskrift"),
        ("> citat", r"\> citat"),
        ("<https://evil.example> og <b>fed</b>", r"\<https://evil.example> og \<b>fed\</b>"),
        ("&lt;b&gt; &#42;", r"\&lt;b\&gt; \&#42;"),
        (r"C:\Users\mette", r"C:\\Users\\mette"),
        ("`kode` ~~streg~~", r"\`kode\` \~\~streg\~\~"),
        # Ordinary Danish text is left alone.
        ("1.000,00 kr. + moms, IT-løsningen (fx Outlook)!", "1.000,00 kr. + moms, IT-løsningen (fx Outlook)!"),
        ("10042 – Kan ikke printe – Åben", "10042 – Kan ikke printe – Åben"),
    ],
)
def test_markdown_in_text_is_escaped(typed: str, escaped: str) -> None:
    assert escape_markdown(typed) == escaped
    assert shown_as(escaped) == typed


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZ09 .,:;!?()[]{}<>*_`~#+=-|\\/&'\"@%$^æøå\n")), max_size=40))
def test_whatever_is_typed_is_shown_as_typed(typed: str) -> None:
    lines = [line.strip() for line in typed.split("\n")]
    assume(all(lines))  # Markdown drops blank lines and a line's outer spaces; so does the card
    assert shown_as(escape_markdown("\n".join(lines))) == "\n".join(lines)


def test_user_text_in_a_card_is_escaped_everywhere_it_is_rendered() -> None:
    evil = "[Nulstil din kode](https://evil.example) **haster**"
    message = Message(f"Beskrivelse:\n{evil}", title=evil, facts=(Fact(evil, evil),), choices=(Choice("c:1", evil),))
    card = message_to_card(message, "da", chosen="c:1")
    texts = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    facts = [v for b in card["body"] if b["type"] == "FactSet" for f in b["facts"] for v in f.values()]
    for shown in [*texts, *facts, card["fallbackText"]]:
        assert "](" not in shown.replace("\\](", ""), shown
        assert "**" not in shown.replace("\\*", ""), shown
    assert card_errors(card) == []


def test_lines_of_a_paragraph_stay_lines_in_a_card() -> None:
    card = message_to_card(
        Message("Sag 10001\nStatus: Åben\n\n- ikke en liste\n• punkt", choices=(Choice("c", "OK"),)), "da"
    )
    blocks = [(b["text"], b.get("spacing")) for b in card["body"]]
    assert blocks == [
        ("Sag 10001", None),
        ("Status: Åben", "None"),
        (r"\- ikke en liste", None),
        ("• punkt", "None"),
    ]


def test_a_plain_message_escapes_the_text_but_keeps_its_bold_title() -> None:
    activity = message_to_activity(Message("Du skrev: **haster**\n1. punkt", title="Sag_1"), "da")
    assert activity.text == "**Sag\\_1**\n\nDu skrev: \\*\\*haster\\*\\*\n\n1\\. punkt"
    assert activity.text_format == "markdown"
