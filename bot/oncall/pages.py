"""How a case reads on a page, a team-channel post and an update to the reporter.

A technician woken at night gets everything on one message with one obvious button; the same
message is re-rendered from the case (its status and history) whenever something changes, so every
copy of a page, wherever it was sent, can be updated in place to say who took it and when.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from bot.cases import Case, CaseEvent, CaseStatus, EventKind, Reporter
from bot.config import Settings
from bot.costs import CostTerm, format_money
from bot.hours import OpeningHours
from bot.i18n import language_of, text
from bot.messages import Choice, Fact, Mention, Message

ACK = "ack"
RESOLVE = "resolve"
# "Løst" asks once; this is the button on that question that resolves the case.
CONFIRM_RESOLVE = "confirm_resolve"
ACTIONS = (ACK, RESOLVE, CONFIRM_RESOLVE)
CHOICE_PREFIX = "oncall:"
# The button on "your case is resolved" that the intake dialog answers ("it still does not work").
FOLLOW_UP_PREFIX = "intake:followup:"
# Longer descriptions are cut on the page (visibly); the case keeps the full text.
DESCRIPTION_LIMIT = 400
BABEL_LOCALES = {"da": "da_DK", "en": "en_GB"}


def choice_id(action: str, number: int) -> str:
    """The button id a page carries, e.g. "oncall:ack:10023"."""
    return f"{CHOICE_PREFIX}{action}:{number}"


def is_oncall_choice(choice: str) -> bool:
    """Whether a button press belongs to on-call (the dialog hands those to `OncallService.press`)."""
    return choice.startswith(CHOICE_PREFIX)


def follow_up_choice(number: int) -> str:
    """The id of the reporter's "Det virker stadig ikke" button on the update that case `number` is resolved."""
    return f"{FOLLOW_UP_PREFIX}{number}"


def parse_follow_up(choice: str) -> int | None:
    """The case number of a follow-up button id; None for any other id."""
    number = choice.removeprefix(FOLLOW_UP_PREFIX)
    return int(number) if choice.startswith(FOLLOW_UP_PREFIX) and number.isdigit() and len(number) <= 12 else None


def parse_choice(choice: str) -> tuple[str, int] | None:
    """(action, case number) of an on-call button id; None when it is not a well-formed one."""
    parts = choice.split(":")
    if len(parts) != 3 or f"{parts[0]}:" != CHOICE_PREFIX or parts[1] not in ACTIONS:
        return None
    if not parts[2].isdigit() or len(parts[2]) > 12:
        return None
    return parts[1], int(parts[2])


def last_event(case: Case, kind: EventKind) -> CaseEvent | None:
    return next((e for e in reversed(case.history) if e.kind is kind), None)


def linked_numbers(case: Case) -> list[int]:
    """The later cases linked to this one (duplicate reports of the same outage)."""
    return [int(e.data["case"]) for e in case.history if e.kind is EventKind.LINKED and "case" in e.data]


def format_moment(moment: datetime, zone: ZoneInfo, language: str, *, short: bool = False) -> str:
    """ "onsdag 25. nov. kl. 22:14" (or "22:14" when `short`) in the support time zone."""
    lang = language_of(language)
    pattern = text("oncall.format.time" if short else "oncall.format.moment", lang)
    return format_datetime(moment.astimezone(zone), pattern, locale=BABEL_LOCALES[lang])


def status_line(case: Case, zone: ZoneInfo, language: str) -> str:
    """ "Kvitteret af Morten 22:17" / "Løst af ..." / "Annulleret ..."; empty while nobody has reacted."""
    kinds = {
        CaseStatus.ACKNOWLEDGED: (EventKind.ACKNOWLEDGED, "acknowledged"),
        CaseStatus.RESOLVED: (EventKind.RESOLVED, "resolved"),
        CaseStatus.CANCELLED: (EventKind.CANCELLED, "cancelled"),
    }
    if case.status not in kinds:
        return ""
    kind, key = kinds[case.status]
    event = last_event(case, kind)
    if event is None:
        return ""
    when = format_moment(event.at, zone, language, short=True)
    if kind is EventKind.CANCELLED and event.data.get("source") == "cli":  # the provider's own cancellation
        return text("cancel.page_by_provider", language, time=when, reason=event.data.get("reason", ""))
    return text(f"oncall.page.{key}", language, name=event.data.get("name", event.actor), time=when)


def page_message(case: Case, *, settings: Settings, language: str, note: str = "", team: bool = False) -> Message:
    """The page (or, with `team`, the team-channel post) for `case` in its current state.

    Args:
        note: why this copy was sent (escalation, reminder); replaced by the status once someone reacts.
    """
    zone = settings.hours.timezone
    status = status_line(case, zone, language)
    if team:
        title = text("oncall.page.title_team", language, number=case.number)
        note = _team_note(case, settings, language)
    else:
        title = text(_title_key(case), language, number=case.number)
    # One set of labels: the technician reads the category exactly as the employee chose it.
    category = text(f"intake.category.{case.category.value}", language)
    affected = text(f"oncall.affected.{case.scope.value}", language)
    headline = text("oncall.page.headline", language, customer=case.customer.name, category=category, affected=affected)
    facts = [
        Fact(text("oncall.fact.case", language), str(case.number)),
        # The number the reporter gave for a call back comes first: the chat may be down with the internet.
        *([Fact(text("oncall.fact.callback", language), case.callback_phone)] if case.callback_phone else []),
        Fact(text("oncall.fact.customer", language), _customer(case, language)),
        Fact(text("oncall.fact.category", language), category),
        Fact(text("oncall.fact.affected", language), affected),
        Fact(text("oncall.fact.description", language), shorten(case, language)),
        Fact(text("oncall.fact.reported_by", language), _reporter(case, language), _mention(case.reporter, language)),
        Fact(text("oncall.fact.reported_at", language), format_moment(case.created_at, zone, language)),
    ]
    if case.cost is not None or case.after_hours:
        facts.append(Fact(text("oncall.fact.cost", language), _cost(case, settings, language)))
    also = _also_reported(case, language)
    if also:
        facts.append(Fact(text("oncall.fact.also_reported", language), also))
    return Message(
        text="\n".join(line for line in (headline, status, note) if line),
        title=title,
        facts=tuple(facts),
        choices=_choices(case, language),
        key=f"{'team' if team else 'page'}:{case.number}",
        metadata={"case": str(case.number)},
    )


def reporter_message(key: str, case: Case, **params: object) -> Message:
    """An update to the employee who reported `case`, in their language (`oncall.reporter.<key>`).

    "Resolved" carries a "Det virker stadig ikke" button, so the promise to write again is easy to keep.
    """
    language = language_of(case.reporter.locale)
    choices = ()
    if case.status is CaseStatus.RESOLVED and key.startswith("resolved"):
        choices = (Choice(follow_up_choice(case.number), text("oncall.button.still_broken", language)),)
    return Message(
        text=text(f"oncall.reporter.{key}", language, number=case.number, **params),
        choices=choices,
        metadata={"case": str(case.number)},
    )


def confirm_resolve_message(case: Case, language: str) -> Message:
    """The one question before a case is resolved (its reporter is told and it closes); a case nobody has
    acknowledged yet says so, since resolving it unseen is more likely a slip of the finger."""
    key = "oncall.confirm.resolve" if case.status is CaseStatus.ACKNOWLEDGED else "oncall.confirm.unacknowledged"
    reporter = reporter_name(case.reporter, language)
    label = text("oncall.button.confirm_resolve", language)
    confirm = Choice(choice_id(CONFIRM_RESOLVE, case.number), label, "primary")
    return Message(
        text=text(key, language, number=case.number, reporter=reporter),
        choices=(confirm,),
        key=confirm_key(case.number),
        metadata={"case": str(case.number)},
    )


def confirm_key(number: int) -> str:
    """The key of the question before resolving: the answer to it replaces it where the platform can."""
    return f"confirm:{number}"


def technician_words(case: Case, name: str, words: str) -> Message:
    """A technician's message to the reporter, as typed, framed in the reporter's language with who wrote
    and that an answer in the chat reaches them."""
    language = language_of(case.reporter.locale)
    who = "" if case.after_hours else "_support"
    return Message(
        title=text(f"oncall.reporter.message_title{who}", language, name=name, number=case.number),
        text=f"{words}\n\n{text('oncall.reporter.message_answer', language, name=name)}",
        metadata={"case": str(case.number)},
    )


def reporter_words(case: Case, words: str, language: str) -> Message:
    """The reporter's answer, as typed, to the technician who wrote to them (in the technician's language)."""
    title = text("oncall.reply.title", language, reporter=reporter_name(case.reporter, language), number=case.number)
    return Message(title=title, text=words, metadata={"case": str(case.number), "thread": "reporter"})


def reporter_name(reporter: Reporter, language: str) -> str:
    """The reporter as the reader calls them; "Medarbejder uden navn (9ef6)" when the platform gave no name."""
    if reporter.display_name.strip():
        return reporter.display_name
    return text("oncall.page.unnamed", language, short=_short_id(reporter.user_id))


def join_names(names: list[str], language: str) -> str:
    """ "Mette", "Mette og Ole", "Mette, Ole og Sara"."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])}{text('oncall.page.cost_and', language)}{names[-1]}"


def shorten(case: Case, language: str) -> str:
    """The description as typed, cut visibly at a word boundary when it is too long for a page."""
    description = case.description.strip()
    if len(description) <= DESCRIPTION_LIMIT:
        return description
    cut = description[:DESCRIPTION_LIMIT]
    cut = cut.rsplit(maxsplit=1)[0] if " " in cut[DESCRIPTION_LIMIT // 2 :] else cut
    return f"{cut.rstrip(' ,.;:')}… {text('oncall.page.shortened', language, number=case.number)}"


def _title_key(case: Case) -> str:
    """Critical first; a page the customer paid the fee for says first that it is not critical, so a
    technician woken at night can decide whether it needs them out of bed now."""
    if case.critical:
        return "oncall.page.title_critical"
    if case.cost is not None and case.cost.accepted and CostTerm.ONCALL_FEE.value in case.cost.terms:
        return "oncall.page.title_paid"
    return "oncall.page.title"


def _team_note(case: Case, settings: Settings, language: str) -> str:
    """What the team should do: review an opening-hours case within the promised time, or know that an
    after-hours case waits for the next opening because the customer did not page on-call."""
    if case.after_hours:
        opening = OpeningHours(settings.hours).next_open(case.created_at)
        when = format_moment(opening, settings.hours.timezone, language)
        return text("oncall.page.team_waiting", language, when=when)
    key = "oncall.page.team_critical" if case.critical else "oncall.page.team_normal"
    return text(key, language, minutes=settings.cases.review_minutes)


def _choices(case: Case, language: str) -> tuple[Choice, ...]:
    """Kvittér while nobody has; then Løst (which asks once before it acts)."""
    if case.status is CaseStatus.OPEN:
        return (Choice(choice_id(ACK, case.number), text("oncall.button.ack", language), "primary"),)
    if case.status is CaseStatus.ACKNOWLEDGED:
        return (Choice(choice_id(RESOLVE, case.number), text("oncall.button.resolve", language), "primary"),)
    return ()


def _customer(case: Case, language: str) -> str:
    if not case.customer.known:
        return text("oncall.page.customer_unknown", language, name=case.customer.name)
    if case.customer.agreement:
        return text("oncall.page.customer_agreement", language, name=case.customer.name)
    return case.customer.name


def _reporter(case: Case, language: str) -> str:
    reporter = case.reporter
    platform = text(f"oncall.platform.{reporter.platform}", language) if reporter.platform else ""
    return text("oncall.page.reported_by", language, name=reporter_name(reporter, language), platform=platform)


def _mention(reporter: Reporter, language: str) -> Mention | None:
    """The reporter as someone a technician on the same chat platform can write to directly."""
    if reporter.platform not in ("slack", "teams") or not reporter.user_id:
        return None
    return Mention(reporter.platform, reporter.workspace, reporter.user_id, reporter_name(reporter, language))


def _cost(case: Case, settings: Settings, language: str) -> str:
    cost = case.cost
    if cost is None or not cost.terms:
        return text("oncall.page.cost_none", language)
    if not cost.accepted:
        return text("oncall.page.cost_declined", language)
    when = format_moment(cost.answered_at, settings.hours.timezone, language, short=True)
    joined = cost_terms(case, settings, language)
    return text("oncall.page.cost_accepted", language, time=when, terms=joined[:1].upper() + joined[1:])


def cost_terms(case: Case, settings: Settings, language: str) -> str:
    """The cost terms of the case in words: "gebyr på 1.000,00 kr. + moms og 100 % tillæg på timeprisen"."""
    terms = []
    cost_names = case.cost.terms if case.cost is not None else ()
    if CostTerm.ONCALL_FEE.value in cost_names:
        amount = format_money(settings.costs.oncall_fee, language, settings.costs.currency)
        terms.append(text("oncall.page.cost_fee", language, amount=amount))
    if CostTerm.SURCHARGE.value in cost_names:
        terms.append(text("oncall.page.cost_surcharge", language, percent=settings.costs.surcharge_percent))
    return text("oncall.page.cost_and", language).join(terms)


def _also_reported(case: Case, language: str) -> str:
    items = [
        text("oncall.page.also_reported_item", language, name=_linked_name(e, language), number=e.data["case"])
        for e in case.history
        if e.kind is EventKind.LINKED and "case" in e.data
    ]
    return ", ".join(items)


def _linked_name(event: CaseEvent, language: str) -> str:
    """The name a linked report was made under, or "Medarbejder uden navn (…)" in the reader's language."""
    name = str(event.data.get("reporter", "")).strip()
    return name or text("oncall.page.unnamed", language, short=_short_id(str(event.data.get("user", ""))))


def _short_id(user_id: str) -> str:
    """The last four letters or digits of a user id: enough to tell two nameless reporters apart."""
    return re.sub(r"[^A-Za-z0-9]", "", user_id)[-4:]
