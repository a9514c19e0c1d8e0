"""The one entry point adapters call: `SupportBot.handle(turn) -> replies`.

The runner around the pure steps: it serializes the turns of one conversation, answers a repeated
delivery from memory, loads and saves the state, and performs the effects the steps ask for
(create the case, page on-call or post to the team channel, look up cases).

Paging is only claimed in the turn (the on-call service sends the page in the background), so a
slow or refusing platform never keeps the employee waiting for the answer with their case number;
the service holds its updates to the employee until `handle` has returned that answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta

from bot.audit import AuditAction, AuditEntry
from bot.audit import record as record_audit
from bot.cancellation import REPORTER, Outcome, cancel_case
from bot.cases import Case
from bot.clock import Clock
from bot.config import Settings, Technician
from bot.customers import Customers
from bot.delivery import Address
from bot.errors import BotError, StorageError, StorageFullError, log_failure
from bot.hours import OpeningHours
from bot.i18n import language_of, text
from bot.locks import KeyedLocks
from bot.messages import Message
from bot.observe import NO_OBSERVER, Observer
from bot.oncall.desk import TAKE_PREFIX, TEST_ACK_CHOICE, OncallDesk
from bot.oncall.pages import linked_numbers
from bot.oncall.roster import TEST_PAGE_CHOICE, WHO_CHOICE
from bot.oncall.service import OncallService, is_oncall_choice
from bot.ports import AuditLog, Cases, Conversations
from bot.triage import Triage
from dialogs import intake, replies
from dialogs.records import ConversationMemory, Record
from dialogs.rota_requests import Ask, RotaRequest, rota_request
from dialogs.state import Intake, Step
from dialogs.turns import Turn

logger = logging.getLogger(__name__)


class SupportBot:
    """Runs the intake conversation for every employee, one turn at a time per conversation."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        triage: Triage,
        hours: OpeningHours,
        store: Cases,
        conversations: Conversations,
        oncall: OncallService,
        observer: Observer = NO_OBSERVER,
        audit: AuditLog,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._triage = triage
        self._hours = hours
        self._store = store
        self._oncall = oncall
        self._observer = observer
        self._audit = audit
        self._desk = OncallDesk(oncall, audit)
        self._customers = Customers(settings.customers)
        self._conversations = ConversationMemory(conversations)
        self._locks = KeyedLocks()  # one turn at a time per conversation

    async def handle(self, turn: Turn, *, delivered: asyncio.Future[None] | None = None) -> list[Message]:
        """Replies to the person who acted. A delivery seen before gets the same replies, without running again.

        Updates about a case this turn creates (on-call has been paged, or could not be reached) are
        held until the replies are out: until `delivered` completes, for a front end that sends the
        replies after this returns and can tell when it has; otherwise until this returns.
        """
        answered = delivered if delivered is not None else asyncio.get_running_loop().create_future()
        try:
            return await self._handle(turn, answered)
        finally:
            if delivered is None:
                answered.set_result(None)  # updates about a case made in this turn may follow the answer now

    @asynccontextmanager
    async def replies_to(self, turn: Turn) -> AsyncIterator[list[Message]]:
        """`handle` for a front end that sends the replies itself: send them inside the block, and updates
        about a case this turn made (on-call paged, or unreachable) follow only once the block has ended."""
        delivered = asyncio.get_running_loop().create_future()
        try:
            yield await self.handle(turn, delivered=delivered)
        finally:
            delivered.set_result(None)

    async def _handle(self, turn: Turn, answered: asyncio.Future[None]) -> list[Message]:
        """The turn's replies; when the disk has no room, an apology with the phone number instead.

        A turn whose record cannot be saved leaves the one on disk as it was, so the employee can send
        the same answer again once there is room, and nothing is lost.
        """
        key = turn.key.as_id()
        async with self._locks.hold(key):
            try:
                record = await self._conversations.load(key, now=self._clock.now())
                if turn.delivery_id and (seen := record.replies_for(turn.delivery_id)) is not None:
                    logger.info("repeated delivery %s answered from memory", turn.delivery_id)
                    return seen
                messages = await self._run(turn, record, answered)
                if turn.delivery_id:
                    record.remember(turn.delivery_id, messages)
                await self._conversations.save(record)
                return messages
            except StorageFullError as exc:
                logger.error("turn on %s not saved, the employee was given the phone number: %s", key, exc)
                return [self._apology(turn, "not_saved")]
            except BotError as exc:
                logger.warning("turn failed on %s: %s", key, exc)
                return [self._apology(turn, "error")]
            except Exception:
                logger.exception("turn failed on %s", key)
                return [self._apology(turn, "error")]

    @property
    def locks_held(self) -> int:
        """Conversations with a turn running or waiting (for tests and benchmarks: memory stays bounded)."""
        return len(self._locks)

    async def _run(self, turn: Turn, record: Record, answered: asyncio.Future[None]) -> list[Message]:
        if turn.choice and is_oncall_choice(turn.choice):
            reporter = turn.reporter
            by = Address(reporter.platform, reporter.workspace, reporter.user_id, reporter.locale)
            return [await self._oncall.press(turn.choice, by)]
        now = self._clock.now()
        if turn.text and (words := intake.answer_to_technician(turn.text)):
            # A technician wrote to this person about an open case, after any question of the bot's that
            # waits: what they write now is the answer to the technician.
            relayed = await self._oncall.relay(turn.reporter, words, after=intake.asked_at(record.state))
            if relayed is not None:
                record.updated_at = now
                return [relayed]
        request = self._rota_request(turn, record, now)
        if request is not None:
            return [await self._on_rota(request, turn, now)]
        ctx = intake.Context(
            now=now,
            reporter=turn.reporter,
            customer=self._customers.for_workspace(turn.reporter.platform, turn.reporter.workspace),
            triage=self._triage,
            hours=self._hours,
            settings=self._settings,
            finished_case=record.finished_case,
            share_cases=self._customers.share_cases(turn.reporter.platform, turn.reporter.workspace),
        )
        if record.state is not None and record.state.step is Step.DONE:
            await self._recover(record, turn)
            ctx = replace(ctx, finished_case=record.finished_case)
        result = intake.advance(record.state, ctx, text_in=turn.text, choice=turn.choice)
        if isinstance(result.effect, intake.CreateCase) and result.state is not None:
            case = await self._create(record, result.state, result.effect, now=now)
            case, paging = await self._announce(case, page=result.effect.page, answered=answered)
            result = intake.case_created(result.state, case, ctx, paging=paging, notes=result.effect.notes)
        elif isinstance(result.effect, intake.LookupStatus):
            number = result.effect.number
            if number is None:  # their own cases only: those of the last days, closed ones too, and any still open
                reporter = turn.reporter
                who = (reporter.platform, reporter.workspace, reporter.user_id)
                since = now - timedelta(days=self._settings.cases.status_days)
                found = [
                    *await self._store.find(reporter=who, since=since),
                    *await self._store.find(reporter=who, open_only=True),
                ]
                cases = sorted({c.number: c for c in found}.values(), key=lambda c: c.number, reverse=True)
            else:  # the case and the reports linked to it: a colleague's linked report may see the first
                found = await self._store.get(number)
                cases = [found, *await self._store.get_many(linked_numbers(found))] if found else []
            result = intake.status_found(result.state, cases, number, ctx)
        elif isinstance(result.effect, intake.FindWithdrawal):
            cases = await self._withdrawable(turn, result.effect.number)
            result = intake.withdrawal_found(result.state, cases, result.effect.number, ctx)
        elif isinstance(result.effect, intake.WithdrawCase) and result.state is not None:
            outcome = await self._withdraw(turn, result.effect.number, now)
            result = intake.case_withdrawn(result.state, outcome, ctx)
        record.state = result.state
        record.updated_at = now
        return list(result.replies)

    async def _withdrawable(self, turn: Turn, number: int | None) -> list[Case]:
        """Case `number`, or without a number the reporter's own open cases, with the reports linked to them."""
        if number is None:
            reporter = turn.reporter
            found = await self._store.find(reporter=(reporter.platform, reporter.workspace, reporter.user_id),
                                           open_only=True)  # fmt: skip
        else:
            found = [case] if (case := await self._store.get(number)) is not None else []
        return [*found, *await self._store.get_many(n for case in found for n in linked_numbers(case))]

    async def _withdraw(self, turn: Turn, number: int, now: datetime) -> Outcome:
        """Cancel the reporter's own case (checked again), then stop its page and update it for the technicians."""
        reporter = turn.reporter
        outcome = await cancel_case(
            self._store, self._audit, number, actor=reporter.user_id, name=reporter.display_name, reason="",
            source=REPORTER, now=now, reporter=reporter,
        )  # fmt: skip
        if outcome.refused is None:
            logger.info("case %d withdrawn by its reporter", number)
            try:
                await self._oncall.withdrawn(number)
            except Exception as exc:  # cancelled all the same: the ladder forgets it at its next step
                log_failure(logger, f"case {number}: updating its page after the withdrawal failed", exc)
        return outcome

    def _rota_request(self, turn: Turn, record: Record, now: datetime) -> RotaRequest | str | None:
        """A rota question or action (typed, or a `rota:` button); None for the intake conversation.

        An employee's "hvem har vagten?" is answered only where a new problem is expected, so the
        words never cut into an answer to one of the intake's questions.
        """
        if turn.choice:
            return turn.choice if turn.choice.startswith("rota:") else None
        request = rota_request(turn.text, now=now, zone=self._settings.hours.timezone)
        if request is None or self._technician(turn) is not None:
            return request
        starting = record.state is None or (record.state.step is Step.DESCRIBE and not record.state.description)
        return request if request.ask is Ask.WHO and starting else None

    async def _on_rota(self, request: RotaRequest | str, turn: Turn, now: datetime) -> Message:
        tech = self._technician(turn)
        language = tech.language if tech else language_of(turn.reporter.locale)
        desk = self._desk
        if request == WHO_CHOICE or (isinstance(request, RotaRequest) and request.ask is Ask.WHO):
            return await desk.who(tech, language, now)
        if tech is None:
            return Message(text("oncall.swap.only_technicians", language))
        if request == TEST_PAGE_CHOICE or (isinstance(request, RotaRequest) and request.ask is Ask.TEST_PAGE):
            return await desk.test_page(tech, now)
        if request == TEST_ACK_CHOICE:
            return desk.test_acknowledged(tech, now)
        if isinstance(request, str):
            if request.startswith(TAKE_PREFIX):
                return await desk.accept(tech, request.removeprefix(TAKE_PREFIX), now)
            return Message(text("oncall.press.unknown", language))
        if request.start is None or request.end is None:
            return Message(text("oncall.swap.bad_period", language))
        if request.end <= now:
            return Message(text("oncall.swap.past", language))
        if request.ask is Ask.OFFER:
            return await desk.offer(tech, request.start, request.end, now)
        return await desk.take_period(tech, request.start, request.end, now)

    def _technician(self, turn: Turn) -> Technician | None:
        r = turn.reporter
        return self._oncall.rota.technician_at(Address(r.platform, r.workspace, r.user_id, r.locale))

    async def _create(self, record: Record, done: Intake, effect: intake.CreateCase, *, now: datetime) -> Case:
        """Create the case so that no crash or repeated press can make it twice.

        The record is marked DONE on disk before the case is created and carries the case number
        right after, so a turn that finds DONE left behind by a crash looks the case up instead.
        """
        before = record.state
        record.state, record.updated_at = done, now
        await self._conversations.save(record)
        try:
            case = await self._store.create(effect.new, now=now)
        except Exception:
            record.state = before  # nothing was created: the same answer may be tried again
            # If this fails too, the turn's own error is the one to report; the next turn finds DONE
            # without a case and starts the report again.
            with contextlib.suppress(StorageError):
                await self._conversations.save(record)
            raise
        logger.info("case %d created (category %s)", case.number, case.category)
        self._observer.case_created(case)
        record.state, record.finished_case = None, case.number
        await self._conversations.save(record)
        if case.cost is not None:
            cost = case.cost
            consent = {"terms": list(cost.terms), "accepted": cost.accepted, "paged": case.page_requested}
            who = {"name": case.reporter.display_name, "platform": case.reporter.platform}
            entry = AuditEntry(cost.answered_at, AuditAction.CONSENT, case.reporter.user_id, case.number, consent | who)
            await record_audit(self._audit, entry)
        return case

    async def _recover(self, record: Record, turn: Turn) -> None:
        """A crash hit between marking DONE and recording the number: find the case it made, if any."""
        assert record.state is not None
        reporter = turn.reporter
        who = (reporter.platform, reporter.workspace, reporter.user_id)
        made = await self._store.find(reporter=who, since=record.state.updated_at)
        if made:
            record.finished_case = made[0].number
        logger.warning("conversation %s: recovered after a crash during case creation", record.key)
        record.state = None

    async def _announce(self, case: Case, *, page: bool, answered: asyncio.Future[None]) -> tuple[Case, bool]:
        """Page on-call for an accepted after-hours case; otherwise post the case to the team channel.

        Returns the case as the answer describes it (linked to a colleague's page, maybe) and whether
        on-call is being paged now. Paging is claimed here and sent in the background.
        """
        try:
            if page:
                case = await self._oncall.page(case, answered=answered)
                return case, case.linked_to is None
            await self._oncall.post_to_team(case)
        except Exception as exc:
            # The case exists; the answer says on-call could not be reached and gives the phone number.
            log_failure(logger, f"case {case.number}: paging or posting to the team failed", exc)
        return case, False

    def _apology(self, turn: Turn, key: str) -> Message:
        return replies.note(key, language_of(turn.reporter.locale), self._settings)
