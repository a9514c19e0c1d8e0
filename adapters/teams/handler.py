"""The Teams activity handler: convert the activity, call the dialogs, render the replies.

Each handler stays a few lines; the conversation logic lives in `dialogs/`, the sending in
`messenger.py` and the translation in `convert.py`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.schema import ChannelAccount

from adapters.teams.convert import activity_to_turn, is_personal, submitted_choice
from adapters.teams.messenger import TeamsMessenger
from bot.config import ProviderSettings
from bot.delivery import DeliveryError
from bot.i18n import text
from bot.messages import Message

if TYPE_CHECKING:  # only for annotations: importing it would build the whole bot
    from dialogs.router import SupportBot

logger = logging.getLogger(__name__)

# A card press whose payload carries no usable choice: the dialogs answer it like any unknown button.
UNUSABLE_CHOICE = "teams:unusable"


class SupportActivityHandler(ActivityHandler):
    """One employee's or technician's Teams activity in, the dialog's replies out."""

    def __init__(self, *, bot: SupportBot, messenger: TeamsMessenger, provider: ProviderSettings) -> None:
        self.bot = bot
        self.messenger = messenger
        self.provider = provider

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        await self.messenger.remember(activity)
        if not is_personal(activity):
            return await self.continue_in_personal_chat(turn_context)
        choice = _choice(submitted_choice(activity))
        pressed = (activity.reply_to_id or "") if choice else ""
        language = _language(turn_context)
        async with self.bot.replies_to(activity_to_turn(activity, choice=choice)) as replies:
            await self.messenger.reply(turn_context, replies, language=language, pressed=pressed, choice=choice)

    async def continue_in_personal_chat(self, turn_context: TurnContext) -> None:
        """An @mention in a team or group chat: the intake goes on in the sender's 1:1 chat."""
        activity, language = turn_context.activity, _language(turn_context)
        try:
            personal = await self.messenger.personal_reference(activity)
        except DeliveryError:
            return await self.say(turn_context, "teams.personal_unavailable")
        async with self.bot.replies_to(activity_to_turn(activity, conversation=personal.conversation.id)) as replies:
            await self.messenger.reply_in(personal, replies, language=language)
        await self.say(turn_context, "teams.moved_to_personal")

    async def on_members_added_activity(self, members_added: list[ChannelAccount], turn_context: TurnContext) -> None:
        if any(member.id == turn_context.activity.recipient.id for member in members_added):
            await self.welcome(turn_context)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self.welcome(turn_context)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        await self.messenger.store.forget(turn_context.activity.conversation.id)

    async def welcome(self, turn_context: TurnContext) -> None:
        """Once per installation: Teams may announce it both as conversationUpdate and installationUpdate."""
        activity, language = turn_context.activity, _language(turn_context)
        await self.messenger.remember(activity)
        if not await self.messenger.store.welcome_once(activity.conversation.id):
            return
        if not is_personal(activity):
            return await self.say(turn_context, "teams.welcome_team")
        title = text("teams.welcome_title", language, provider=self.provider.name)
        welcome = Message(text=text("teams.welcome", language, provider=self.provider.name), title=title)
        await self.messenger.reply(turn_context, [welcome], language=language)

    async def say(self, turn_context: TurnContext, key: str) -> None:
        language = _language(turn_context)
        params = {"provider": self.provider.name, "phone": self.provider.phone, "menu": self.provider.phone_menu}
        await self.messenger.reply(turn_context, [Message(text=text(key, language, **params))], language=language)


def _choice(submitted: str | None) -> str:
    return UNUSABLE_CHOICE if submitted == "" else (submitted or "")


def _language(turn_context: TurnContext) -> str:
    return turn_context.activity.locale or "da"
