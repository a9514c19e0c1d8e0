"""The report's cases as CSV, one row per case, with stable English column names and ids (language-neutral,
like `cases list --json`), for a spreadsheet or a ticket system."""

from __future__ import annotations

import csv
import io
from datetime import timedelta, tzinfo

from bot.report import CaseFacts

COLUMNS = (
    "number",
    "created_at",
    "week",
    "customer",
    "category",
    "critical",
    "after_hours",
    "status",
    "paged",
    "acknowledged_by",
    "minutes_to_acknowledge",
    "resolved_by",
    "minutes_to_resolve",
    "escalated_to",
    "fee_accepted",
    "fee",
    "surcharge",
    "triaged_as",
    "triage_corrected",
)


def to_csv(cases: tuple[CaseFacts, ...], zone: tzinfo) -> str:
    """The CSV text; times in office time with their offset, durations in minutes, yes/no as true/false."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for f in cases:
        writer.writerow(
            (
                f.number,
                f.created_at.astimezone(zone).isoformat(timespec="minutes"),
                f.week,
                f.customer,
                f.category.value,
                _flag(f.critical),
                _flag(f.after_hours),
                f.status,
                _flag(f.paged),
                f.acknowledged_by,
                _minutes(f.to_acknowledge),
                f.resolved_by,
                _minutes(f.to_resolve),
                f.escalated_to,
                _flag(f.fee_accepted),
                "" if f.fee is None else f"{f.fee:.2f}",
                _flag(f.surcharge),
                f.triaged_as.value if f.triaged_as else "",
                _flag(f.corrected),
            )
        )
    return out.getvalue()


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _minutes(value: timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds() / 60:.1f}"
