"""GET /oncall/report: the manager's report page, served from the local on-call inbox.

The same page as `python -m bot report --html`, with a form to choose the period and the customer
(`?from=2026-11-01&to=2026-11-30&customer=Demo A/S`; without dates, the last 30 days). Who may see it:
any technician signed in to the inbox on this machine (the inbox cookie that their secret link sets);
the configuration has no manager role, and the report names only what the rota and the cases already
show them. Without the cookie the answer is a 403 page, in Danish and English, that says to open the
inbox link first. A date that is no date, a period that ends before it starts or a customer no case
has gets the page with the form and a clear message (400), never a 500.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from aiohttp import web

from adapters.local.access import refusal
from adapters.local.passes import INBOX, INBOX_COOKIE
from adapters.local.routes import INBOX_PATH
from adapters.reports import page
from adapters.reports.tables import Words
from adapters.signed_links import SignedLinks
from adapters.wiring import Services
from bot.config import Technician
from bot.i18n import LANGUAGES, text
from bot.report import Period, Report, build_report, cases_since_start

logger = logging.getLogger(__name__)

PATH = "/oncall/report"
DEFAULT_DAYS = 30  # the period shown when no dates are given
MAX_CUSTOMER = 200
HEADERS = {
    "Content-Security-Policy": page.CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# matplotlib's settings are process-wide while a chart is drawn: one page is drawn at a time.
_DRAWING = threading.Lock()


class BadQuery(Exception):
    """The query cannot be used; the message (in the reader's language) says why."""


@dataclass(frozen=True)
class ReportPage:
    services: Services
    links: SignedLinks

    def add_to(self, app: web.Application) -> None:
        app.router.add_get(PATH, self.show)

    async def show(self, request: web.Request) -> web.StreamResponse:
        reason = refusal(request)
        if reason is not None:
            logger.warning("refused a report request from %s: %s", request.remote, reason)
            return web.Response(text=f"403 Forbidden: {reason}.\n", status=403)
        tech = self._signed_in(request)
        if tech is None:
            return _html(_needs_link(), status=403)
        lang = tech.language
        settings = self.services.settings
        words = Words(settings, lang)
        try:
            period = _period(request.query, lang, today=self._today())
            report = await self._report(period)
            if period.customer and not report.cases:
                await self._check_customer(period.customer, lang)
            notice, status = "", 200
        except BadQuery as exc:
            report, notice, status = await self._report(_last_days(self._today())), str(exc), 400
        made = words.moment(self.services.clock.now())
        body = await asyncio.to_thread(_render, report, words, made, notice)
        return _html(body, status=status)

    def _signed_in(self, request: web.Request) -> Technician | None:
        tech_id = self.links.verify(INBOX, request.cookies.get(INBOX_COOKIE, ""))
        return next((t for t in self.services.settings.oncall.technicians if t.local and t.id == tech_id), None)

    def _today(self) -> date:
        return self.services.clock.now().astimezone(self.services.settings.hours.timezone).date()

    async def _report(self, period: Period) -> Report:
        settings = self.services.settings
        zone = settings.hours.timezone
        found = await cases_since_start(self.services.store, period, zone)
        return build_report(found, period=period, fee=settings.costs.oncall_fee, zone=zone)

    async def _check_customer(self, customer: str, lang: str) -> None:
        """A customer no case has is most likely misspelt: say which customers there are."""
        known = sorted({c.customer.name for c in await self.services.store.find()})
        if not any(name.casefold() == customer.casefold() for name in known):
            if not known:
                raise BadQuery(text("report.no_customers", lang, customer=customer))
            raise BadQuery(text("report.unknown_customer", lang, customer=customer, known=", ".join(known)))


def _period(query: Mapping[str, str], lang: str, *, today: date) -> Period:
    """The period the query asks for; the last 30 days when it names no dates."""
    start, end = _day(query.get("from", ""), lang), _day(query.get("to", ""), lang)
    customer = " ".join(query.get("customer", "").split())[:MAX_CUSTOMER] or None
    if start and end and start > end:
        raise BadQuery(text("report.page_backwards", lang, start=start, end=end))
    if start is None and end is None:
        return _last_days(today, customer)
    return Period(start=start, end=end, customer=customer)


def _last_days(today: date, customer: str | None = None) -> Period:
    return Period(start=today - timedelta(days=DEFAULT_DAYS - 1), end=today, customer=customer)


def _day(typed: str, lang: str) -> date | None:
    typed = typed.strip()
    if not typed:
        return None
    try:
        if len(typed) != len("2026-11-01"):
            raise ValueError(typed)
        return date.fromisoformat(typed)
    except ValueError:
        raise BadQuery(text("report.page_bad_date", lang, value=typed[:40])) from None


def _render(report: Report, words: Words, made: str, notice: str) -> str:
    with _DRAWING:
        return page.render(report, words, made=made, form_action=PATH, back=INBOX_PATH, notice=notice)


def _needs_link() -> str:
    """The 403 page: what to do, in both languages (nobody is signed in, so nobody's language is known)."""
    parts = ['<!doctype html><html lang="da"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{escape(text('report.page_forbidden_title', 'da'))}</title></head><body>"]  # fmt: skip
    for lang in LANGUAGES:
        parts.append(f'<section lang="{lang}"><h1>{escape(text("report.page_forbidden_title", lang))}</h1>')
        parts.append(f"<p>{escape(text('report.page_forbidden', lang))}</p></section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _html(body: str, *, status: int) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8", headers=HEADERS)
