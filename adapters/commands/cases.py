"""`supportbot cases list|show|cancel`: the administrator's view of the support cases, and cancelling one.

The report is in Danish or English (`--language`, else `$SUPPORTBOT_LANGUAGE`, else Danish), from the
`cases` catalog; categories, who is affected and customers use the on-call catalog's words. `--json`
is language-neutral: the stored case with its stable keys and ids. Argument errors stay in English,
like argparse's own. Text typed by employees is shown with control characters replaced, so a
description can never move the cursor or change colours in the terminal. Lines fit 80 columns.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import textwrap
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from adapters.commands.language import add_language_argument, report_language
from adapters.outgoing import mail_recipient
from adapters.reports.audit import entry_lines
from adapters.storage import database_url, open_storage
from adapters.storage.embedded.files import FolderInUseError
from adapters.wiring import clock_for
from bot.cancellation import OPERATOR, Refusal, cancel_case
from bot.cases import Case, CaseEvent, CaseStatus, EventKind
from bot.config import Settings
from bot.errors import BotError, CaseNotFoundError
from bot.i18n import catalog, language_of, text
from bot.outgoing.events import Announcements
from bot.ports import Cases
from dialogs.replies import parse_choice

WIDTH = 80  # the terminal the administrator is assumed to have
INDENT = "  "
MIN_CUSTOMER = 12  # a customer column narrower than this is not worth having


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="list cases, newest first", description="List cases, newest first (times in office time)."
    )
    listing.add_argument("--status", choices=[s.value for s in CaseStatus], help="only cases with this status")
    listing.add_argument("--json", action="store_true", help="print a JSON array of the full cases")
    add_language_argument(listing)
    show = actions.add_parser(
        "show", help="show one case and its history", description="Show one case with all its fields and its history."
    )
    show.add_argument("number", type=case_number, metavar="NUMBER", help="the case number, e.g. 10001")
    show.add_argument("--json", action="store_true", help="print the case as one JSON object")
    add_language_argument(show)
    cancel = actions.add_parser(
        "cancel",
        help="cancel an open case (and the reports linked to it)",
        description="Cancel an open case: on-call stops paging, the ticket systems get case.cancelled, and the"
        " audit log records who and why. With the embedded storage the bot must be stopped; with PostgreSQL"
        " it may run.",
    )
    cancel.add_argument("number", type=case_number, metavar="NUMBER", help="the case number, e.g. 10001")
    cancel.add_argument("--reason", required=True, help="why, for the case history, the page and the audit log")
    add_language_argument(cancel)


def case_number(text: str) -> int:
    """A case number as people write it: "10001", "#10001", "10 001"."""
    digits = text.strip().lstrip("#").replace(" ", "")
    if not digits.isascii() or not digits.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a case number; case numbers are digits, e.g. 10001")
    return int(digits)


def run(args: argparse.Namespace, settings: Settings) -> int:
    lang = report_language(args)
    if args.action == "cancel":
        return asyncio.run(_cancel(args, settings, lang))
    folder = settings.data_dir / "cases"
    if database_url() is None and not folder.is_dir():  # do not create a data folder just to say it is empty
        if args.action == "show":
            raise CaseNotFoundError(text("cases.not_found_empty", lang, number=args.number, folder=folder))
        print("[]" if args.json else text("cases.none_yet", lang, folder=folder))
        return 0
    return asyncio.run(_run(args, settings, lang))


async def _run(args: argparse.Namespace, settings: Settings, lang: str) -> int:
    storage = open_storage(settings, read_only=True)  # no lock: works beside the running bot
    try:
        if args.action == "show":
            case = await storage.cases.get(args.number)
            if case is None:
                raise CaseNotFoundError(text("cases.not_found", lang, number=args.number))
            if args.json:
                print(json.dumps(case.to_dict(), indent=2))
                return 0
            entries = await storage.audit.read(case=case.number)
            audit = entry_lines(entries, settings, lang, with_case=False) or [text("audit.case_none", lang)]
            print("\n".join([*CaseReport(settings, lang).show(case), text("audit.case_title", lang), *audit]))
            return 0
        return await _list(storage.cases, settings, status=args.status, as_json=args.json, lang=lang)
    finally:
        await storage.close()


async def _cancel(args: argparse.Namespace, settings: Settings, lang: str) -> int:
    """Cancel as the operator, through the storage the bot writes (with its announcer: `case.cancelled`)."""
    reason = " ".join(args.reason.split())
    if not reason:
        raise BotError(text("cancel.cli_bad_reason", lang))
    announce = Announcements(settings, mail_to=mail_recipient(settings, os.environ))
    try:
        storage = open_storage(settings, announce=announce)
    except FolderInUseError:
        raise BotError(text("cancel.cli_running", lang)) from None
    try:
        outcome = await cancel_case(
            storage.cases, storage.audit, args.number, actor="operator", name=getpass.getuser(), reason=reason,
            source=OPERATOR, now=clock_for(settings).now(),
        )  # fmt: skip
    finally:
        await storage.close()
    case = outcome.case
    if outcome.refused is Refusal.NOT_FOUND or case is None:
        raise CaseNotFoundError(text("cases.not_found", lang, number=args.number))
    if outcome.refused is Refusal.CLOSED:
        print(text("cancel.cli_closed", lang, number=case.number, status=text(f"cases.status.{case.status}", lang)))
        return 1
    lines = [text("cancel.cli_done", lang, number=case.number, reason=reason)]
    if outcome.linked:
        lines.append(text("cancel.cli_linked", lang, numbers=", ".join(str(c.number) for c in outcome.linked)))
    if outcome.charged:
        lines.append(text("cancel.cli_charged", lang))
    print("\n".join(lines))
    return 0


async def _list(store: Cases, settings: Settings, *, status: str | None, as_json: bool, lang: str) -> int:
    cases = await store.find(status=CaseStatus(status) if status else None)
    problems = await store.problems()
    for problem in problems:
        print(text("cases.warning", lang, problem=problem), file=sys.stderr)
    if as_json:
        print(json.dumps([case.to_dict() for case in cases], indent=2))
    elif not cases:
        label = text(f"cases.status.{status}", lang) if status else ""
        print(text("cases.none_with_status", lang, status=label) if status else text("cases.none", lang))
    else:
        print("\n".join(CaseReport(settings, lang).table(cases)))
    return 1 if problems else 0


class CaseReport:
    """Cases in words for one language: names for ids, labels for slugs, office time for moments."""

    def __init__(self, settings: Settings, lang: str) -> None:
        self.lang = lang
        self.zone: ZoneInfo = settings.hours.timezone
        self.technicians = {t.id: t.name for t in settings.oncall.technicians}

    def say(self, key: str, **params: object) -> str:
        return text(f"cases.{key}", self.lang, **params)

    def table(self, cases: list[Case]) -> list[str]:
        """Two lines a case: number, time, status and customer aligned; then the problem and description."""
        heads = tuple(self.say(f"list.{k}") for k in ("number", "created", "status", "customer"))
        rows = [heads, *((str(c.number), self.moment(c.created_at), self.status(c), self.customer(c)) for c in cases)]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        room = max(WIDTH - sum(widths) - 2 * len(widths), MIN_CUSTOMER)
        lines = []
        for i, row in enumerate(rows):
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            lines.append("  ".join([*cells, _shorten(row[3], room)]).rstrip())
            if i:
                indent = " " * (widths[0] + 2)
                lines.append(indent + _shorten(" ".join(self.summary(cases[i - 1])), WIDTH - len(indent)))
        count = len(cases)
        lines.append(self.say("list.total_one") if count == 1 else self.say("list.total", count=count))
        return lines

    def summary(self, case: Case) -> Iterable[str]:
        if case.critical:
            yield self.say("list.critical")
        yield self.category(case) + ":"
        if case.linked_to is not None:
            yield "(" + self.say("list.linked", number=case.linked_to) + ")"
        yield _printable(case.description)

    def show(self, case: Case) -> list[str]:
        """Every field in words, the cost text with its paragraphs, the history one event a line."""
        fields: list[tuple[str, str]] = [
            ("created", self.moment(case.created_at)),
            ("status", self.status(case)),
            ("problem", self.say("show.confidence", category=self.category(case), confidence=case.confidence)),
            ("affected", text(f"oncall.affected.{case.scope}", self.lang)),
            ("critical", self.yes_no(case.critical)),
            ("after_hours", self.yes_no(case.after_hours)),
            ("customer", self.customer(case)),
            ("reporter", self.reporter(case)),
        ]
        phone = getattr(case, "callback_phone", "")
        if phone:
            fields.append(("phone", _printable(phone)))
        fields.append(("page_requested", self.yes_no(case.page_requested)))
        if case.linked_to is not None:
            fields.append(("linked", self.say("show.linked_value", number=case.linked_to)))
        cost = case.cost
        if cost is not None:
            terms = ", ".join(self._word("term", term) for term in cost.terms)
            fields.append(("terms", terms or self.say("nobody")))
            verdict = self.say("show.accepted" if cost.accepted else "show.declined")
            answer = self.say(
                "show.answer_value",
                time=self.moment(cost.answered_at),
                answer=self.answer(cost.answer),
                verdict=verdict,
            )
            fields.append(("answer", answer))
        labels = {key: self.say(f"show.{key}") + ":" for key, _ in fields}
        width = max(len(label) for label in labels.values()) + 1
        lines = [self.say("show.title", number=case.number)]
        lines += [_fit(labels[key].ljust(width) + value, " " * width) for key, value in fields]
        if cost is not None:
            lines.append(self.say("show.cost_shown", time=self.moment(cost.shown_at)))
            lines += _paragraphs(cost.shown_text)
        lines.append(self.say("show.description"))
        lines += _paragraphs(case.description, keep_lines=True)
        lines.append(self.say("show.history"))
        for event in case.history:
            when = f"{INDENT}{self.moment(event.at)}  "
            lines.append(_fit(when + self.event(case, event), " " * len(when)))
        return lines

    def moment(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def yes_no(self, value: bool) -> str:
        return self.say("yes" if value else "no")

    def category(self, case: Case) -> str:
        return text(f"intake.category.{case.category}", self.lang)

    def platform(self, platform: object) -> str:
        return self._word("platform", platform)

    def status(self, case: Case) -> str:
        """The status and who moved it there, e.g. "kvitteret af Morten"; an open, paged case says so."""
        if case.status is CaseStatus.OPEN:
            paged = any(e.kind is EventKind.PAGED for e in case.history)
            return self.say("status.paged" if paged else "status.open")
        label = self.say(f"status.{case.status}")
        latest = next((e for e in reversed(case.history) if e.kind.value == case.status.value), None)
        return label if latest is None else self.say("status.by", status=label, name=self.who(case, latest))

    def customer(self, case: Case) -> str:
        customer = case.customer
        name = _printable(customer.name)
        if not customer.known:
            return text("oncall.page.customer_unknown", self.lang, name=name)
        return text("oncall.page.customer_agreement", self.lang, name=name) if customer.agreement else name

    def reporter(self, case: Case) -> str:
        reporter = case.reporter
        name = _printable(reporter.display_name) or self.say("show.unnamed", id=_printable(reporter.user_id))
        language = self.say(f"language.{language_of(reporter.locale)}")
        return self.say("show.reporter_value", name=name, platform=self.platform(reporter.platform), language=language)

    def answer(self, answer: str) -> str:
        """The cost answer in words: "intake:3:page" is "tilkald vagten"; an unknown id is shown as it is."""
        if not answer:
            return self.say("show.no_answer")
        choice, _, typed = answer.partition(" ")
        option = (parse_choice(choice) or (0, ""))[1]
        key = f"cases.answer.{option}"
        if key not in catalog(self.lang):
            return _printable(answer)
        words = text(key, self.lang)
        return self.say("show.typed", choice=words, typed=_printable(typed)) if typed else words

    def who(self, case: Case, event: CaseEvent) -> str:
        """The person behind an event: a technician's name, the reporter's name, or "the system"."""
        actor = event.actor
        if event.data.get("name"):
            return _printable(str(event.data["name"]))
        if actor in self.technicians:
            return self.technicians[actor]
        if actor == case.reporter.user_id and case.reporter.display_name:
            return _printable(case.reporter.display_name)
        return self.say("system") if actor in ("", "system") else _printable(actor)

    def event(self, case: Case, event: CaseEvent) -> str:
        data = event.data
        key = event.kind.value
        if event.kind is EventKind.PAGE_FAILED and data.get("target") == "team":
            key = "page_failed_team"
        elif event.kind is EventKind.LINKED and "case" in data:
            key = "linked_from"
        elif event.kind is EventKind.REPORTER_NOTIFIED and data.get("delivered") is False:
            key = "reporter_not_notified"
        elif event.kind is EventKind.ESCALATED and data.get("step") == "gave_up":
            key = "gave_up"
        elif event.kind is EventKind.MESSAGE and data.get("from") == "reporter":
            key = "message_reply"
        technician = str(data.get("technician", ""))
        platform = self.platform(data["platform"]) if data.get("platform") else ""
        params = {
            "who": self.who(case, event),
            "technician": self.technicians.get(technician, _printable(technician) or "?"),
            "platform": platform or "?",
            "where": self.say("event.on", platform=platform) if platform else "",
            "step": self._word("step", data.get("step")),
            "reason": self._word("reason", data.get("reason")),
            "about": self._word("about", data.get("about")),
            "to": data.get("to", "?"),
            "case": data.get("case", "?"),
            "reporter": _printable(str(data.get("reporter", ""))) or "?",
            "text": _printable(str(data.get("text", ""))),
        }
        line = self.say(f"event.{key}", **params)
        if data.get("late"):
            line = self.say("event.late", event=line)
        return self.say("event.via", event=line, via=data["via"]) if "via" in data else line

    def _word(self, table: str, value: object) -> str:
        """`cases.<table>.<value>` in words; a value the catalog does not know is shown as it is."""
        key = f"cases.{table}.{value}"
        return text(key, self.lang) if key in catalog(self.lang) else _printable(str(value or "?"))


def _paragraphs(body: str, *, keep_lines: bool = False) -> list[str]:
    """Text indented and wrapped to the terminal, blank lines between paragraphs kept."""
    lines: list[str] = []
    for paragraph in body.strip().split("\n\n"):
        if lines:
            lines.append("")
        parts = paragraph.splitlines() if keep_lines else [" ".join(paragraph.split())]
        for part in parts or [""]:
            lines += textwrap.wrap(_printable(part), WIDTH, initial_indent=INDENT, subsequent_indent=INDENT) or [""]
    return lines


def _fit(line: str, indent: str) -> str:
    """A label/value line wrapped to the terminal, continuation lines under the value."""
    return "\n".join(textwrap.wrap(line, WIDTH, subsequent_indent=indent, break_on_hyphens=False)) or line


def _printable(text: str) -> str:
    """One line of text safe for a terminal: control characters become spaces or U+FFFD."""
    out = []
    for char in text:
        kind = unicodedata.category(char)
        if char in "\t\n\r":
            out.append(" ")
        elif kind in ("Cc", "Cs") or (kind == "Cf" and char not in "\u200d"):  # keep emoji joiners
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
