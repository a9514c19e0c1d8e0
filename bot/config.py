"""Settings: the embedded policy defaults, overridden by a TOML file, plus the environment.

Secrets never come from here; each front end reads its own from the environment.
A broken file gives one `ConfigError` that names the file, the key and what is wrong.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from bot.errors import ConfigError

DEFAULTS_PATH = Path(__file__).with_name("defaults.toml")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
T = TypeVar("T")


@dataclass(frozen=True)
class ProviderSettings:
    name: str
    phone: str
    phone_menu: str
    email: str


@dataclass(frozen=True)
class HoursSettings:
    timezone: ZoneInfo
    # One entry per weekday, Monday first: (opens, closes) or None when closed all day.
    week: tuple[tuple[time, time] | None, ...]
    holidays_country: str
    closed_days: frozenset[date]
    # (month, day) pairs closed every year, for days the holidays package does not count as public.
    closed_every_year: frozenset[tuple[int, int]]


@dataclass(frozen=True)
class CostSettings:
    currency: str
    oncall_fee: Decimal
    surcharge_percent: int


@dataclass(frozen=True)
class CaseSettings:
    review_minutes: int
    first_number: int


@dataclass(frozen=True)
class DialogSettings:
    timeout: timedelta


@dataclass(frozen=True)
class SlackAddress:
    team: str
    user: str


@dataclass(frozen=True)
class TeamsAddress:
    tenant: str
    user: str


@dataclass(frozen=True)
class Technician:
    id: str
    name: str
    language: str
    local: bool
    slack: SlackAddress | None
    teams: TeamsAddress | None


@dataclass(frozen=True)
class RotaWeek:
    primary: str
    backup: str | None


@dataclass(frozen=True)
class RotaOverride:
    """One-off cover: `primary` (and optionally `backup`) is on call from `start` to `end`."""

    start: datetime
    end: datetime
    primary: str
    backup: str | None


@dataclass(frozen=True)
class OncallSettings:
    ack_timeout: timedelta
    escalate_all_after: timedelta
    reminder_after: timedelta
    max_reminders: int  # reminders to the acknowledger of an unresolved case; 0 for none
    duplicate_window: timedelta
    keep_posts: timedelta  # how long a page or team post of a case still open is kept up to date
    handover_weekday: int  # Monday is 0
    handover_time: time
    rotation_start: date
    rotation: tuple[RotaWeek, ...]
    technicians: tuple[Technician, ...]
    overrides: tuple[RotaOverride, ...]

    def technician(self, technician_id: str) -> Technician | None:
        return next((t for t in self.technicians if t.id == technician_id), None)


@dataclass(frozen=True)
class Customer:
    name: str
    agreement: bool
    local: bool
    slack_teams: tuple[str, ...]
    teams_tenants: tuple[str, ...]
    share_cases: bool = False  # colleagues may see each other's cases; by default each person sees only their own


@dataclass(frozen=True)
class TeamChannelSettings:
    slack_channel: str
    slack_team: str  # the workspace (team id) of slack_channel; needed when the app is in several workspaces
    teams_conversation: str
    teams_service_url: str


@dataclass(frozen=True)
class Settings:
    provider: ProviderSettings
    hours: HoursSettings
    costs: CostSettings
    cases: CaseSettings
    dialog: DialogSettings
    oncall: OncallSettings
    customers: tuple[Customer, ...]
    team_channel: TeamChannelSettings
    host: str
    port: int
    data_dir: Path
    start_at: datetime | None  # SUPPORTBOT_NOW: the clock starts here and runs on
    config_path: Path | None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the embedded defaults, `SUPPORTBOT_CONFIG` and the environment."""
    env = os.environ if environ is None else environ
    raw = tomllib.loads(DEFAULTS_PATH.read_text(encoding="utf-8"))
    config_path: Path | None = None
    if env.get("SUPPORTBOT_CONFIG"):
        config_path = Path(env["SUPPORTBOT_CONFIG"])
    elif Path("supportbot.toml").is_file():
        config_path = Path("supportbot.toml")
    source = "the embedded defaults"
    if config_path is not None:
        source = str(config_path)
        try:
            overrides = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{config_path}: the configuration file does not exist (SUPPORTBOT_CONFIG)") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_path}: the configuration file cannot be read: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: not valid TOML: {exc}") from exc
        raw = _merge(raw, overrides)
    reader = _Reader(source)
    settings = reader.settings(raw, env)
    settings = _with_env(settings, env, config_path)
    return settings


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _with_env(settings: Settings, env: Mapping[str, str], config_path: Path | None) -> Settings:
    port_text = env.get("PORT", "3978")
    try:
        port = int(port_text)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError as exc:
        raise ConfigError(f"environment: PORT must be a port number 0-65535, not {port_text!r}") from exc
    start_at = None
    if env.get("SUPPORTBOT_NOW"):
        start_at = parse_moment(env["SUPPORTBOT_NOW"], settings.hours.timezone, what="SUPPORTBOT_NOW")
    return Settings(
        **{
            **settings.__dict__,
            "host": env.get("HOST", "127.0.0.1"),
            "port": port,
            "data_dir": Path(env.get("SUPPORTBOT_DATA", "data")),
            "start_at": start_at,
            "config_path": config_path,
        }
    )


def parse_moment(text: str, zone: ZoneInfo, *, what: str) -> datetime:
    """An ISO-8601 moment; without an offset it is read as local time in `zone`."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{what}: {text!r} is not an ISO-8601 moment such as 2026-11-28T22:30") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


class _Reader:
    """Reads typed values out of the merged TOML, naming file and key in every error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: [{key}] {problem}")

    def get(self, table: Mapping[str, Any], path: str, name: str, kind: type[T]) -> T:
        key = f"{path}.{name}" if path else name
        if name not in table:
            raise self.fail(key, "is missing")
        value = table[name]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            raise self.fail(key, f"must be {_KIND_NAMES.get(kind, kind.__name__)}, not {value!r}")
        return value

    def convert(self, key: str, value: Any, parse: Callable[[Any], T], expected: str) -> T:
        try:
            return parse(value)
        except (ValueError, TypeError, InvalidOperation, ZoneInfoNotFoundError) as exc:
            raise self.fail(key, f"must be {expected}, not {value!r}") from exc

    def table(self, raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
        table = self.get(raw, "", name, dict)
        self.only(table, name, name)
        return table

    def only(self, table: Mapping[str, Any], kind: str, key: str) -> None:
        """Refuse keys the bot does not read: a misspelt key would otherwise be silently ignored."""
        for name in table:
            if name not in _KEYS[kind]:
                raise self.fail(f"{key}.{name}", f"is not a known key; known are {', '.join(sorted(_KEYS[kind]))}")

    def settings(self, raw: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
        known = {"provider", "hours", "costs", "cases", "dialog", "oncall", "customers", "team_channel"}
        for name in raw:
            if name not in known:
                raise self.fail(name, f"is not a known section; known are {', '.join(sorted(known))}")
        provider = self.table(raw, "provider")
        hours = self.hours(self.table(raw, "hours"))
        costs = self.table(raw, "costs")
        cases = self.table(raw, "cases")
        dialog = self.table(raw, "dialog")
        channel = self.table(raw, "team_channel")
        return Settings(
            provider=ProviderSettings(
                **{n: self.get(provider, "provider", n, str) for n in ("name", "phone", "phone_menu", "email")}
            ),
            hours=hours,
            costs=CostSettings(
                currency=self.get(costs, "costs", "currency", str),
                oncall_fee=self.money(costs, "costs.oncall_fee"),
                surcharge_percent=self.positive(costs, "costs", "surcharge_percent", allow_zero=True),
            ),
            cases=CaseSettings(
                review_minutes=self.positive(cases, "cases", "review_minutes"),
                first_number=self.positive(cases, "cases", "first_number"),
            ),
            dialog=DialogSettings(timeout=timedelta(minutes=self.positive(dialog, "dialog", "timeout_minutes"))),
            oncall=self.oncall(self.table(raw, "oncall"), hours.timezone),
            customers=self.customers(self.get(raw, "", "customers", list)),
            team_channel=TeamChannelSettings(
                **{
                    n: self.get(channel, "team_channel", n, str)
                    for n in ("slack_channel", "slack_team", "teams_conversation", "teams_service_url")
                }
            ),
            host="127.0.0.1",
            port=3978,
            data_dir=Path("data"),
            start_at=None,
            config_path=None,
        )

    def positive(self, table: Mapping[str, Any], path: str, name: str, *, allow_zero: bool = False) -> int:
        value = self.get(table, path, name, int)
        if value < 0 or (value == 0 and not allow_zero):
            raise self.fail(f"{path}.{name}", f"must be a whole number above {-1 if allow_zero else 0}, not {value}")
        return value

    def money(self, table: Mapping[str, Any], key: str) -> Decimal:
        value = table.get(key.split(".")[-1])
        amount = self.convert(key, value, lambda v: Decimal(str(v)), 'an amount such as "1000.00"')
        if not amount.is_finite() or amount < 0:
            raise self.fail(key, f'must be an amount such as "1000.00", not {value!r}')
        return amount

    def hours(self, table: Mapping[str, Any]) -> HoursSettings:
        zone = self.convert("hours.timezone", self.get(table, "hours", "timezone", str), ZoneInfo, "an IANA time zone")
        week = tuple(self.opening(f"hours.{day}", self.get(table, "hours", day, str)) for day in WEEKDAYS)
        if not any(week):
            raise self.fail(
                "hours", "closes every weekday, so support would never open; give at least one weekday opening hours"
            )
        days = self.get(table, "hours", "closed_days", list)
        country = self.get(table, "hours", "holidays_country", str)
        if country and country not in holidays.list_supported_countries():
            raise self.fail(
                "hours.holidays_country",
                f'must be a country code the holidays package knows, such as "DK", or "" for none; not {country!r}',
            )
        return HoursSettings(
            timezone=zone,
            week=week,
            holidays_country=country,
            closed_every_year=frozenset(
                self.convert("hours.closed_every_year", d, _month_day, 'month and day like "12-24"')
                for d in self.get(table, "hours", "closed_every_year", list)
            ),
            closed_days=frozenset(
                self.convert("hours.closed_days", d, lambda v: date.fromisoformat(str(v)), "dates like 2026-12-24")
                for d in days
            ),
        )

    def opening(self, key: str, text: str) -> tuple[time, time] | None:
        if not text.strip():
            return None

        def parse(value: str) -> tuple[time, time]:
            start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
            if end <= start:
                raise ValueError
            return start, end

        return self.convert(key, text, parse, 'opening hours like "08:00-16:00", or "" for closed')

    def oncall(self, table: Mapping[str, Any], zone: ZoneInfo) -> OncallSettings:
        path = "oncall"
        technicians = tuple(
            self.technician(f"oncall.technicians[{i}]", t)
            for i, t in enumerate(self.get(table, path, "technicians", list))
        )
        ids = [t.id for t in technicians]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise self.fail("oncall.technicians", f"names technician id {duplicates[0]!r} more than once")

        def known(key: str, technician_id: Any, *, optional: bool = False) -> str | None:
            if optional and technician_id in (None, ""):
                return None
            if technician_id not in ids:
                raise self.fail(key, f"names technician {technician_id!r}, who is not in [[oncall.technicians]]")
            return str(technician_id)

        rotation = []
        for i, week in enumerate(self.get(table, path, "rotation", list)):
            key = f"oncall.rotation[{i}]"
            if not isinstance(week, dict):
                raise self.fail(key, 'must be a table like { primary = "morten", backup = "sara" }')
            self.only(week, "oncall.rotation", key)
            rotation.append(
                RotaWeek(
                    primary=known(f"{key}.primary", week.get("primary")) or "",
                    backup=known(f"{key}.backup", week.get("backup"), optional=True),
                )
            )
        overrides = []
        for i, cover in enumerate(table.get("overrides", [])):
            key = f"oncall.overrides[{i}]"
            if not isinstance(cover, dict):
                raise self.fail(key, "must be a table with start, end and primary")
            self.only(cover, "oncall.overrides", key)
            start = self.moment(f"{key}.start", cover.get("start"), zone)
            end = self.moment(f"{key}.end", cover.get("end"), zone)
            if end <= start:
                raise self.fail(f"{key}.end", "must be after start")
            overrides.append(
                RotaOverride(
                    start=start,
                    end=end,
                    primary=known(f"{key}.primary", cover.get("primary")) or "",
                    backup=known(f"{key}.backup", cover.get("backup"), optional=True),
                )
            )
        day = self.get(table, path, "handover_day", str).lower()
        if day not in WEEKDAYS:
            raise self.fail("oncall.handover_day", f"must be a weekday in English (monday ... sunday), not {day!r}")
        return OncallSettings(
            ack_timeout=timedelta(minutes=self.positive(table, path, "ack_timeout_minutes")),
            escalate_all_after=timedelta(minutes=self.positive(table, path, "escalate_all_minutes")),
            reminder_after=timedelta(minutes=self.positive(table, path, "reminder_minutes")),
            max_reminders=self.positive(table, path, "max_reminders", allow_zero=True),
            duplicate_window=timedelta(minutes=self.positive(table, path, "duplicate_window_minutes", allow_zero=True)),
            keep_posts=timedelta(days=self.positive(table, path, "keep_posts_days")),
            handover_weekday=WEEKDAYS.index(day),
            handover_time=self.convert(
                "oncall.handover_time",
                self.get(table, path, "handover_time", str),
                time.fromisoformat,
                'a time like "08:00"',
            ),
            rotation_start=self.convert(
                "oncall.rotation_start",
                self.get(table, path, "rotation_start", str),
                date.fromisoformat,
                'a date like "2026-01-05"',
            ),
            rotation=tuple(rotation),
            technicians=technicians,
            overrides=tuple(overrides),
        )

    def moment(self, key: str, value: Any, zone: ZoneInfo) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=zone)
        if not isinstance(value, str):
            raise self.fail(key, f"must be a moment like 2026-11-27T16:00, not {value!r}")
        try:
            return parse_moment(value, zone, what=key)
        except ConfigError as exc:
            raise self.fail(key, f"must be a moment like 2026-11-27T16:00, not {value!r}") from exc

    def technician(self, key: str, raw: Any) -> Technician:
        if not isinstance(raw, dict):
            raise self.fail(key, "must be a table with id, name and language")
        self.only(raw, "oncall.technicians", key)
        language = self.get(raw, key, "language", str) if "language" in raw else "da"
        if language not in ("da", "en"):
            raise self.fail(f"{key}.language", f'must be "da" or "en", not {language!r}')
        slack = raw.get("slack")
        teams = raw.get("teams")
        return Technician(
            id=self.get(raw, key, "id", str),
            name=self.get(raw, key, "name", str),
            language=language,
            local=bool(raw.get("local", False)),
            slack=None
            if slack is None
            else SlackAddress(
                team=self.get(self.get(raw, key, "slack", dict), f"{key}.slack", "team", str),
                user=self.get(slack, f"{key}.slack", "user", str),
            ),
            teams=None
            if teams is None
            else TeamsAddress(
                tenant=self.get(self.get(raw, key, "teams", dict), f"{key}.teams", "tenant", str),
                user=self.get(teams, f"{key}.teams", "user", str),
            ),
        )

    def customers(self, raw: list[Any]) -> tuple[Customer, ...]:
        customers = []
        for i, entry in enumerate(raw):
            key = f"customers[{i}]"
            if not isinstance(entry, dict):
                raise self.fail(key, "must be a table with name, agreement, slack_teams and teams_tenants")
            self.only(entry, "customers", key)
            customers.append(
                Customer(
                    name=self.get(entry, key, "name", str),
                    agreement=self.get(entry, key, "agreement", bool) if "agreement" in entry else False,
                    local=self.get(entry, key, "local", bool) if "local" in entry else False,
                    slack_teams=tuple(self.strings(entry, key, "slack_teams")),
                    teams_tenants=tuple(self.strings(entry, key, "teams_tenants")),
                    share_cases=self.get(entry, key, "share_cases", bool) if "share_cases" in entry else False,
                )
            )
        return tuple(customers)

    def strings(self, table: Mapping[str, Any], path: str, name: str) -> list[str]:
        values = self.get(table, path, name, list) if name in table else []
        if not all(isinstance(v, str) for v in values):
            raise self.fail(f"{path}.{name}", f"must be a list of strings, not {values!r}")
        return values


# The keys each table may hold, by section (list entries by the name of their list).
def _month_day(value: Any) -> tuple[int, int]:
    """ "12-24" -> (12, 24), checked against a leap year so "02-29" is allowed."""
    month, day = (int(part) for part in str(value).split("-"))
    date(2024, month, day)
    return month, day


_KEYS: dict[str, frozenset[str]] = {
    "provider": frozenset({"name", "phone", "phone_menu", "email"}),
    "hours": frozenset({"timezone", "holidays_country", "closed_days", "closed_every_year", *WEEKDAYS}),
    "costs": frozenset({"currency", "oncall_fee", "surcharge_percent"}),
    "cases": frozenset({"review_minutes", "first_number"}),
    "dialog": frozenset({"timeout_minutes"}),
    "team_channel": frozenset({"slack_channel", "slack_team", "teams_conversation", "teams_service_url"}),
    "oncall": frozenset(
        {
            "ack_timeout_minutes",
            "escalate_all_minutes",
            "reminder_minutes",
            "max_reminders",
            "duplicate_window_minutes",
            "keep_posts_days",
            "handover_day",
            "handover_time",
            "rotation_start",
            "rotation",
            "technicians",
            "overrides",
        }
    ),
    "oncall.rotation": frozenset({"primary", "backup"}),
    "oncall.overrides": frozenset({"start", "end", "primary", "backup"}),
    "oncall.technicians": frozenset({"id", "name", "language", "local", "slack", "teams"}),
    "customers": frozenset({"name", "agreement", "local", "share_cases", "slack_teams", "teams_tenants"}),
}

_KIND_NAMES: dict[type, str] = {
    str: "a string",
    int: "a whole number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}
