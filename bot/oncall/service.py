"""On-call paging: page the technician on call, escalate when nobody answers, and close the loop.

The runner of the escalation ladder: what is due is decided by the pure functions of
`bot.oncall.ladder`; this loads, claims, sends and records. Every step is recorded on the case
history (PAGED, PAGE_FAILED, ESCALATED, REMINDED, ...), the timers and message references are page
records (`bot.oncall.records`, kept through `bot.ports.Pages`), and the case store stays the
authority on status. A step is claimed (a compare-and-set of its record) before anything is sent,
so a step is sent by one runner, also when `tick` runs twice at once, on several replicas, or after
a restart. The claim is a lease (`ladder.LEASE`) that the sending runner renews, and each target is
recorded as sent right after its message: a runner that dies mid-send leaves the rest of the step
to the next runner that finds the lease lapsed. No timer lives only in memory: after a restart,
steps that fell due meanwhile fire at the first tick and are marked late.

`page` decides and claims in the reporter's turn, and sends in a background job (`bot.jobs`):
a slow or refusing platform costs the reporter no waiting. They hear the outcome as an update
(`bot.oncall.reporters`), which never overtakes the turn's own answer.

What no timer covers is found by `sweep` (at start-up, then every minute): a case accepted for
on-call whose page a crash prevented (the case is made durable before it is paged), an
opening-hours case never posted to the team, and records that can no longer act (their case is
closed, or they are old and have no timer), which are dropped so the book stays small. Only the
start-up sweep reads every recent open case; later ones read only the cases numbered after those
already looked at (numbers only grow), plus the few left for later, so a backlog of thousands of
open cases is not parsed again every minute (what a case is swept for is fixed when it is created).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from bot.audit import AuditAction, AuditEntry
from bot.audit import record as record_audit
from bot.cases import Case, CaseEvent, CaseStatus, EventKind, Reporter
from bot.clock import Clock
from bot.config import Settings, Technician
from bot.delivery import Address, DeliveryError, Messengers
from bot.errors import CaseNotFoundError, log_failure
from bot.i18n import DEFAULT_LANGUAGE, language_of, text
from bot.jobs import Jobs
from bot.locks import KeyedLocks
from bot.messages import Message
from bot.observe import NO_OBSERVER, Observer
from bot.oncall import ladder
from bot.oncall.handovers import Handovers
from bot.oncall.pages import (
    ACK,
    CONFIRM_RESOLVE,
    RESOLVE,
    choice_id,
    confirm_key,
    confirm_resolve_message,
    format_moment,
    is_oncall_choice,
    join_names,
    last_event,
    linked_numbers,
    page_message,
    parse_choice,
    reporter_name,
    reporter_words,
    technician_words,
)
from bot.oncall.phone import SMS, VOICE, PhoneError, PhoneProvider, parse_reply, sms_text, spoken_text
from bot.oncall.records import CHAT, PageRecord, RecordKind, Sending, SentMessage, Step
from bot.oncall.reporters import SYSTEM, ReporterUpdates
from bot.oncall.rota import PLATFORMS, Rota
from bot.ports import AuditLog, Cases, DeliveryLog, Overrides, Pages, Storage, VersionConflict

__all__ = ["LOCAL_TEAM", "OncallService", "is_oncall_choice"]

logger = logging.getLogger(__name__)

# How often `tick` runs the sweep for what no timer covers (unpaged cases, records to drop).
SWEEP_EVERY = timedelta(minutes=1)
# Cases closed outside on-call whose messages one sweep brings up to date; after a big clean-up in
# the helpdesk the rest follow a minute later, so the timers are never held up for long.
REFRESH_PER_SWEEP = 20
# Cases the sweep reads per call of the case store (one shard), so the event loop runs in between.
CASES_PER_READ = 100
# The sweep leaves younger cases alone: the turn that created one may be about to page it.
GRACE = timedelta(minutes=1)
# At shutdown, pages being sent get this long (seconds) to finish before they are cancelled; the
# rest of a cancelled step is sent when its lease lapses, by another replica or after the restart.
SHUTDOWN_GRACE = 15.0
# How often (seconds) `run` looks for due steps; a lapsed lease is found within one interval.
POLL_INTERVAL = 5.0
# A runner renews the lease of the step it is sending this often (seconds): two renewals may be late
# (a busy event loop, a slow database) before the lease lapses.
RENEW_EVERY = ladder.LEASE.total_seconds() / 3
# Team-channel posts are read by the whole team; they use the default language.
TEAM_LANGUAGE = DEFAULT_LANGUAGE
LOCAL_TEAM = Address("local", "local", "team")


@dataclass(frozen=True)
class _Delivery:
    """The outcome of paging one technician: the message that went out, or why it did not."""

    technician: Technician
    sent: SentMessage | None
    failures: tuple[tuple[str, str], ...]  # (platform, reason)


@dataclass(frozen=True)
class _Link:
    """A later report attached to an active page, before anyone has been told."""

    case: Case
    root: Case
    ack: CaseEvent | None  # the first case's acknowledgement, when it has one
    sent: tuple[SentMessage, ...]


class OncallService:
    """Pages, escalations, reminders and button presses of on-call; platform-neutral."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Cases,
        pages: Pages,
        overrides: Overrides,
        deliveries: DeliveryLog,
        messengers: Messengers,
        clock: Clock,
        observer: Observer = NO_OBSERVER,
        audit: AuditLog,
        phone: PhoneProvider | None = None,
    ) -> None:
        self.settings = settings
        self._audit = audit
        self._phone = phone  # SMS and voice calls; a front end may bring one (`use_phone`)
        self.rota = Rota(settings.oncall, settings.hours.timezone)  # the config's rota; `current_rota` adds chat
        self.overrides = overrides
        self.deliveries = deliveries
        self._store = store
        self._messengers = messengers
        self._clock = clock
        self._observer = observer
        self._book = pages
        self._locks = KeyedLocks()  # the work on one case: claims, presses, records
        # Decides "new page or duplicate of an active one" one case at a time.
        self._intake = asyncio.Lock()
        self._jobs = Jobs()  # pages being sent after the reporter's turn was answered
        self._reporters = ReporterUpdates(settings=settings, store=store, messengers=messengers, clock=clock)
        self._swept: datetime | None = None  # when `sweep` last ran (it runs again after SWEEP_EVERY)
        # Every case numbered up to `_looked_at` was looked at by a sweep of this process and needs
        # nothing more from it, except those in `_look_again` (too young then, or paging them failed).
        self._looked_at = -1
        self._look_again: set[int] = set()
        self._handovers = Handovers(self)
        # Names each claim of a step ("host:pid#n"), so only the runner that claimed it renews and records it.
        self._runner = f"{socket.gethostname()}:{os.getpid()}"
        self._claims = itertools.count(1)

    @classmethod
    def on_storage(
        cls,
        storage: Storage,
        *,
        settings: Settings,
        messengers: Messengers,
        clock: Clock,
        observer: Observer = NO_OBSERVER,
    ) -> OncallService:
        """The service on every port of one storage engine: how the server, the tests and benchmarks build it."""
        return cls(
            settings=settings,
            store=storage.cases,
            pages=storage.pages,
            overrides=storage.overrides,
            deliveries=storage.deliveries,
            messengers=messengers,
            clock=clock,
            observer=observer,
            audit=storage.audit,
        )

    # -- start-up ---------------------------------------------------------------------------------

    def use_phone(self, provider: PhoneProvider) -> None:
        """Escalate by SMS and voice call through `provider` (set by the composition root at start-up)."""
        self._phone = provider

    def enabled_platforms(self) -> list[str]:
        return [p for p in PLATFORMS if self._messengers.enabled(p)]

    def report_problems(self) -> list[str]:
        """Log (as warnings) and return what is wrong with the rota; call once the front ends are mounted."""
        found = self.rota.problems(now=self._clock.now(), platforms=self.enabled_platforms())
        if not self.team_addresses():
            found.append(text("oncall.problem.no_team_channel", "en"))
        channel = self.settings.team_channel
        if channel.slack_channel and not channel.slack_team:
            found.append(text("oncall.problem.no_slack_team", "en", channel=channel.slack_channel))
        oncall = self.settings.oncall
        if oncall.sms_after is not None or oncall.call_after is not None:
            if self._phone is None:
                found.append(text("oncall.problem.no_phone_gateway", "en"))
            found.extend(text("oncall.problem.no_phone", "en", id=t.id) for t in self.rota.technicians if not t.phone)
        for problem in found:
            logger.warning("on-call: %s", problem)
        return found

    @property
    def cases(self) -> Cases:
        return self._store

    @property
    def messengers(self) -> Messengers:
        return self._messengers

    async def current_rota(self, now: datetime) -> Rota:
        """The rota with the overrides made in chat that still matter at `now` (read afresh: the CLI may cancel one)."""
        return self.rota.with_chat(await self.overrides.all(ending_after=now))

    @property
    def locks_held(self) -> int:
        """Cases with work running or waiting (for tests: memory stays bounded)."""
        return len(self._locks) + len(self._reporters) + len(self._jobs)

    async def run(self, *, interval: float = POLL_INTERVAL) -> None:
        """Report rota problems, page what a crash left unpaged, then fire due timers every `interval` s."""
        self.report_problems()
        try:
            await self.sweep()
        except Exception as exc:
            log_failure(logger, f"the on-call sweep at start-up failed; trying again in {SWEEP_EVERY}", exc)
        while True:
            try:
                await self.tick()
            except Exception as exc:
                log_failure(logger, f"the on-call timers could not be checked; trying again in {interval:.0f} s", exc)
            await asyncio.sleep(interval)

    async def settled(self) -> None:
        """Return once every page started so far has been sent and its reporter told (tests, the terminal chat)."""
        await self._jobs.settled()

    async def stop(self, *, grace: float = SHUTDOWN_GRACE) -> None:
        """At shutdown: let the pages being sent finish for up to `grace` seconds, then cancel the rest."""
        await self._jobs.stop(grace=grace)

    # -- paging -----------------------------------------------------------------------------------

    async def page(self, case: Case, *, answered: asyncio.Future[None] | None = None) -> Case:
        """Page on-call about an after-hours case the reporter accepted, or link it to an active page.

        What happens is decided and made durable before this returns: a page record with its timer
        (the ladder goes on from it after a restart), or the LINKED events on both cases. The messages
        go out in a job of this service, so the reporter is answered at once however slow a platform
        is, and then hears the outcome as an update: "paged", or to phone when nobody could be reached.

        `answered` completes once the reporter's turn has been answered; updates to this case's
        reporter wait for it, so they never overtake that answer. Without it (the sweep) nobody is
        answering the reporter, so a link is told as an update too; with it, the answer says so.
        A second call for the same case changes nothing and returns the case as it is.
        """
        number = case.number
        if answered is not None:
            self._reporters.hold(number, answered)
        now = self._clock.now()
        token = self._claim_token()
        async with self._intake:
            current = await self._store.get(number)
            if current is None:
                raise CaseNotFoundError(f"no case has number {number}")
            if current.status is not CaseStatus.OPEN or current.linked_to is not None:
                return current
            if await self._book.get(number) is not None:
                return current
            first = await self._duplicate_of(current, now)
            link = await self._attach(current, first, now) if first is not None else None
            if link is None:
                rota = await self.current_rota(now)
                await self._book.put(ladder.start(number, rota.on_call(now), now, self.settings.oncall, token))
        if link is not None:
            self._jobs.start(f"link of case {number}", self._announce_link(link, tell=answered is None))
            return link.case
        self._jobs.start(f"page of case {number}", self._send_page(number, token))
        return current

    async def _send_page(self, number: int, token: str) -> None:
        """The first step of a claimed page; the reporter then hears that on-call has it, or to phone."""
        logger.info("case %s: paging on-call", number)
        await self._run_steps(number, token)
        case = await self._store.get(number)
        record = await self._book.get(number)
        # Acknowledged meanwhile: the reporter has heard that instead.
        if case is not None and record is not None and record.reached and case.status is CaseStatus.OPEN:
            key = "paged_phone" if case.callback_phone else "paged"
            await self._reporters.tell(case, key, callback=case.callback_phone)

    async def post_to_team(self, case: Case) -> None:
        """Post an opening-hours case to the team channel(s); the posts get the same buttons as a page.

        Like a page, the post is claimed before this returns (so it is made once, also when called
        twice) and sent by a job, so the reporter's answer never waits for a chat platform.
        """
        async with self._locks.hold(case.number):
            if await self._book.get(case.number) is not None:
                return
            targets = self.team_addresses()
            if not targets:
                logger.warning("case %s: no team channel is enabled, so it was not posted", case.number)
                return
            await self._book.put(PageRecord(case=case.number, kind=RecordKind.TEAM))
        self._jobs.start(f"team post of case {case.number}", self._send_to_team(case, targets))

    async def _send_to_team(self, case: Case, targets: list[Address]) -> None:
        message = page_message(case, settings=self.settings, language=TEAM_LANGUAGE, team=True)
        sent: list[SentMessage] = []
        for address in targets:
            try:
                ref = await self._messengers.send(address, message)
            except DeliveryError as exc:
                logger.warning("case %s: posting to the %s team channel failed: %s", case.number, address.platform, exc)
                await self._event(case.number, EventKind.PAGE_FAILED, target="team", platform=address.platform)
                continue
            sent.append(SentMessage("", TEAM_LANGUAGE, ref))
            await self._event(case.number, EventKind.POSTED_TO_TEAM, platform=address.platform)
        await self._keep_sent(case.number, sent)

    async def tick(self) -> None:
        """Fire the escalation steps and reminders that are due, and announce a handover (`bot.oncall.handovers`);
        safe to call often, twice, or after a restart.

        Without due work it touches no file (the timers are in memory), except the sweep once a minute.
        """
        now = self._clock.now()
        for number in await self._book.due(now):
            try:
                await self._advance(number, now)
            except Exception as exc:  # one broken case must not stop the timers of the others
                log_failure(logger, f"case {number}: the on-call timer failed", exc)
        try:
            await self._handovers.check(now)
        except Exception as exc:  # the notices must not stop the timers
            log_failure(logger, "the handover notice failed", exc)
        if self._swept is None or not self._swept <= now < self._swept + SWEEP_EVERY:
            await self.sweep()

    async def sweep(self) -> None:
        """Act on what no timer covers; safe to run at any time, also while turns are paging.

        Open cases younger than `keep_posts_days` are looked at: one accepted for on-call that was never
        paged (a crash between creating and paging it) is paged now and its reporter told; one never
        posted to the team is posted. Records without a timer whose case is closed, or older than that,
        are dropped; when a recent case was closed outside on-call, every copy of its page or post is
        first brought up to date (older ones are left as they are).
        """
        now = self._clock.now()
        self._swept = now
        cutoff = now - self.settings.oncall.keep_posts
        recent = await self._store.find_numbers(open_only=True, since=cutoff)  # from the summary: nothing parsed
        await self._catch_up(recent, now)
        await self._forget(set(recent), cutoff)

    async def _catch_up(self, recent: list[int], now: datetime) -> None:
        """Page (or post) the open cases that a crash kept from being paged (or posted), oldest first.

        Only cases without a record that this process has not looked at yet (or left for later) are
        read, a shard's worth per call of the store, so the event loop runs between them. A page is
        only claimed here; it is sent by a job, so one slow platform does not hold up the timers.
        """
        unseen = [n for n in sorted(recent) if n > self._looked_at or n in self._look_again]
        unseen = [n for n in unseen if not await self._book.holds(n)]
        again: set[int] = set()
        for start in range(0, len(unseen), CASES_PER_READ):
            for case in await self._store.get_many(unseen[start : start + CASES_PER_READ]):
                if case.created_at > now - GRACE:  # the turn that made it may be paging it right now
                    again.add(case.number)
                    continue
                if await self._book.holds(case.number):
                    continue
                try:
                    if _never_paged(case):
                        logger.warning("case %s was accepted for on-call but never paged; paging now", case.number)
                        await self.page(case)
                    elif _never_posted(case) and self.team_addresses():
                        logger.warning("case %s was never posted to the team; posting now", case.number)
                        await self.post_to_team(case)
                except Exception as exc:  # one broken case must not stop the others; it is tried again next sweep
                    log_failure(logger, f"case {case.number}: paging or posting it late failed", exc)
                    again.add(case.number)
        self._looked_at = max(self._looked_at, max(recent, default=-1))
        self._look_again = again

    async def _forget(self, still_open: set[int], cutoff: datetime) -> None:
        """Drop the records without a timer whose case is closed or older than `cutoff`."""
        stale: list[int] = []
        closed_elsewhere: list[Case] = []
        for number in await self._book.idle():  # numbers only: the records of these may be on disk
            if number in still_open:
                continue
            case = await self._store.get(number)
            if case is not None and case.status.closed and case.created_at >= cutoff:
                closed_elsewhere.append(case)
            elif case is None or case.status.closed or case.created_at < cutoff:
                stale.append(number)
        await self._book.drop_idle(stale)
        for case in closed_elsewhere[:REFRESH_PER_SWEEP]:  # the rest wait for the next sweep
            for record in await self._book.drop_idle([case.number]):
                await self._refresh(case, record.sent)

    # -- button presses ---------------------------------------------------------------------------

    async def press(self, choice: str, by: Address) -> Message:
        """Acknowledge or resolve from a page's button; the answer goes to the person who pressed.

        "Løst" asks once (the answer carries the button that resolves), so a slip of the finger at night
        closes nothing. Only technicians of the rota may; anyone else is refused (and logged, ids only).
        A repeated press finds the case already acknowledged or resolved and says by whom.
        """
        parsed = parse_choice(choice)
        language = language_of(by.locale)
        if parsed is None:
            return Message(text("oncall.press.unknown", language))
        action, number = parsed
        tech = self.rota.technician_at(by)
        if tech is None:
            logger.warning(
                "refused %s of case %s by %s user %s in workspace %s: not on the rota",
                action,
                number,
                by.platform,
                by.user_id,
                by.workspace,
            )
            return Message(text("oncall.press.refused", language))
        language = tech.language
        target = await self._store.get(number)
        if target is None:
            return Message(text("oncall.press.not_found", language, number=number))
        number = target.linked_to or number
        now = self._clock.now()
        kind, status = (
            (EventKind.ACKNOWLEDGED, CaseStatus.ACKNOWLEDGED)
            if action == ACK
            else (EventKind.RESOLVED, CaseStatus.RESOLVED)
        )
        # The answer to "Ja, sagen er løst" replaces that question where the platform can.
        key = confirm_key(number) if action == CONFIRM_RESOLVE else ""
        async with self._locks.hold(number):
            while True:  # the lock serializes this process; the version check, every process on the storage
                case = await self._store.get(number)
                if case is None:
                    return Message(text("oncall.press.not_found", language, number=number))
                answer = self._already(case, action, tech, language)
                if answer is not None:
                    return replace(answer, key=key)
                if action == RESOLVE:  # asked once: the confirmation resolves
                    return confirm_resolve_message(case, language)
                data = {"name": tech.name, "platform": by.platform}
                event = CaseEvent(now, kind, tech.id, data)
                try:
                    case = await self._store.update(number, event, expected_version=case.version, status=status)
                    break
                except VersionConflict:  # pressed elsewhere meanwhile: look again, maybe it is done already
                    continue
            if status is CaseStatus.ACKNOWLEDGED:
                self._observer.acknowledged(case, now - case.created_at)
            linked = []
            for other_number in linked_numbers(case):
                other = await self._store.get(other_number)
                if other is not None and not other.status.closed and other.status is not status:
                    event = CaseEvent(now, kind, tech.id, {**data, "via": number})
                    linked.append(await self._store.update(other_number, event, status=status))
            record = await self._book.get(number)
            if record is not None and status is CaseStatus.RESOLVED:
                await self._book.remove(number)
            # A compare-and-set, so a message another replica recorded as sent meanwhile is kept (and updated).
            while record is not None and status is CaseStatus.ACKNOWLEDGED:
                if await self._book.claim(record, ladder.acknowledged(record, now, self.settings.oncall)) is not None:
                    break
                record = await self._book.get(number)
        logger.info("case %s %s by %s", number, status.value, tech.id)
        audited = AuditAction.ACKNOWLEDGED if status is CaseStatus.ACKNOWLEDGED else AuditAction.RESOLVED
        for changed in (case, *linked):
            via = {"via": number} if changed.number != number else {}
            await record_audit(self._audit, AuditEntry(now, audited, tech.id, changed.number, data | via))
        await self._refresh(case, record.sent if record else ())
        told = await self._reporters.news(case, status, tech)
        others = [other for other in linked if await self._reporters.news(other, status, tech)]
        reporter = reporter_name(case.reporter, language)
        if told:
            names = join_names(
                list(dict.fromkeys([reporter, *(reporter_name(o.reporter, language) for o in others)])), language
            )
            return Message(text(f"oncall.press.{status.value}", language, number=number, reporter=names), key=key)
        what = text(f"oncall.press.what_{status.value}", language)
        return Message(text("oncall.press.not_told", language, what=what, number=number, reporter=reporter), key=key)

    # -- words between the technician and the reporter -------------------------------------------

    async def write(self, number: int, words: str, by: Address) -> tuple[Message, bool]:
        """A technician's words to the reporter of case `number`, through the bot: the answer for the technician,
        and whether the words reached the reporter.

        This reaches a reporter who left no phone number. The words go as typed (each front end escapes
        them like any user text) under a frame in the reporter's language, and are kept on the case; the
        reporter's answers in the chat come back to this technician (`relay`) while the case is open.
        """
        tech = self.rota.technician_at(by)
        if tech is None:
            logger.warning("refused words to the reporter of case %s by %s user %s", number, by.platform, by.user_id)
            return Message(text("oncall.press.refused", language_of(by.locale))), False
        language = tech.language
        case = await self._store.get(number)
        if case is None:
            return Message(text("oncall.press.not_found", language, number=number)), False
        if case.status.closed:
            return Message(text("oncall.write.closed", language, number=number)), False
        delivered = await self._reporters.send(case, technician_words(case, tech.name, words), about="message")
        where = {"platform": by.platform, "workspace": by.workspace, "user": by.user_id}
        data = {"from": "technician", "name": tech.name, **where, "text": words, "delivered": delivered}
        await self._store.update(number, CaseEvent(self._clock.now(), EventKind.MESSAGE, tech.id, data))
        logger.info("case %s: %s wrote to the reporter (delivered: %s)", number, tech.id, delivered)
        key = "oncall.write.sent" if delivered else "oncall.write.not_delivered"
        reporter = reporter_name(case.reporter, language)
        return Message(text(key, language, reporter=reporter, number=number)), delivered

    async def relay(self, reporter: Reporter, words: str, *, after: datetime | None = None) -> Message | None:
        """Pass what a reporter wrote on to the technician who last wrote to them about an open case of theirs.

        None when no technician has written to them about a case that is still open (or not since `after`,
        when the bot asked the person something): then the words are the bot's to answer. The answer (for
        the reporter) says to whom the words went.
        """
        who = (reporter.platform, reporter.workspace, reporter.user_id)
        for case in await self._store.find(reporter=who, open_only=True):  # newest first
            wrote = next((e for e in reversed(case.history) if _from_technician(e)), None)
            if wrote is not None and (after is None or wrote.at > after):
                break
        else:
            return None
        tech = self.rota.technician(wrote.actor)
        tech_language = tech.language if tech else DEFAULT_LANGUAGE
        to = Address(str(wrote.data["platform"]), str(wrote.data["workspace"]), str(wrote.data["user"]), tech_language)
        try:
            await self._messengers.send(to, reporter_words(case, words, tech_language))
            delivered = True
        except DeliveryError as exc:
            logger.warning("case %s: passing the reporter's answer to %s failed: %s", case.number, wrote.actor, exc)
            delivered = False
        data = {"from": "reporter", "text": words, "delivered": delivered}
        await self._store.update(case.number, CaseEvent(self._clock.now(), EventKind.MESSAGE, reporter.user_id, data))
        provider = self.settings.provider
        key = "oncall.reporter.relayed" if delivered else "oncall.reporter.relay_failed"
        name = wrote.data.get("name", wrote.actor)
        answer = text(key, language_of(reporter.locale), name=name, phone=provider.phone, menu=provider.phone_menu)
        return Message(answer, metadata={"case": str(case.number)})

    def _already(self, case: Case, action: str, tech: Technician, language: str) -> Message | None:
        """The answer when the press changes nothing: cancelled, already resolved, already acknowledged."""
        n = case.number
        if case.status is CaseStatus.CANCELLED:
            cancelled = last_event(case, EventKind.CANCELLED)
            if cancelled is not None and cancelled.data.get("source") == "cli":  # by the provider, not the reporter
                reason = cancelled.data.get("reason", "")
                return Message(text("cancel.press_by_provider", language, number=n, reason=reason))
            return Message(text("oncall.press.cancelled", language, number=n))
        if case.status is CaseStatus.RESOLVED or (action == ACK and case.status is CaseStatus.ACKNOWLEDGED):
            kind = EventKind.RESOLVED if case.status is CaseStatus.RESOLVED else EventKind.ACKNOWLEDGED
            event = last_event(case, kind)
            name = event.data.get("name", event.actor) if event else ""
            when = format_moment(event.at, self.rota.zone, language, short=True) if event else ""
            if kind is EventKind.RESOLVED:
                return Message(text("oncall.press.already_resolved", language, number=n, name=name, time=when))
            if event is not None and event.actor == tech.id:
                return Message(text("oncall.press.already_acknowledged_you", language, number=n, time=when))
            return Message(text("oncall.press.already_acknowledged", language, number=n, name=name, time=when))
        return None

    # -- the ladder -------------------------------------------------------------------------------

    async def _advance(self, number: int, now: datetime) -> None:
        """Decide what is due for one case (`ladder.decide`), claim it, then do it."""
        token = self._claim_token()
        async with self._locks.hold(number):
            record = await self._book.get(number)
            if record is None:
                return
            case = await self._store.get(number)
            status = case.status if case is not None else CaseStatus.CANCELLED
            ack = last_event(case, EventKind.ACKNOWLEDGED) if case is not None else None
            decision = ladder.decide(record, status, ack.at if ack else None, self.settings.oncall, now, token)
            if isinstance(decision.action, ladder.Forget):
                await self._book.remove(number)
                if case is not None:
                    await self._refresh(case, record.sent)
                return
            if decision.record != record and await self._book.claim(record, decision.record) is None:
                return  # another runner claimed it first
            action = decision.action
            if isinstance(action, ladder.Escalate):
                await self._event(
                    number, EventKind.ESCALATED, step=action.step.label, reason="timeout", late=action.late
                )
                self._observer.escalated(action.step.label, "timeout")
                logger.info("case %s: not acknowledged, escalated to %s", number, action.step.label)
            elif isinstance(action, ladder.Resend):
                logger.warning(
                    "case %s: the runner sending step %s stopped before it was done; sending the rest again",
                    number,
                    action.step.label,
                )
        sending = decision.record.sending
        if isinstance(action, ladder.Remind):
            await self._remind(number)
        elif isinstance(action, ladder.Escalate | ladder.Phone | ladder.Resend) and sending is not None:
            await self._send_claimed(number, sending, token)

    async def _send_claimed(self, number: int, sending: Sending, token: str) -> None:
        """Send the step claimed as `token`: a chat page (the first one tells its reporter after), or the phone."""
        if CHAT not in sending.via:
            await self._call_out(number, token)
        elif sending.step is Step.PRIMARY and not sending.overdue:
            await self._send_page(number, token)
        else:
            await self._run_steps(number, token)

    def _claim_token(self) -> str:
        return f"{self._runner}#{next(self._claims)}"

    async def _change_leased(
        self, number: int, token: str, change: Callable[[PageRecord], PageRecord]
    ) -> PageRecord | None:
        """Store `change` of the record while the step claimed as `token` is still being sent; None once it is
        not (acknowledged meanwhile, or taken over by another runner after the lease lapsed)."""
        while True:
            async with self._locks.hold(number):
                record = await self._book.get(number)
                if record is None or record.sending is None or record.sending.by != token:
                    return None
                changed = await self._book.claim(record, change(record))
                if changed is not None:
                    return changed
            # Changed by another replica meanwhile (a press, a sent message kept): read it again.

    @asynccontextmanager
    async def _leased(self, number: int, token: str) -> AsyncIterator[None]:
        """Renew the lease of the step claimed as `token` while the body sends it."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(RENEW_EVERY)
                try:
                    if await self._change_leased(number, token, lambda r: ladder.renewed(r, self._clock.now())) is None:
                        return
                except Exception as exc:  # the database may be back by the next renewal; the send goes on
                    log_failure(logger, f"case {number}: renewing the lease of the step being sent failed", exc)

        renewing = asyncio.create_task(renew(), name=f"lease of case {number}")
        try:
            yield
        finally:
            renewing.cancel()

    async def _record_sent(self, number: int, token: str, target: str, message: SentMessage | None) -> None:
        """Record that `target` of the step being sent got its message, so a re-send of the step skips them."""

        def change(record: PageRecord) -> PageRecord:
            if message is not None:
                record = replace(record.with_sent([message]), reached=True)
            return ladder.recorded(record, target)

        if await self._change_leased(number, token, change) is None and message is not None:
            await self._keep_sent(number, [message])  # no longer leased: still kept, so it is updated later

    async def _finish(self, number: int, token: str, change: Callable[[PageRecord], PageRecord]) -> PageRecord | None:
        """Give up the lease of a step sent and recorded, storing `change` of the record with it."""
        return await self._change_leased(number, token, lambda r: change(ladder.finished(r)))

    async def _call_out(self, number: int, token: str) -> None:
        """Text and/or call the technicians of a claimed step who have a phone number (those not yet recorded)."""
        case = await self._store.get(number)
        record = await self._book.get(number)
        if case is None or record is None or case.status is not CaseStatus.OPEN:
            return
        sending = record.sending
        if sending is None or sending.by != token:
            return
        if self._phone is None:
            logger.warning("case %s: phone escalation is configured, but no phone gateway is enabled", number)
            await self._finish(number, token, lambda r: r)
            return
        calls = [
            (t, kind)
            for t in self._targets(record, sending.step)
            if t.phone
            for kind in sending.via
            if f"{kind}:{t.id}" not in sending.done
        ]
        logger.info("case %s: not acknowledged, %s to %s technician(s)", number, "+".join(sending.via), len(calls))
        async with self._leased(number, token):
            await asyncio.gather(*(self._phone_one(case, t, kind, sending, token) for t, kind in calls))
        await self._finish(number, token, lambda r: r)

    async def _phone_one(self, case: Case, tech: Technician, kind: str, sending: Sending, token: str) -> None:
        """One SMS or call to one technician, recorded on the case like a chat page (platform sms or voice)."""
        assert self._phone is not None
        language = tech.language
        step = sending.step.label
        try:
            if kind == SMS:
                await self._phone.send_sms(tech.phone, sms_text(case, language))
            else:
                spoken = spoken_text(case, language, provider=self.settings.provider.name)
                await self._phone.call(tech.phone, spoken, language=language, case=case.number)
        except PhoneError as exc:
            logger.warning("case %s: %s to %s failed: %s", case.number, kind, tech.id, exc)
            self._observer.delivery_failed(kind)
            await self._event(case.number, EventKind.PAGE_FAILED, technician=tech.id, platform=kind, step=step)
            return
        await self._record_sent(case.number, token, f"{kind}:{tech.id}", None)
        late = sending.late_since is not None
        await self._event(
            case.number, EventKind.PAGED, technician=tech.id, platform=kind, step=step, late=late, **_resent(sending)
        )
        self._observer.paged(kind, step)

    async def phone_answer(self, phone: str, answer: str, *, via: str, case: int | None = None) -> Message | None:
        """A technician's answer by phone: "1" takes the case exactly as the Ack button does (`press`).

        Args:
            phone: the technician's number, as the gateway gives it.
            answer: the SMS text, or the keys pressed in the call.
            via: SMS or VOICE.
            case: the case the call was about; an SMS names one ("1 10023") or means the latest texted.

        Returns:
            The answer to send back, or None when the number is no technician's (nothing goes back).
        """
        by = Address(via, "", phone)
        tech = self.rota.technician_at(by)
        if tech is None:
            logger.warning("a %s answer from a number not on the rota was ignored", via)
            return None
        language = tech.language
        reply = parse_reply(answer)
        if not reply.acknowledge:
            return Message(
                text("oncall.phone.help" if via == SMS else "oncall.phone.no_key", language), language=language
            )
        number = reply.number or case or await self._texted_to(tech)
        if number is None:
            return Message(text("oncall.phone.nothing", language), language=language)
        answered = await self.press(choice_id(ACK, number), replace(by, locale=language))
        return replace(answered, language=language)

    async def _texted_to(self, tech: Technician) -> int | None:
        """The open case most recently sent to `tech` by SMS or call."""
        since = self._clock.now() - self.settings.oncall.keep_posts
        latest: tuple[datetime, int] | None = None
        for case in await self._store.find(open_only=True, since=since):
            for event in case.history:
                if (
                    event.kind is EventKind.PAGED
                    and event.data.get("technician") == tech.id
                    and event.data.get("platform") in (SMS, VOICE)
                    and (latest is None or event.at > latest[0])
                ):
                    latest = (event.at, case.number)
        return latest[1] if latest else None

    def _targets(self, record: PageRecord, step: Step) -> list[Technician]:
        everyone = tuple(t.id for t in self.rota.technicians)
        found = [self.rota.technician(i) for i in ladder.targets(record, step, everyone)]
        return [t for t in found if t is not None]

    async def _run_steps(self, number: int, token: str) -> None:
        """Send the step claimed as `token` to its targets not yet recorded as sent; when the step reaches
        nobody, claim and send the next one at once.

        When a step sent because nobody answered in time reaches someone, the reporters are told once
        that another technician has been called too. A step sent late (the bot was down when it fell
        due) says so on the page.
        """
        escalating: bool | None = None  # the first step was sent because nobody answered in time
        while True:
            case = await self._store.get(number)
            record = await self._book.get(number)
            if case is None or record is None or case.status is not CaseStatus.OPEN:
                return
            sending = record.sending
            if sending is None or sending.by != token:
                return  # acknowledged meanwhile, or taken over by another runner
            escalating = sending.overdue if escalating is None else escalating
            step = sending.step
            if step is Step.GAVE_UP:
                logger.warning("case %s: on-call %s", number, "did not answer" if record.reached else "unreachable")
                async with self._leased(number, token):
                    await self._reporters.everyone(case, "unanswered" if record.reached else "unreachable")
                await self._finish(number, token, lambda r: r)
                return
            targets = [t for t in self._targets(record, step) if f"{CHAT}:{t.id}" not in sending.done]
            async with self._leased(number, token):
                deliveries = await asyncio.gather(*(self._page_one(case, t, record, sending, token) for t in targets))
            sent = [d.sent for d in deliveries if d.sent is not None]
            reached = bool(sent) or any(done.startswith(f"{CHAT}:") for done in sending.done)
            now = self._clock.now()
            if reached:
                stored = await self._finish(number, token, lambda r: replace(r, failed=()))
            else:  # nobody got this step: the next one now, not after a timeout
                tried = tuple(d.technician.id for d in deliveries)
                following = partial(
                    ladder.unreached, step=step, technicians=tried, now=now, oncall=self.settings.oncall, by=token
                )
                stored = await self._finish(number, token, following)
                if stored is not None:
                    await self._event(number, EventKind.ESCALATED, step=stored.step.label, reason="unreachable")
                    self._observer.escalated(stored.step.label, "unreachable")
            await self._refresh_if_changed(number, sent, shown=case)
            if sent and escalating:
                await self._reporters.escalated(number)
            if reached or stored is None:
                return

    async def _page_one(
        self, case: Case, tech: Technician, record: PageRecord, sending: Sending, token: str
    ) -> _Delivery:
        """One message to one technician, on their first platform that takes it; recorded at once when it went."""
        step = sending.step
        note = self._note(tech, record, step, sending.overdue)
        if sending.late_since is not None:
            when = format_moment(sending.late_since, self.rota.zone, tech.language, short=True)
            note = f"{note} {text('oncall.page.late', tech.language, time=when)}".strip()
        message = page_message(case, settings=self.settings, language=tech.language, note=note)
        failures: list[tuple[str, str]] = []
        sent: SentMessage | None = None
        addresses = self.rota.addresses(tech, self.enabled_platforms())
        if not addresses:
            failures.append(("", "no address on an enabled platform"))
        for address in addresses:
            try:
                ref = await self._messengers.send(address, message)
            except DeliveryError as exc:
                failures.append((address.platform, str(exc)))
                continue
            except Exception:  # a bug in a front end must not stop the page going to someone else
                logger.exception("case %s: the %s messenger failed", case.number, address.platform)
                failures.append((address.platform, "unexpected error"))
                continue
            sent = SentMessage(tech.id, tech.language, ref)
            break
        if sent is not None:
            await self._record_sent(case.number, token, f"{CHAT}:{tech.id}", sent)
        for platform, reason in failures:
            failed = {"technician": tech.id, "platform": platform, "step": step.label}
            await self._event(case.number, EventKind.PAGE_FAILED, **failed)
            logger.warning("case %s: page to %s failed (%s): %s", case.number, tech.id, platform, reason)
        if sent is not None:
            platform = sent.ref.platform
            await self._event(
                case.number, EventKind.PAGED, technician=tech.id, platform=platform, step=step.label, **_resent(sending)
            )
            self._observer.paged(platform, step.label)
        return _Delivery(tech, sent, tuple(failures))

    def _note(self, tech: Technician, record: PageRecord, step: Step, overdue: bool) -> str:
        """Why this copy of the page was sent, for the technician reading it."""
        oncall = self.settings.oncall
        language = tech.language
        if step is Step.PRIMARY:
            return ""
        primary = self.rota.technician(record.primary)
        primary_name = primary.name if primary else record.primary
        if not record.primary:
            return text("oncall.page.everyone_no_rota", language)
        if not overdue:
            key = "backup_unreachable" if step is Step.BACKUP else "everyone_unreachable"
            return text(f"oncall.page.{key}", language, primary=primary_name)
        if step is Step.BACKUP:
            minutes = _minutes(oncall.ack_timeout)
            if tech.id == record.primary:
                return text("oncall.page.again", language, minutes=minutes)
            return text("oncall.page.backup", language, primary=primary_name, minutes=minutes)
        return text("oncall.page.everyone", language, minutes=_minutes(oncall.ack_timeout + oncall.escalate_all_after))

    async def _remind(self, number: int) -> None:
        case = await self._store.get(number)
        ack = last_event(case, EventKind.ACKNOWLEDGED) if case else None
        tech = self.rota.technician(ack.actor) if ack else None
        if case is None or ack is None or tech is None or case.status is not CaseStatus.ACKNOWLEDGED:
            return
        when = format_moment(ack.at, self.rota.zone, tech.language, short=True)
        note = text("oncall.page.reminder", tech.language, time=when)
        message = page_message(case, settings=self.settings, language=tech.language, note=note)
        for address in self.rota.addresses(tech, self.enabled_platforms()):
            try:
                ref = await self._messengers.send(address, message)
            except DeliveryError as exc:
                logger.warning("case %s: reminder to %s failed (%s): %s", number, tech.id, address.platform, exc)
                await self._event(
                    number, EventKind.PAGE_FAILED, technician=tech.id, platform=address.platform, step="reminder"
                )
                continue
            await self._event(number, EventKind.REMINDED, technician=tech.id, platform=address.platform)
            await self._keep_sent(number, [SentMessage(tech.id, tech.language, ref)])
            return

    # -- duplicates -------------------------------------------------------------------------------

    async def _duplicate_of(self, case: Case, now: datetime) -> int | None:
        """The earliest active page of the same customer and critical category within the window."""
        window = self.settings.oncall.duplicate_window
        if not case.critical or window <= timedelta(0):
            return None
        earlier = await self._store.find(
            open_only=True, customer=case.customer.name, category=case.category, since=now - window
        )
        for other in sorted(earlier, key=lambda c: c.number):
            if other.number == case.number or other.linked_to is not None or other.status.closed or not other.critical:
                continue
            record = await self._book.get(other.number)
            if record is not None and record.kind is RecordKind.PAGE and record.step is not Step.GAVE_UP:
                return other.number
        return None

    async def _attach(self, case: Case, first: int, now: datetime) -> _Link:
        """Link a later report of the same outage to the first one's page (history on both cases)."""
        # The name as the platform gave it (maybe none); each page renders a missing one in its own language.
        who = {"reporter": case.reporter.display_name.strip(), "user": case.reporter.user_id}
        async with self._locks.hold(first):
            case = await self._store.update(
                case.number, CaseEvent(now, EventKind.LINKED, SYSTEM, {"to": first}), linked_to=first
            )
            root = await self._store.update(
                first, CaseEvent(now, EventKind.LINKED, SYSTEM, {"case": case.number, **who})
            )
            ack = last_event(root, EventKind.ACKNOWLEDGED) if root.status is CaseStatus.ACKNOWLEDGED else None
            if ack is not None:
                event = CaseEvent(now, EventKind.ACKNOWLEDGED, ack.actor, {**ack.data, "via": first})
                case = await self._store.update(case.number, event, status=CaseStatus.ACKNOWLEDGED)
            record = await self._book.get(first)
        logger.info("case %s linked to case %s (same outage)", case.number, first)
        return _Link(case, root, ack, record.sent if record else ())

    async def _announce_link(self, link: _Link, *, tell: bool) -> None:
        """Show the new report on every copy of the page; with `tell`, tell its reporter who is on it."""
        await self._refresh(link.root, link.sent)
        first = link.root.number
        if tell and link.ack is not None:
            name = link.ack.data.get("name", link.ack.actor)
            await self._reporters.tell(link.case, "linked_acknowledged", first=first, name=name)
        elif tell:
            await self._reporters.tell(link.case, "linked", first=first)

    # -- messages ---------------------------------------------------------------------------------

    async def _keep_sent(self, number: int, sent: list[SentMessage]) -> None:
        """Remember messages sent outside the lock; bring them up to date if the case moved on meanwhile."""
        while sent:
            async with self._locks.hold(number):
                record = await self._book.get(number)
                # A compare-and-set, so what another replica stored meanwhile (a lease, a press) stays.
                if record is None or await self._book.claim(record, record.with_sent(sent)) is not None:
                    break
        await self._refresh_if_changed(number, sent)

    async def _refresh_if_changed(self, number: int, sent: list[SentMessage], *, shown: Case | None = None) -> None:
        """Bring messages just sent up to date if the case moved on while they went out: answered, or
        (compared with the case `shown` on them) another report of the same outage linked to it."""
        case = await self._store.get(number)
        if not sent or case is None:
            return
        relinked = shown is not None and linked_numbers(case) != linked_numbers(shown)
        if case.status is not CaseStatus.OPEN or relinked:
            await self._refresh(case, sent)

    async def _refresh(self, case: Case, sent: tuple[SentMessage, ...] | list[SentMessage]) -> None:
        """Update every copy of the page (and team post) in place to show the case as it is now."""

        async def update(m: SentMessage) -> None:
            message = page_message(case, settings=self.settings, language=m.language, team=not m.technician)
            try:
                await self._messengers.update(m.ref, message)
            except DeliveryError as exc:
                logger.warning("case %s: updating a %s message failed: %s", case.number, m.ref.platform, exc)

        await asyncio.gather(*(update(m) for m in sent))

    async def withdrawn(self, number: int) -> None:
        """A case cancelled outside on-call (its reporter withdrew it): stop its timers now and show it as
        cancelled on every copy of its page or post (the ladder would forget it only at its next step)."""
        async with self._locks.hold(number):
            record = await self._book.get(number)
            if record is not None:
                await self._book.remove(number)
        case = await self._store.get(number)
        if record is not None and case is not None:
            await self._refresh(case, record.sent)

    async def _event(self, number: int, kind: EventKind, **data: object) -> None:
        await self._store.update(number, CaseEvent(self._clock.now(), kind, SYSTEM, dict(data)))

    def team_addresses(self) -> list[Address]:
        channel = self.settings.team_channel
        found = []
        if channel.slack_channel and self._messengers.enabled("slack"):
            found.append(Address("slack", channel.slack_team, channel.slack_channel))
        if channel.teams_conversation and self._messengers.enabled("teams"):
            found.append(Address("teams", "", channel.teams_conversation))
        if self._messengers.enabled("local"):
            found.append(LOCAL_TEAM)
        return found


def _resent(sending: Sending) -> dict[str, object]:
    """What a PAGED event says of a step sent again after its first runner stopped."""
    return {"resent": True} if sending.resends else {}


def _never_paged(case: Case) -> bool:
    """Accepted for on-call, yet no page, link or failed attempt was ever recorded."""
    tried = (EventKind.PAGED, EventKind.LINKED, EventKind.PAGE_FAILED)
    return (
        case.page_requested
        and case.after_hours
        and case.linked_to is None
        and not any(e.kind in tried for e in case.history)
    )


def _never_posted(case: Case) -> bool:
    """A case for the team (not for on-call) that was never posted, nor tried."""
    tried = (EventKind.POSTED_TO_TEAM, EventKind.PAGE_FAILED)
    return not case.page_requested and not any(e.kind in tried for e in case.history)


def _from_technician(event: CaseEvent) -> bool:
    """A technician's words to the reporter that their answers can go back along."""
    return event.kind is EventKind.MESSAGE and event.data.get("from") == "technician" and "platform" in event.data


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)
