"""The port through which the core reaches people outside a conversation turn.

Pages to technicians, reporter updates and team-channel posts go through a `Messenger` per
platform. Adapters implement it; the core only knows `Address` and `Message`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.errors import BotError
from bot.messages import Message
from bot.observe import NO_OBSERVER, Observer


@dataclass(frozen=True)
class Address:
    """A person (or a channel) on one platform."""

    platform: str  # "slack", "teams", "local"
    workspace: str  # Slack team id, Teams tenant id, "local"
    user_id: str  # a user id, or a channel id for team-channel posts
    locale: str = "da"


@dataclass(frozen=True)
class MessageRef:
    """Where a sent message lives, so it can be updated in place later."""

    platform: str
    workspace: str
    channel: str
    message_id: str


class DeliveryError(BotError):
    """The platform could not deliver after its retries; the caller tries someone else."""


class Messenger(Protocol):
    """Sends and updates messages on one platform; retries transient failures itself."""

    async def send(self, to: Address, message: Message) -> MessageRef: ...

    async def update(self, ref: MessageRef, message: Message) -> None: ...


class Messengers:
    """The messengers of the enabled platforms, chosen by the address's platform; counts what they give up on."""

    def __init__(self, *, observer: Observer = NO_OBSERVER) -> None:
        self._by_platform: dict[str, Messenger] = {}
        self._observer = observer

    def register(self, platform: str, messenger: Messenger) -> None:
        self._by_platform[platform] = messenger

    def enabled(self, platform: str) -> bool:
        return platform in self._by_platform

    async def send(self, to: Address, message: Message) -> MessageRef:
        try:
            return await self._get(to.platform).send(to, message)
        except DeliveryError:
            self._observer.delivery_failed(to.platform)
            raise

    async def update(self, ref: MessageRef, message: Message) -> None:
        try:
            await self._get(ref.platform).update(ref, message)
        except DeliveryError:
            self._observer.delivery_failed(ref.platform)
            raise

    def _get(self, platform: str) -> Messenger:
        try:
            return self._by_platform[platform]
        except KeyError:
            raise DeliveryError(f"the {platform} front end is not enabled") from None
