"""`supportbot oncall [--at MOMENT] [--json] [--check]`: who is on call, the next handover, rota problems.

The operator's view, English by default like the rest of the command line (`--language da` for
Danish). Problems are the same ones the server logs at start-up, so a broken rota is found here
and not at 03:00.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from adapters.wiring import clock_for
from bot.config import Settings, Technician, parse_moment
from bot.errors import BotError
from bot.i18n import LANGUAGES, text
from bot.oncall.pages import format_moment
from bot.oncall.rota import Rota


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "With --json, one object (times ISO-8601 in the office's time zone):\n"
        '  {"at", "primary", "backup", "until", "override", "next_handover": {"at", "primary", "backup"},\n'
        '   "problems": [...]}; a technician is {"id", "name", "language", "reachable_on": [...]} or null.\n'
        "Without --at the moment is now (or the SUPPORTBOT_NOW clock).\n"
        "Which front ends are enabled is only known to the server; it logs technicians it cannot reach at start-up."
    )
    parser.add_argument(
        "--at",
        metavar="MOMENT",
        help="ask about this moment, e.g. 2026-11-27T23:00 (office time unless an offset is given)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--language", choices=LANGUAGES, default="en", help="language of the report (default en)")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when the rota has problems")


def run(args: argparse.Namespace, settings: Settings) -> int:
    zone = settings.hours.timezone
    at = parse_moment(args.at, zone, what="--at") if args.at else clock_for(settings).now().astimezone(zone)
    rota = Rota(settings.oncall, zone)
    try:
        report = _report(rota, at, args.language)
        output = json.dumps(report, ensure_ascii=False, indent=2) if args.json else _render(rota, at, args.language)
    except OverflowError as exc:
        raise BotError(f"--at: {args.at!r} is too far in the past or future for a calendar") from exc
    print(output)
    return 1 if args.check and report["problems"] else 0


def _report(rota: Rota, at: datetime, language: str) -> dict[str, Any]:
    now = rota.on_call(at)
    handover = rota.handover_after(at)
    then = rota.on_call(handover)
    override = now.override
    return {
        "at": at.isoformat(),
        "primary": _technician(rota, now.primary),
        "backup": _technician(rota, now.backup),
        "until": now.until.astimezone(rota.zone).isoformat(),
        "override": None
        if override is None
        else {
            "start": override.start.astimezone(rota.zone).isoformat(),
            "end": override.end.astimezone(rota.zone).isoformat(),
            "primary": override.primary,
            "backup": override.backup,
        },
        "next_handover": {
            "at": handover.isoformat(),
            "primary": _technician(rota, then.primary),
            "backup": _technician(rota, then.backup),
        },
        "problems": rota.problems(now=at, language=language),
    }


def _technician(rota: Rota, tech: Technician | None) -> dict[str, Any] | None:
    if tech is None:
        return None
    reachable = [a.platform for a in rota.addresses(tech)]
    return {"id": tech.id, "name": tech.name, "language": tech.language, "reachable_on": reachable}


def _render(rota: Rota, at: datetime, lang: str) -> str:
    def when(moment: datetime) -> str:
        return format_moment(moment, rota.zone, lang)

    def who(tech: Technician | None) -> str:
        if tech is None:
            return text("oncall.cli.nobody", lang)
        places = [text(f"oncall.platform.{a.platform}", lang) for a in rota.addresses(tech)]
        reach = ", ".join(places) or text("oncall.cli.unreachable", lang)
        return text("oncall.cli.who", lang, name=tech.name, id=tech.id, reach=reach)

    now = rota.on_call(at)
    handover = rota.handover_after(at)
    then = rota.on_call(handover)
    lines = [
        text("oncall.cli.now", lang, moment=when(at)),
        "  " + text("oncall.cli.primary", lang, who=who(now.primary)),
        "  " + text("oncall.cli.backup", lang, who=who(now.backup)),
        "  " + text("oncall.cli.until", lang, moment=when(now.until)),
    ]
    if now.override is not None:
        cover = now.override
        span = {"start": when(cover.start), "end": when(cover.end)}
        lines.append("  " + text("oncall.cli.override", lang, primary=cover.primary, **span))
    next_backup = then.backup.name if then.backup else text("oncall.cli.nobody", lang)
    next_primary = then.primary.name if then.primary else text("oncall.cli.nobody", lang)
    lines.append(
        text("oncall.cli.next_handover", lang, moment=when(handover), primary=next_primary, backup=next_backup)
    )
    problems = rota.problems(now=at, language=lang)
    lines.append("")
    if problems:
        lines.append(text("oncall.cli.problems", lang))
        lines += [f"  - {p}" for p in problems]
    else:
        lines.append(text("oncall.cli.no_problems", lang))
    return "\n".join(lines)
