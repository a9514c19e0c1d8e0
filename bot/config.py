"""Settings: the embedded policy defaults, overridden by a TOML file, plus the environment.

The schema is stated once, as the typed models below (pydantic v2); `defaults.toml` holds the
commented default values. Sections whose file shape is also their runtime shape are validated
dataclasses; the others (`_HoursFile`, `_OncallFile`, ...) turn file keys into runtime values.
Secrets never come from here; each front end reads its own from the environment.
A broken file gives one `ConfigError` that names the file, the key and what is wrong.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, model_validator
from pydantic import ValidationError as SchemaError
from pydantic.dataclasses import dataclass as schema
from pydantic_core import PydanticCustomError

from bot.errors import ConfigError

DEFAULTS_PATH = Path(__file__).with_name("defaults.toml")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# What a webhook may subscribe to: a case is created, acknowledged, resolved or cancelled.
WebhookEvent = Literal["case.created", "case.acknowledged", "case.resolved", "case.cancelled"]
WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = get_args(WebhookEvent)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Every table refuses keys the bot does not read: a misspelt key would otherwise be silently ignored.
_TABLE = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
_SCHEMA = ConfigDict(_TABLE, frozen=True)


def _problem(text: str) -> PydanticCustomError:
    return PydanticCustomError("config", text)


def _parsed(parse: Callable[[str], Any], expected: str, *, also: type | tuple[type, ...] = ()) -> PlainValidator:
    """A string (or an `also` value TOML parsed already) read by `parse`; anything else fails saying `expected`."""

    def validate(value: Any) -> Any:
        if not isinstance(value, (str, *(also if isinstance(also, tuple) else (also,)))):
            raise _problem(f"must be a string, not {value!r}")
        try:
            return parse(value)
        except (ValueError, TypeError, InvalidOperation, ZoneInfoNotFoundError) as exc:
            raise _problem(f"must be {expected}, not {value!r}") from exc

    return PlainValidator(validate)


def _opening(text: str) -> tuple[time, time] | None:
    if not text.strip():
        return None
    start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    if end <= start:
        raise ValueError
    return start, end


def _month_day(text: str) -> tuple[int, int]:
    """ "12-24" -> (12, 24), checked against a leap year so "02-29" is allowed."""
    month, day = (int(part) for part in text.split("-"))
    date(2024, month, day)
    return month, day


def _money(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise _problem(f'must be an amount such as "1000.00", not {value!r}')
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        raise _problem(f'must be an amount such as "1000.00", not {value!r}')
    return amount


def _country(code: str) -> str:
    if code and code not in holidays.list_supported_countries():
        raise _problem(f'must be a country code the holidays package knows, such as "DK", or "" for none; not {code!r}')
    return code


def _date(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


Text = Annotated[str, Field(strict=True)]
Flag = Annotated[bool, Field(strict=True)]
Count = Annotated[int, Field(strict=True, ge=0)]  # 0 allowed
Positive = Annotated[int, Field(strict=True, gt=0)]
Strings = Annotated[tuple[Text, ...], BeforeValidator(lambda v: v if isinstance(v, (list, tuple)) else _not_a_list(v))]
Money = Annotated[Decimal, BeforeValidator(_money)]
OptionalId = Annotated[Text | None, AfterValidator(lambda v: v or None)]  # "" means none
Zone = Annotated[ZoneInfo, _parsed(ZoneInfo, "an IANA time zone")]
Opening = Annotated[tuple[time, time] | None, _parsed(_opening, 'opening hours like "08:00-16:00", or "" for closed')]
MonthDay = Annotated[tuple[int, int], _parsed(_month_day, 'month and day like "12-24"')]
Day = Annotated[date, _parsed(_date, "dates like 2026-12-24", also=date)]
ClockTime = Annotated[time, _parsed(time.fromisoformat, 'a time like "08:00"')]
StartDate = Annotated[date, _parsed(date.fromisoformat, 'a date like "2026-01-05"')]
Weekday = Annotated[int, _parsed(lambda d: WEEKDAYS.index(d.lower()), "a weekday in English (monday ... sunday)")]
Moment = Annotated[datetime, _parsed(datetime.fromisoformat, "a moment like 2026-11-27T16:00", also=datetime)]


def _phone_number(text: str) -> str:
    """A technician's phone number in international form; spaces and dashes allowed, "" for none."""
    number = re.sub(r"[\s\-()]", "", text)
    if number and not re.fullmatch(r"\+[1-9]\d{7,14}", number):
        raise ValueError
    return number


PhoneNumber = Annotated[str, _parsed(_phone_number, 'an international phone number such as "+45 12 34 56 78"')]


def _not_a_list(value: Any) -> Any:
    raise _problem(f"must be a list, not {value!r}")


def _http_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _problem(f"must be an http:// or https:// address, not {url!r}")
    return url.strip()


def _env_name(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise _problem(
            "must be the NAME of the environment variable that holds the signing secret (such as "
            "SUPPORTBOT_WEBHOOK_SECRET); the secret itself never goes in the file"
        )
    return name


def _some(events: tuple[str, ...]) -> tuple[str, ...]:
    if not events:
        raise _problem(f"must name at least one of {', '.join(WEBHOOK_EVENTS)}")
    return events


@schema(frozen=True, config=_TABLE)
class ProviderSettings:
    name: Text
    phone: Text
    phone_menu: Text
    email: Text


@dataclass(frozen=True)
class HoursSettings:
    timezone: ZoneInfo
    # One entry per weekday, Monday first: (opens, closes) or None when closed all day.
    week: tuple[tuple[time, time] | None, ...]
    holidays_country: str
    closed_days: frozenset[date]
    # (month, day) pairs closed every year, for days the holidays package does not count as public.
    closed_every_year: frozenset[tuple[int, int]]


@schema(frozen=True, config=_TABLE)
class CostSettings:
    currency: Text
    oncall_fee: Money
    surcharge_percent: Count


@schema(frozen=True, config=_TABLE)
class CaseSettings:
    review_minutes: Positive
    first_number: Positive
    status_days: Positive = 14  # "status" lists the person's cases of this many days (and any still open)


@dataclass(frozen=True)
class DialogSettings:
    timeout: timedelta


@schema(frozen=True, config=_TABLE)
class SlackAddress:
    team: Text
    user: Text


@schema(frozen=True, config=_TABLE)
class TeamsAddress:
    tenant: Text
    user: Text


@schema(frozen=True, config=_TABLE)
class Technician:
    id: Text
    name: Text
    language: Literal["da", "en"] = "da"
    local: Flag = False
    slack: SlackAddress | None = None
    teams: TeamsAddress | None = None
    phone: PhoneNumber = ""  # for SMS and voice escalation ([oncall] sms_after_minutes, call_after_minutes)


@schema(frozen=True, config=_TABLE)
class RotaWeek:
    primary: Text
    backup: OptionalId = None


@dataclass(frozen=True)
class RotaOverride:
    """One-off cover: `primary` (and optionally `backup`) is on call from `start` to `end`."""

    start: datetime
    end: datetime
    primary: str
    backup: str | None
    origin: str = ""  # "" from the config file; the id of a chat override (`bot.oncall.overrides`)


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
    rotation_start: date  # any day of the first rota week: the week runs from the handover before it
    rotation: tuple[RotaWeek, ...]
    technicians: tuple[Technician, ...]
    overrides: tuple[RotaOverride, ...]
    # Not acknowledged this long after a step was paged: an SMS, then a voice call, to the step's
    # technicians who have a phone number (None: off).
    sms_after: timedelta | None = None
    call_after: timedelta | None = None
    # Employees who ask "hvem har vagten?" hear the technicians' names too (never their addresses).
    names_to_employees: bool = False

    def technician(self, technician_id: str) -> Technician | None:
        return next((t for t in self.technicians if t.id == technician_id), None)


@schema(frozen=True, config=_TABLE)
class Customer:
    name: Text
    agreement: Flag = False
    local: Flag = False
    slack_teams: Strings = ()
    teams_tenants: Strings = ()
    share_cases: Flag = False  # colleagues may see each other's cases; by default each person sees only their own


@schema(frozen=True, config=_TABLE)
class TeamChannelSettings:
    slack_channel: Text
    slack_team: Text  # the workspace (team id) of slack_channel; needed when the app is in several workspaces
    teams_conversation: Text
    teams_service_url: Text


@schema(frozen=True, config=_TABLE)
class Webhook:
    """A receiver of case events; the signing secret is in the environment variable `secret_env`."""

    url: Annotated[Text, AfterValidator(_http_url)]
    secret_env: Annotated[Text, AfterValidator(_env_name)]
    events: Annotated[tuple[WebhookEvent, ...], AfterValidator(_some)] = WEBHOOK_EVENTS


@dataclass(frozen=True)
class OutboxSettings:
    """How webhook calls and e-mails are retried: from `first_retry`, doubling up to `max_interval`."""

    first_retry: timedelta
    max_interval: timedelta
    give_up_after: timedelta
    keep_sent: timedelta


@schema(frozen=True, config=_TABLE)
class EmailSettings:
    to: Text  # "" for the provider's e-mail address
    language: Literal["da", "en"] = "da"


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
    webhooks: tuple[Webhook, ...]
    outbox: OutboxSettings
    email: EmailSettings
    host: str
    port: int
    data_dir: Path
    start_at: datetime | None  # SUPPORTBOT_NOW: the clock starts here and runs on
    config_path: Path | None


class _HoursFile(BaseModel):
    model_config = _SCHEMA
    timezone: Zone
    monday: Opening
    tuesday: Opening
    wednesday: Opening
    thursday: Opening
    friday: Opening
    saturday: Opening
    sunday: Opening
    holidays_country: Annotated[Text, AfterValidator(_country)]
    closed_every_year: tuple[MonthDay, ...]
    closed_days: tuple[Day, ...]

    @model_validator(mode="after")
    def _opens_some_day(self) -> _HoursFile:
        if not any(getattr(self, day) for day in WEEKDAYS):
            raise _problem("closes every weekday, so support would never open; give at least one weekday opening hours")
        return self

    def settings(self) -> HoursSettings:
        return HoursSettings(
            timezone=self.timezone,
            week=tuple(getattr(self, day) for day in WEEKDAYS),
            holidays_country=self.holidays_country,
            closed_days=frozenset(self.closed_days),
            closed_every_year=frozenset(self.closed_every_year),
        )


class _DialogFile(BaseModel):
    model_config = _SCHEMA
    timeout_minutes: Positive


class _OverrideFile(BaseModel):
    model_config = _SCHEMA
    start: Moment  # without an offset: local time in [hours] timezone
    end: Moment
    primary: Text
    backup: OptionalId = None


class _OncallFile(BaseModel):
    model_config = _SCHEMA
    ack_timeout_minutes: Positive
    escalate_all_minutes: Positive
    reminder_minutes: Positive
    max_reminders: Count
    duplicate_window_minutes: Count
    keep_posts_days: Positive
    handover_day: Weekday
    handover_time: ClockTime
    rotation_start: StartDate
    rotation: tuple[RotaWeek, ...]
    technicians: tuple[Technician, ...]
    overrides: tuple[_OverrideFile, ...] = ()
    sms_after_minutes: Count = 0
    call_after_minutes: Count = 0
    names_to_employees: Flag = False


class _OutboxFile(BaseModel):
    model_config = _SCHEMA
    first_retry_seconds: Positive
    max_interval_minutes: Positive
    give_up_after_hours: Positive
    keep_sent_days: Positive

    def settings(self) -> OutboxSettings:
        return OutboxSettings(
            first_retry=timedelta(seconds=self.first_retry_seconds),
            max_interval=timedelta(minutes=self.max_interval_minutes),
            give_up_after=timedelta(hours=self.give_up_after_hours),
            keep_sent=timedelta(days=self.keep_sent_days),
        )


class _KeyProblem(Exception):
    """A check across keys, raised with the key it names (pydantic would only know the table)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"[{key}] {problem}")


class _SettingsFile(BaseModel):
    model_config = _SCHEMA
    provider: ProviderSettings
    hours: _HoursFile
    costs: CostSettings
    cases: CaseSettings
    dialog: _DialogFile
    oncall: _OncallFile
    customers: tuple[Customer, ...]
    team_channel: TeamChannelSettings
    webhooks: tuple[Webhook, ...]
    outbox: _OutboxFile
    email: EmailSettings

    @model_validator(mode="after")
    def _rota_is_consistent(self) -> _SettingsFile:
        oncall = self.oncall
        ids = [t.id for t in oncall.technicians]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise _KeyProblem("oncall.technicians", f"names technician id {duplicates[0]!r} more than once")
        named = [(f"oncall.rotation[{i}]", week) for i, week in enumerate(oncall.rotation)]
        named += [(f"oncall.overrides[{i}]", cover) for i, cover in enumerate(oncall.overrides)]
        for key, entry in named:
            for role in ("primary", "backup"):
                technician_id = getattr(entry, role)
                if technician_id is not None and technician_id not in ids:
                    raise _KeyProblem(
                        f"{key}.{role}", f"names technician {technician_id!r}, who is not in [[oncall.technicians]]"
                    )
        for i, cover in enumerate(self.overrides()):
            if cover.end <= cover.start:
                raise _KeyProblem(f"oncall.overrides[{i}].end", "must be after start")
        return self

    def overrides(self) -> tuple[RotaOverride, ...]:
        zone = self.hours.timezone
        return tuple(
            RotaOverride(start=_local(c.start, zone), end=_local(c.end, zone), primary=c.primary, backup=c.backup)
            for c in self.oncall.overrides
        )

    def settings(self) -> Settings:
        oncall = self.oncall
        return Settings(
            provider=self.provider,
            hours=self.hours.settings(),
            costs=self.costs,
            cases=self.cases,
            dialog=DialogSettings(timeout=timedelta(minutes=self.dialog.timeout_minutes)),
            oncall=OncallSettings(
                ack_timeout=timedelta(minutes=oncall.ack_timeout_minutes),
                escalate_all_after=timedelta(minutes=oncall.escalate_all_minutes),
                reminder_after=timedelta(minutes=oncall.reminder_minutes),
                max_reminders=oncall.max_reminders,
                duplicate_window=timedelta(minutes=oncall.duplicate_window_minutes),
                keep_posts=timedelta(days=oncall.keep_posts_days),
                handover_weekday=oncall.handover_day,
                handover_time=oncall.handover_time,
                rotation_start=oncall.rotation_start,
                rotation=oncall.rotation,
                technicians=oncall.technicians,
                overrides=self.overrides(),
                sms_after=_minutes_or_off(oncall.sms_after_minutes),
                call_after=_minutes_or_off(oncall.call_after_minutes),
                names_to_employees=oncall.names_to_employees,
            ),
            customers=self.customers,
            team_channel=self.team_channel,
            webhooks=self.webhooks,
            outbox=self.outbox.settings(),
            email=self.email,
            host="127.0.0.1",
            port=3978,
            data_dir=Path("data"),
            start_at=None,
            config_path=None,
        )


def _minutes_or_off(minutes: int) -> timedelta | None:
    return timedelta(minutes=minutes) if minutes else None


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


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
    try:
        settings = _SettingsFile.model_validate(raw).settings()
    except SchemaError as exc:
        raise ConfigError(f"{source}: {_one_line(exc)}") from exc
    except _KeyProblem as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    return _with_env(settings, env, config_path)


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
    return _local(moment, zone)


_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")  # tables and validated dataclasses say it so
# What pydantic's own error types mean, in the words of the file (ours carry their own words).
_KINDS = {
    "int_type": "a whole number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "dataclass_type": "a table",
    "dataclass_args_type": "a table",
    "dict_type": "a table",
}


def _one_line(error: SchemaError) -> str:
    """The first problem as `[key] problem`; a misspelt key first, since it explains a missing one."""
    errors = sorted(error.errors(), key=lambda e: e["type"] not in _UNKNOWN)
    first = errors[0]
    loc, kind, value = first["loc"], first["type"], first.get("input")
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    ctx = first.get("ctx", {})
    if kind in ("missing", "missing_argument"):
        problem = "is missing"
    elif kind in _UNKNOWN:
        known = ", ".join(sorted(_fields_at(loc[:-1])))
        problem = f"is not a known {'section' if len(loc) == 1 else 'key'}; known are {known}"
    elif kind in ("greater_than", "greater_than_equal"):
        above = ctx["gt"] if kind == "greater_than" else ctx["ge"] - 1
        problem = f"must be a whole number above {above}, not {value!r}"
    elif kind == "literal_error":
        problem = f"must be {ctx['expected']}, not {value!r}"
    elif kind in _KINDS:
        problem = f"must be {_KINDS[kind]}, not {value!r}"
    else:
        problem = first["msg"]
    return f"[{key or 'file'}] {problem}"


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the table at `loc` may hold, found by walking the schema."""
    model: Any = _SettingsFile
    for part in loc:
        if isinstance(part, str):
            model = _table_type(model.__pydantic_fields__[part].annotation)
    return list(model.__pydantic_fields__)


def _table_type(annotation: Any) -> Any:
    if hasattr(annotation, "__pydantic_fields__"):
        return annotation
    return next(t for t in map(_table_type_or_none, get_args(annotation)) if t is not None)


def _table_type_or_none(annotation: Any) -> Any:
    try:
        return _table_type(annotation)
    except StopIteration:
        return None
