"""`supportbot audit [--since DATE] [--case N]`: the audit log, oldest first, read-only beside the bot.

`cases show N` prints the case's part with `entry_lines`. `--json` gives the stored entries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime, time

from adapters.commands.cases import case_number
from adapters.commands.language import add_language_argument, report_language
from adapters.commands.report import day
from adapters.reports.audit import entry_lines
from adapters.storage import open_storage
from bot.audit import AuditEntry
from bot.config import Settings
from bot.i18n import text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=day, metavar="DATE", help="only entries from this day on, e.g. 2026-11-01")
    parser.add_argument("--case", type=case_number, metavar="N", help="only the entries of this case")
    parser.add_argument("--json", action="store_true", help="print the entries as a JSON array")
    add_language_argument(parser)


def run(args: argparse.Namespace, settings: Settings) -> int:
    lang = report_language(args)
    since = datetime.combine(args.since, time(), settings.hours.timezone) if args.since else None
    entries, problems = asyncio.run(read(settings, since=since, case=args.case))
    for problem in problems:
        print(text("cases.warning", lang, problem=problem), file=sys.stderr)
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], indent=2, ensure_ascii=False))
    elif not entries:
        print(text("audit.none", lang))
    else:
        print("\n".join([text("audit.title", lang), *entry_lines(entries, settings, lang, with_case=True)]))
    return 1 if problems else 0


async def read(
    settings: Settings, *, since: datetime | None = None, case: int | None = None
) -> tuple[list[AuditEntry], list[str]]:
    if not (settings.data_dir / "audit").is_dir():
        return [], []
    storage = open_storage(settings, read_only=True)
    try:
        return await storage.audit.read(since=since, case=case), await storage.audit.problems()
    finally:
        await storage.close()
