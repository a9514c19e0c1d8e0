"""The messages of the intake conversation, built from the state and the catalogs.

Rendering is a pure function of the state and the moment, so any question can be asked again
exactly (after "status", a stale button, or a restart).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.cases import Case, CaseStatus, EventKind
from bot.categories import Category, Scope
from bot.config import Settings
from bot.costs import describe_when, format_money
from bot.hours import OpeningHours
from bot.i18n import text
from bot.messages import Choice, Fact, Message
from dialogs.state import Intake, Step

KEY = "intake"  # every question and outcome replaces the previous one where the platform allows
CHOICE_PREFIX = "intake:"
MAX_LISTED = 10  # open cases shown for "status", newest first
ALL_CATEGORIES = tuple(c for c in Category if c is not Category.OTHER)


@dataclass(frozen=True)
class Option:
    """One answer to the current question: id, button label, and other words that mean the same."""

    id: str
    label: str
    words: tuple[str, ...] = ()
    style: str = ""


# Typed answers besides the button labels, in both languages.
_YES = ("ja", "jep", "jo", "yes", "yep", "y", "j", "korrekt", "rigtigt", "det passer", "correct", "right")
_NO = ("nej", "no", "nope", "n", "forkert", "wrong", "andet", "noget andet", "something else")
_SCOPE_WORDS: Mapping[Scope, tuple[str, ...]] = {
    Scope.ME: ("mig", "kun mig", "bare mig", "me", "only me", "just me"),
    Scope.SOME: ("flere", "nogle", "et par stykker", "several", "some", "a few"),
    Scope.ALL: ("alle", "alle sammen", "hele kontoret", "everyone", "everybody", "all", "all of us"),
}


def choice_id(state: Intake, option: str) -> str:
    return f"{CHOICE_PREFIX}{state.seq}:{option}"


def parse_choice(choice: str) -> tuple[int, str] | None:
    """(question number, option) of an intake button id; None for anything else."""
    if not choice.startswith(CHOICE_PREFIX):
        return None
    seq, _, option = choice.removeprefix(CHOICE_PREFIX).partition(":")
    return (int(seq), option) if seq.isdigit() and option else None


def when_next_open(hours: OpeningHours, now: datetime, language: str) -> str:
    """The next opening in words: "i morgen kl. 08:00", "mandag kl. 08:00"."""
    return describe_when(hours.next_open(now), now, language)


def category_label(category: Category, language: str) -> str:
    return text(f"intake.category.{category}", language)


def options(state: Intake, *, when: str) -> tuple[Option, ...]:
    """The answers the current question offers, in the order they are shown."""
    lang = state.language
    cancel = Option("cancel", text("intake.cancel", lang))
    match state.step:
        case Step.CONFIRM_CATEGORY:
            return (
                Option("yes", text("intake.yes", lang), _YES, "primary"),
                Option("no", text("intake.no_other", lang), _NO),
            )
        case Step.CHOOSE_CATEGORY:
            return (
                *(
                    Option(f"cat:{c}", category_label(c, lang), (text(f"intake.about.{c}", lang),))
                    for c in state.suggestions
                ),
                Option(f"cat:{Category.OTHER}", text("intake.something_else", lang), ("andet", "other")),
            )
        case Step.ASK_SCOPE:
            return tuple(
                Option(f"scope:{s}", text(f"intake.scope.{s}", lang), _SCOPE_WORDS[s])
                for s in (Scope.ME, Scope.SOME, Scope.ALL)
            )
        case Step.OFFER_ONCALL:
            return (
                Option("page", text("intake.cost.page", lang), ("ja", "yes", "tilkald", "call"), "danger"),
                Option("next", text("intake.cost.next_opening", lang, when=when), ("nej", "no", "sag", "case")),
                cancel,
            )
        case Step.OFFER_NEXT_OPENING:
            return (
                Option("next", text("intake.cost.create_next", lang, when=when), ("opret", "sag", "case"), "primary"),
                Option("page", text("intake.cost.page_anyway", lang), ("tilkald", "vagten", "call"), "danger"),
                cancel,
            )
        case Step.CONFIRM_FEE:
            return (
                Option("accept", text("intake.cost.accept_fee", lang), ("ja", "yes", "accepter", "accept"), "danger"),
                Option("next", text("intake.cost.next_opening", lang, when=when), ("nej", "no", "sag", "case")),
                cancel,
            )
    return ()


def option_words(state: Intake, *, when: str) -> dict[str, tuple[str, ...]]:
    """What may be typed for each option: its label, its synonyms and its position ("1", "2", ...)."""
    return {o.id: (o.label, *o.words, str(i)) for i, o in enumerate(options(state, when=when), start=1)}


def cost_text(step: Step, settings: Settings, language: str, *, when: str) -> str:
    """The exact cost text of a cost question; it is also what is recorded on the case."""
    costs = settings.costs
    percent = costs.surcharge_percent
    fee = format_money(costs.oncall_fee, language, costs.currency)
    match step:
        case Step.OFFER_ONCALL:
            parts = ("intake.cost.closed", "intake.cost.surcharge", "intake.cost.critical_question")
        case Step.OFFER_NEXT_OPENING:
            parts = ("intake.cost.not_critical", "intake.cost.free_choice", "intake.cost.fee")
        case Step.CONFIRM_FEE:
            parts = ("intake.cost.confirm_fee",)
        case _:
            return ""
    return "\n\n".join(text(p, language, when=when, percent=percent, fee=fee) for p in parts)


def question(state: Intake, settings: Settings, *, when: str, notes: Sequence[str] = ()) -> Message:
    """The current question, with any notes (restart, shortened text, stale button) before it."""
    lang = state.language
    match state.step:
        case Step.DESCRIBE:
            body = text("intake.ask_problem", lang)
        case Step.DESCRIBE_AGAIN:
            body = text("intake.ask_again", lang)
        case Step.CONFIRM_CATEGORY:
            about = text(f"intake.about.{state.category or Category.OTHER}", lang)
            body = text("intake.confirm", lang, about=about)
        case Step.CHOOSE_CATEGORY:
            body = text("intake.choose_all" if state.suggestions == ALL_CATEGORIES else "intake.choose", lang)
        case Step.ASK_SCOPE:
            body = text("intake.ask_scope", lang)
        case _:
            body = cost_text(state.step, settings, lang, when=when)
    choices = tuple(Choice(choice_id(state, o.id), o.label, o.style) for o in options(state, when=when))
    return Message(
        text="\n\n".join((*notes, body)),
        choices=choices,
        expects_text=state.step in (Step.DESCRIBE, Step.DESCRIBE_AGAIN),
        key=KEY,
    )


def note(key: str, language: str, settings: Settings, **params: object) -> Message:
    """A plain answer (cancelled, finished, not found) that also clears the last question's buttons."""
    return Message(text=text(f"intake.{key}", language, **_common(settings), **params), key=KEY)


def _common(settings: Settings) -> dict[str, str]:
    provider = settings.provider
    return {"phone": provider.phone, "menu": provider.phone_menu, "provider": provider.name}


def start(language: str, settings: Settings, *, notes: Sequence[str] = (), greet: bool = True) -> Message:
    """The opening: who the bot is (on a fresh start), what is wrong, and the commands."""
    lines = [*notes]
    if greet:
        lines.append(text("intake.greeting", language, provider=settings.provider.name))
    lines += [text("intake.ask_problem", language), text("intake.commands", language)]
    return Message(text="\n\n".join(lines), expects_text=True, key=KEY)


def help_message(language: str, settings: Settings) -> Message:
    lines = (
        text("intake.help", language, provider=settings.provider.name),
        text("intake.help_commands", language),
        text("intake.urgent_phone", language, **_common(settings)),
    )
    return Message(text="\n\n".join(lines))


def was_paged(case: Case) -> bool:
    return any(e.kind in (EventKind.PAGED, EventKind.LINKED) for e in case.history)


def outcome(case: Case, settings: Settings, language: str, *, when: str, notes: Sequence[str] = ()) -> Message:
    """The message that ends the conversation: the case number, prominently, and what happens next."""
    params = {**_common(settings), "number": str(case.number), "when": when}
    lines = [*notes]
    if case.page_requested:
        paged = was_paged(case)
        lines.append(text("intake.done.paged" if paged else "intake.done.page_failed", language, **params))
        status = text("intake.status.paged", language) if paged else _status_label(case, language, when=when)
    elif case.after_hours:
        lines += [
            text("intake.done.next_opening", language, **params),
            text("intake.urgent_phone", language, **params),
        ]
        status = text("intake.status.waiting", language, when=when)
    else:
        minutes = settings.cases.review_minutes
        review = (
            text("intake.done.review_hour", language)
            if minutes == 60
            else text("intake.done.review_minutes", language, minutes=minutes)
        )
        key = "intake.done.open_critical" if case.critical else "intake.done.open"
        lines += [text(key, language, review=review, **params), text("intake.urgent_phone", language, **params)]
        status = text("intake.status.open", language)
    lines.append(text("intake.done.reference", language))
    return Message(
        text="\n\n".join(lines),
        title=text("intake.done.title", language, number=case.number),
        facts=(
            Fact(text("intake.fact.number", language), str(case.number)),
            Fact(text("intake.fact.category", language), category_label(case.category, language)),
            Fact(text("intake.fact.status", language), status),
        ),
        key=KEY,
    )


def _status_label(case: Case, language: str, *, when: str) -> str:
    if case.status is CaseStatus.OPEN and was_paged(case):
        return text("intake.status.paged", language)
    return text(f"intake.status.{case.status}", language, when=when)


def case_summary(case: Case, language: str, zone: tzinfo) -> Message:
    """One case, for "status 10042"."""
    return Message(
        text=category_label(case.category, language),
        title=text("intake.done.title", language, number=case.number),
        facts=(
            Fact(text("intake.fact.number", language), str(case.number)),
            Fact(text("intake.fact.category", language), category_label(case.category, language)),
            Fact(text("intake.fact.status", language), _status_label(case, language, when="")),
            Fact(text("intake.fact.created", language), case.created_at.astimezone(zone).strftime("%d-%m-%Y %H:%M")),
        ),
    )


def case_list(cases: Sequence[Case], language: str) -> Message:
    """The employee's open cases, newest first."""
    if not cases:
        return Message(text=text("intake.status.none", language))
    lines = [text("intake.status.list", language)]
    cases = cases[:MAX_LISTED]
    lines += [
        text(
            "intake.status.line",
            language,
            number=c.number,
            category=category_label(c.category, language),
            status=_status_label(c, language, when=""),
        )
        for c in cases
    ]
    return Message(text="\n".join(lines))


def not_found(number: int, language: str, settings: Settings) -> Message:
    return Message(text=text("intake.status.not_found", language, number=number, **_common(settings)))
