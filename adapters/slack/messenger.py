"""`bot.delivery.Messenger` for Slack: pages, reporter updates and conversation replies as DMs.

A DM is `conversations.open` then `chat.postMessage`; the returned `MessageRef` keeps the channel
id and the message ts, so `update` is a `chat.update` in place. The messenger also remembers the DM
channel of each person, the language the bot last wrote in each channel (an update is rendered in
it) and the most recent replies that still have live buttons (so typing an answer can take them
off). All three are only optimisations and bounded by count, never by the number of messages sent:
a reply that fell out of memory keeps its buttons, and pressing one of them later is handled like
any stale button.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Generic, TypeVar

from adapters.slack.convert import Block, fallback_text, is_channel, reply_to_blocks, without_buttons
from adapters.slack.webapi import SlackWebApi
from bot.delivery import Address, MessageRef
from bot.i18n import language_of
from bot.messages import Message

logger = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

MEMORY = 5000  # people (DM channels) and channels remembered
LIVE_REPLIES = 500  # replies with buttons remembered, over all channels: the conversations in progress


class Bounded(OrderedDict[K, V], Generic[K, V]):
    """A dict that forgets its oldest entries beyond `limit`."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class SlackMessenger:
    def __init__(self, *, api: SlackWebApi, memory: int = MEMORY, live_replies: int = LIVE_REPLIES) -> None:
        self.api = api
        self._dms: Bounded[tuple[str, str], str] = Bounded(memory)  # (team, user) -> DM channel
        self._languages: Bounded[tuple[str, str], str] = Bounded(memory)  # (team, channel) -> language
        # (team, channel, ts) -> blocks and text of a reply whose buttons go once the person moves on
        self._live: Bounded[tuple[str, str, str], tuple[list[Block], str]] = Bounded(live_replies)

    async def send(self, to: Address, message: Message) -> MessageRef:
        """A new message to a person's DM (or to a channel id, for team-channel posts)."""
        channel = to.user_id if is_channel(to.user_id) else await self.open_dm(to.workspace, to.user_id)
        return await self.post(to.workspace, channel, message, language=language_of(to.locale))

    async def update(self, ref: MessageRef, message: Message) -> None:
        language = self._languages.get((ref.workspace, ref.channel), "da")
        await self.replace(ref.workspace, ref.channel, ref.message_id, message, language=language)

    async def open_dm(self, team: str, user: str) -> str:
        if (team, user) not in self._dms:
            data = await self.api.call(team, "conversations.open", users=user)
            self._dms[(team, user)] = data["channel"]["id"]
        return self._dms[(team, user)]

    async def post(self, team: str, channel: str, message: Message, *, language: str, live: bool = False) -> MessageRef:
        """Post `message`; `live` marks a conversation reply whose buttons go once the person moves on."""
        blocks = reply_to_blocks(message, language=language, team=team)
        data = await self.api.call(
            team, "chat.postMessage", channel=channel, blocks=blocks, text=fallback_text(message, language=language)
        )
        channel, ts = data.get("channel", channel), data["ts"]
        self._remember(team, channel, ts, message, blocks, language=language, live=live)
        return MessageRef("slack", team, channel, ts)

    async def replace(
        self, team: str, channel: str, ts: str, message: Message, *, language: str, live: bool = False
    ) -> None:
        blocks = reply_to_blocks(message, language=language, team=team)
        await self.replace_blocks(team, channel, ts, blocks, fallback_text(message, language=language))
        self._remember(team, channel, ts, message, blocks, language=language, live=live)

    async def replace_blocks(self, team: str, channel: str, ts: str, blocks: list[Block], text: str) -> None:
        await self.api.call(team, "chat.update", channel=channel, ts=ts, blocks=blocks, text=text)
        self._live.pop((team, channel, ts), None)

    def live_replies(self, team: str, channel: str) -> list[str]:
        """The ts of the remembered replies in a channel whose buttons are still live, oldest first."""
        return [ts for (t, c, ts) in self._live if (t, c) == (team, channel)]

    async def retire_buttons(self, team: str, channel: str, *, language: str) -> None:
        """Take the buttons off earlier replies the person answered by typing instead."""
        for ts in self.live_replies(team, channel):
            remembered = self._live.get((team, channel, ts))
            if remembered is None:  # forgotten while an earlier one was being updated
                continue
            blocks, text = remembered
            try:
                await self.replace_blocks(team, channel, ts, without_buttons(blocks, language=language), text)
            except Exception:
                logger.warning("could not remove old buttons in %s", channel, exc_info=True)
                self._live.pop((team, channel, ts), None)

    def _remember(
        self, team: str, channel: str, ts: str, message: Message, blocks: list[Any], *, language: str, live: bool
    ) -> None:
        self._languages[(team, channel)] = language
        if live and message.choices:
            self._live[(team, channel, ts)] = (blocks, fallback_text(message, language=language))
