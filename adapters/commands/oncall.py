"""`supportbot oncall [--at MOMENT] [--json] [--check]`: who is on call, the next handover, rota problems.

`supportbot oncall link TECH` prints the technician's secret link to the local on-call inbox;
`supportbot oncall revoke TECH` ends their links (and inboxes opened with them) and prints a new one.
`supportbot oncall calendar-link [TECH] [--revoke]` prints the secret address of a technician's
calendar feed (or the whole rota's); `--revoke` ends the old address and prints a new one.
`supportbot oncall overrides` lists the overrides and swaps made in chat that are not over yet;
`supportbot oncall cancel ID` cancels one beside the running bot, which pages by the rota again at once.

The administrator's view, in Danish or English (`--language`, else `$SUPPORTBOT_LANGUAGE`, else
Danish); `--json` is language-neutral apart from the problem sentences. Problems are the same ones
the server logs at start-up, so a broken rota is found here and not at 03:00.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from datetime import datetime
from typing import Any

from adapters.calendar_feed import calendar_link
from adapters.commands.language import add_language_argument, report_language
from adapters.local.passes import INBOX, inbox_links
from adapters.net import local_base_url
from adapters.signed_links import command_links
from adapters.storage import open_storage
from adapters.wiring import clock_for
from bot.audit import record as record_audit
from bot.config import Settings, Technician, parse_moment
from bot.errors import BotError
from bot.i18n import text
from bot.oncall.overrides import ChatOverride, OverrideStatus, audit_entry
from bot.oncall.pages import format_moment
from bot.oncall.rota import Rota, outlook


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "With --json, one object (times ISO-8601 in the office's time zone):\n"
        '  {"at", "primary", "backup", "until", "override", "next_handover": {"at", "primary", "backup", "same"},\n'
        '   "problems": [...]}; a technician is {"id", "name", "language", "reachable_on": [...]} or null.\n'
        '"until" is when other people take over (null when the rota never changes them); "same" is true when\n'
        "the weekly handover keeps the same pair.\n"
        "Without --at the moment is now (or the SUPPORTBOT_NOW clock).\n"
        "Which front ends are enabled is only known to the server; it logs technicians it cannot reach at start-up."
    )
    parser.add_argument(
        "--at",
        metavar="MOMENT",
        help="ask about this moment, e.g. 2026-11-27T23:00 (office time unless an offset is given)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_language_argument(parser)
    parser.add_argument("--check", action="store_true", help="exit with status 1 when the rota has problems")
    actions = parser.add_subparsers(dest="action", metavar="{link,revoke,calendar-link,overrides,cancel}")
    link = actions.add_parser("link", help="print a technician's secret link to the local on-call inbox")
    link.add_argument("tech", help="the technician's id in [[oncall.technicians]]")
    revoke = actions.add_parser(
        "revoke", help="end every inbox link and signed-in inbox of a technician, and print their new link"
    )
    revoke.add_argument("tech", help="the technician's id in [[oncall.technicians]]")
    calendar = actions.add_parser(
        "calendar-link",
        help="print the secret address of a technician's calendar feed, or the whole rota's",
        description="Print the secret address of the on-call calendar feed (iCalendar, the next 12 weeks of shifts)."
        " Set SUPPORTBOT_PUBLIC_URL to the address calendar apps reach this server at.",
    )
    calendar.add_argument("tech", nargs="?", help="the technician's id in [[oncall.technicians]]; none: the whole rota")
    calendar.add_argument("--revoke", action="store_true", help="end the old address (calendars stop updating)")
    actions.add_parser("overrides", help="the overrides and swaps made in chat that are not over yet")
    cancel = actions.add_parser("cancel", help="cancel an override or swap made in chat (paging follows at once)")
    cancel.add_argument("id", help="the override's id, as `oncall overrides` shows it")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "calendar-link":
        if args.tech is not None and settings.oncall.technician(args.tech) is None:
            known = ", ".join(t.id for t in settings.oncall.technicians) or "none"
            raise BotError(f"{args.tech!r} is not a technician in [[oncall.technicians]] (technicians: {known})")
        print(calendar_link(settings, os.environ, args.tech, revoke=args.revoke))
        return 0
    zone = settings.hours.timezone
    at = parse_moment(args.at, zone, what="--at") if args.at else clock_for(settings).now().astimezone(zone)
    lang = report_language(args)
    if args.action in ("link", "revoke"):
        print(_inbox_link(args.action, args.tech, settings))
        return 0
    if args.action == "overrides":
        print(_list_overrides(asyncio.run(_chat_overrides(settings, at)), settings, lang))
        return 0
    if args.action == "cancel":
        print(asyncio.run(_cancel(settings, args.id, lang)))
        return 0
    rota = Rota(settings.oncall, zone).with_chat(asyncio.run(_chat_overrides(settings, at)))
    try:
        report = _report(rota, at, lang)
        output = json.dumps(report, ensure_ascii=False, indent=2) if args.json else _render(rota, at, lang)
    except OverflowError as exc:
        raise BotError(f"--at: {args.at!r} is too far in the past or future for a calendar") from exc
    print(output)
    return 1 if args.check and report["problems"] else 0


async def _chat_overrides(settings: Settings, at: datetime) -> list[ChatOverride]:
    """The overrides made in chat that are not over at `at`, read beside a running bot."""
    storage = open_storage(settings, read_only=True)
    try:
        return await storage.overrides.all(ending_after=at)
    finally:
        await storage.close()


def _list_overrides(found: list[ChatOverride], settings: Settings, lang: str) -> str:
    if not found:
        return text("oncall.cli.overrides_none", lang)
    zone = settings.hours.timezone

    def name(tech_id: str) -> str:
        tech = settings.oncall.technician(tech_id)
        return tech.name if tech else tech_id

    lines = []
    for o in found:
        status = text(f"oncall.cli.status_{o.status.value}", lang, primary=name(o.primary), requester=name(o.requester))
        span = {"start": format_moment(o.start, zone, lang), "end": format_moment(o.end, zone, lang)}
        lines.append(text("oncall.cli.override_line", lang, id=o.id, status=status, **span))
    return "\n".join(lines)


async def _cancel(settings: Settings, override_id: str, lang: str) -> str:
    storage = open_storage(settings, read_only=True)
    try:
        seen = await storage.overrides.get(override_id)
        if seen is None:
            raise BotError(f"no override made in chat has the id {override_id!r} (python -m bot oncall overrides)")
        cancelled = None if seen.status is OverrideStatus.CANCELLED else seen.cancelled("cli")
        if cancelled is None or (stored := await storage.overrides.change(seen, cancelled)) is None:
            raise BotError(f"the override {override_id!r} is already cancelled, or changed meanwhile; look again")
        await record_audit(storage.audit, audit_entry(stored, "cancelled", at=clock_for(settings).now()))
    finally:
        await storage.close()
    return text("oncall.cli.cancelled", lang, id=override_id)


def _inbox_link(action: str, tech: str, settings: Settings) -> str:
    """The secret link that opens `tech`'s local inbox; after `revoke`, a new one and the old ones end."""
    technician = settings.oncall.technician(tech)
    if technician is None or not technician.local:
        local = ", ".join(t.id for t in settings.oncall.technicians if t.local) or "none"
        raise BotError(f"{tech!r} is not a local technician (local = true in [[oncall.technicians]]; local: {local})")
    with command_links(settings, os.environ) as links:
        if action == "revoke":
            links.revoke(INBOX, tech)
        return inbox_links(links, [technician], local_base_url(settings.host, settings.port))[tech]


def _report(rota: Rota, at: datetime, language: str) -> dict[str, Any]:
    view = outlook(rota, at)
    now, override = view.now, view.now.override
    return {
        "at": at.isoformat(),
        "primary": _technician(rota, now.primary),
        "backup": _technician(rota, now.backup),
        "until": view.change.isoformat() if view.change else None,
        "override": None
        if override is None
        else {
            "start": override.start.astimezone(rota.zone).isoformat(),
            "end": override.end.astimezone(rota.zone).isoformat(),
            "primary": override.primary,
            "backup": override.backup,
        },
        "next_handover": {
            "at": view.handover.isoformat(),
            "primary": _technician(rota, view.then.primary),
            "backup": _technician(rota, view.then.backup),
            "same": view.same_after_handover,
        },
        "problems": rota.problems(now=at, language=language),
    }


def _technician(rota: Rota, tech: Technician | None) -> dict[str, Any] | None:
    if tech is None:
        return None
    reachable = [a.platform for a in rota.addresses(tech)]
    return {"id": tech.id, "name": tech.name, "language": tech.language, "reachable_on": reachable}


def _render(rota: Rota, at: datetime, lang: str) -> str:
    def say(key: str, **params: object) -> str:
        return text(f"oncall.cli.{key}", lang, **params)

    def when(moment: datetime) -> str:
        return format_moment(moment, rota.zone, lang)

    def who(tech: Technician | None) -> str:
        if tech is None:
            return say("nobody")
        places = [text(f"oncall.platform.{a.platform}", lang) for a in rota.addresses(tech)]
        return say("who", name=tech.name, id=tech.id, reach=", ".join(places) or say("unreachable"))

    def name(tech: Technician | None) -> str:
        return tech.name if tech else say("nobody")

    view = outlook(rota, at)
    now, then = view.now, view.then
    lines = [
        say("now", moment=when(at)),
        "  " + say("primary", who=who(now.primary)),
        "  " + say("backup", who=who(now.backup)),
        "  " + (say("until", moment=when(view.change)) if view.change else say("until_unchanged")),
    ]
    if now.override is not None:
        cover = now.override
        span = {"start": when(cover.start), "end": when(cover.end)}
        key = "override_chat" if cover.origin else "override"
        lines.append("  " + say(key, primary=cover.primary, id=cover.origin, **span))
    if not view.same_after_handover:
        key = "next_handover"
    else:
        key = "next_handover_same" if now.primary else "next_handover_nobody"
    lines.append(say(key, moment=when(view.handover), primary=name(then.primary), backup=name(then.backup)))
    problems = rota.problems(now=at, language=lang)
    lines.append("")
    if problems:
        lines.append(say("problems"))
        lines += [f"  - {p}" for p in problems]
    else:
        lines.append(say("no_problems"))
    return "\n".join(lines)
