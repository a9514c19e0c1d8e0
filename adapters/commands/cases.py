"""`supportbot cases list|show`: the operator's view of the support cases.

The operator's tool is English-only, like the rest of the command line; the texts employees read
live in the message catalogs. Text typed by employees is shown with control characters replaced,
so a description can never move the cursor or change colours in the operator's terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.case_store import CaseStore
from bot.cases import Case, CaseStatus
from bot.config import Settings
from bot.errors import CaseNotFoundError

DESCRIPTION_WIDTH = 50
CUSTOMER_WIDTH = 24


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="list cases, newest first", description="List cases, newest first (times in office time)."
    )
    listing.add_argument("--status", choices=[s.value for s in CaseStatus], help="only cases with this status")
    listing.add_argument("--json", action="store_true", help="print a JSON array of the full cases")
    show = actions.add_parser(
        "show", help="show one case and its history", description="Show one case with all its fields and its history."
    )
    show.add_argument("number", type=case_number, metavar="NUMBER", help="the case number, e.g. 10001")
    show.add_argument("--json", action="store_true", help="print the case as one JSON object")


def case_number(text: str) -> int:
    """A case number as people write it: "10001", "#10001", "10 001"."""
    digits = text.strip().lstrip("#").replace(" ", "")
    if not digits.isascii() or not digits.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a case number; case numbers are digits, e.g. 10001")
    return int(digits)


def run(args: argparse.Namespace, settings: Settings) -> int:
    folder = settings.data_dir / "cases"
    if not folder.is_dir():  # do not create a data folder just to say it is empty
        if args.action == "show":
            raise CaseNotFoundError(f"no case has number {args.number} (there are no cases yet in {folder})")
        print("[]" if args.json else f"No cases yet in {folder}.")
        return 0
    store = CaseStore.for_settings(settings)
    try:
        if args.action == "show":
            return _show(store, args.number, as_json=args.json, zone=settings.hours.timezone)
        return _list(store, status=args.status, as_json=args.json, zone=settings.hours.timezone)
    finally:
        store.close()


def _list(store: CaseStore, *, status: str | None, as_json: bool, zone: ZoneInfo) -> int:
    cases = store.find(status=CaseStatus(status) if status else None)
    problems = store.problems()
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    if as_json:
        print(json.dumps([case.to_dict() for case in cases], indent=2))
    elif not cases:
        print(f"No cases with status {status}." if status else "No cases.")
    else:
        rows = [("Number", "Created", "Status", "Critical", "Customer", "Category", "Description")]
        rows += [_row(case, zone) for case in cases]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    return 1 if problems else 0


def _row(case: Case, zone: ZoneInfo) -> tuple[str, ...]:
    customer = _printable(case.customer.name) + ("" if case.customer.known else " (unknown)")
    return (
        str(case.number),
        _local(case.created_at, zone),
        case.status.value,
        "yes" if case.critical else "no",
        _shorten(customer, CUSTOMER_WIDTH),
        case.category.value,
        _shorten(_printable(case.description), DESCRIPTION_WIDTH),
    )


def _show(store: CaseStore, number: int, *, as_json: bool, zone: ZoneInfo) -> int:
    case = store.get(number)
    if case is None:
        raise CaseNotFoundError(f"no case has number {number}")
    if as_json:
        print(json.dumps(case.to_dict(), indent=2))
        return 0
    reporter = case.reporter
    customer = case.customer
    lines = [
        f"Case {case.number}",
        f"Created:      {_local(case.created_at, zone)}",
        f"Status:       {case.status.value}",
        f"Critical:     {'yes' if case.critical else 'no'}",
        f"After hours:  {'yes' if case.after_hours else 'no'}",
        f"Category:     {case.category.value} (confidence {case.confidence}, affected: {case.scope.value})",
        f"Customer:     {_printable(customer.name)}"
        + ("" if customer.known else " (unknown workspace)")
        + (", support agreement" if customer.agreement else ""),
        f"Reporter:     {_printable(reporter.display_name) or '-'} ({reporter.platform} "
        f"{_printable(reporter.workspace)} {_printable(reporter.user_id)}, locale {_printable(reporter.locale)})",
        f"Page asked:   {'yes' if case.page_requested else 'no'}",
    ]
    if case.linked_to is not None:
        lines.append(f"Linked to:    {case.linked_to}")
    if case.cost is not None:
        cost = case.cost
        lines += [
            f"Cost terms:   {', '.join(cost.terms) or '-'}",
            f"Cost shown:   {_local(cost.shown_at, zone)}: {_printable(cost.shown_text)}",
            f"Answer:       {_local(cost.answered_at, zone)}: {_printable(cost.answer)} "
            f"({'accepted' if cost.accepted else 'declined'})",
        ]
    lines += ["Description:", *(f"  {_printable(line)}" for line in case.description.splitlines() or [""])]
    lines.append("History:")
    for event in case.history:
        data = f" {_printable(json.dumps(event.data, ensure_ascii=False))}" if event.data else ""
        lines.append(f"  {_local(event.at, zone)}  {event.kind.value}  {_printable(event.actor) or '-'}{data}")
    print("\n".join(lines))
    return 0


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


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
