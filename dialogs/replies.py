"""The messages of the intake conversation, built from the state and the catalogs.

Rendering is a pure function of the state and the moment, so any question can be asked again
exactly (after "status", a stale button, or a restart).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.cases import Case, CaseStatus, EventKind
from bot.categories import SCOPE_DEPENDENT, Category, Scope
from bot.config import Settings
from bot.costs import describe_past, describe_when, format_money
from bot.hours import OpeningHours
from bot.i18n import text
from bot.messages import Choice, Fact, Message
from dialogs.matching import URGENT_WORDS, is_follow_up, pick, yes_or_no
from dialogs.state import Intake, Step

KEY = "intake"  # every question and outcome replaces the previous one where the platform allows
CHOICE_PREFIX = "intake:"
MAX_LISTED = 10  # cases shown for "status", newest first
MAX_PROBLEM = 60  # an "other" case is named by the employee's own words, cut to this many characters
ALL_CATEGORIES = tuple(c for c in Category if c is not Category.OTHER)


@dataclass(frozen=True)
class Opening:
    """The next opening in words: `text` for sentences, `short` for buttons ("28/12 kl. 8")."""

    text: str
    short: str


@dataclass(frozen=True)
class Option:
    """One answer to the current question: id, button label, other words that mean the same, and whether
    a typed yes or no ("ja ring til vagten", "nej tak") stands for it (`means`)."""

    id: str
    label: str
    words: tuple[str, ...] = ()
    style: str = ""
    means: bool | None = None


# Typed answers besides the button labels, in both languages.
_YES = ("ja", "jep", "jo", "yes", "yep", "y", "j", "korrekt", "rigtigt", "det passer", "correct", "right")
_NO = ("nej", "no", "nope", "n", "forkert", "wrong", "andet", "noget andet", "something else")
# Words that may follow a typed "ja"/"nej" at a question without changing what it says.
_CONFIRMING = ("passer", "korrekt", "rigtigt", "rigtig", "that's", "thats", "is", "right", "correct")
_DENYING = (*_CONFIRMING, "ikke", "not", "isn't", "forkert", "wrong", "noget", "andet", "something", "else")
_PAGING = ("ring", "tilkald", "kald", "vagten", "vagt", "teknikeren", "til", "på", "nu", "straks", "call", "page")
_PAGING += ("them", "him", "her", "the", "on-call", "technician", "now", "right", "away", "go", "ahead")
_ACCEPTING = (*_PAGING, "jeg", "vi", "accepterer", "accepter", "godkender", "prisen", "gebyret", "betaler", "i")
_ACCEPTING += ("accept", "agree", "the", "price", "fee", "we", "we'll", "will", "pay")
_WAITING = ("vent", "vente", "kan", "det", "opret", "en", "sag", "sagen", "til", "i", "morgen", "wait", "can", "it")
_WAITING += ("create", "a", "case", "until", "for", "tomorrow")
_SKIPPING = ("spring over", "skip", "nej", "no", "nej tak", "no thanks", "ingen", "har ikke", "none", "drop it")
_NEXT = ("nej", "no", "sag", "case", "vent", "wait", "det kan vente", "it can wait")
_CREATE = ("opret", "opret sag", "sag", "case", "create", "create case", "det kan vente", "it can wait")
_ALSO: Mapping[Step, tuple[tuple[str, ...], tuple[str, ...]]] = {  # (after a yes, after a no)
    Step.CONFIRM_CATEGORY: (_CONFIRMING, _DENYING),
    Step.OFFER_ONCALL: (_PAGING, _WAITING),
    Step.OFFER_NEXT_OPENING: ((), _WAITING),
    Step.CONFIRM_FEE: (_ACCEPTING, _WAITING),
    Step.ASK_PHONE: ((), ("tak", "thanks", "spring", "over", "skip", "it")),
}
_SCOPE_WORDS: Mapping[Scope, tuple[str, ...]] = {
    Scope.ME: ("mig", "kun mig", "bare mig", "me", "only me", "just me"),
    Scope.SOME: ("flere", "flere af os", "nogle", "et par stykker", "several", "several of us", "some", "a few"),
    Scope.ALL: ("alle", "alle sammen", "hele kontoret", "everyone", "everybody", "all", "all of us"),
}
_NOT_THAT = ("forkert", "wrong", "andet", "noget andet", "det er noget andet", "something else")
# Questions after a category triage was sure of: they say what was understood and let the employee correct it.
ASSUMING = (Step.ASK_SCOPE, Step.OFFER_ONCALL, Step.OFFER_NEXT_OPENING)


def choice_id(state: Intake, option: str) -> str:
    return f"{CHOICE_PREFIX}{state.seq}:{option}"


def parse_choice(choice: str) -> tuple[int, str] | None:
    """(question number, option) of an intake button id; None for anything else."""
    if not choice.startswith(CHOICE_PREFIX):
        return None
    seq, _, option = choice.removeprefix(CHOICE_PREFIX).partition(":")
    return (int(seq), option) if seq.isdigit() and option else None


def when_next_open(hours: OpeningHours, now: datetime, language: str) -> Opening:
    """The next opening in words: "i morgen kl. 08:00", "mandag den 28. december kl. 08:00"."""
    moment = hours.next_open(now)
    return Opening(describe_when(moment, now, language), describe_when(moment, now, language, short=True))


def category_label(category: Category, language: str) -> str:
    return text(f"intake.category.{category}", language)


def problem_label(case: Case, language: str) -> str:
    """What the case is about: the category, or for "other" the employee's own first words."""
    first = case.description.strip().splitlines()[0].strip() if case.description.strip() else ""
    if case.category is not Category.OTHER or not first:
        return category_label(case.category, language)
    return first if len(first) <= MAX_PROBLEM else first[: MAX_PROBLEM - 1].rstrip() + "…"


def offers_urgent(state: Intake) -> bool:
    """Whether the free-case question offers "Det er akut": the bot decided "not critical" on its own and
    the employee has not yet seen every critical category to correct it with."""
    return state.category is Category.OTHER and state.suggestions != ALL_CATEGORIES


def options(state: Intake, *, when: Opening) -> tuple[Option, ...]:
    """The answers the current question offers, in the order they are shown."""
    lang = state.language
    cancel = Option("cancel", text("intake.cancel", lang))
    match state.step:
        case Step.CONFIRM_CATEGORY:
            return (
                Option("yes", text("intake.yes", lang), _YES, "primary", means=True),
                Option("no", text("intake.no_other", lang), _NO, means=False),
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
            return (
                *(
                    Option(f"scope:{s}", text(f"intake.scope.{s}", lang), _SCOPE_WORDS[s])
                    for s in (Scope.ME, Scope.SOME, Scope.ALL)
                ),
                *_correcting(state),
            )
        case Step.OFFER_ONCALL:
            paging = ("ja", "yes", "tilkald", "tilkald vagten", "ring til vagten", "call", "call them")
            return (
                Option("page", text("intake.cost.page", lang), paging, "danger", means=True),
                Option("next", text("intake.cost.next_opening", lang, when=when.short), _NEXT, means=False),
                *_correcting(state),
                cancel,
            )
        case Step.OFFER_NEXT_OPENING:
            urgent = (Option("urgent", text("intake.cost.urgent", lang), URGENT_WORDS),) if offers_urgent(state) else ()
            return (
                # "nej tak" here turns down the paid on-call and so takes the free case
                Option("next", text("intake.cost.create_next", lang, when=when.short), _CREATE, "primary", means=False),
                *urgent,
                Option("page", text("intake.cost.page_anyway", lang), ("tilkald", "vagten", "call"), "danger"),
                *_correcting(state),
                cancel,
            )
        case Step.CONFIRM_FEE:
            accepting = ("ja", "yes", "accepter", "accepterer", "jeg accepterer", "accept", "i accept")
            return (
                Option("accept", text("intake.cost.accept_fee", lang), accepting, "danger", means=True),
                Option("next", text("intake.cost.next_opening", lang, when=when.short), _NEXT, means=False),
                cancel,
            )
        case Step.ASK_PHONE:
            return (Option("skip", text("intake.phone.skip", lang), _SKIPPING, means=False),)
        case Step.CONFIRM_WITHDRAW:
            return (
                Option("yes", text("cancel.yes", lang), _YES, "danger", means=True),
                Option("no", text("cancel.no", lang), _NO, means=False),
            )
    return ()


def _correcting(state: Intake) -> tuple[Option, ...]:
    """ "Det er noget andet" under a question that rests on a category the employee has not confirmed."""
    if not state.assumed or state.step not in ASSUMING:
        return ()
    return (Option("not_that", text("intake.not_that", state.language), _NOT_THAT),)


def option_words(state: Intake, *, when: Opening) -> dict[str, tuple[str, ...]]:
    """What may be typed for each option: its label, its synonyms and its position ("1", "2", ...)."""
    return {o.id: (o.label, *o.words, str(i)) for i, o in enumerate(options(state, when=when), start=1)}


def typed_option(state: Intake, typed: str, *, when: Opening) -> str | None:
    """The option a typed answer stands for, or None when it is not clearly one of them.

    A yes or no with a few words that only repeat it counts ("ja ring til vagten" is "Ja, tilkald
    vagten"); an option that commits the employee to a cost is never matched by a near miss.
    """
    offered = options(state, when=when)
    also_yes, also_no = _ALSO.get(state.step, ((), ()))
    said = yes_or_no(typed, also_yes=also_yes, also_no=also_no)
    meant = [o.id for o in offered if said is not None and o.means is said]
    if meant:
        return meant[0]
    return pick(typed, option_words(state, when=when), exact=[o.id for o in offered if o.style == "danger"])


def cost_text(state: Intake, step: Step, settings: Settings, *, when: Opening) -> str:
    """The exact cost text of a cost question; it is also what is recorded on the case."""
    costs = settings.costs
    language = state.language
    percent = costs.surcharge_percent
    fee = format_money(costs.oncall_fee, language, costs.currency)
    match step:
        case Step.OFFER_ONCALL:
            parts = ("intake.cost.closed", "intake.cost.critical_surcharge", "intake.cost.critical_question")
        case Step.OFFER_NEXT_OPENING:
            category = state.category if state.category in SCOPE_DEPENDENT else Category.OTHER
            parts = ("intake.cost.not_critical", f"intake.cost.why.{category}", "intake.cost.free_choice")
            parts += ("intake.cost.fee",)
        case Step.CONFIRM_FEE:
            parts = ("intake.cost.confirm_fee",)
        case _:
            return ""
    return "\n\n".join(text(p, language, when=when.text, percent=percent, fee=fee) for p in parts)


def understood(state: Intake, body: str) -> str:
    """`body` after what the bot understood, when the category is one triage was sure of and nobody confirmed."""
    if not state.assumed or state.category is None:
        return body
    about = text(f"intake.about.{state.category}", state.language)
    return f"{text('intake.understood', state.language, about=about)} {body}"


def question(state: Intake, settings: Settings, *, when: Opening, notes: Sequence[str] = ()) -> Message:
    """The current question, with any notes (restart, shortened text, stale button) before it."""
    lang = state.language
    match state.step:
        case Step.DESCRIBE:
            body = text("intake.ask_problem", lang)
        case Step.DESCRIBE_AGAIN:
            # "det virker stadig ikke" says nothing about what; it says that something is back
            body = text("intake.follow_up.ask_number" if is_follow_up(state.description) else "intake.ask_again", lang)
        case Step.CONFIRM_CATEGORY if (number := follows_up_on(state)) is not None:
            body = text("intake.follow_up.confirm", lang, number=number)
        case Step.CONFIRM_CATEGORY:  # a conversation saved by a version that confirmed every category
            about = text(f"intake.about.{state.category or Category.OTHER}", lang)
            body = text("intake.confirm", lang, about=about)
        case Step.CHOOSE_CATEGORY:
            body = text("intake.choose_all" if state.suggestions == ALL_CATEGORIES else "intake.choose", lang)
        case Step.ASK_SCOPE:
            body = text("intake.ask_scope", lang)
        case Step.ASK_PHONE:
            body = text("intake.phone.ask", lang)
        case Step.CONFIRM_WITHDRAW:
            body = state.withdraw_text
        case _:
            body = cost_text(state, state.step, settings, when=when)
    if state.step in ASSUMING:
        body = understood(state, body)
    choices = tuple(Choice(choice_id(state, o.id), o.label, o.style) for o in options(state, when=when))
    return Message(
        text="\n\n".join((*notes, body)),
        choices=choices,
        expects_text=state.step in (Step.DESCRIBE, Step.DESCRIBE_AGAIN, Step.ASK_PHONE),
        key=KEY,
        language=lang,
    )


def note(key: str, language: str, settings: Settings, **params: object) -> Message:
    """A plain answer (cancelled, finished, not found) that also clears the last question's buttons."""
    return plain(text(f"intake.{key}", language, **provider_params(settings), **params), language)


def plain(body: str, language: str) -> Message:
    """An answer without buttons that replaces the last question's (so its buttons are cleared)."""
    return Message(text=body, key=KEY, language=language)


def provider_params(settings: Settings) -> dict[str, str]:
    """The provider's phone line, its menu choice and name, as the catalogs' texts name them."""
    provider = settings.provider
    return {"phone": provider.phone, "menu": provider.phone_menu, "provider": provider.name}


def start(
    language: str, settings: Settings, *, notes: Sequence[str] = (), greet: bool = True, help: bool = False
) -> Message:
    """The opening: who the bot is (on a fresh start), what is wrong, and the commands (all of them, for help)."""
    lines = [*notes]
    if greet:
        lines.append(text("intake.greeting", language, provider=settings.provider.name))
    commands = "intake.help_commands" if help else "intake.commands"
    lines += [text("intake.ask_problem", language), text(commands, language)]
    return Message(text="\n\n".join(lines), expects_text=True, key=KEY, language=language)


def help_message(language: str, settings: Settings, *, open_now: bool) -> Message:
    """What the bot does and its commands; the phone line only in normal hours (after hours it is the paid
    on-call line, which the conversation itself offers with its cost)."""
    lines = [text("intake.help", language, provider=settings.provider.name), text("intake.help_commands", language)]
    if open_now:
        lines.append(text("intake.urgent_phone", language, **provider_params(settings)))
    return Message(text="\n\n".join(lines), language=language)


def follow_up_description(number: int, typed: str, language: str) -> str:
    """The description of a new case about a problem that came back: "Følger op på sag 10001: ..."."""
    return text("intake.follow_up.description", language, number=number, text=typed)


def follows_up_on(state: Intake) -> int | None:
    """The case a conversation follows up on (its description starts "Følger op på sag 10001"), or None."""
    prefix, marker, _ = text("intake.follow_up.description", state.language, number="\0", text="").partition("\0")
    first = state.description.partition("\n")[0]
    digits = first.removeprefix(prefix).partition(":")[0] if marker and first.startswith(prefix) else ""
    return int(digits) if digits.isdigit() else None


def was_paged(case: Case) -> bool:
    return any(e.kind in (EventKind.PAGED, EventKind.LINKED) for e in case.history)


def outcome(
    case: Case, settings: Settings, language: str, *, when: Opening, notes: Sequence[str] = (), paging: bool = False
) -> Message:
    """The message that ends the conversation: the case number in the title and the facts, and what happens next.

    `paging`: on-call is being paged right now (the outcome follows as an update); a case that asked
    for a page without it could not be paged, and the employee is told to phone.
    """
    params = {**provider_params(settings), "when": when.text, "callback": case.callback_phone}
    lines = [*notes]
    if case.linked_to is not None:
        # A colleague's page already covers it: one answer that says so, not "on-call has been called" too.
        lines.append(_linked(case, language))
        status = _status_label(case, language, when=when.text)
    elif case.page_requested:
        key = ("paging_phone" if case.callback_phone else "paging") if paging else "page_failed"
        lines.append(text(f"intake.done.{key}", language, **params))
        status = text("intake.status.paging" if paging else f"intake.status.{case.status}", language)
    elif case.after_hours:
        # No phone line here: after hours it is the paid on-call line, which the employee just declined.
        lines += [text("intake.done.next_opening", language, **params), text("intake.done.write_again", language)]
        status = text("intake.status.waiting", language, when=when.text)
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
    lines.append(text("intake.done.reference", language, number=case.number))
    return Message(
        text="\n\n".join(lines),
        title=text("intake.done.title", language, number=case.number),
        facts=(
            Fact(text("intake.fact.number", language), str(case.number)),
            Fact(text("intake.fact.category", language), problem_label(case, language)),
            Fact(text("intake.fact.status", language), status),
        ),
        key=KEY,
        language=language,
    )


def _linked(case: Case, language: str) -> str:
    acknowledged = next((e for e in reversed(case.history) if e.kind is EventKind.ACKNOWLEDGED), None)
    if case.status is CaseStatus.ACKNOWLEDGED and acknowledged is not None:
        name = acknowledged.data.get("name", acknowledged.actor)
        return text("intake.done.linked_acknowledged", language, first=case.linked_to, name=name)
    return text("intake.done.linked", language, first=case.linked_to)


def _status_label(case: Case, language: str, *, when: str) -> str:
    if case.status is CaseStatus.OPEN and was_paged(case):
        return text("intake.status.paged", language)
    if case.status is CaseStatus.OPEN and _being_paged(case):
        return text("intake.status.paging", language)
    return text(f"intake.status.{case.status}", language, when=when)


def _being_paged(case: Case) -> bool:
    """Accepted for on-call and not yet paged, linked or failed: the page is on its way (sent after the answer)."""
    tried = (EventKind.PAGED, EventKind.LINKED, EventKind.PAGE_FAILED)
    return case.page_requested and case.linked_to is None and not any(e.kind in tried for e in case.history)


def case_state(case: Case, language: str, *, now: datetime, hours: OpeningHours, zone: tzinfo) -> str:
    """Where a case stands, in words, with the moment it got there: "Behandles mandag kl. 8.00",
    "Vagten tilkaldt kl. 22.35", "Kontaktet af vagten kl. 22.41", "Løst kl. 23.10".

    A case waiting for the next opening names the first opening after it was made, while that is ahead.
    """

    def since(*kinds: EventKind) -> str:
        event = next((e for e in case.history if e.kind in kinds), None)
        return describe_past(event.at.astimezone(zone), now, language) if event else ""

    key, when = "open", ""
    if case.status.closed:
        key, when = f"{case.status}_at", since(EventKind(case.status.value))
    elif case.status is CaseStatus.ACKNOWLEDGED:
        key = "acknowledged_at" if case.after_hours else "acknowledged_support_at"
        when = since(EventKind.ACKNOWLEDGED)
    elif was_paged(case):
        key, when = "paged_at", since(EventKind.PAGED, EventKind.LINKED)
    elif _being_paged(case):
        key = "paging"
    elif case.after_hours and not case.page_requested and (opening := hours.next_open(case.created_at)) > now:
        return text("intake.status.waiting", language, when=describe_when(opening.astimezone(zone), now, language))
    if not when and key != "paging":
        key = str(case.status)  # an event lost to an old version: the state without its moment
    return text(f"intake.status.{key}", language, when=when)


def case_summary(case: Case, language: str, *, now: datetime, hours: OpeningHours, zone: tzinfo) -> Message:
    """One case, for "status 10042"."""
    created = describe_when(case.created_at.astimezone(zone), now, language)
    return Message(
        text=problem_label(case, language),
        title=text("intake.done.title", language, number=case.number),
        facts=(
            Fact(text("intake.fact.number", language), str(case.number)),
            Fact(text("intake.fact.category", language), category_label(case.category, language)),
            Fact(text("intake.fact.status", language), case_state(case, language, now=now, hours=hours, zone=zone)),
            Fact(text("intake.fact.created", language), created),
        ),
        language=language,
    )


def case_list(
    cases: Sequence[Case], language: str, *, now: datetime, hours: OpeningHours, zone: tzinfo, days: int
) -> Message:
    """The employee's cases, newest first: those of the last `days` days, closed ones too, and any still open."""
    if not cases:
        return Message(text=text("intake.status.none", language, days=days), language=language)
    lines = [text("intake.status.list", language, days=days)]
    lines += [
        text(
            "intake.status.line",
            language,
            number=c.number,
            category=problem_label(c, language),
            status=case_state(c, language, now=now, hours=hours, zone=zone),
        )
        for c in cases[:MAX_LISTED]
    ]
    return Message(text="\n".join(lines), language=language)


def not_found(number: int, language: str, settings: Settings) -> Message:
    return Message(
        text=text("intake.status.not_found", language, number=number, **provider_params(settings)), language=language
    )
