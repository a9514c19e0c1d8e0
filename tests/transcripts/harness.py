"""A test bench for the intake conversation: the real services on tmp_path, a manual clock, and
a recording messenger standing in for the local on-call inbox and the reporter's chat."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.wiring import Services, build_services
from bot.cases import Case, Reporter
from bot.clock import ManualClock
from bot.config import Settings, load_settings
from bot.delivery import Address, MessageRef
from bot.messages import Message
from dialogs.turns import ConversationKey, Turn

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def local(moment: str) -> datetime:
    """An ISO moment without offset, read as Copenhagen time."""
    return datetime.fromisoformat(moment).replace(tzinfo=COPENHAGEN)


def settings_for(data_dir: Path) -> Settings:
    return load_settings({"SUPPORTBOT_DATA": str(data_dir)})


@dataclass
class RecordingMessenger:
    """Records what the bot sends on a platform (pages, team posts, reporter updates)."""

    sent: list[tuple[Address, Message]] = field(default_factory=list)
    updated: list[tuple[MessageRef, Message]] = field(default_factory=list)
    _ids: count = field(default_factory=lambda: count(1))

    async def send(self, to: Address, message: Message) -> MessageRef:
        self.sent.append((to, message))
        return MessageRef(to.platform, to.workspace, to.user_id, str(next(self._ids)))

    async def update(self, ref: MessageRef, message: Message) -> None:
        self.updated.append((ref, message))

    def to(self, user_id: str) -> list[Message]:
        return [m for a, m in self.sent if a.user_id == user_id]


@dataclass
class Bench:
    services: Services
    clock: ManualClock
    local: RecordingMessenger

    @classmethod
    def start(cls, data_dir: Path, moment: str) -> Bench:
        clock = ManualClock(local(moment))
        services = build_services(settings_for(data_dir), clock=clock)
        messenger = RecordingMessenger()
        services.messengers.register("local", messenger)
        return cls(services, clock, messenger)

    async def cases(self) -> list[Case]:
        return await self.services.store.find()

    async def close(self) -> None:
        await self.services.close()


class Employee:
    """One person chatting: say text, press a button of the last question by label or number."""

    def __init__(
        self,
        bench: Bench,
        *,
        user: str = "anna",
        lang: str = "da",
        platform: str = "local",
        workspace: str = "local",
        conversation: str = "dm-anna",
    ) -> None:
        self.bench = bench
        self.key = ConversationKey(platform, workspace, conversation, user)
        self.reporter = Reporter(platform, workspace, user, display_name=user.title(), locale=lang)
        self.question: Message | None = None
        self.replies: list[Message] = []
        self._deliveries = count(1)

    async def send(self, turn: Turn) -> list[Message]:
        self.replies = await self.bench.services.bot.handle(turn)
        for message in self.replies:
            if message.key:
                self.question = message
        return self.replies

    def turn(self, *, text: str = "", choice: str = "", delivery_id: str | None = None) -> Turn:
        delivery = delivery_id if delivery_id is not None else f"{self.key.conversation}-{next(self._deliveries)}"
        return Turn(self.key, self.reporter, text=text, choice=choice, delivery_id=delivery)

    async def say(self, text: str) -> list[Message]:
        return await self.send(self.turn(text=text))

    def choice_id(self, label: str | int) -> str:
        assert self.question is not None and self.question.choices, "no question with choices was asked"
        if isinstance(label, int):
            return self.question.choices[label - 1].id
        for choice in self.question.choices:
            if choice.label.startswith(label):
                return choice.id
        raise AssertionError(f"no choice {label!r} in {[c.label for c in self.question.choices]}")

    async def press(self, label: str | int) -> list[Message]:
        return await self.send(self.turn(choice=self.choice_id(label)))

    @property
    def text(self) -> str:
        """Everything the last turn answered, as one text (titles and facts included)."""
        parts = []
        for m in self.replies:
            parts += [m.title, m.text, *(f"{f.label}: {f.value}" for f in m.facts), *(c.label for c in m.choices)]
        return "\n".join(p for p in parts if p)
