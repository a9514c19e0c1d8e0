"""The report's figures as titled tables of words in one language: what the terminal and the page both show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.config import Settings
from bot.costs import format_money
from bot.i18n import text
from bot.report import Durations, Report


@dataclass(frozen=True)
class Table:
    title: str
    heads: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""
    groups: tuple[tuple[str, int], ...] = ()  # a heading row above `heads`: (label, columns it spans)


class Words:
    """Names for ids, labels for slugs, durations as h:mm, money as the policy catalog writes it."""

    def __init__(self, settings: Settings, lang: str) -> None:
        self.lang = lang
        self.settings = settings
        self.technicians = {t.id: t.name for t in settings.oncall.technicians}

    def say(self, key: str, **params: object) -> str:
        return text(f"report.{key}", self.lang, **params)

    def category(self, category: object) -> str:
        return text(f"intake.category.{category}", self.lang)

    def technician(self, tech: str) -> str:
        return self.technicians.get(tech, tech) or self.say("nobody")

    def money(self, amount: object) -> str:
        return format_money(amount, self.lang, self.settings.costs.currency)  # type: ignore[arg-type]

    def yes_no(self, value: bool) -> str:
        return self.say("yes" if value else "no")

    def duration(self, value: timedelta | None) -> str:
        """h:mm, rounded to the minute: "0:06", "1:05", "26:00"."""
        if value is None:
            return self.say("nobody")
        minutes = round(value.total_seconds() / 60)
        return f"{minutes // 60}:{minutes % 60:02d}"

    def moment(self, value: datetime) -> str:
        return value.astimezone(self.settings.hours.timezone).strftime("%Y-%m-%d %H:%M")

    def period(self, report: Report) -> str:
        p = report.period
        start, end = (_day(d) for d in (p.start, p.end))
        if start and end:
            words = self.say("period_between", start=start, end=end)
        elif start:
            words = self.say("period_from", start=start)
        elif end:
            words = self.say("period_to", end=end)
        else:
            words = self.say("period_all")
        return self.say("period_customer", period=words, customer=p.customer) if p.customer else words


def tables(report: Report, words: Words) -> list[Table]:
    """Every table of the report, in reading order; tables with nothing to show are left out."""
    say = words.say
    cases = len(report.cases)
    overview = [
        (say("overview.cases"), str(cases)),
        (say("overview.critical"), str(report.critical)),
        (say("overview.not_critical"), str(cases - report.critical)),
        (say("overview.in_hours"), str(cases - report.after_hours)),
        (say("overview.after_hours"), str(report.after_hours)),
        (say("overview.pages"), str(report.pages)),
        (say("overview.escalated"), str(sum(report.escalations.values()))),
        (
            say("overview.fees"),
            say(
                "overview.fee_amount",
                count=report.fees,
                fee=words.money(words.settings.costs.oncall_fee),
                total=words.money(report.fee_total),
            ),
        ),
        (say("overview.surcharges", percent=words.settings.costs.surcharge_percent), str(report.surcharges)),
        (say("overview.corrections"), str(sum(report.corrections.values()))),
    ]
    found = [Table(say("overview.title"), ("", ""), tuple(overview))]
    if report.categories:
        heads = tuple(say(f"categories.{k}") for k in ("category", "cases", "critical", "after_hours"))
        rows = tuple(
            (words.category(c.category), str(c.total), str(c.critical), str(c.after_hours)) for c in report.categories
        )
        found.append(Table(say("categories.title"), heads, rows))
    if report.to_acknowledge.count or report.to_resolve.count:
        technicians = sorted({*report.acknowledge_by_technician, *report.resolve_by_technician}, key=words.technician)
        everyone = (say("everyone"), report.to_acknowledge, report.to_resolve)
        by_tech = [
            (words.technician(t), report.acknowledge_by_technician.get(t), report.resolve_by_technician.get(t))
            for t in technicians
        ]
        customers = sorted({*report.acknowledge_by_customer, *report.resolve_by_customer})
        by_customer = [(c, report.acknowledge_by_customer.get(c), report.resolve_by_customer.get(c)) for c in customers]
        found.append(_times(say("times.by_technician"), say("times.technician"), [everyone, *by_tech], words))
        found.append(_times(say("times.by_customer"), say("times.customer"), [everyone, *by_customer], words))
    if report.escalations:
        rows = tuple((say(f"escalations.{step}"), str(n)) for step, n in report.escalations.items())
        found.append(Table(say("escalations.title"), (say("escalations.step"), say("escalations.cases")), rows))
    if report.corrections:
        heads = tuple(say(f"corrections.{k}") for k in ("offered", "chosen", "cases"))
        rows = tuple(
            (words.category(offered), words.category(chosen), str(n))
            for (offered, chosen), n in report.corrections.items()
        )
        found.append(Table(say("corrections.title"), heads, rows))
    return found


def _times(title: str, who: str, rows: list[tuple[str, Durations | None, Durations | None]], words: Words) -> Table:
    """Count, median, p90 and worst of acknowledging and of resolving, one row per technician or customer."""
    say = words.say
    columns = ("count", "median", "p90", "worst")
    heads = (who, *(say(f"times.{c}") for c in columns * 2))
    groups = (("", 1), (say("times.acknowledged"), len(columns)), (say("times.resolved"), len(columns)))
    body = []
    for name, ack, resolved in rows:
        cells = [name]
        for d in (ack, resolved):
            d = d or Durations.of(())
            cells += [str(d.count), words.duration(d.median), words.duration(d.p90), words.duration(d.worst)]
        body.append(tuple(cells))
    return Table(title, heads, tuple(body), note=say("durations_note"), groups=groups)


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""
