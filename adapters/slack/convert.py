"""Pure translations between Slack payloads and the bot's neutral types; no I/O here.

Everything a person typed is escaped (`&`, `<`, `>`) before it goes into mrkdwn, so "<!channel>" in a
description is shown, never broadcast. Block Kit limits are enforced here, by visible truncation,
so Slack never rejects a message because a reporter wrote a long story.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from bot.i18n import text
from bot.messages import Fact, Message

# Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_BUTTON_LABEL = 75
MAX_BUTTONS_PER_BLOCK = 25
MAX_ID = 255
MAX_FALLBACK = 3000
ACTION_PREFIX = "sb"
# A Slack user id ("U0456EFGH", "W012A3CDE"): only such an id goes into a mention.
SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,40}")
STYLES = ("primary", "danger")

Block = dict[str, Any]


def escape(value: str) -> str:
    """Slack's three control characters as entities: user text can then never mention or link."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(value: str, limit: int, language: str) -> str:
    """`value` cut to `limit` characters, visibly: the end says it was shortened."""
    if len(value) <= limit:
        return value
    marker = text("slack.truncated", language)
    cut = value[: max(0, limit - len(marker))]
    # Never leave half an entity ("&am") behind: it would show as garbage.
    amp = cut.rfind("&", max(0, len(cut) - 5))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + marker


def mrkdwn(value: str, limit: int, language: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": truncate(escape(value), limit, language)}


def plain(value: str, limit: int, language: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(value, limit, language), "emoji": True}


def _fact(fact: Fact, language: str, team: str) -> dict[str, str]:
    """A field: the label in bold, the value below it; only the value is ever shortened.

    A person the fact names becomes a real mention (`<@U123>`) when they are in `team`, the workspace the
    message goes to, so the reader can write to them directly; a mention of another workspace's user
    would show as an unknown user, so there the name stays as text.
    """
    label_part = f"*{escape(fact.label[:100])}*\n" if fact.label else ""
    mention = fact.mention
    reachable = (
        mention is not None
        and (mention.platform, mention.workspace) == ("slack", team)
        and SLACK_USER.fullmatch(mention.user_id) is not None
    )
    room = MAX_FIELD_TEXT - len(label_part) - (MAX_ID if reachable else 0)
    value = truncate(escape(fact.value), room, language)
    if mention is not None and reachable and escape(mention.name) in value:
        value = value.replace(escape(mention.name), f"<@{mention.user_id}>", 1)
    return {"type": "mrkdwn", "text": label_part + value}


def block_id(message: Message, index: int) -> str:
    """The message key plus a digest of the content: a new id for every version of a message,
    as Slack asks, and the key comes back with every button press."""
    digest = hashlib.sha256(repr((message.text, message.title, message.facts, message.choices)).encode()).hexdigest()
    return f"{message.key[:200]}|{digest[:10]}|{index}"


def key_of(block_id_value: str) -> str:
    """The message key carried by an actions block id made by `block_id`."""
    return block_id_value.rsplit("|", 2)[0] if block_id_value.count("|") >= 2 else ""


def reply_to_blocks(message: Message, *, language: str, note: str = "", team: str = "") -> list[Block]:
    """A message as Block Kit: header, text, facts as fields, buttons; `note` is a small context line.

    `team`: the workspace the message goes to (people in it are mentioned, see `_fact`).
    """
    blocks: list[Block] = []
    if message.title:
        blocks.append({"type": "header", "text": plain(message.title, MAX_HEADER, language)})
    if message.text:
        blocks.append({"type": "section", "text": mrkdwn(message.text, MAX_SECTION_TEXT, language)})
    facts = [_fact(fact, language, team) for fact in message.facts if fact.label or fact.value]
    for i in range(0, len(facts), MAX_FIELDS):
        blocks.append({"type": "section", "fields": facts[i : i + MAX_FIELDS]})
    if note:
        blocks.append({"type": "context", "elements": [mrkdwn(note, MAX_SECTION_TEXT, language)]})
    actions = [_button(message, n, language) for n in range(len(message.choices))]
    action_blocks = [
        {
            "type": "actions",
            "block_id": block_id(message, i // MAX_BUTTONS_PER_BLOCK),
            "elements": actions[i : i + MAX_BUTTONS_PER_BLOCK],
        }
        for i in range(0, len(actions), MAX_BUTTONS_PER_BLOCK)
    ]
    if not blocks and not action_blocks:  # Slack refuses a message without blocks
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "…"}})
    # Buttons matter more than the tail of a very long list of facts.
    room = MAX_BLOCKS - len(action_blocks)
    return blocks[:room] + action_blocks[:MAX_BLOCKS]


def _button(message: Message, n: int, language: str) -> Block:
    choice = message.choices[n]
    button: Block = {
        "type": "button",
        "text": plain(choice.label, MAX_BUTTON_LABEL, language),
        # Unique within the message even when two buttons carry the same choice id.
        "action_id": f"{ACTION_PREFIX}:{n}:{choice.id}"[:MAX_ID],
        "value": choice.id,
    }
    if choice.style in STYLES:
        button["style"] = choice.style
    return button


def fallback_text(message: Message, *, language: str) -> str:
    """The notification text (push notifications, screen readers); escaped like the blocks."""
    parts = [p for p in (message.title, message.text) if p]
    return truncate(escape(" – ".join(parts) or " "), MAX_FALLBACK, language)


def without_buttons(blocks: list[Block], *, answer: str = "", language: str) -> list[Block]:
    """The same message with its buttons gone and, when given, the answer shown beneath it."""
    kept = [b for b in blocks if b.get("type") != "actions"]
    if answer:
        note = text("slack.answered", language, answer=answer)
        kept = [*kept[: MAX_BLOCKS - 1], {"type": "context", "elements": [mrkdwn(note, MAX_SECTION_TEXT, language)]}]
    return kept


def is_channel(conversation_id: str) -> bool:
    """Public/private channel ids; anything else handed to the messenger is a user to DM."""
    return conversation_id[:1] in ("C", "G")


def is_status_command(command_text: str) -> bool:
    """`/support status [NUMBER]` answers where it was asked; everything else becomes a DM conversation."""
    words = command_text.split()
    return bool(words) and words[0].lower() == "status"
