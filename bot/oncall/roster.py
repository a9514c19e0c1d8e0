"""What people are told about the rota in chat: "hvem har vagten?", handover notices, the open on-call cases.

Pure: the rota, the moment and the cases in, platform-neutral messages out. Technicians get names,
until when, who is next and the open on-call cases; an employee hears only that somebody is on call
and until when (names too when `[oncall] names_to_employees` allows it), never an address.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from bot.cases import Case, CaseStatus, EventKind
from bot.config import Technician
from bot.i18n import language_of, text
from bot.messages import Choice, Fact, Message
from bot.oncall.pages import BABEL_LOCALES, last_event
from bot.oncall.rota import OnCall, Rota, outlook

WHO_CHOICE = "rota:who"
TEST_PAGE_CHOICE = "rota:test"


def long_moment(moment: datetime, zone: ZoneInfo, language: str) -> str:
    """ "fredag den 11. december kl. 8.00" in the support time zone."""
    lang = language_of(language)
    return format_datetime(moment.astimezone(zone), text("oncall.format.long", lang), locale=BABEL_LOCALES[lang])


def open_pages(cases: Iterable[Case]) -> list[Case]:
    """The after-hours cases on-call was paged about that nobody has resolved yet (a linked report counts once)."""
    found = [c for c in cases if c.page_requested and c.after_hours and c.linked_to is None and not c.status.closed]
    return sorted(found, key=lambda c: c.number)


def case_line(case: Case, language: str) -> str:
    """ "10003 (Biokube A/S: Ingen internet) – venter" / "– kvitteret af Morten"."""
    category = text(f"intake.category.{case.category.value}", language)
    ack = last_event(case, EventKind.ACKNOWLEDGED) if case.status is CaseStatus.ACKNOWLEDGED else None
    state = (
        text("oncall.roster.case_taken", language, name=ack.data.get("name", ack.actor))
        if ack is not None
        else text("oncall.roster.case_waiting", language)
    )
    return text(
        "oncall.roster.case", language, number=case.number, customer=case.customer.name, category=category, state=state
    )


def cases_text(cases: list[Case], language: str) -> str:
    if not cases:
        return text("oncall.roster.no_cases", language)
    lines = "\n".join(f"• {case_line(c, language)}" for c in cases)
    key = "cases_one" if len(cases) == 1 else "cases"
    return text(f"oncall.roster.{key}", language, count=len(cases), lines=lines)


def who_for_technician(rota: Rota, at: datetime, cases: list[Case], language: str) -> Message:
    """The whole picture for someone on the rota: now, until when, who is next, the open on-call cases."""
    view = outlook(rota, at)
    now = view.now
    change = view.change
    facts = [
        Fact(text("oncall.roster.primary", language), _name(now.primary, language)),
        Fact(text("oncall.roster.backup", language), _name(now.backup, language)),
        Fact(
            text("oncall.roster.until", language),
            long_moment(change, rota.zone, language) if change else text("oncall.roster.no_change", language),
        ),
    ]
    if change is not None:
        then = rota.on_call(change)
        facts.append(Fact(text("oncall.roster.next", language), _pair(then, language)))
    lines = [_cover_line(rota, now, language)] if now.override is not None else []
    lines.append(cases_text(cases, language))
    return Message(
        text="\n".join(lines),
        title=text("oncall.roster.title", language),
        facts=tuple(facts),
        choices=(
            Choice(WHO_CHOICE, text("oncall.button.who", language)),
            Choice(TEST_PAGE_CHOICE, text("oncall.button.test_page", language)),
        ),
        key="rota:who",
    )


def who_for_employee(rota: Rota, at: datetime, language: str, *, names: bool) -> Message:
    """For an employee: somebody is on call until when (named only if the config allows), and what on-call is for."""
    view = outlook(rota, at)
    primary = view.now.primary
    if primary is None:
        return Message(text("oncall.roster.employee_nobody", language))
    until = long_moment(view.change, rota.zone, language) if view.change else ""
    key = "employee_named" if names else "employee"
    said = text(f"oncall.roster.{key}{'' if until else '_open_ended'}", language, name=primary.name, until=until)
    return Message(f"{said} {text('oncall.roster.employee_what_for', language)}")


def _cover_line(rota: Rota, now: OnCall, language: str) -> str:
    cover = now.override
    assert cover is not None
    span = {"start": long_moment(cover.start, rota.zone, language), "end": long_moment(cover.end, rota.zone, language)}
    name = _name(rota.technician(cover.primary), language)
    if cover.origin:
        return text("oncall.roster.cover_chat", language, name=name, id=cover.origin, **span)
    return text("oncall.roster.cover_config", language, name=name, **span)


def _name(tech: Technician | None, language: str) -> str:
    return tech.name if tech is not None else text("oncall.roster.nobody", language)


def _pair(on_call: OnCall, language: str) -> str:
    if on_call.backup is None:
        return _name(on_call.primary, language)
    return text("oncall.roster.pair", language, primary=_name(on_call.primary, language), backup=on_call.backup.name)
