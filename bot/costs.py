"""What a request outside normal hours costs, and how money and the next opening read to a person.

The policy: all work started outside normal hours carries a surcharge on the hourly rate; calling
on-call about something that is not critical also costs a fee. In normal hours nothing extra applies.
The amounts are settings (`[costs]`), the words are catalogs (`policy.<lang>.toml`), Babel formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from babel.dates import format_date, format_time
from babel.numbers import format_currency

from bot.config import CostSettings
from bot.i18n import language_of, text

# Babel locale per catalog language: Danish conventions, English words.
_BABEL_LOCALES = {"da": "da_DK", "en": "en_GB"}
# "mandag kl. 08:00" up to this many days ahead (Friday to Monday); further away a weekday alone is
# ambiguous ("mandag" on Christmas Eve is four days off), so the date is named too.
_WEEKDAY_HORIZON = 3


class CostTerm(StrEnum):
    SURCHARGE = "surcharge"  # surcharge_percent on the hourly rate, for all work started outside hours
    ONCALL_FEE = "oncall_fee"  # a fixed fee (excl. VAT) for calling on-call about something not critical


@dataclass(frozen=True)
class Costs:
    """The terms that apply to one request, with the amounts to state; `terms` is empty in normal hours."""

    terms: tuple[CostTerm, ...]
    oncall_fee: Decimal
    surcharge_percent: int


def applicable_costs(settings: CostSettings, *, critical: bool, open_now: bool) -> Costs:
    """Which terms apply: none when open; the surcharge always when closed; the fee too when not critical."""
    if open_now:
        terms: tuple[CostTerm, ...] = ()
    elif critical:
        terms = (CostTerm.SURCHARGE,)
    else:
        terms = (CostTerm.ONCALL_FEE, CostTerm.SURCHARGE)
    return Costs(terms=terms, oncall_fee=settings.oncall_fee, surcharge_percent=settings.surcharge_percent)


def format_money(amount: Decimal, language: str, currency: str = "DKK") -> str:
    """An amount as the reader expects it: Danish "1.000,00 kr.", English "DKK 1,000.00" (plain spaces)."""
    lang = language_of(language)
    return format_currency(
        amount,
        currency,
        format=text("policy.money.pattern", lang),
        locale=_BABEL_LOCALES[lang],
        currency_digits=False,
    )


def describe_when(moment: datetime, now: datetime, language: str, *, short: bool = False) -> str:
    """`moment` in words relative to `now`, in `moment`'s time zone.

    "i morgen kl. 8.00", "mandag kl. 8.00" (at most 3 days away), else "mandag den 28. december kl. 8.00".
    `short` is the form for buttons: "i morgen kl. 8.00", "28/12 kl. 8.00" / "28 Dec 8:00".
    """
    if moment.tzinfo is None or now.tzinfo is None:
        raise ValueError("describe_when needs timezone-aware moments")
    lang = language_of(language)
    locale = _BABEL_LOCALES[lang]
    area = "policy.when_short" if short else "policy.when"
    local_now = now.astimezone(moment.tzinfo)
    days = (moment.date() - local_now.date()).days
    time_pattern = text(f"{area}.time_pattern", lang)
    clock = format_time(moment, time_pattern, locale=locale)
    if days == 0:
        return text(f"{area}.today", lang, time=clock)
    if days == 1:
        return text(f"{area}.tomorrow", lang, time=clock)
    if 1 < days <= _WEEKDAY_HORIZON:
        return text(f"{area}.weekday", lang, weekday=format_date(moment, "EEEE", locale=locale), time=clock)
    return _on_date(moment, local_now, area, lang, clock)


def describe_past(moment: datetime, now: datetime, language: str) -> str:
    """A moment that has passed, in words relative to `now`, in `moment`'s time zone: "kl. 23.10" (today),
    "i går kl. 23.10", else "lørdag den 28. november kl. 23.10"."""
    if moment.tzinfo is None or now.tzinfo is None:
        raise ValueError("describe_past needs timezone-aware moments")
    lang = language_of(language)
    local_now = now.astimezone(moment.tzinfo)
    clock = format_time(moment, text("policy.when.time_pattern", lang), locale=_BABEL_LOCALES[lang])
    days = (local_now.date() - moment.date()).days
    if days == 0:
        return text("policy.when.earlier_today", lang, time=clock)
    if days == 1:
        return text("policy.when.yesterday", lang, time=clock)
    return _on_date(moment, local_now, "policy.when", lang, clock)


def _on_date(moment: datetime, local_now: datetime, area: str, lang: str, clock: str) -> str:
    pattern = f"{area}.date_pattern" if moment.year == local_now.year else f"{area}.date_pattern_year"
    locale = _BABEL_LOCALES[lang]
    return text(f"{area}.date", lang, date=format_date(moment, text(pattern, lang), locale=locale), time=clock)
