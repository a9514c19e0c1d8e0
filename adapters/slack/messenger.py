"""`bot.delivery.Messenger` for Slack: pages, reporter updates and conversation replies as DMs.

A DM is `conversations.open` then `chat.postMessage`; the returned `MessageRef` keeps the channel
id and the message ts, so `update` is a `chat.update` in place. The messenger also remembers, per
channel, the latest bot message, which message carries which key and which replies still have
live buttons; that memory is only an optimisation for in-place updates and is bounded.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from adapters.slack.convert import Block, fallback_text, is_channel, reply_to_blocks, without_buttons
from adapters.slack.webapi import SlackWebApi
from bot.delivery import Address, MessageRef
from bot.i18n import language_of
from bot.messages import Message

logger = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


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


@dataclass
class ChannelLog:
    """What the bot last posted in one channel."""

    last_ts: str = ""
    keys: dict[str, str] = field(default_factory=dict)  # message key -> ts
    live: dict[str, tuple[list[Block], str]] = field(default_factory=dict)  # ts -> blocks, text of a reply with buttons


class SlackMessenger:
    def __init__(self, *, api: SlackWebApi, memory: int = 5000) -> None:
        self.api = api
        self._dms: Bounded[tuple[str, str], str] = Bounded(memory)
        self._languages: Bounded[tuple[str, str], str] = Bounded(memory)
        self._channels: Bounded[tuple[str, str], ChannelLog] = Bounded(memory)

    async def send(self, to: Address, message: Message) -> MessageRef:
        """A new message to a person's DM (or to a channel id, for team-channel posts)."""
        channel = to.user_id if is_channel(to.user_id) else await self.open_dm(to.workspace, to.user_id)
        return await self.post(to.workspace, channel, message, language=language_of(to.locale))

    async def update(self, ref: MessageRef, message: Message) -> None:
        language = self._languages.get((ref.channel, ref.message_id), "da")
        await self.replace(ref.workspace, ref.channel, ref.message_id, message, language=language)

    async def open_dm(self, team: str, user: str) -> str:
        if (team, user) not in self._dms:
            data = await self.api.call(team, "conversations.open", users=user)
            self._dms[(team, user)] = data["channel"]["id"]
        return self._dms[(team, user)]

    async def post(self, team: str, channel: str, message: Message, *, language: str, live: bool = False) -> MessageRef:
        """Post `message`; `live` marks a conversation reply whose buttons go once the person moves on."""
        blocks = reply_to_blocks(message, language=language)
        data = await self.api.call(
            team, "chat.postMessage", channel=channel, blocks=blocks, text=fallback_text(message, language=language)
        )
        channel, ts = data.get("channel", channel), data["ts"]
        self._remember(team, channel, ts, message, blocks, language=language, live=live)
        return MessageRef("slack", team, channel, ts)

    async def replace(
        self, team: str, channel: str, ts: str, message: Message, *, language: str, live: bool = False
    ) -> None:
        blocks = reply_to_blocks(message, language=language)
        await self.replace_blocks(team, channel, ts, blocks, fallback_text(message, language=language))
        self._remember(team, channel, ts, message, blocks, language=language, live=live)

    async def replace_blocks(self, team: str, channel: str, ts: str, blocks: list[Block], text: str) -> None:
        await self.api.call(team, "chat.update", channel=channel, ts=ts, blocks=blocks, text=text)
        self.log(team, channel).live.pop(ts, None)

    def log(self, team: str, channel: str) -> ChannelLog:
        if (team, channel) not in self._channels:
            self._channels[(team, channel)] = ChannelLog()
        return self._channels[(team, channel)]

    async def retire_buttons(self, team: str, channel: str, *, language: str) -> None:
        """Take the buttons off earlier replies the person answered by typing instead."""
        log = self.log(team, channel)
        for ts, (blocks, text) in list(log.live.items()):
            try:
                await self.replace_blocks(team, channel, ts, without_buttons(blocks, language=language), text)
            except Exception:
                logger.warning("could not remove old buttons in %s", channel, exc_info=True)
                log.live.pop(ts, None)

    def _remember(
        self, team: str, channel: str, ts: str, message: Message, blocks: list[Any], *, language: str, live: bool
    ) -> None:
        self._languages[(channel, ts)] = language
        log = self.log(team, channel)
        log.last_ts = max(log.last_ts, ts)
        if message.key:
            log.keys[message.key] = ts
        if live and message.choices:
            log.live[ts] = (blocks, fallback_text(message, language=language))
