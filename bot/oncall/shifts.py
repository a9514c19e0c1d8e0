"""The rota as a list of shifts: who is primary or backup from when to when, for a calendar.

A shift is a run of one technician in one role. It starts and ends at a weekly handover, or where an
override changes who holds the role; an override that spans a handover stays one shift. Because a
shift's start only depends on the rota and the overrides, never on when someone asks, it names the
shift across fetches (calendar apps then update an event rather than add a second one).

Overrides are an argument, not read from the settings: the config's overrides and, later, the ones
agreed in chat are passed in the order they win (the last listed wins, as in `Rota.on_call`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from bot.config import RotaOverride, Technician
from bot.oncall.rota import Rota

Role = Literal["primary", "backup"]
ROLES: tuple[Role, ...] = ("primary", "backup")
MAX_EDGES = 5000  # rota edges walked at most (a year of weekly handovers with many overrides)


@dataclass(frozen=True)
class Shift:
    """One technician in one role from `start` to `end` (both in the rota's time zone)."""

    role: Role
    technician: Technician
    start: datetime
    end: datetime
    changed: bool  # an override gives the role to someone else than the weekly rotation for at least part of it


@dataclass
class _Run:
    technician: Technician | None
    start: datetime
    end: datetime
    override: RotaOverride | None
    changed: bool


def shifts(rota: Rota, *, since: datetime, until: datetime, overrides: Sequence[RotaOverride]) -> list[Shift]:
    """Every shift that overlaps `since`..`until`, by start, primary before backup at the same moment.

    Shifts are never cut at `since` or `until`: the first and last are whole, so they keep their
    start (and end) from one fetch to the next.

    Args:
        rota: the weekly rotation, handover time and technicians; its own overrides are ignored.
        since: the start of the period asked about, usually now.
        until: the end of the period asked about.
        overrides: the overrides in force, the winning one last.
    """
    covered = Rota(replace(rota.settings, overrides=tuple(overrides)), rota.zone)
    regular = Rota(replace(rota.settings, overrides=()), rota.zone)
    moment = _clean_handover(covered, covered.handover_before(since), overrides, earlier=True)
    stop = _clean_handover(covered, covered.handover_after(until), overrides, earlier=False)
    runs: dict[Role, list[_Run]] = {role: [] for role in ROLES}
    for _ in range(MAX_EDGES):
        if moment >= stop:
            break
        on_call, usual = covered.on_call(moment), regular.on_call(moment)
        is_handover = moment == covered.handover_before(moment)
        for role, tech, usual_tech in (
            ("primary", on_call.primary, usual.primary),
            ("backup", on_call.backup, usual.backup),
        ):
            stretch = _Run(tech, moment, on_call.until, on_call.override, changed=tech != usual_tech)
            _extend(runs[role], stretch, is_handover=is_handover)
        moment = on_call.until
    found = [
        Shift(role, run.technician, run.start.astimezone(rota.zone), run.end.astimezone(rota.zone), run.changed)
        for role in ROLES
        for run in runs[role]
        if run.technician is not None and run.end > since and run.start < until
    ]
    return sorted(found, key=lambda s: (s.start, ROLES.index(s.role)))


def _extend(runs: list[_Run], stretch: _Run, *, is_handover: bool) -> None:
    """Add one stretch of a role to its runs: it continues the last run when the same person holds the role
    and no weekly handover separates them (unless one override spans it)."""
    last = runs[-1] if runs else None
    if last is None or last.technician != stretch.technician:
        runs.append(stretch)
        return
    same_cover = stretch.override is not None and last.override is stretch.override
    if is_handover and not same_cover:
        runs.append(stretch)
        return
    last.end = stretch.end
    last.changed = last.changed or stretch.changed
    last.override = stretch.override


def _clean_handover(rota: Rota, handover: datetime, overrides: Sequence[RotaOverride], *, earlier: bool) -> datetime:
    """The nearest weekly handover, from `handover` on (earlier or later), that no override spans: every run
    starts or ends there, so the walk from or to it never cuts a shift in two."""
    for _ in range(len(overrides) + 1):
        spanning = [o for o in overrides if o.start < handover < o.end]
        if not spanning:
            return handover
        if earlier:
            handover = rota.handover_before(min(o.start for o in spanning))
        else:
            last_end = max(o.end for o in spanning)
            on_edge = rota.handover_before(last_end) == last_end
            handover = last_end if on_edge else rota.handover_after(last_end)
    return handover
