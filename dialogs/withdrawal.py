"""The messages of a reporter withdrawing a case ("annuller sag 10001", "det virker igen, luk sagen").

Pure: which case is meant and whether it may be withdrawn (`bot.cancellation.may_cancel`), the
question that confirms it, and the answer once it is done. `dialogs.intake` holds the steps.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.cancellation import Outcome, Refusal, may_cancel, reported_by
from bot.cases import Case, CaseStatus, EventKind, Reporter
from bot.config import Settings
from bot.i18n import text
from bot.messages import Message
from bot.oncall.pages import cost_terms, last_event
from dialogs import replies


def chosen(cases: Sequence[Case], number: int | None, reporter: Reporter) -> Case | None:
    """The case meant: the one with `number`, or without a number the reporter's only open case."""
    if number is not None:
        return next((c for c in cases if c.number == number), None)
    mine = open_cases(cases, reporter)
    return next(c for c in cases if c.number == mine[0]) if len(mine) == 1 else None


def open_cases(cases: Sequence[Case], reporter: Reporter) -> list[int]:
    """The numbers of the reporter's own open cases among `cases`."""
    return [c.number for c in cases if reported_by(c, reporter) and not c.status.closed]


def refusal(case: Case | None, cases: Sequence[Case], reporter: Reporter) -> Refusal | None:
    """Why the reporter may not withdraw `case` (`cases` holds the reports linked to it); None when they may."""
    linked = [c for c in cases if case is not None and c.linked_to == case.number and not c.status.closed]
    return may_cancel(case, reporter, len(linked))


def not_possible(
    refused: Refusal | None,
    case: Case | None,
    number: int | None,
    mine: Sequence[int],
    language: str,
    settings: Settings,
) -> Message:
    """Why nothing was cancelled: no such case of theirs (as "status" says it), closed already, shared, or
    (without a number) none or several open cases (`mine`: the numbers of the reporter's open cases)."""
    common = replies.provider_params(settings)
    if number is None and case is None:
        open_numbers = sorted(mine)
        if len(open_numbers) > 1:
            numbers = ", ".join(map(str, open_numbers))
            return _note("cancel.which", language, numbers=numbers, first=open_numbers[0])
        return _note("cancel.none_open", language, **common)
    if refused is Refusal.NOT_FOUND or case is None:
        return replies.not_found(number if number is not None else case.number if case else 0, language, settings)
    if refused is Refusal.CLOSED:
        status = text(f"intake.status.{case.status}", language, when="").strip()
        return _note("cancel.closed", language, number=case.number, status=status.lower())
    return _note("cancel.shared", language, number=case.number, **common)


def question(case: Case, language: str, settings: Settings) -> str:
    """ "Vil du annullere sag 10001 (Ingen internet)?", with what happens to on-call and to the cost."""
    lines = [text("cancel.ask", language, number=case.number, problem=replies.problem_label(case, language))]
    ack = last_event(case, EventKind.ACKNOWLEDGED) if case.status is CaseStatus.ACKNOWLEDGED else None
    if ack is not None and case.cost is not None and case.cost.accepted and case.cost.terms:
        name = ack.data.get("name", ack.actor)
        lines.append(text("cancel.ask_charged", language, name=name, terms=cost_terms(case, settings, language)))
    elif ack is not None:
        lines.append(text("cancel.ask_started", language, name=ack.data.get("name", ack.actor)))
    elif case.page_requested:
        lines.append(text("cancel.ask_free", language))
    return "\n\n".join(lines)


def done(outcome: Outcome, number: int, language: str, settings: Settings) -> Message:
    """The answer once the reporter said yes: cancelled, or why not after all (it changed meanwhile)."""
    case = outcome.case
    if outcome.refused is not None or case is None:
        return not_possible(outcome.refused or Refusal.NOT_FOUND, case, number, [], language, settings)
    lines = [text("cancel.done", language, number=case.number)]
    if case.page_requested:
        lines.append(text("cancel.done_oncall", language))
    if outcome.charged:
        lines.append(text("cancel.done_charged", language, terms=cost_terms(case, settings, language)))
    return replies.plain("\n\n".join(lines), language)


def kept(number: int, language: str) -> Message:
    return _note("cancel.kept", language, number=number)


def _note(key: str, language: str, **params: object) -> Message:
    return replies.plain(text(key, language, **params), language)
