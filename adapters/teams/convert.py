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
from bot.messages import Choice, Message
from dialogs.turns import ConversationKey, Turn

PLATFORM = "teams"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
# Action.Submit data is echoed back by Teams in `value`; this is the one field the bot reads.
CHOICE_FIELD = "choice"
MAX_CHOICE_LENGTH = 200
_STYLES = {"primary": "positive", "danger": "destructive"}


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


def fallback_text(message: Message, language: str) -> str:
    """The message as plain text, choices numbered, for clients that cannot show the card."""
    lines = [message.title] if message.title else []
    lines.append(message.text)
    lines += [f"{fact.label}: {fact.value}" for fact in message.facts]
    if message.choices:
        lines += [f"{n}. {choice.label}" for n, choice in enumerate(message.choices, start=1)]
        lines.append(text("teams.answer_with_number", language))
    return "\n".join(line for line in lines if line)


def message_to_card(message: Message, language: str, *, live: bool = True, chosen: str = "") -> dict[str, Any]:
    """An Adaptive Card 1.5: title, text, facts and one Action.Submit per choice.

    A card that is no longer `live` (answered, or passed by typing) keeps its text but loses its
    buttons, so an old card can never be pressed again; `chosen` (a choice id) shows what was picked.
    """
    body: list[dict[str, Any]] = []
    if message.title:
        body.append({"type": "TextBlock", "text": message.title, "weight": "Bolder", "size": "Medium", "wrap": True})
    body += [{"type": "TextBlock", "text": part, "wrap": True} for part in _paragraphs(message.text)]
    if message.facts:
        body.append({"type": "FactSet", "facts": [{"title": f.label, "value": f.value} for f in message.facts]})
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
                "text": text("teams.chosen", language, label=picked.label),
                "wrap": True,
                "isSubtle": True,
                "color": "Good",
            }
        )
    if live and picked is None and message.choices:
        card["actions"] = [_action(choice) for choice in message.choices]
    return card


def _action(choice: Choice) -> dict[str, Any]:
    action = {"type": "Action.Submit", "title": choice.label, "data": {CHOICE_FIELD: choice.id}}
    if choice.style in _STYLES:
        action["style"] = _STYLES[choice.style]
    return action


def _paragraphs(body: str) -> list[str]:
    return [part.strip() for part in re.split(r"\n\s*\n", body) if part.strip()]


def message_to_activity(message: Message, language: str, *, live: bool = True, chosen: str = "") -> Activity:
    """A card when there is anything to lay out or press; otherwise a plain Markdown message."""
    if message.choices or message.facts:
        card = CardFactory.adaptive_card(message_to_card(message, language, live=live, chosen=chosen))
        summary = message.title or message.text.split("\n", 1)[0]
        return Activity(type=ActivityTypes.message, attachments=[card], summary=summary[:200])
    parts = ([f"**{message.title}**"] if message.title else []) + _paragraphs(message.text)
    # Teams' Markdown joins single newlines; a blank line keeps each line on its own.
    markdown = "\n\n".join(line for part in parts for line in part.split("\n"))
    return Activity(type=ActivityTypes.message, text=markdown, text_format="markdown")
