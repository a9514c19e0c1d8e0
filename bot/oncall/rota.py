"""Who is on call when: the weekly rotation, its handovers, one-off overrides, and how to reach people.

Handovers happen at a local (Europe/Copenhagen) weekday and time, so a rota week is a run of local
days and survives daylight-saving changes. The rota is checked up front (`problems`) so an empty or
unreachable rota shows up at start-up and in `python -m bot oncall`, not at 03:00.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import OncallSettings, RotaOverride, RotaWeek, Technician
from bot.delivery import Address
from bot.i18n import text
from bot.oncall.overrides import ChatOverride
from bot.oncall.phone import PHONE_PLATFORMS

# A technician reachable on several platforms gets pages on the first of these that is enabled.
PLATFORMS = ("slack", "teams", "local")
LOCAL_WORKSPACE = "local"
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class OnCall:
    """Who carries the pager at one moment, and until when this arrangement holds."""

    primary: Technician | None
    backup: Technician | None
    until: datetime  # the next handover or override boundary
    override: RotaOverride | None = None


class Rota:
    """The rota of `OncallSettings`, read in the support time zone."""

    def __init__(self, settings: OncallSettings, zone: ZoneInfo) -> None:
        self.settings = settings
        self.zone = zone
        start = settings.rotation_start
        self._epoch: date = start - timedelta(days=(start.weekday() - settings.handover_weekday) % 7)

    def with_chat(self, overrides: Iterable[ChatOverride]) -> Rota:
        """This rota with the overrides made in chat that are in force; they come after the config's,
        so for the same period they win (`on_call`: the last listed wins)."""
        chat = tuple(o.as_rota_override() for o in overrides if o.in_force)
        config = tuple(o for o in self.settings.overrides if not o.origin)
        return Rota(replace(self.settings, overrides=(*config, *chat)), self.zone)

    @property
    def technicians(self) -> tuple[Technician, ...]:
        return self.settings.technicians

    def technician(self, technician_id: str) -> Technician | None:
        return self.settings.technician(technician_id)

    def handover_before(self, at: datetime) -> datetime:
        """The latest weekly handover at or before `at`."""
        local = at.astimezone(self.zone)
        day = local.date() - timedelta(days=(local.weekday() - self.settings.handover_weekday) % 7)
        moment = self._handover_on(day)
        return moment if moment <= at else self._handover_on(day - WEEK)

    def handover_after(self, at: datetime) -> datetime:
        """The first weekly handover after `at`."""
        return self._handover_on(self.handover_before(at).date() + WEEK)

    def week(self, at: datetime) -> RotaWeek | None:
        """The rotation entry for the rota week containing `at`; before `rotation_start` the rotation runs backwards."""
        if not self.settings.rotation:
            return None
        weeks = (self.handover_before(at).date() - self._epoch).days // 7
        return self.settings.rotation[weeks % len(self.settings.rotation)]

    def on_call(self, at: datetime) -> OnCall:
        """Primary and backup at `at`; an override active then (the last listed wins) replaces the week."""
        week = self.week(at)
        primary = self.technician(week.primary) if week else None
        backup = self.technician(week.backup) if week and week.backup else None
        override = next((o for o in reversed(self.settings.overrides) if o.start <= at < o.end), None)
        if override is not None:
            regular = (primary, backup)
            primary = self.technician(override.primary)
            if override.backup:
                backup = self.technician(override.backup)
            else:  # the week's people back the cover up, unless the cover is one of them
                backup = next((t for t in (regular[1], regular[0]) if t is not None and t != primary), None)
        edges = [self.handover_after(at)]
        edges += [o.end for o in self.settings.overrides if o.start <= at < o.end]
        edges += [o.start for o in self.settings.overrides if o.start > at]
        return OnCall(primary=primary, backup=backup, until=min(edges), override=override)

    def began(self, at: datetime) -> datetime:
        """When the arrangement on call at `at` began: the latest handover or override edge at or before it."""
        edges = [self.handover_before(at)]
        edges += [o.start for o in self.settings.overrides if o.start <= at]
        edges += [o.end for o in self.settings.overrides if o.end <= at]
        return max(edges)

    def technician_at(self, address: Address) -> Technician | None:
        """The technician an incoming address belongs to, matched by platform ids; None for anyone else."""
        for tech in self.technicians:
            if address.platform == "local" and tech.local and address.user_id == tech.id:
                return tech
            if address.platform in PHONE_PLATFORMS and tech.phone and address.user_id == tech.phone:
                return tech
            if (
                address.platform == "slack"
                and tech.slack
                and (tech.slack.team, tech.slack.user)
                == (
                    address.workspace,
                    address.user_id,
                )
            ):
                return tech
            if (
                address.platform == "teams"
                and tech.teams
                and (tech.teams.tenant, tech.teams.user)
                == (
                    address.workspace,
                    address.user_id,
                )
            ):
                return tech
        return None

    def addresses(self, tech: Technician, platforms: Collection[str] | None = None) -> list[Address]:
        """Where `tech` can be reached, best first (`PLATFORMS` order), limited to `platforms` when given."""
        found = {
            "slack": Address("slack", tech.slack.team, tech.slack.user, tech.language) if tech.slack else None,
            "teams": Address("teams", tech.teams.tenant, tech.teams.user, tech.language) if tech.teams else None,
            "local": Address("local", LOCAL_WORKSPACE, tech.id, tech.language) if tech.local else None,
        }
        return [a for p in PLATFORMS if (a := found[p]) and (platforms is None or p in platforms)]

    def problems(
        self, *, now: datetime | None = None, platforms: Collection[str] | None = None, language: str = "en"
    ) -> list[str]:
        """Everything that would make a page fail or surprise someone, as sentences for the operator.

        Args:
            now: also report overrides that are over.
            platforms: the enabled front ends; technicians reachable on none of them are reported.
            language: catalog language of the sentences ("en" for logs).
        """
        s = self.settings

        def say(key: str, **params: object) -> str:
            return text(f"oncall.problem.{key}", language, **params)

        found: list[str] = []
        if not s.technicians:
            found.append(say("no_technicians"))
        if not s.rotation:
            found.append(say("no_rotation"))
        for i, week in enumerate(s.rotation, start=1):
            if not week.backup:
                found.append(say("no_backup", week=i, primary=week.primary))
            elif week.backup == week.primary:
                found.append(say("same_backup", week=i, primary=week.primary))
        for tech in s.technicians:
            if not self.addresses(tech):
                found.append(say("no_address", id=tech.id))
            elif platforms is not None and not self.addresses(tech, platforms):
                where = ", ".join(a.platform for a in self.addresses(tech))
                found.append(say("not_enabled", id=tech.id, platforms=where))
        config = [o for o in s.overrides if not o.origin]
        for i, cover in enumerate(config, start=1):
            label = say("override", number=i, primary=cover.primary, start=self._local(cover.start))
            if cover.backup and cover.backup == cover.primary:
                found.append(say("override_same_backup", override=label, primary=cover.primary))
            if now is not None and cover.end <= now:
                found.append(say("override_past", override=label, end=self._local(cover.end)))
            for j, other in enumerate(config[i:], start=i + 1):
                if other.start < cover.end and cover.start < other.end:
                    found.append(say("override_overlap", override=label, other=j))
            for chat in (o for o in s.overrides if o.origin):
                if chat.start < cover.end and cover.start < chat.end:
                    found.append(say("chat_wins", id=chat.origin, primary=chat.primary, override=label))
        return found

    def _handover_on(self, day: date) -> datetime:
        return datetime.combine(day, self.settings.handover_time, tzinfo=self.zone)

    def _local(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")


MAX_STEPS = 2000  # rota edges walked to find the next change of people (about 38 years of weekly handovers)


@dataclass(frozen=True)
class Outlook:
    """Who is on call at a moment, when other people take over, and the next weekly handover."""

    now: OnCall
    change: datetime | None  # None: the rota never hands over to other people
    handover: datetime
    then: OnCall

    @property
    def same_after_handover(self) -> bool:
        return _pair(self.then) == _pair(self.now)


def outlook(rota: Rota, at: datetime) -> Outlook:
    handover = rota.handover_after(at)
    return Outlook(rota.on_call(at), _change_after(rota, at), handover, rota.on_call(handover))


def _pair(on_call: OnCall) -> tuple[str | None, str | None]:
    return (on_call.primary and on_call.primary.id, on_call.backup and on_call.backup.id)


def _change_after(rota: Rota, at: datetime) -> datetime | None:
    """The first rota edge (handover, override start or end) after `at` where the pair on call changes.

    Past the last override the weekly rotation repeats, so one more cycle after it decides "never".
    """
    settings = rota.settings
    horizon = max([at, *(o.end for o in settings.overrides)]) + WEEK * (len(settings.rotation) + 1)
    first = rota.on_call(at)
    pair, moment = _pair(first), first.until
    for _ in range(MAX_STEPS):
        if moment > horizon:
            break
        later = rota.on_call(moment)
        if _pair(later) != pair:
            return moment.astimezone(rota.zone)
        moment = later.until
    return None
