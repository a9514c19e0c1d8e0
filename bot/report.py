"""The provider's manager's figures for a period: what came in, how fast nights were answered, what they earned.

Pure: it reads `Case`s (however they were loaded) and the configured fee, and returns numbers; the
command line and the local inbox put them into words, CSV and a page. Times are measured from the
moment the case got its number, which is when the employee starts waiting; only pages count for the
times (after-hours cases whose reporter accepted the cost and that were not linked to another case).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from bot.cancellation import charged
from bot.cases import Case, CaseEvent, CaseStatus, EventKind
from bot.categories import Category
from bot.costs import CostTerm
from bot.oncall.records import Step
from bot.ports import Cases

# The steps an escalation can reach past the first, in ladder order.
ESCALATION_STEPS = tuple(s.label for s in Step if s is not Step.PRIMARY)


@dataclass(frozen=True)
class Period:
    """Whole office days, `start` to `end` inclusive (None: open-ended), and optionally one customer."""

    start: date | None = None
    end: date | None = None
    customer: str | None = None

    def holds(self, case: Case, zone: tzinfo) -> bool:
        day = case.created_at.astimezone(zone).date()
        if (self.start and day < self.start) or (self.end and day > self.end):
            return False
        return self.customer is None or case.customer.name.casefold() == self.customer.casefold()


@dataclass(frozen=True)
class Durations:
    """Median, 90th percentile (nearest rank) and worst of some durations; None when there are none."""

    count: int
    median: timedelta | None
    p90: timedelta | None
    worst: timedelta | None

    @classmethod
    def of(cls, values: Iterable[timedelta]) -> Durations:
        ordered = sorted(values)
        if not ordered:
            return cls(0, None, None, None)
        p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]
        return cls(len(ordered), statistics.median(ordered), p90, ordered[-1])


@dataclass(frozen=True)
class CaseFacts:
    """One case as the report counts it: one CSV row."""

    number: int
    created_at: datetime
    week: str  # ISO week in office time, "2026-W48"
    customer: str
    category: Category
    critical: bool
    after_hours: bool
    status: str
    paged: bool
    acknowledged_by: str  # technician id; "" when nobody acknowledged
    to_acknowledge: timedelta | None
    resolved_by: str
    to_resolve: timedelta | None
    escalated_to: str  # the highest step past the first ("backup", "everyone", "gave_up"); "" when none
    fee_accepted: bool
    fee: Decimal | None  # the configured on-call fee, where one applies
    surcharge: bool  # work started outside hours: the surcharge on the hourly rate applies
    triaged_as: Category | None
    corrected: bool

    @classmethod
    def of(cls, case: Case, *, fee: Decimal, zone: tzinfo) -> CaseFacts:
        ack = _first(case.history, EventKind.ACKNOWLEDGED)
        resolved = _first(case.history, EventKind.RESOLVED)
        paged = case.page_requested and case.linked_to is None
        # A linked case is the same work; one withdrawn before anyone started costs nothing (bot.cancellation).
        free = case.status is CaseStatus.CANCELLED and not charged(case)
        accepted = paged and case.cost is not None and case.cost.accepted and not free
        fee_accepted = accepted and case.cost is not None and CostTerm.ONCALL_FEE in case.cost.terms
        steps = {str(e.data.get("step")) for e in case.history if e.kind is EventKind.ESCALATED}
        year, week, _ = case.created_at.astimezone(zone).isocalendar()
        return cls(
            number=case.number,
            created_at=case.created_at,
            week=f"{year}-W{week:02d}",
            customer=case.customer.name,
            category=case.category,
            critical=case.critical,
            after_hours=case.after_hours,
            status=case.status.value,
            paged=paged,
            acknowledged_by=ack.actor if ack else "",
            to_acknowledge=ack.at - case.created_at if ack and paged else None,
            resolved_by=resolved.actor if resolved else "",
            to_resolve=resolved.at - case.created_at if resolved and paged else None,
            escalated_to=next((s for s in reversed(ESCALATION_STEPS) if s in steps), ""),
            fee_accepted=fee_accepted,
            fee=fee if fee_accepted else None,
            surcharge=accepted and case.cost is not None and CostTerm.SURCHARGE in case.cost.terms,
            triaged_as=case.triaged_as,
            corrected=case.triage_corrected,
        )


@dataclass(frozen=True)
class CategoryCount:
    category: Category
    total: int
    critical: int
    after_hours: int


@dataclass(frozen=True)
class Report:
    """Every figure of the report for one period."""

    period: Period
    cases: tuple[CaseFacts, ...]  # oldest first
    categories: tuple[CategoryCount, ...]  # most cases first
    to_acknowledge: Durations
    to_resolve: Durations
    acknowledge_by_technician: dict[str, Durations]
    resolve_by_technician: dict[str, Durations]
    acknowledge_by_customer: dict[str, Durations]
    resolve_by_customer: dict[str, Durations]
    escalations: dict[str, int]  # highest step reached -> cases, in ladder order
    fees: int
    fee_total: Decimal
    surcharges: int
    corrections: dict[tuple[Category, Category], int]  # (triage said, employee chose) -> cases, most first
    weeks: tuple[str, ...]  # every ISO week from the first case's to the last one's
    weekly_categories: dict[str, dict[Category, int]]
    weekly_acknowledge: dict[str, Durations]

    @property
    def critical(self) -> int:
        return sum(c.critical for c in self.cases)

    @property
    def after_hours(self) -> int:
        return sum(c.after_hours for c in self.cases)

    @property
    def pages(self) -> int:
        return sum(c.paged for c in self.cases)


def build_report(cases: Iterable[Case], *, period: Period, fee: Decimal, zone: tzinfo) -> Report:
    """The report for the cases of `period` among `cases` (others are left out), with `fee` as the on-call fee."""
    facts = tuple(
        sorted((CaseFacts.of(c, fee=fee, zone=zone) for c in cases if period.holds(c, zone)), key=lambda f: f.number)
    )
    totals = Counter(f.category for f in facts)
    categories = tuple(
        CategoryCount(
            category,
            total,
            sum(f.critical for f in facts if f.category is category),
            sum(f.after_hours for f in facts if f.category is category),
        )
        for category, total in sorted(totals.items(), key=lambda item: (-item[1], item[0].value))
    )
    steps = Counter(f.escalated_to for f in facts if f.escalated_to)
    fees = [f for f in facts if f.fee is not None]
    corrections = Counter((f.triaged_as, f.category) for f in facts if f.corrected and f.triaged_as is not None)
    weeks = _weeks(facts, zone)
    weekly: dict[str, dict[Category, int]] = {week: {} for week in weeks}
    for f in facts:
        weekly[f.week][f.category] = weekly[f.week].get(f.category, 0) + 1
    return Report(
        period=period,
        cases=facts,
        categories=categories,
        to_acknowledge=Durations.of(f.to_acknowledge for f in facts if f.to_acknowledge is not None),
        to_resolve=Durations.of(f.to_resolve for f in facts if f.to_resolve is not None),
        acknowledge_by_technician=_grouped(facts, "acknowledged_by", "to_acknowledge"),
        resolve_by_technician=_grouped(facts, "resolved_by", "to_resolve"),
        acknowledge_by_customer=_grouped(facts, "customer", "to_acknowledge"),
        resolve_by_customer=_grouped(facts, "customer", "to_resolve"),
        escalations={step: steps[step] for step in ESCALATION_STEPS if steps[step]},
        fees=len(fees),
        fee_total=sum((f.fee for f in fees if f.fee is not None), Decimal(0)),
        surcharges=sum(f.surcharge for f in facts),
        corrections=dict(sorted(corrections.items(), key=lambda item: (-item[1], item[0]))),
        weeks=weeks,
        weekly_categories=weekly,
        weekly_acknowledge={
            week: Durations.of(f.to_acknowledge for f in facts if f.week == week and f.to_acknowledge is not None)
            for week in weeks
        },
    )


async def cases_since_start(store: Cases, period: Period, zone: tzinfo) -> list[Case]:
    """The stored cases made on or after the period's first day (the rest of the period is `build_report`'s)."""
    since = datetime.combine(period.start, time(), zone) if period.start else None
    return await store.find(since=since)


def _first(history: Sequence[CaseEvent], kind: EventKind) -> CaseEvent | None:
    return next((e for e in history if e.kind is kind), None)


def _grouped(facts: Sequence[CaseFacts], key: str, duration: str) -> dict[str, Durations]:
    """Durations per value of `key` (a technician, a customer), in name order."""
    groups: dict[str, list[timedelta]] = defaultdict(list)
    for f in facts:
        value = getattr(f, duration)
        if value is not None:
            groups[getattr(f, key)].append(value)
    return {name: Durations.of(values) for name, values in sorted(groups.items())}


def _weeks(facts: Sequence[CaseFacts], zone: tzinfo) -> tuple[str, ...]:
    """Every ISO week from the first case's to the last one's, empty weeks included (a chart needs them)."""
    if not facts:
        return ()
    days = [f.created_at.astimezone(zone).date() for f in facts]
    monday = min(days) - timedelta(days=min(days).weekday())
    weeks = []
    while monday <= max(days):
        year, week, _ = monday.isocalendar()
        weeks.append(f"{year}-W{week:02d}")
        monday += timedelta(days=7)
    return tuple(weeks)
