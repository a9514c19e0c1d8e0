"""What happens after the ack: Slack payloads become `Turn`s, `SupportBot` answers, replies go back.

The intake conversation runs in the bot's DM, wherever `/support` was typed: a DM takes free text
and buttons alike, on a phone too, and can be updated in place. `/support status` answers where it
was asked, as an ephemeral message through the command's response_url. Every listener acks first
and hands its work to `spawn`; a failure after the ack still answers the person with an apology.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

from adapters.slack.acks_first import AcksFirst, ack_note
from adapters.slack.convert import fallback_text, is_status_command, key_of, reply_to_blocks, without_buttons
from adapters.slack.messenger import Bounded, SlackMessenger
from bot.cases import Reporter
from bot.config import ProviderSettings
from bot.delivery import DeliveryError
from bot.errors import StorageError, StorageFullError, log_failure
from bot.i18n import language_of, text
from bot.jobs import Jobs
from bot.messages import Message
from bot.oncall.service import is_oncall_choice
from bot.ports import DeliveryLog
from dialogs.router import SupportBot
from dialogs.turns import ConversationKey, Turn

logger = logging.getLogger(__name__)

# Turns after the ack that run at once. Most of a turn is waiting: for Slack's Web API (~100-300 ms a call,
# four or five calls) and for the durable writes of the case, the conversation and the team post, each on
# a thread of its own. With 8, answers kept up with 20-30 slash commands a second, with 32 with 40-70 (the
# writes are then the limit; benchmarks/RESULTS.md); the acks come first whatever the number
# (`acks_first.py`), so more only costs memory.
WORKERS = 32
# How long a delivery is remembered, to ignore Slack's retries (within minutes) and double presses. An old
# button pressed again later is a new delivery; the dialog answers it like any stale button.
REPEAT_WINDOW = timedelta(minutes=10)
REPORTER_TTL = 6 * 3600.0  # seconds; someone who switches Slack to English gets English the same day

# Slack's markup in what people type: <@U123>, <#C123|general>, <https://x|label>, <!here>.
_MARKUP = re.compile(r"<([@#!]?)([^<>|]*)(?:\|([^<>]*))?>")


def plain_text(slack_text: str) -> str:
    """What the person typed, as they saw it: links as their label, mentions as "@id", entities decoded."""

    def readable(match: re.Match[str]) -> str:
        sigil, target, label = match.groups()
        if label:
            return label
        # <!here>, <!channel> were typed as @here, @channel; <#C1> without a name stays an id.
        return {"@": "@", "!": "@", "#": "#"}.get(sigil, "") + target

    return unescape(_MARKUP.sub(readable, slack_text)).strip()


@dataclass(frozen=True)
class Surface:
    """Where the replies of one turn go: the bot's DM, or ephemeral messages through a response_url."""

    team: str
    channel: str
    language: str
    response_url: str = ""  # set: ephemeral replies in `channel`
    pressed_ts: str = ""  # the DM message whose button was pressed
    pressed_key: str = ""  # its message key: a reply with this key replaces it in place


@dataclass
class Apology:
    """What an apology for a failed turn needs to know, filled in as the turn learns it."""

    language: str = "da"


class SlackFrontEnd:
    def __init__(
        self,
        *,
        bot: SupportBot,
        messenger: SlackMessenger,
        provider: ProviderSettings,
        workers: int = WORKERS,
        deliveries: DeliveryLog,
        acks: AcksFirst | None = None,
    ) -> None:
        self._bot = bot
        self.acks = acks or AcksFirst()
        self._messenger = messenger
        self._provider = provider
        self._jobs = Jobs()
        self._workers = workers
        self._busy = 0  # workers running
        self._queue: deque[tuple[Coroutine[Any, Any, None], float]] = deque()  # work, and when it was acked
        self._deliveries = deliveries
        self._work_seconds = 0.0  # moving average of one piece of work, from its start to its end
        self._turned_away = 0  # slash commands turned away (logged at the first and every 1,000th)
        self._reporters: Bounded[tuple[str, str], tuple[Reporter, float]] = Bounded(5000)
        self._order: Bounded[str, asyncio.Lock] = Bounded(5000)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Queue `work` to run after the ack: at most `workers` at once, in the order they were acked.

        A queue rather than a task per request: in a burst, the ack path only appends to it.
        """
        self._queue.append((work, time.monotonic()))
        if self._busy < self._workers:
            self._busy += 1
            self._jobs.start("Slack work after the ack", self._work_through_queue())

    def expected_wait(self) -> float:
        """About how long until work queued now starts: the queue ahead of it, shared by the workers.
        (How long the oldest has waited says less: under a flood the queue grows faster than it ages.)"""
        return len(self._queue) / self._workers * self._work_seconds

    def command_ack(self, body: dict[str, Any]) -> tuple[str, bool]:
        """What the ack of a slash command says, and whether to queue its work: past capacity the person is
        told at once (in the language they last had, else Danish) that the answer is late, or to try again."""
        note = ack_note(self.expected_wait())
        if not note:
            return "", True
        cached = self._reporters.get((_field(body, "team_id"), _field(body, "user_id")))
        language = language_of(cached[0].locale) if cached else "da"
        take = note != "slack.too_busy"
        if not take:
            self._turned_away += 1
            if self._turned_away == 1 or self._turned_away % 1000 == 0:
                logger.warning("Slack: answers are behind; %d command(s) turned away", self._turned_away)
        params = {"phone": self._provider.phone, "menu": self._provider.phone_menu}
        return text(note, language, **params), take

    async def _work_through_queue(self) -> None:
        """One worker: take the oldest queued work, wait for a lull in acks, run it; until the queue is empty."""
        try:
            while self._queue:
                work, since = self._queue.popleft()
                began = time.monotonic()
                try:
                    await self.acks.wait_turn(since=since)
                    began = time.monotonic()
                    await work
                except Exception:
                    logger.exception("Slack work after the ack failed")
                finally:
                    work.close()  # no-op once run; closes work a cancelled worker never started
                    self._work_seconds += (time.monotonic() - began - self._work_seconds) * 0.1
        except asyncio.CancelledError:
            while self._queue:  # shutting down: what never started is closed, not left "never awaited"
                self._queue.popleft()[0].close()
            raise
        finally:
            self._busy -= 1

    async def drain(self) -> None:
        """Wait until all work started so far (and any it started) is done."""
        await self._jobs.settled()

    async def stop(self, *, grace: float) -> None:
        """At shutdown: let the work after acks finish for up to `grace` seconds, then cancel what is left
        (before the Web API client it uses is closed); work that never started is closed."""
        await self._jobs.stop(grace=grace)

    async def first_time(self, delivery: str) -> bool:
        """False for a delivery already taken: a Slack retry or a second press of the same button.

        When the delivery log cannot be read (a damaged file), the delivery is taken: better a reply
        twice than a person without one.
        """
        try:
            first = await self._deliveries.first_time(f"slack\n{delivery}", ttl=REPEAT_WINDOW, now=datetime.now(UTC))
        except StorageError as exc:
            logger.error("cannot check delivery %s against the delivery log: %s", delivery, exc)
            return True
        if not first:
            logger.info("ignoring repeated delivery %s", delivery)
        return first

    async def on_command(self, body: dict[str, Any], *, signature: str = "") -> None:
        """A slash command. Slack never sends one twice, so a second delivery is a replay of the signed
        request within its five minutes: known by its trigger_id (or, without one, its signature)."""
        team, user, channel = _field(body, "team_id"), _field(body, "user_id"), _field(body, "channel_id")
        if not (team and user and channel):
            logger.warning("Slack sent a command without team, user or channel (%s/%s/%s)", team, user, channel)
            return
        delivery = _field(body, "trigger_id") or signature
        if delivery and not await self.first_time(f"command:{delivery}"):
            return
        response_url = _field(body, "response_url")
        command_text = plain_text(_field(body, "text"))
        async with self._apologizing(team, channel, response_url=response_url) as apology:
            reporter = await self.reporter(team, user)
            language = apology.language = language_of(reporter.locale)
            if is_status_command(command_text):
                surface = Surface(team, channel, language, response_url=response_url)
            else:
                dm = await self._messenger.open_dm(team, user)
                if dm != channel and response_url:
                    await self._see_dm(response_url, team, dm, language)
                surface = Surface(team, dm, language)
            key = self._key(team, surface.channel, user)
            turn = Turn(key, reporter, text=command_text, delivery_id=delivery)
            await self._run(surface, turn)

    async def on_action(self, body: dict[str, Any]) -> None:
        actions, container = body.get("actions"), _object(body, "container")
        action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
        person = _object(body, "user")
        team = _field(_object(body, "team"), "id") or _field(person, "team_id")
        user, channel, ts = _field(person, "id"), _field(container, "channel_id"), _field(container, "message_ts")
        choice, block = _field(action, "value"), _field(action, "block_id")
        if not (team and user and choice):
            logger.warning("Slack sent a button press without team, user or value (%s/%s); ignored", team, user)
            return
        # Stable per person, message version and button: a double press or a retry is the same delivery,
        # and a press by someone else (refused, maybe) never stands in for the technician's own.
        delivery = f"{team}:{user}:{channel}:{ts}:{block}:{choice}"
        if not await self.first_time(delivery):
            return
        response_url = _field(body, "response_url") if container.get("is_ephemeral") is True else ""
        async with self._apologizing(team, channel, response_url=_field(body, "response_url")) as apology:
            reporter = await self.reporter(team, user)
            language = apology.language = language_of(reporter.locale)
            if response_url:
                surface = Surface(team, channel, language, response_url=response_url, pressed_key=key_of(block))
            else:
                surface = Surface(team, channel, language, pressed_ts=ts, pressed_key=key_of(block))
                pressed = _object(body, "message")
                if not is_oncall_choice(choice) and isinstance(pressed.get("blocks"), list) and channel and ts:
                    # Feedback at once, and no second press while the bot works; pages are the on-call service's.
                    answer = _field(_object(action, "text"), "text")
                    blocks = without_buttons(pressed["blocks"], answer=answer, language=language)
                    try:
                        await self._messenger.replace_blocks(team, channel, ts, blocks, _field(pressed, "text") or " ")
                    except DeliveryError as exc:  # only feedback: the turn itself must still run
                        logger.warning("could not mark the pressed message in %s: %s", channel, exc)
            turn = Turn(self._key(team, channel, user), reporter, choice=choice, delivery_id=delivery)
            await self._run(surface, turn)

    async def on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """A message in the bot's DM. Edits, joins, files without text and the bot's own posts are not turns."""
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
            return
        said = plain_text(_field(event, "text"))
        team = _field(body, "team_id") or _field(event, "team")
        user, channel = _field(event, "user"), _field(event, "channel")
        if not (said and team and user and channel) or not await self.first_time(_field(body, "event_id")):
            return
        async with self._apologizing(team, channel) as apology:
            reporter = await self.reporter(team, user)
            language = apology.language = language_of(reporter.locale)
            turn = Turn(self._key(team, channel, user), reporter, text=said, delivery_id=_field(body, "event_id"))
            await self._run(Surface(team, channel, language), turn)

    async def reporter(self, team: str, user: str) -> Reporter:
        """Name and locale from users.info, cached; Danish and no name when Slack cannot tell us now."""
        cached = self._reporters.get((team, user))
        if cached is not None and time.monotonic() - cached[1] < REPORTER_TTL:
            return cached[0]
        try:
            data = await self._messenger.api.call(team, "users.info", http_verb="GET", user=user, include_locale="true")
        except DeliveryError as exc:
            logger.warning("users.info failed for %s in %s: %s", user, team, exc)
            return Reporter("slack", team, user)
        info = data.get("user", {})
        profile = info.get("profile", {})
        name = profile.get("display_name") or profile.get("real_name") or info.get("real_name") or info.get("name", "")
        reporter = Reporter("slack", team, user, display_name=name, locale=info.get("locale") or "da")
        self._reporters[(team, user)] = (reporter, time.monotonic())
        return reporter

    @staticmethod
    def _key(team: str, channel: str, user: str) -> ConversationKey:
        return ConversationKey("slack", team, channel, user)

    async def _run(self, surface: Surface, turn: Turn) -> None:
        """One turn at a time per conversation, so two quick messages get their answers in order."""
        lock = self._order.setdefault(turn.key.as_id(), asyncio.Lock())
        async with lock, self._bot.replies_to(turn) as replies:
            await self._deliver(surface, replies)

    async def _deliver(self, surface: Surface, replies: list[Message]) -> None:
        if surface.response_url:
            for n, message in enumerate(replies):
                note = text("slack.answer_in_dm", surface.language) if message.expects_text else ""
                payload = {
                    "response_type": "ephemeral",
                    "replace_original": n == 0 and bool(surface.pressed_key) and message.key == surface.pressed_key,
                    "blocks": reply_to_blocks(message, language=surface.language, note=note),
                    "text": fallback_text(message, language=surface.language),
                }
                await self._messenger.api.respond(surface.response_url, payload)
            return
        await self._messenger.retire_buttons(surface.team, surface.channel, language=surface.language)
        for n, message in enumerate(replies):
            if n == 0 and surface.pressed_ts and surface.pressed_key and message.key == surface.pressed_key:
                await self._messenger.replace(
                    surface.team, surface.channel, surface.pressed_ts, message, language=surface.language, live=True
                )
            else:
                await self._messenger.post(surface.team, surface.channel, message, language=surface.language, live=True)

    async def _see_dm(self, response_url: str, team: str, dm: str, language: str) -> None:
        link = f"<https://slack.com/app_redirect?channel={dm}&team={team}|{text('slack.see_dm_link', language)}>"
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text("slack.see_dm", language, link=link)}}]
        fallback = text("slack.see_dm", language, link="")
        try:
            await self._messenger.api.respond(
                response_url, {"response_type": "ephemeral", "blocks": blocks, "text": fallback}
            )
        except DeliveryError as exc:
            # Only a pointer; the conversation itself goes on in the DM.
            logger.warning("could not point %s to the DM: %s", dm, exc)

    @asynccontextmanager
    async def _apologizing(self, team: str, channel: str, *, response_url: str = "") -> AsyncIterator[Apology]:
        """Any failure inside is logged and answered with an apology instead of silence.

        The apology is in Danish until the block learns the person's language and sets it.
        """
        apology = Apology()
        try:
            yield apology
        except Exception as exc:
            log_failure(logger, f"Slack turn in {channel} failed after the ack", exc)
            cannot_dm = isinstance(exc, DeliveryError) and not channel.startswith("D")
            problem = "slack.dm_unavailable" if cannot_dm else "slack.apology"
            if isinstance(exc, StorageFullError):
                problem = "intake.not_saved"
            await self.apologize(team, channel, apology.language, response_url, problem)

    async def apologize(self, team: str, channel: str, language: str, response_url: str, problem: str) -> None:
        """Tell the person something went wrong and what to do; by response_url when there is one, else in the DM."""
        params = {"phone": self._provider.phone, "menu": self._provider.phone_menu}
        message = Message(text=text(problem, language, **params))
        try:
            if response_url:
                blocks = reply_to_blocks(message, language=language)
                payload = {
                    "response_type": "ephemeral",
                    "blocks": blocks,
                    "text": fallback_text(message, language=language),
                }
                await self._messenger.api.respond(response_url, payload)
            else:
                await self._messenger.post(team, channel, message, language=language)
        except Exception:
            logger.exception("could not even apologize in %s", channel)


def _field(payload: dict[str, Any], name: str) -> str:
    """A text field of a Slack payload; "" when it is missing or not text (Slack's own payloads always have text)."""
    value = payload.get(name)
    return value if isinstance(value, str) else ""


def _object(payload: dict[str, Any], name: str) -> dict[str, Any]:
    """A nested object of a Slack payload; empty when it is missing or not an object."""
    value = payload.get(name)
    return value if isinstance(value, dict) else {}
