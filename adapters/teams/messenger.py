"""`bot.delivery.Messenger` for Teams, and the sending side of a conversation turn.

Proactive messages (pages, reporter updates, team-channel posts) go through `continue_conversation`
with the person's stored conversation reference; a technician the bot has never talked to gets a
new 1:1 conversation first. Every call to the Bot Connector is retried with backoff on 429, 5xx
and time-outs, by this module only (the connector client's own retries are turned off), and a
proactive send or update has one overall deadline; `DeliveryError` says it gave up, so the on-call
service tries someone else instead of waiting on a dead platform.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, TypeVar

import aiohttp
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from msrest.exceptions import ClientRequestError, DeserializationError, HttpOperationError

from adapters.teams.convert import PLATFORM, is_personal, message_to_activity, tenant_of, user_of
from adapters.teams.settings import TeamsSettings
from adapters.teams.store import AsyncTeamsStore
from bot.clock import Clock
from bot.delivery import Address, DeliveryError, MessageRef
from bot.i18n import language_of
from bot.messages import Message
from bot.observe import NO_OBSERVER, Observer
from dialogs.records import message_from_dict, message_to_dict

logger = logging.getLogger(__name__)

T = TypeVar("T")
CHANNEL_ID = "msteams"
# Waits between attempts: three retries within about 7 s, so a page fails over quickly.
RETRY_DELAYS = (0.5, 2.0, 4.5)
ATTEMPT_TIMEOUT = 10.0
MAX_RETRY_AFTER = 10.0
# One proactive send or update, retries included: then the next technician or platform is tried.
SEND_DEADLINE = 10.0


class TeamsMessenger:
    """Sends, replies and updates in Teams; remembers conversation references and sent cards."""

    def __init__(
        self,
        *,
        adapter: CloudAdapter,
        settings: TeamsSettings,
        store: AsyncTeamsStore,
        clock: Clock,
        service_url: str = "",
        retry_delays: Sequence[float] = RETRY_DELAYS,
        attempt_timeout: float = ATTEMPT_TIMEOUT,
        deadline: float = SEND_DEADLINE,
        observer: Observer = NO_OBSERVER,
    ) -> None:
        self.adapter = adapter
        self.settings = settings
        self.store = store
        self.clock = clock
        self.service_url = service_url
        self.retry_delays = tuple(retry_delays)
        self.attempt_timeout = attempt_timeout
        self.deadline = deadline
        self.observer = observer
        self.bot_id = f"28:{settings.app_id}" if settings.app_id else "28:supportbot"

    # -- bot.delivery.Messenger -------------------------------------------------------------
    async def send(self, to: Address, message: Message) -> MessageRef:
        """A proactive message to a person (personal chat) or a channel ("19:..." conversation id)."""
        async with self._within_deadline():
            reference = await self.reference_for(to.workspace, to.user_id)
            language = language_of(to.locale)
            message_id = await self.in_conversation(
                reference, lambda context: self.post(context, message, language, proactive=True)
            )
        return MessageRef(PLATFORM, to.workspace, reference.conversation.id, message_id)

    async def update(self, ref: MessageRef, message: Message) -> None:
        """Replace a sent message in place (a page after acknowledge/resolve)."""

        async def replace(context: TurnContext) -> None:
            await self.replace(context, ref.message_id, message, language, proactive=True)

        async with self._within_deadline():
            reference = await self.conversation_reference(ref.workspace, ref.channel)
            card = await self.store.card(ref.channel, ref.message_id)
            language = card["language"] if card else "da"
            await self.in_conversation(reference, replace)

    @asynccontextmanager
    async def _within_deadline(self) -> AsyncIterator[None]:
        """Give up on a proactive message after `deadline` seconds, whichever attempt or wait is running."""
        try:
            async with asyncio.timeout(self.deadline):
                yield
        except TimeoutError as exc:
            logger.warning("Teams delivery gave up after its deadline of %.1f s", self.deadline)
            raise DeliveryError(f"Teams did not take the message within {self.deadline:.0f} s") from exc

    # -- conversation turns ---------------------------------------------------------------------
    async def remember(self, activity: Activity) -> None:
        """Keep the reference of the conversation the activity came from, for proactive messages later."""
        reference = TurnContext.get_conversation_reference(activity)
        tenant = tenant_of(activity)
        reference.conversation.tenant_id = tenant
        reference.activity_id = None  # a later proactive message starts a new message, not a reply to this one
        if activity.recipient is not None and activity.recipient.id:
            self.bot_id = activity.recipient.id
        await self.store.save_reference(
            reference.serialize(),
            tenant=tenant,
            user_ids=(user_of(activity), activity.from_property.id),
            personal=is_personal(activity),
            now=self.clock.now(),
        )

    async def reply(
        self, context: TurnContext, messages: Iterable[Message], *, language: str, pressed: str = "", choice: str = ""
    ) -> None:
        """Answer in the turn's conversation: retire the earlier buttons and post the replies.

        Args:
            pressed: the activity id of the card whose button was pressed (its redraw shows `choice`).
        """
        _without_connector_retries(context)
        retiring = await self.store.live_replies(context.activity.conversation.id)
        if not retiring:
            return await self._post_all(context, messages, language)
        # The earlier cards lose their buttons while the replies go out: two connector round trips
        # at once rather than one after the other. Both finish before the turn does, whatever fails.
        outcomes = await asyncio.gather(
            self._retire(context, retiring, pressed=pressed, choice=choice),
            self._post_all(context, messages, language),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _retire(self, context: TurnContext, cards: list[dict[str, Any]], *, pressed: str, choice: str) -> None:
        """Redraw live reply cards without their buttons (the pressed one showing what was picked)."""
        for card in cards:
            chosen = choice if card["activity"] == pressed else ""
            try:
                await self.replace(
                    context,
                    card["activity"],
                    message_from_dict(card["message"]),
                    card["language"],
                    proactive=False,
                    live=False,
                    chosen=chosen,
                )
            except DeliveryError:
                logger.warning("could not retire the buttons of %s", card["activity"])

    async def _post_all(self, context: TurnContext, messages: Iterable[Message], language: str) -> None:
        for message in messages:
            await self.post(context, message, language, proactive=False)

    async def reply_in(self, reference: ConversationReference, messages: Sequence[Message], *, language: str) -> None:
        """`reply`, but in another conversation than the turn's (a group @mention answered in the 1:1 chat)."""

        async def answer(context: TurnContext) -> None:
            await self.reply(context, messages, language=language)

        await self.in_conversation(reference, answer)

    async def post(self, context: TurnContext, message: Message, language: str, *, proactive: bool) -> str:
        """Send one message, or replace the proactive message that carries the same key; its activity id."""
        conversation = context.activity.conversation.id
        if message.key:
            earlier = await self.store.proactive_card(conversation, message.key)
            if earlier is not None:
                await self.replace(context, earlier["activity"], message, language, proactive=True)
                return str(earlier["activity"])
        activity = message_to_activity(message, language, tenant=tenant_of(context.activity))
        if proactive:
            activity.channel_data = _tenant_data(context)
        response = await self.attempt(lambda: context.send_activity(activity))
        activity_id = response.id if response is not None and response.id else ""
        if activity_id and (proactive or message.choices):
            await self._keep(conversation, activity_id, message, language, proactive=proactive)
        return activity_id

    async def replace(
        self,
        context: TurnContext,
        activity_id: str,
        message: Message,
        language: str,
        *,
        proactive: bool,
        live: bool = True,
        chosen: str = "",
    ) -> None:
        activity = message_to_activity(message, language, live=live, chosen=chosen, tenant=tenant_of(context.activity))
        activity.id = activity_id
        activity.channel_data = _tenant_data(context)
        await self.attempt(lambda: context.update_activity(activity))
        conversation = context.activity.conversation.id
        await self._keep(conversation, activity_id, message, language, proactive=proactive, live=live, chosen=chosen)

    async def _keep(
        self,
        conversation: str,
        activity_id: str,
        message: Message,
        language: str,
        *,
        proactive: bool,
        live: bool = True,
        chosen: str = "",
    ) -> None:
        await self.store.save_card(
            conversation,
            activity_id,
            message=message_to_dict(message if live else _without_choices(message, chosen)),
            language=language,
            proactive=proactive,
            chosen=chosen,
            now=self.clock.now(),
        )

    # -- references -----------------------------------------------------------------------------
    async def personal_reference(self, activity: Activity) -> ConversationReference:
        """The 1:1 chat with the sender of a group or channel message, opened if need be."""
        tenant = tenant_of(activity)
        for user in (user_of(activity), activity.from_property.id):
            stored = await self.store.reference_for(tenant, user)
            if stored is not None:
                return ConversationReference.deserialize(stored)
        return await self._create_personal(tenant, activity.from_property.id, activity.service_url)

    async def reference_for(self, tenant: str, user_or_conversation: str) -> ConversationReference:
        """A person's stored 1:1 chat, else a new one; a channel ("19:...") is addressed directly."""
        if user_or_conversation.startswith("19:"):
            return await self.conversation_reference(tenant, user_or_conversation)
        stored = await self.store.reference_for(tenant, user_or_conversation)
        if stored is not None:
            return ConversationReference.deserialize(stored)
        return await self._create_personal(tenant, user_or_conversation, await self._service_url(tenant))

    async def conversation_reference(self, tenant: str, conversation: str) -> ConversationReference:
        """The stored reference of a conversation, or one built from its id and the tenant's service URL."""
        stored = await self.store.reference_of(conversation)
        if stored is not None:
            return ConversationReference.deserialize(stored)
        return ConversationReference(
            channel_id=CHANNEL_ID,
            service_url=await self._service_url(tenant),
            bot=ChannelAccount(id=self.bot_id),
            conversation=ConversationAccount(id=conversation, tenant_id=tenant or None),
        )

    async def _service_url(self, tenant: str) -> str:
        service_url = await self.store.service_url_for(tenant) or self.service_url
        if not service_url:
            raise DeliveryError(
                f"the bot has no conversation in Teams tenant {tenant or '(none)'} yet and no service URL "
                "to start one (set [team_channel] teams_service_url)"
            )
        return service_url

    async def _create_personal(self, tenant: str, user: str, service_url: str) -> ConversationReference:
        """Open the 1:1 chat with someone who never wrote to the bot (the app must be installed for them)."""
        parameters = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=self.bot_id),
            members=[ChannelAccount(id=user)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}},
        )
        bot = ChannelAccount(id=self.bot_id)

        async def create(context: TurnContext) -> Any:
            # The connector client of a proactive turn, rather than adapter.create_conversation, whose client
            # would retry connects on its own before ours could be told not to.
            client = _without_connector_retries(context)
            return await self.attempt(lambda: client.conversations.create_conversation(parameters))

        unopened = ConversationReference(channel_id=CHANNEL_ID, service_url=service_url, bot=bot)
        created = await self.in_conversation(unopened, create)
        reference = ConversationReference(
            channel_id=CHANNEL_ID,
            service_url=service_url,
            bot=bot,
            conversation=ConversationAccount(id=created.id, tenant_id=tenant, conversation_type="personal"),
            user=ChannelAccount(id=user),
        )
        await self.store.save_reference(
            reference.serialize(), tenant=tenant, user_ids=(user,), personal=True, now=self.clock.now()
        )
        logger.info("opened a Teams chat with user %s in tenant %s", user, tenant)
        return reference

    async def in_conversation(self, reference: ConversationReference, work: Callable[[TurnContext], Awaitable[T]]) -> T:
        """Run `work` in a proactive turn; its errors reach the caller, not the adapter's error handler."""
        results: list[T] = []
        failures: list[BaseException] = []

        async def logic(context: TurnContext) -> None:
            # A proactive message is a new message: without this it would "reply" to the continuation's made-up id.
            context.activity.id = None
            _without_connector_retries(context)
            try:
                results.append(await work(context))
            except Exception as exc:
                failures.append(exc)

        await self.adapter.continue_conversation(reference, logic, bot_app_id=self.settings.app_id or None)
        if failures:
            raise failures[0]
        return results[0]

    # -- retries --------------------------------------------------------------------------------
    async def attempt(self, call: Callable[[], Awaitable[T]]) -> T:
        """Call the Bot Connector, retrying 429, 5xx and time-outs with backoff.

        Raises:
            DeliveryError: a permanent refusal (403 blocked, 404 gone, ...) or the retries ran out.
        """
        for attempt, delay in enumerate((*self.retry_delays, None)):
            try:
                return await asyncio.wait_for(call(), self.attempt_timeout)
            except Exception as exc:
                if not _is_connector_error(exc):
                    raise
                status, retry_after = _status_of(exc)
                transient = status is None or status == 429 or status >= 500
                if not transient or delay is None:
                    logger.warning(
                        "Teams delivery failed after %d attempt(s): %s", attempt + 1, status or type(exc).__name__
                    )
                    raise DeliveryError(f"Teams did not accept the message ({status or type(exc).__name__})") from exc
                wait = min(max(delay, retry_after or 0.0), MAX_RETRY_AFTER)
                logger.info("Teams answered %s; retrying in %.1f s", status or type(exc).__name__, wait)
                self.observer.delivery_retried(PLATFORM)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")


def _without_connector_retries(context: TurnContext) -> Any:
    """The turn's Bot Connector client, with its own retries off, before it sends anything.

    msrest's requests-based sender retries connects itself (urllib3 Retry: 3, with backoff) inside each
    of `attempt`'s attempts: a connector that refuses connections cost ~26 s per technician. Only
    `attempt` retries now, with the waits and the deadline chosen here.
    """
    client = context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    if client is not None:
        client.config.retry_policy.retries = 0
    return client


def _without_choices(message: Message, chosen: str) -> Message:
    """What a retired card shows: its text, and the picked label; kept so a later redraw matches."""
    return replace(message, choices=tuple(c for c in message.choices if c.id == chosen))


def _tenant_data(context: TurnContext) -> dict[str, Any] | None:
    """Teams reads the tenant of a proactive message from channelData (botbuilder names the other field "tenantID")."""
    tenant = context.activity.conversation.tenant_id if context.activity.conversation else None
    return {"tenant": {"id": tenant}} if tenant else None


def _is_connector_error(exc: BaseException) -> bool:
    # DeserializationError: an answer that is not the connector's JSON, e.g. a proxy's "502 Bad Gateway" page.
    return isinstance(
        exc,
        HttpOperationError | ClientRequestError | DeserializationError | TimeoutError | aiohttp.ClientError | OSError,
    )


def _status_of(exc: BaseException) -> tuple[int | None, float | None]:
    """The HTTP status of a Bot Connector error (None for time-outs and network errors) and Retry-After."""
    response: Any = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if not isinstance(exc, HttpOperationError) or status is None:
        return None, None
    try:
        retry_after = float(response.headers.get("Retry-After", ""))
    except (TypeError, ValueError, AttributeError):
        retry_after = None
    return int(status), retry_after
