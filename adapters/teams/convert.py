"""Translation at the edge: Teams activities in, Adaptive Cards and text out.

Nothing here sends or stores anything; `handler.py` and `messenger.py` do, so these functions are
pure and tested one by one.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from botbuilder.core import CardFactory, TurnContext
from botbuilder.schema import Activity, ActivityTypes

from bot.cases import Reporter
from bot.i18n import language_of, text
from bot.messages import Choice, Fact, Message
from dialogs.turns import ConversationKey, Turn

PLATFORM = "teams"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
# Action.Submit data is echoed back by Teams in `value`; this is the one field the bot reads.
CHOICE_FIELD = "choice"
MAX_CHOICE_LENGTH = 200
_STYLES = {"primary": "positive", "danger": "destructive"}
# What CommonMark interprets anywhere in a line: escapes, code, emphasis, links and images, HTML
# and autolinks, strikethrough.
_INLINE_MARKUP = re.compile(r"([\\`*_\[\]<~])")
# An entity ("&lt;", "&#42;") would be decoded; the backslash keeps it as typed.
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
# At the start of a line: a heading, a block quote, a bullet, a rule or a heading underline
# ("*" and "_" are escaped above), and an ordered list item ("1. ", "2) ").
_LINE_MARKUP = re.compile(r"^([#>+=-])", re.MULTILINE)
_ORDERED_ITEM = re.compile(r"^(\d{1,9})([.)])(?=\s|$)", re.MULTILINE)
# Indentation: four spaces would make a code block, and Markdown shows none of it anyway.
_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)
# Inside <at>…</at> nothing is escaped, so a name keeps only what cannot be read as markup.
_MENTION_UNSAFE = re.compile(r"[<>\[\]\\*_`~&#]")


def tenant_of(activity: Activity) -> str:
    """The tenant id: botbuilder 4.17.1 drops `conversation.tenantId`, `channelData.tenant.id` survives."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant")
    tenant_id = tenant.get("id") if isinstance(tenant, dict) else None
    conversation_tenant = activity.conversation.tenant_id if activity.conversation else None
    # The Emulator has no tenant; its conversations are their own (unknown) workspace.
    return str(tenant_id or conversation_tenant or activity.channel_id or "unknown")


def user_of(activity: Activity) -> str:
    """The sender's stable id: the Entra (AAD) object id when Teams sends it, else the Teams user id."""
    sender = activity.from_property
    return str(sender.aad_object_id or sender.id)


def is_personal(activity: Activity) -> bool:
    conversation = activity.conversation
    return not (conversation.is_group or conversation.conversation_type in ("channel", "groupChat"))


def typed_text(activity: Activity) -> str:
    """What the person wrote, without the bot's @mention and Teams' HTML leftovers."""
    raw = activity.text or ""
    if activity.recipient is not None and activity.entities:
        raw = TurnContext.remove_mention_text(activity, activity.recipient.id) or raw
    raw = re.sub(r"<at>.*?</at>", " ", raw)
    return " ".join(raw.replace("&nbsp;", " ").split())


def submitted_choice(activity: Activity) -> str | None:
    """The choice id of a card press; None when this is no press, "" when the payload is unusable."""
    value = activity.value
    if value is None:
        return None
    choice = value.get(CHOICE_FIELD) if isinstance(value, dict) else None
    if not isinstance(choice, str) or not choice or len(choice) > MAX_CHOICE_LENGTH:
        return ""
    return choice


def activity_to_turn(activity: Activity, *, conversation: str | None = None, choice: str = "") -> Turn:
    """One `Turn` for the dialogs; `conversation` overrides the id when a group @mention moves to the 1:1 chat."""
    tenant = tenant_of(activity)
    user = user_of(activity)
    reporter = Reporter(
        platform=PLATFORM,
        workspace=tenant,
        user_id=user,
        display_name=activity.from_property.name or "",
        locale=activity.locale or "da",
    )
    return Turn(
        key=ConversationKey(PLATFORM, tenant, conversation or activity.conversation.id, user),
        reporter=reporter,
        text="" if choice else typed_text(activity),
        choice=choice,
        delivery_id=activity.id or "",
    )


def escape_markdown(plain: str) -> str:
    """`plain` as Markdown that Teams shows exactly as written: no link, no bold, no list, no entity.

    Teams renders Markdown in a TextBlock, a Fact's title and value, and a message with
    text_format "markdown". Every text the bot sends goes through here, because some of it is the
    employee's own words (a description, a display name), and issue 3 wants markup in those
    shown as text. The bot's own catalog texts use no Markdown, so escaping them changes nothing
    a reader sees; a catalog line that starts with "-" or "1." shows as that text, not as a list.
    Only what CommonMark (or Teams: "~") would interpret is escaped, so a renderer that handles
    backslashes imperfectly (older Teams mobile clients did) has as few as possible to show.
    Plain text (text_format "plain") is no way out: a card has no such option, and the
    message's bold title needs Markdown.
    """
    escaped = _INLINE_MARKUP.sub(r"\\\1", _INDENT.sub("", plain))
    escaped = _ENTITY.sub(r"\\&", escaped)
    escaped = _LINE_MARKUP.sub(r"\\\1", escaped)
    return _ORDERED_ITEM.sub(r"\1\\\2", escaped)


def fallback_text(message: Message, language: str) -> str:
    """The message as text, choices numbered, for clients that cannot show the card (escaped: it is Markdown)."""
    lines = [message.title] if message.title else []
    lines.append(message.text)
    lines += [f"{fact.label}: {fact.value}" for fact in message.facts]
    lines = [escape_markdown(line) for line in lines]
    if message.choices:
        lines += [f"{n}. {escape_markdown(choice.label)}" for n, choice in enumerate(message.choices, start=1)]
        lines.append(escape_markdown(text("teams.answer_with_number", language)))
    return "\n".join(line for line in lines if line)


def message_to_card(
    message: Message, language: str, *, live: bool = True, chosen: str = "", tenant: str = ""
) -> dict[str, Any]:
    """An Adaptive Card 1.5: title, text, facts and one Action.Submit per choice.

    A card that is no longer `live` (answered, or passed by typing) keeps its text but loses its
    buttons, so an old card can never be pressed again; `chosen` (a choice id) shows what was picked.
    A fact naming a person of `tenant` (the tenant the card goes to) shows them as a real mention
    under the facts, so the reader can write to them directly.
    """
    body: list[dict[str, Any]] = []
    if message.title:
        title = escape_markdown(message.title)
        body.append({"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True})
    body += _text_blocks(message.text)
    mentioned = [f for f in message.facts if _mentionable(f, tenant)]
    if message.facts:
        facts = [
            {"title": escape_markdown(f.label), "value": escape_markdown(f.value)}
            for f in message.facts
            if f not in mentioned
        ]
        body.append({"type": "FactSet", "facts": facts})
    entities = [_mention_block(f, body) for f in mentioned]
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "body": body,
        "fallbackText": fallback_text(message if live and not chosen else replace(message, choices=()), language),
        "lang": language_of(language),
    }
    picked = next((c for c in message.choices if c.id == chosen), None)
    if picked is not None:
        body.append(
            {
                "type": "TextBlock",
                "text": escape_markdown(text("teams.chosen", language, label=picked.label)),
                "wrap": True,
                "isSubtle": True,
                "color": "Good",
            }
        )
    if live and picked is None and message.choices:
        card["actions"] = [_action(choice) for choice in message.choices]
    if entities:
        card["msteams"] = {"entities": entities}
    return card


def _mentionable(fact: Fact, tenant: str) -> bool:
    """Whether the person a fact names is in the tenant the card goes to (else the name stays as text)."""
    person = fact.mention
    if person is None or not person.user_id or person.name not in fact.value:
        return False
    return (person.platform, person.workspace) == (PLATFORM, tenant)


def _mention_block(fact: Fact, body: list[dict[str, Any]]) -> dict[str, Any]:
    """Add the fact as a line with a real mention ("Meldt af: @Anna via Teams"); its mention entity."""
    assert fact.mention is not None
    name = _MENTION_UNSAFE.sub("", fact.mention.name).strip() or "?"
    before, _, after = fact.value.partition(fact.mention.name)
    tag = f"<at>{name}</at>"
    label, before, after = (part.replace("\0", "") for part in (fact.label, before, after))
    line = escape_markdown(f"{label}: {before}\0{after}").replace("\0", tag)  # escaped as one line, then the tag
    body.append({"type": "TextBlock", "text": line, "wrap": True})
    return {"type": "mention", "text": tag, "mentioned": {"id": fact.mention.user_id, "name": name}}


def _action(choice: Choice) -> dict[str, Any]:
    action = {"type": "Action.Submit", "title": choice.label, "data": {CHOICE_FIELD: choice.id}}
    if choice.style in _STYLES:
        action["style"] = _STYLES[choice.style]
    return action


def _paragraphs(body: str) -> list[str]:
    return [part.strip() for part in re.split(r"\n\s*\n", body) if part.strip()]


def _text_blocks(body: str) -> list[dict[str, Any]]:
    """One TextBlock per line: Markdown would join the lines of a paragraph into one.

    Lines of one paragraph follow each other without a gap; paragraphs keep the card's spacing.
    """
    blocks: list[dict[str, Any]] = []
    for part in _paragraphs(body):
        lines = [line.strip() for line in part.split("\n") if line.strip()]
        blocks.append({"type": "TextBlock", "text": escape_markdown(lines[0]), "wrap": True})
        blocks += [
            {"type": "TextBlock", "text": escape_markdown(line), "wrap": True, "spacing": "None"} for line in lines[1:]
        ]
    return blocks


def message_to_activity(
    message: Message, language: str, *, live: bool = True, chosen: str = "", tenant: str = ""
) -> Activity:
    """A card when there is anything to lay out or press; otherwise a plain Markdown message."""
    if message.choices or message.facts:
        card = CardFactory.adaptive_card(message_to_card(message, language, live=live, chosen=chosen, tenant=tenant))
        summary = message.title or message.text.split("\n", 1)[0]
        return Activity(type=ActivityTypes.message, attachments=[card], summary=summary[:200])
    lines = [escape_markdown(line.strip()) for part in _paragraphs(message.text) for line in part.split("\n")]
    title = [f"**{escape_markdown(message.title)}**"] if message.title else []
    # Teams' Markdown joins single newlines; a blank line keeps each line on its own.
    markdown = "\n\n".join([*title, *(line for line in lines if line)])
    return Activity(type=ActivityTypes.message, text=markdown, text_format="markdown")
