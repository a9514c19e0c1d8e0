"""`supportbot report`: the provider's manager's figures for a period, in the terminal, as CSV and as a page.

Reads the cases read-only (no lock), so it runs beside the bot. Words are in Danish or English
(`--language`/`--lang`, else `$SUPPORTBOT_LANGUAGE`, else Danish); the CSV is language-neutral.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path

from adapters.commands.language import add_language_argument, report_language
from adapters.reports import page, terminal
from adapters.reports.rows import to_csv
from adapters.reports.tables import Words, tables
from adapters.storage import open_storage
from bot.clock import SystemClock
from bot.config import Settings
from bot.errors import BotError
from bot.i18n import text
from bot.report import Period, Report, build_report, cases_since_start


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", type=day, metavar="DATE", help="first day, e.g. 2026-11-01")
    parser.add_argument("--to", dest="end", type=day, metavar="DATE", help="last day (included), e.g. 2026-11-30")
    parser.add_argument("--customer", metavar="NAME", help="only this customer's cases (any letter case)")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="also write one row per case to FILE")
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write the report as one page to FILE")
    add_language_argument(parser)


def day(typed: str) -> date:
    try:
        return date.fromisoformat(typed.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{typed!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-01") from None


def run(args: argparse.Namespace, settings: Settings) -> int:
    lang = report_language(args)
    if args.start and args.end and args.start > args.end:
        raise BotError(text("report.backwards", lang, start=args.start, end=args.end))
    period = Period(start=args.start, end=args.end, customer=args.customer)
    report, problems = asyncio.run(_load(settings, period))
    words = Words(settings, lang)
    if period.customer and not report.cases:
        _check_customer(settings, period.customer, lang)
    for problem in problems:
        print(text("cases.warning", lang, problem=problem), file=sys.stderr)
    made = words.moment(SystemClock().now())
    print(
        terminal.render(
            words.say("title"), f"{words.period(report)}. {words.say('made', moment=made)}", tables(report, words)
        )
    )
    if not report.cases:
        print(words.say("none"))
    if args.csv:
        _write(args.csv, to_csv(report.cases, settings.hours.timezone), lang)
        print(words.say("wrote_csv", count=len(report.cases), file=args.csv))
    if args.html:
        _write(args.html, page.render(report, words, made=made), lang)
        print(words.say("wrote_html", file=args.html))
    return 1 if problems else 0


async def _load(settings: Settings, period: Period) -> tuple[Report, list[str]]:
    if not (settings.data_dir / "cases").is_dir():  # no cases yet: do not create a data folder to say so
        return build_report([], period=period, fee=settings.costs.oncall_fee, zone=settings.hours.timezone), []
    storage = open_storage(settings, read_only=True)
    try:
        found = await cases_since_start(storage.cases, period, settings.hours.timezone)
        report = build_report(found, period=period, fee=settings.costs.oncall_fee, zone=settings.hours.timezone)
        return report, await storage.cases.problems()
    finally:
        await storage.close()


def _check_customer(settings: Settings, customer: str, lang: str) -> None:
    """A customer no case has is most likely misspelt: say which customers there are."""
    everything = asyncio.run(_load(settings, Period()))[0]
    known = sorted({f.customer for f in everything.cases})
    if not any(name.casefold() == customer.casefold() for name in known):
        if not known:
            raise BotError(text("report.no_customers", lang, customer=customer))
        raise BotError(text("report.unknown_customer", lang, customer=customer, known=", ".join(known)))


def _write(path: Path, content: str, lang: str) -> None:
    try:
        path.write_text(content, encoding="utf-8", newline="")
    except OSError as exc:
        raise BotError(text("report.cannot_write", lang, file=path, problem=exc.strerror or exc)) from exc
