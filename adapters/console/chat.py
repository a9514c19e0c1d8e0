"""The terminal chat: one employee, reading lines from stdin (a terminal or a pipe) until end of input.

Numbers answer the last question's choices; anything else is sent as typed text. Messages the bot
sends outside the turn (pages to the local on-call technician, updates to the reporter) are printed
as they arrive, marked with who they are for.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import uuid
from typing import TextIO

from adapters.console.render import message_to_text
from adapters.wiring import Services
from bot.cases import Reporter
from bot.delivery import Address, MessageRef
from bot.i18n import text
from bot.messages import Choice, Message
from bot.oncall.service import LOCAL_TEAM
from dialogs.turns import ConversationKey, Turn

PLATFORM = "local"  # local technicians and the local customer are reached on this platform
WORKSPACE = "local"


class ConsoleMessenger:
    """Prints what the bot sends to people on the local platform (the on-call inbox's stand-in); the team
    channel's posts are the support team's, not the employee's, and stay out of the chat."""

    def __init__(self, out: TextIO, language: str) -> None:
        self._out = out
        self._language = language
        self._ids = itertools.count(1)

    async def send(self, to: Address, message: Message) -> MessageRef:
        if to.user_id != LOCAL_TEAM.user_id:
            self._print("intake.console.to", to.user_id, message)
        return MessageRef(PLATFORM, to.workspace, to.user_id, str(next(self._ids)))

    async def update(self, ref: MessageRef, message: Message) -> None:
        if ref.channel != LOCAL_TEAM.user_id:
            self._print("intake.console.updated", ref.channel, message)

    def _print(self, key: str, who: str, message: Message) -> None:
        print(
            f"\n[{text(key, self._language, who=who)}]\n{message_to_text(message, numbered=False)}\n",
            file=self._out,
            flush=True,
        )


class ConsoleChat:
    def __init__(self, services: Services, *, language: str, user: str, out: TextIO) -> None:
        self._services = services
        self._out = out
        self._language = language
        self._key = ConversationKey(PLATFORM, WORKSPACE, f"console-{uuid.uuid4().hex[:12]}", user)
        self._reporter = Reporter(PLATFORM, WORKSPACE, user, display_name=user, locale=language)
        self._choices: tuple[Choice, ...] = ()
        self._skippable = False  # the last question takes text and has a choice, so an empty line answers it
        self._deliveries = itertools.count(1)

    def turn_for(self, line: str) -> Turn:
        """A number picks one of the last question's choices; anything else is text."""
        typed = line.strip()
        if typed.isdigit() and 1 <= int(typed) <= len(self._choices):
            choice = self._choices[int(typed) - 1].id
            return Turn(self._key, self._reporter, choice=choice, delivery_id=self._delivery())
        return Turn(self._key, self._reporter, text=line.rstrip("\n"), delivery_id=self._delivery())

    async def say(self, line: str) -> None:
        for message in await self._services.bot.handle(self.turn_for(line)):
            if message.choices or message.key:
                self._choices = message.choices
                self._skippable = bool(message.choices) and message.expects_text
            print(message_to_text(message), end="\n\n", file=self._out, flush=True)

    def takes(self, line: str) -> bool:
        """Whether to send a line: anything typed, and an empty line where it skips the question."""
        return bool(line.strip()) or self._skippable

    def _delivery(self) -> str:
        return f"{self._key.conversation}-{next(self._deliveries)}"


async def run_chat(
    services: Services, *, language: str, user: str, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout
) -> int:
    """Chat until end of input; the on-call timers run meanwhile."""
    services.messengers.register(PLATFORM, ConsoleMessenger(out, language))
    chat = ConsoleChat(services, language=language, user=user, out=out)
    interactive = stdin.isatty()
    print(text("intake.console.intro", language), end="\n\n", file=out, flush=True)
    timers = asyncio.create_task(services.oncall.run())
    try:
        await chat.say("")
        while True:
            if interactive:
                print("> ", end="", file=out, flush=True)
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                return 0
            if chat.takes(line):
                await chat.say(line)
    finally:
        timers.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await timers
        await services.close()
