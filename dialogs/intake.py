"""The intake conversation as pure steps: (state, input, context) -> StepResult.

A step never sends, stores or reads the clock. When something must happen in the world (create the
case, look up cases) it returns an `Effect`; the router performs it and hands the outcome back to
`case_created` / `status_found`, which write the reply.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.cancellation import Outcome, reported_by
from bot.cases import Case, CaseStatus, CostAnswer, CustomerRef, EventKind, NewCase, Reporter
from bot.categories import SCOPE_DEPENDENT, Category, Scope, is_critical, needs_scope
from bot.config import Settings
from bot.costs import applicable_costs
from bot.hours import OpeningHours
from bot.i18n import language_of, text
from bot.messages import Message
from bot.oncall.pages import parse_follow_up
from bot.triage import Triage, detect_scope
from dialogs import replies, withdrawal
from dialogs.matching import (
    MAX_DESCRIPTION,
    Cleaned,
    Command,
    case_number,
    case_number_in,
    clean,
    command_of,
    is_follow_up,
    is_greeting,
    is_urgent,
    phone_number,
    typed_language,
)
from dialogs.replies import ALL_CATEGORIES, Opening, parse_choice
from dialogs.state import Intake, Step

MAX_SUGGESTIONS = 3
# A typed "det gælder alle" after the scope question is a correction only when it is about that short.
MAX_SCOPE_CORRECTION_WORDS = 8
_COST_QUESTIONS = (Step.OFFER_ONCALL, Step.OFFER_NEXT_OPENING, Step.CONFIRM_FEE)
# "Det virker stadig ikke" this long after a case was resolved is offered a new case about the same problem.
FOLLOW_UP_WINDOW = timedelta(days=3)


@dataclass(frozen=True)
class Context:
    """Everything a step may consult besides the state: the moment, who is writing, the pure helpers."""

    now: datetime
    reporter: Reporter
    customer: CustomerRef
    triage: Triage
    hours: OpeningHours
    settings: Settings
    finished_case: int | None = None  # the case this conversation's previous round ended with
    share_cases: bool = False  # the customer lets colleagues see each other's cases (`share_cases` in the config)

    def when_in(self, language: str) -> Opening:
        return replies.when_next_open(self.hours, self.now, language)


@dataclass(frozen=True)
class CreateCase:
    """Create the case; then page on-call (`page`) or post it to the team channel (open hours)."""

    new: NewCase
    page: bool
    notes: tuple[str, ...] = ()  # said before the outcome (a shortened description, a restart)


@dataclass(frozen=True)
class LookupStatus:
    """Find the employee's recent and open cases, or the one with `number` (and the cases linked to it)."""

    number: int | None


@dataclass(frozen=True)
class FindWithdrawal:
    """Find the case the reporter wants to withdraw: case `number` (with the reports linked to it), or
    without a number the reporter's own open cases."""

    number: int | None


@dataclass(frozen=True)
class WithdrawCase:
    """The reporter confirmed: cancel their case `number` (`bot.cancellation.cancel_case` checks again)."""

    number: int


Effect = CreateCase | LookupStatus | FindWithdrawal | WithdrawCase


@dataclass(frozen=True)
class StepResult:
    state: Intake | None  # None: no conversation is going on (finished, cancelled, never started)
    replies: tuple[Message, ...] = ()
    effect: Effect | None = None


def advance(state: Intake | None, ctx: Context, *, text_in: str = "", choice: str = "") -> StepResult:
    """One turn: typed `text_in` or the pressed button `choice`."""
    language = _language(state, ctx, text_in)
    if state is not None and state.language != language:
        state = replace(state, language=language, platform_language=language_of(ctx.reporter.locale))
    notes: list[str] = []
    if state is not None and ctx.now - state.updated_at >= ctx.settings.dialog.timeout:
        notes.append(text("intake.restart", language))
        state = None
    if choice:
        return _on_choice(state, choice, ctx, language, notes)
    cleaned = clean(text_in)
    if cleaned.shortened:
        notes.append(_shortened(language))
    command = command_of(cleaned.text)
    if command is None and (state is None or state.step in (Step.DESCRIBE, Step.DESCRIBE_AGAIN)):
        number = case_number(cleaned.text)  # "10003" where a problem is expected: the employee asks about it
        command = (Command.STATUS, number) if number is not None else None
    if command is not None:
        return _on_command(state, command, ctx, language, notes)
    if is_urgent(cleaned.text) and (state is None or state.step is not Step.ASK_PHONE):
        return _urgent(state or _fresh(language, ctx), cleaned.text, ctx, notes)
    describing = state is None or state.step in (Step.DESCRIBE, Step.DESCRIBE_AGAIN)
    if describing and is_follow_up(cleaned.text):
        number = case_number_in(cleaned.text) or ctx.finished_case
        if number is not None:  # which case came back is known: look it up (`status_found` answers)
            return StepResult(_following_up(language, cleaned.text, ctx), effect=LookupStatus(number))
    if state is None:
        if not cleaned.text or is_greeting(cleaned.text):
            return StepResult(_fresh(language, ctx), (replies.start(language, ctx.settings, notes=notes),))
        return _describe(_fresh(language, ctx), cleaned, ctx, notes)
    return _on_text(state, cleaned, ctx, notes)


def answer_to_technician(typed: str) -> str:
    """The typed words (cleaned) when they may be the answer to a technician who wrote to the person, else "":
    a command ("status", "annuller", "hjælp") or a case number stays the bot's to answer."""
    words = clean(typed).text
    return words if command_of(words) is None and case_number(words) is None else ""


def asked_at(state: Intake | None) -> datetime | None:
    """When the bot asked the question that waits for an answer; None when none does.

    Typed words answer whoever asked last: this question, or a technician who wrote after it.
    """
    if state is None or (state.step is Step.DESCRIBE and not state.description):
        return None
    return state.updated_at


def _language(state: Intake | None, ctx: Context, typed: str) -> str:
    """The platform's language (Teams' locale, Slack's user locale, the browser's), unless the conversation
    began with text clearly in the other one; a change of the platform's language is always followed."""
    platform = language_of(ctx.reporter.locale)
    if state is None or (state.step is Step.DESCRIBE and not state.description):
        return typed_language(typed) or (state.language if state else platform)
    if state.platform_language != platform:
        return platform  # the person switched language (or the conversation predates this rule): follow it
    return state.language


def case_created(
    state: Intake, case: Case, ctx: Context, *, paging: bool = False, notes: Sequence[str] = ()
) -> StepResult:
    """The case exists: tell its number and what happens next. The conversation ends here.

    `paging`: on-call is being paged now (the reporter hears the outcome as an update).
    """
    notes = [*notes, text("intake.cost.reopened", state.language)] if case.cost and not case.after_hours else notes
    when = ctx.when_in(state.language)
    message = replies.outcome(case, ctx.settings, state.language, when=when, notes=notes, paging=paging)
    return StepResult(None, (message,))


def status_found(state: Intake | None, cases: Sequence[Case], number: int | None, ctx: Context) -> StepResult:
    """Answer "status": own open cases, or one case by number if the person may see it (else "not found",
    word for word what a number that does not exist gets).

    With a number, `cases` holds that case and the cases linked to it. While following up ("det virker
    stadig ikke"), the case found is the one the problem came back on.
    """
    language = state.language if state else language_of(ctx.reporter.locale)
    zone = ctx.settings.hours.timezone
    if number is not None and state is not None and _is_following_up(state):
        return _follow_up(state, _visible(cases, number, ctx), number, ctx)
    when = {"now": ctx.now, "hours": ctx.hours, "zone": zone}
    if number is None:
        message = replies.case_list(cases, language, days=ctx.settings.cases.status_days, **when)
    else:
        visible = _visible(cases, number, ctx)
        message = (
            replies.case_summary(visible[0], language, **when)
            if visible
            else replies.not_found(number, language, ctx.settings)
        )
    return StepResult(state, (message, *_ask_again(state, ctx)))


def _following_up(language: str, typed: str, ctx: Context) -> Intake:
    """The state while the case a follow-up is about is looked up; asked again, it asks for the number."""
    return replace(_fresh(language, ctx), step=Step.DESCRIBE_AGAIN, description=typed, misses=1)


def _is_following_up(state: Intake) -> bool:
    return state.step is Step.DESCRIBE_AGAIN and is_follow_up(state.description)


def _follow_up(state: Intake, found: Sequence[Case], number: int, ctx: Context) -> StepResult:
    """A problem came back on case `number`: offer a new case about the same problem that follows up on it
    (the old one stays resolved); an open case gets its status, an unknown number is asked for again."""
    language = state.language
    if not found:
        return StepResult(state, (replies.not_found(number, language, ctx.settings), *_ask_again(state, ctx)))
    case = found[0]
    if not case.status.closed:
        summary = replies.case_summary(case, language, now=ctx.now, hours=ctx.hours, zone=ctx.settings.hours.timezone)
        return StepResult(
            _fresh(language, ctx), (summary, replies.note("follow_up.still_open", language, ctx.settings))
        )
    resolved = next((e for e in reversed(case.history) if e.kind is EventKind.RESOLVED), None)
    if case.status is CaseStatus.CANCELLED or resolved is None or resolved.at < ctx.now - FOLLOW_UP_WINDOW:
        days = FOLLOW_UP_WINDOW.days
        reply = replies.note("follow_up.too_old", language, ctx.settings, number=number, days=days)
        return StepResult(_fresh(language, ctx), (reply,))
    asked = state.ask(
        Step.CONFIRM_CATEGORY,
        ctx.now,
        description=replies.follow_up_description(number, state.description, language),
        category=case.category,
        confidence=100,
        triaged_as=None,  # the category is the old case's, not triage's
        scope=case.scope,
        misses=0,
    )
    sorry = text("intake.follow_up.sorry", language, number=number, problem=replies.problem_label(case, language))
    return _ask(asked, ctx, [sorry])


def _visible(cases: Sequence[Case], number: int, ctx: Context) -> list[Case]:
    """Case `number` among `cases` if the person may see it: their own (the same platform user in the same
    workspace or tenant), one their own report of the same outage is linked to, or, when their company
    shares cases, a colleague's. Anything else is answered as if the number did not exist."""
    mine = {c.number for c in cases if reported_by(c, ctx.reporter)}
    return [
        c
        for c in cases
        if c.number == number
        and (
            c.number in mine
            or any(c.number == linked.linked_to for linked in cases if linked.number in mine)
            or (ctx.share_cases and c.customer.known and c.customer.name == ctx.customer.name)
        )
    ]


def _shortened(language: str) -> str:
    return text("intake.shortened", language, limit=f"{MAX_DESCRIPTION:,}".replace(",", "."))


def _fresh(language: str, ctx: Context) -> Intake:
    platform = language_of(ctx.reporter.locale)
    return Intake(step=Step.DESCRIBE, language=language, updated_at=ctx.now, platform_language=platform)


def _ask(state: Intake, ctx: Context, notes: Sequence[str] = ()) -> StepResult:
    message = replies.question(state, ctx.settings, when=ctx.when_in(state.language), notes=notes)
    return StepResult(state, (message,))


def _ask_again(state: Intake | None, ctx: Context) -> tuple[Message, ...]:
    if state is None:
        return ()
    return (replies.question(state, ctx.settings, when=ctx.when_in(state.language)),)


def _urgent(state: Intake, typed: str, ctx: Context, notes: list[str]) -> StepResult:
    """ "Det er akut" at any step: ask which critical problem it is (every critical category, and "Noget andet")."""
    description = _append(state.description, typed)[0] if state.step in (Step.DESCRIBE, Step.DESCRIBE_AGAIN) else None
    changes = {"description": description} if description is not None else {}
    asked = state.ask(Step.CHOOSE_CATEGORY, ctx.now, suggestions=ALL_CATEGORIES, assumed=False, **changes)
    return _ask(asked, ctx, [*notes, text("intake.urgent_which", state.language)])


def _on_command(
    state: Intake | None, command: tuple[Command, int | None], ctx: Context, language: str, notes: list[str]
) -> StepResult:
    kind, number = command
    if kind is Command.CANCEL:
        if state is None:
            return StepResult(None, (replies.note("nothing_to_cancel", language, ctx.settings),))
        if state.step is Step.CONFIRM_WITHDRAW:  # "annuller" at "Vil du annullere sag 10001?" keeps the case
            return StepResult(None, (withdrawal.kept(state.withdraw, language),))
        return StepResult(None, (replies.note("cancelled", language, ctx.settings),))
    if kind is Command.HELP:
        if state is None or state.step is Step.DESCRIBE:
            fresh = state or _fresh(language, ctx)
            help_text = text("intake.help", language, provider=ctx.settings.provider.name)
            opening = replies.start(language, ctx.settings, notes=[*notes, help_text], greet=False, help=True)
            return StepResult(fresh, (opening,))
        help_reply = replies.help_message(language, ctx.settings, open_now=ctx.hours.is_open(ctx.now))
        return StepResult(replace(state, updated_at=ctx.now), (help_reply, *_ask_again(state, ctx)))
    touched = replace(state, updated_at=ctx.now) if state else None
    if kind is Command.WITHDRAW:
        return StepResult(touched, effect=FindWithdrawal(number))
    return StepResult(touched, effect=LookupStatus(number))


def withdrawal_found(state: Intake | None, cases: Sequence[Case], number: int | None, ctx: Context) -> StepResult:
    """Ask the reporter to confirm withdrawing the case they meant, or say why it cannot be withdrawn.

    The question replaces any question going on (answering it ends the conversation); a refusal keeps it.
    """
    language = state.language if state else language_of(ctx.reporter.locale)
    case = withdrawal.chosen(cases, number, ctx.reporter)
    refused = withdrawal.refusal(case, cases, ctx.reporter)
    if case is None or refused is not None:
        mine = withdrawal.open_cases(cases, ctx.reporter)
        message = withdrawal.not_possible(refused, case, number, mine, language, ctx.settings)
        return StepResult(state, (message, *_ask_again(state, ctx)))
    asking = (state or _fresh(language, ctx)).ask(
        Step.CONFIRM_WITHDRAW,
        ctx.now,
        withdraw=case.number,
        withdraw_text=withdrawal.question(case, language, ctx.settings),
    )
    return _ask(asking, ctx)


def case_withdrawn(state: Intake, outcome: Outcome, ctx: Context) -> StepResult:
    """The answer once the confirmed withdrawal was tried; the conversation ends."""
    return StepResult(None, (withdrawal.done(outcome, state.withdraw, state.language, ctx.settings),))


def _on_choice(state: Intake | None, choice: str, ctx: Context, language: str, notes: list[str]) -> StepResult:
    parsed = parse_choice(choice)
    follow_up = parse_follow_up(choice)  # "Det virker stadig ikke" on the update that a case is resolved
    if follow_up is not None:
        pressed = text("oncall.button.still_broken", language)
        return StepResult(_following_up(language, pressed, ctx), effect=LookupStatus(follow_up))
    if state is None:
        if notes:  # the conversation timed out: start over
            return StepResult(_fresh(language, ctx), (replies.start(language, ctx.settings, notes=notes, greet=False),))
        if ctx.finished_case is not None and parsed is not None:
            return StepResult(None, (replies.note("finished_case", language, ctx.settings, number=ctx.finished_case),))
        return StepResult(None, (replies.note("finished", language, ctx.settings),))
    if parsed is None:
        return _ask(state, ctx, [text("intake.unknown_choice", language)])
    seq, option = parsed
    if seq != state.seq:
        return _ask(state, ctx, [text("intake.stale_choice", language)])
    if option not in replies.option_words(state, when=ctx.when_in(language)):
        return _ask(state, ctx, [text("intake.unknown_choice", language)])
    return _answer(state, option, choice, ctx)


def _on_text(state: Intake, cleaned: Cleaned, ctx: Context, notes: list[str]) -> StepResult:
    if state.step in (Step.DESCRIBE, Step.DESCRIBE_AGAIN):
        if is_greeting(cleaned.text):  # "hej" again is not a description, and not a miss
            return _ask(replace(state, updated_at=ctx.now), ctx, notes)
        return _describe(state, cleaned, ctx, notes)
    when = ctx.when_in(state.language)
    option = replies.typed_option(state, cleaned.text, when=when)
    if option is not None:  # recorded as the button it stands for, with the words actually typed
        return _answer(state, option, f"{replies.choice_id(state, option)} {json.dumps(cleaned.text)}", ctx)
    offered = len(replies.options(state, when=when))
    if state.step is not Step.ASK_PHONE and (not cleaned.text or (cleaned.text.isdigit() and len(cleaned.text) <= 2)):
        # an empty line or a number that is not one of the choices ("7"): say which numbers there are
        note = text("intake.pick_number", state.language, count=offered)
        return _ask(replace(state, updated_at=ctx.now), ctx, [*notes, note])
    if state.step in (Step.CONFIRM_CATEGORY, Step.CHOOSE_CATEGORY):
        return _describe(state, cleaned, ctx, notes)  # the employee explains more: triage it all again
    if state.step is Step.ASK_PHONE:
        return _on_phone(state, cleaned.text, ctx, notes)
    if state.step is Step.ASK_SCOPE and (scope := detect_scope(cleaned.text)) is not Scope.UNKNOWN:
        return _decide(replace(state, scope=scope), ctx, notes)
    if (corrected := _scope_correction(state, cleaned.text)) is not None:  # "det gælder alle" after "Kun mig"
        return _decide(replace(state, scope=corrected), ctx, notes)
    if cleaned.text:  # never leave a typed answer unanswered; keep it with the description
        state = replace(state, description=_append(state.description, cleaned.text)[0])
    return _ask(replace(state, updated_at=ctx.now), ctx, [*notes, text("intake.pick_option", state.language)])


def _scope_correction(state: Intake, typed: str) -> Scope | None:
    """A short typed answer that changes who is affected, at a question that rests on it; None otherwise."""
    if state.category not in SCOPE_DEPENDENT or state.step not in _COST_QUESTIONS:
        return None
    if len(typed.split()) > MAX_SCOPE_CORRECTION_WORDS:
        return None
    scope = detect_scope(typed)
    return scope if scope not in (Scope.UNKNOWN, state.scope) else None


def _append(description: str, more: str) -> tuple[str, bool]:
    joined = f"{description}\n{more}" if description and more else description or more
    return joined[:MAX_DESCRIPTION], len(joined) > MAX_DESCRIPTION


def _describe(state: Intake, cleaned: Cleaned, ctx: Context, notes: list[str]) -> StepResult:
    """Triage everything the employee has written so far and ask the next question."""
    description, cut = _append(state.description, cleaned.text)
    if cut and not cleaned.shortened:
        notes.append(_shortened(state.language))
    if not description:
        return _ask(replace(state, updated_at=ctx.now), ctx, notes)
    state = replace(state, description=description)
    result = ctx.triage.classify(description)
    scope = result.scope if result.scope is not Scope.UNKNOWN else state.scope
    if result.sure or result.matched:
        state = replace(state, triaged_as=state.triaged_as or result.category)
    if result.sure:
        # Sure: say what was understood and move on; the next question lets the employee correct it. An
        # ordinary request ("skal bruge ny mus") is not questioned at all: after hours the free-case question
        # offers "Det er akut", which leads to the critical categories.
        assumed = result.category is not Category.OTHER
        understood = replace(state, category=result.category, confidence=result.confidence, scope=scope)
        return _after_category(replace(understood, assumed=assumed), ctx, notes)
    # "Det virker stadig ikke" says that something is back, not what: unless triage is sure, ask which case.
    if result.matched and not (state.misses == 0 and is_follow_up(description)):
        ranked = [result.category, *(a.category for a in result.alternatives)]
        suggestions = tuple(dict.fromkeys(c for c in ranked if c is not Category.OTHER))[:MAX_SUGGESTIONS]
        if suggestions:
            changes = {"category": result.category, "confidence": result.confidence, "scope": scope}
            return _ask(state.ask(Step.CHOOSE_CATEGORY, ctx.now, suggestions=suggestions, **changes), ctx, notes)
    if state.misses == 0:
        return _ask(state.ask(Step.DESCRIBE_AGAIN, ctx.now, misses=1, scope=scope), ctx, notes)
    return _decide(replace(state, category=Category.OTHER, confidence=0, scope=scope, misses=2), ctx, notes)


def _answer(state: Intake, option: str, answer: str, ctx: Context) -> StepResult:
    """Act on a recognised answer to the current question (button or typed)."""
    kind, _, value = option.partition(":")
    match state.step, kind:
        case Step.CONFIRM_CATEGORY, "yes":
            return _after_category(state, ctx)
        case Step.CONFIRM_CATEGORY, "no":
            return _ask(state.ask(Step.CHOOSE_CATEGORY, ctx.now, suggestions=ALL_CATEGORIES), ctx)
        case Step.CHOOSE_CATEGORY, "cat":
            chosen = Category(value)
            confidence = state.confidence if chosen is state.category else 100
            return _after_category(replace(state, category=chosen, confidence=confidence, assumed=False), ctx)
        case _, "not_that":
            return _ask(state.ask(Step.CHOOSE_CATEGORY, ctx.now, suggestions=ALL_CATEGORIES, assumed=False), ctx)
        case Step.ASK_SCOPE, "scope":
            return _decide(replace(state, scope=Scope(value)), ctx)
        case _, "cancel":
            return StepResult(None, (replies.note("cancelled", state.language, ctx.settings),))
        case Step.CONFIRM_WITHDRAW, "yes":
            return StepResult(replace(state, updated_at=ctx.now), effect=WithdrawCase(state.withdraw))
        case Step.CONFIRM_WITHDRAW, "no":
            return StepResult(None, (withdrawal.kept(state.withdraw, state.language),))
        case Step.OFFER_NEXT_OPENING, "urgent":
            return _ask(state.ask(Step.CHOOSE_CATEGORY, ctx.now, suggestions=ALL_CATEGORIES), ctx)
        case Step.OFFER_NEXT_OPENING, "page":
            fee_text = replies.cost_text(state, Step.CONFIRM_FEE, ctx.settings, when=ctx.when_in(state.language))
            return _ask(state.ask(Step.CONFIRM_FEE, ctx.now, cost_text=f"{state.cost_text}\n\n{fee_text}"), ctx)
        case (Step.OFFER_ONCALL, "page") | (Step.CONFIRM_FEE, "accept"):
            if ctx.hours.is_open(ctx.now):  # answered after we opened again: nobody is paged, no number needed
                return _create(state, ctx, page=True, answer=answer, accepted=True)
            return _ask(state.ask(Step.ASK_PHONE, ctx.now, cost_answer=answer, cost_answered_at=ctx.now), ctx)
        case Step.ASK_PHONE, "skip":
            return _create(state, ctx, page=True, answer=state.cost_answer, accepted=True)
        case _, "next":
            return _create(state, ctx, page=False, answer=answer, accepted=False)
    return _ask(state, ctx, [text("intake.unknown_choice", state.language)])


def _on_phone(state: Intake, typed: str, ctx: Context, notes: list[str]) -> StepResult:
    """The number on-call can ring back on; asked again once if it does not look like one, then left out.
    An empty answer skips it, like the button."""
    phone = phone_number(typed)
    if not typed.strip():
        return _create(state, ctx, page=True, answer=state.cost_answer, accepted=True)
    if phone is None and state.phone_tries == 0:
        again = replace(state, phone_tries=1, updated_at=ctx.now)
        return _ask(again, ctx, [*notes, text("intake.phone.again", state.language)])
    return _create(state, ctx, page=True, answer=state.cost_answer, accepted=True, phone=phone or "")


def _after_category(state: Intake, ctx: Context, notes: Sequence[str] = ()) -> StepResult:
    category = state.category or Category.OTHER
    if needs_scope(category, state.scope):
        return _ask(state.ask(Step.ASK_SCOPE, ctx.now, category=category), ctx, notes)
    return _decide(replace(state, category=category), ctx, notes)


def _decide(state: Intake, ctx: Context, notes: Sequence[str] = ()) -> StepResult:
    """Open: create the case now. Closed: show what on-call costs and offer the free case first."""
    category = state.category or Category.OTHER
    state = replace(state, category=category)
    if ctx.hours.is_open(ctx.now):
        return _create(state, ctx, page=False, answer="", accepted=False, notes=notes)
    step = Step.OFFER_ONCALL if is_critical(category, state.scope) else Step.OFFER_NEXT_OPENING
    shown = replies.understood(state, replies.cost_text(state, step, ctx.settings, when=ctx.when_in(state.language)))
    # Every cost text shown in this conversation is recorded, in order (e.g. the free-case offer before
    # "Det er akut" led to a critical category).
    shown_so_far = f"{state.cost_text}\n\n{shown}" if state.cost_text else shown
    first_shown = state.cost_shown_at or ctx.now
    return _ask(state.ask(step, ctx.now, cost_text=shown_so_far, cost_shown_at=first_shown), ctx, notes)


def _create(
    state: Intake,
    ctx: Context,
    *,
    page: bool,
    answer: str,
    accepted: bool,
    phone: str = "",
    notes: Sequence[str] = (),
) -> StepResult:
    category = state.category or Category.OTHER
    critical = is_critical(category, state.scope)
    open_now = ctx.hours.is_open(ctx.now)
    cost = None
    if state.cost_text and state.cost_shown_at is not None:
        terms = applicable_costs(ctx.settings.costs, critical=critical, open_now=False).terms
        cost = CostAnswer(
            terms=tuple(str(t) for t in terms),
            shown_text=state.cost_text,
            answer=answer,
            accepted=accepted,
            shown_at=state.cost_shown_at,
            answered_at=state.cost_answered_at or ctx.now,
        )
    page = page and not open_now  # answered after we opened again: handled in normal hours, no surcharge
    new = NewCase(
        reporter=ctx.reporter,
        customer=ctx.customer,
        description=state.description,
        category=category,
        confidence=state.confidence,
        scope=state.scope,
        critical=critical,
        after_hours=not open_now,
        cost=cost,
        page_requested=page,
        callback_phone=phone,
        triaged_as=state.triaged_as,
    )
    done = replace(state, step=Step.DONE, updated_at=ctx.now)
    return StepResult(done, effect=CreateCase(new, page=page, notes=tuple(notes)))
