"""`python -m bot` / `supportbot`: the operator's and developer's command line.

Each subcommand lives in `adapters/commands/<name>.py` with `add_arguments(parser)` and
`run(args, settings) -> int`. Expected failures print one clear line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from bot.config import load_settings
from bot.errors import BotError

# name -> one-line help; the module adapters.commands.<name> implements it.
COMMANDS: dict[str, str] = {
    "serve": "start the server (local chat, on-call inbox, Slack and Teams endpoints)",
    "chat": "talk to the bot in the terminal as an employee",
    "hours": "tell whether support is open now or at --at, as JSON",
    "triage": "classify a problem description (or JSON Lines on stdin), as JSON",
    "cases": "list or show support cases",
    "oncall": "show who is on call now and the next handover",
    "webhooks": "list webhook calls and e-mails not delivered yet, or re-send one",
    "audit": "the audit log: consent to fees, acknowledgements, resolutions, configuration changes",
    "report": "the manager's report for a period: cases, on-call times, escalations, fees (--csv, --html)",
    "db": "show or apply the PostgreSQL schema migrations (with SUPPORTBOT_DATABASE_URL)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="supportbot",
        description="Support bot for OneOffice: triage, after-hours costs, on-call paging, numbered cases.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"adapters.commands.{name}")
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        module = importlib.import_module(f"adapters.commands.{args.command}")
        return int(module.run(args, settings))
    except BotError as exc:
        print(f"supportbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
