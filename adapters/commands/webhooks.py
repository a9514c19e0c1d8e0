"""`supportbot webhooks [list] | resend ID`: the webhook calls and e-mails not delivered yet, and a re-send.

Reads beside the running bot without its lock (like `cases`). `resend` leaves a request in the
outbox folder, which the bot takes at its next delivery cycle (within a second or so), or at its next
start when it is not running; the receiver drops a duplicate by its idempotency key. Texts come from
the `outbox` catalog; `--json` prints the deliveries as stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from zoneinfo import ZoneInfo

from adapters.commands.language import add_language_argument, report_language
from adapters.storage import open_storage
from adapters.wiring import clock_for
from bot.config import Settings
from bot.errors import BotError
from bot.i18n import text
from bot.ports import Delivery, DeliveryState


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="pending and failed deliveries (the default)")
    resend = actions.add_parser("resend", help="send one delivery again now")
    resend.add_argument("id", type=delivery_id, metavar="ID", help="the delivery's number, as listed")
    for each in (parser, listing, resend):
        add_language_argument(each)
    for each in (parser, listing):
        each.add_argument("--json", action="store_true", help="print the deliveries as JSON")


def delivery_id(value: str) -> int:
    digits = value.strip().lstrip("#")
    if not digits.isascii() or not digits.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a delivery number; they are digits, e.g. 17")
    return int(digits)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings, report_language(args)))


async def _run(args: argparse.Namespace, settings: Settings, lang: str) -> int:
    storage = open_storage(settings, read_only=True)  # no lock: works beside the running bot
    try:
        if args.action == "resend":
            found = await storage.outbox.resend(args.id, now=clock_for(settings).now())
            if found is None:
                raise BotError(text("outbox.not_found", lang, id=args.id))
            print(text("outbox.resent", lang, id=found.id, event=found.message.event, case=found.message.case))
            return 0
        unsent = await storage.outbox.unsent()
        if getattr(args, "json", False):
            print(json.dumps([d.to_dict() for d in unsent], indent=2, ensure_ascii=False))
        elif not unsent:
            print(text("outbox.none", lang))
        else:
            print("\n".join(_table(unsent, settings.hours.timezone, lang)))
        return 1 if any(d.state is DeliveryState.FAILED for d in unsent) else 0
    finally:
        await storage.close()


def _table(deliveries: list[Delivery], zone: ZoneInfo, lang: str) -> list[str]:
    """Two lines a delivery: id, case, event, state, attempts, next attempt; then the target and the last error."""
    heads = tuple(text(f"outbox.list.{k}", lang) for k in ("id", "case", "event", "state", "attempts", "next"))
    rows = [heads]
    for d in deliveries:
        due = d.next_attempt.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if d.next_attempt else "-"
        state = text(f"outbox.state.{d.state.value}", lang)
        rows.append((str(d.id), str(d.message.case), d.message.event, state, str(d.attempts), due))
    widths = [max(len(row[i]) for row in rows) for i in range(len(heads))]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if i:
            d = deliveries[i - 1]
            detail = f"{d.message.channel} → {d.message.target}"
            if d.last_error:
                detail += "  " + text("outbox.list.error", lang, error=d.last_error)
            lines.append(" " * (widths[0] + 2) + detail)
    failed = sum(d.state is DeliveryState.FAILED for d in deliveries)
    lines.append(text("outbox.list.total", lang, count=len(deliveries), failed=failed))
    return lines
