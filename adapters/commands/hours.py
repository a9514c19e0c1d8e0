"""`supportbot hours [--at MOMENT]`: whether support is open, as one JSON object."""

from __future__ import annotations

import argparse
import json

from bot.clock import Clock, ShiftedClock, SystemClock
from bot.config import Settings, parse_moment
from bot.errors import BotError
from bot.hours import OpeningHours


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "Prints one JSON object, times in ISO-8601 with the offset of the office's time zone:\n"
        '  {"open": true|false, "next_open": "...", "closes": "..." or null}\n'
        "next_open is the start of the next opening period: when closed, when support opens;\n"
        "when open, the start of the period after the current one (e.g. tomorrow 08:00).\n"
        "closes is the end of the current opening period when open, else null.\n"
        "Without --at the moment is now (or the SUPPORTBOT_NOW clock)."
    )
    parser.add_argument(
        "--at",
        metavar="MOMENT",
        help="ISO-8601 moment such as 2026-12-24T10:30 or 2026-12-24T09:30Z; without an offset it is local office time",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    zone = settings.hours.timezone
    if args.at is not None:
        at = parse_moment(args.at, zone, what="--at")
    else:
        clock: Clock = ShiftedClock(settings.start_at) if settings.start_at else SystemClock()
        at = clock.now()
    hours = OpeningHours(settings.hours)
    try:
        closes = hours.closes(at)
        next_open = hours.next_open(at)
    except OverflowError as exc:
        raise BotError(f"--at: {args.at!r} is too far in the past or future for a calendar") from exc
    result = {
        "open": closes is not None,
        "next_open": next_open.isoformat(),
        "closes": closes.isoformat() if closes else None,
    }
    print(json.dumps(result))
    return 0
