"""`supportbot chat [--lang da|en] [--now ISO]`: the intake conversation in the terminal.

Works with a pipe on stdin, so a scripted conversation can be fed to it:
`printf 'ingen internet\n1\n3\n1\n' | python -m bot chat --now 2026-11-28T22:30`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
from dataclasses import replace

from adapters.console.chat import run_chat
from adapters.wiring import build_services
from bot.config import Settings, parse_moment
from bot.i18n import LANGUAGES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", choices=LANGUAGES, default="da", help="the employee's language (default: da)")
    parser.add_argument("--now", help="start the bot's clock at this ISO-8601 moment, running on from there")
    parser.add_argument("--verbose", action="store_true", help="show the bot's INFO log lines on stderr")
    parser.add_argument("--user", default=None, help="the employee's user id (default: your login name)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)  # the terminal is the chat; keep INFO logs out of it
    if args.now:
        settings = replace(settings, start_at=parse_moment(args.now, settings.hours.timezone, what="--now"))
    user = args.user or _login()
    return asyncio.run(_chat(settings, language=args.lang, user=user))


async def _chat(settings: Settings, *, language: str, user: str) -> int:
    services = build_services(settings)
    return await run_chat(services, language=language, user=user)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "employee"
