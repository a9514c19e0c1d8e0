"""The rota as shifts for the calendar: whole, stable runs of one technician in one role, matching the rota."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import RotaOverride, load_settings
from bot.oncall.rota import Rota
from bot.oncall.shifts import Shift, shifts
from tests.rota_config import technician

CPH = ZoneInfo("Europe/Copenhagen")
HOUR = timedelta(hours=1)

CONFIG = f"""
[oncall]
handover_day = "monday"
handover_time = "08:00"
rotation_start = "2026-01-05"
rotation = [
  {{ primary = "morten", backup = "sara" }},
  {{ primary = "sara", backup = "ib" }},
  {{ primary = "ib", backup = "morten" }},
]

{technician("morten", "Morten", local=True)}
{technician("sara", "Sara", language="en", local=True)}
{technician("ib", "Ib", local=True)}
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CPH)


def cover(start: str, end: str, primary: str, backup: str | None = None) -> RotaOverride:
    return RotaOverride(start=at(start), end=at(end), primary=primary, backup=backup)


@pytest.fixture
def rota(tmp_path: Path) -> Rota:
    path = tmp_path / "supportbot.toml"
    path.write_text(CONFIG, encoding="utf-8")
    settings = load_settings({"SUPPORTBOT_CONFIG": str(path), "SUPPORTBOT_DATA": str(tmp_path / "data")})
    return Rota(settings.oncall, settings.hours.timezone)


def holder(found: list[Shift], role: str, moment: datetime) -> str | None:
    holding = [s.technician.id for s in found if s.role == role and s.start <= moment < s.end]
    assert len(holding) <= 1, f"two {role} shifts at {moment}: {holding}"
    return holding[0] if holding else None


def assert_matches_rota(rota: Rota, found: list[Shift], since: datetime, until: datetime) -> None:
    moment = since
    while moment < until:
        on_call = rota.on_call(moment)
        expected = (on_call.primary and on_call.primary.id, on_call.backup and on_call.backup.id)
        assert (holder(found, "primary", moment), holder(found, "backup", moment)) == expected, moment
        moment += HOUR


def test_twelve_weeks_of_shifts_say_exactly_what_the_rota_says_hour_by_hour(rota: Rota) -> None:
    overrides = [
        cover("2026-03-27T16:00", "2026-03-31T08:00", "ib"),
        cover("2026-04-15T22:00", "2026-04-16T07:00", "sara"),
    ]
    since = at("2026-03-18T12:00")
    until = since + timedelta(weeks=12)

    found = shifts(rota, since=since, until=until, overrides=overrides)

    # The overrides are an argument: the rota's own (none here) do not count, the ones passed in do.
    with_covers = Rota(replace(rota.settings, overrides=tuple(overrides)), rota.zone)
    assert_matches_rota(with_covers, found, since, until)
    assert found[0].start == at("2026-03-16T08:00")  # the shift under way is whole, not cut at `since`
    assert found[-1].end >= until


def test_a_week_across_the_change_to_summer_time_is_an_hour_shorter_and_hands_over_at_8_local(rota: Rota) -> None:
    found = shifts(rota, since=at("2026-03-24T12:00"), until=at("2026-04-01T12:00"), overrides=[])
    week = next(s for s in found if s.role == "primary" and s.start == at("2026-03-23T08:00"))

    assert week.end == at("2026-03-30T08:00")
    assert week.end.utcoffset() == timedelta(hours=2) and week.start.utcoffset() == timedelta(hours=1)
    assert week.end.astimezone(ZoneInfo("UTC")) - week.start.astimezone(ZoneInfo("UTC")) == timedelta(hours=167)


def test_a_week_across_the_change_to_winter_time_is_an_hour_longer(rota: Rota) -> None:
    found = shifts(rota, since=at("2026-10-20T12:00"), until=at("2026-10-28T12:00"), overrides=[])
    week = next(s for s in found if s.role == "backup" and s.start == at("2026-10-19T08:00"))

    assert week.end == at("2026-10-26T08:00")
    assert week.end.astimezone(ZoneInfo("UTC")) - week.start.astimezone(ZoneInfo("UTC")) == timedelta(hours=169)


def test_an_override_across_a_handover_is_one_shift_and_marks_only_what_it_changes(rota: Rota) -> None:
    # Week of 23 March: ib primary, morten backup; from 30 March: morten primary, sara backup.
    overrides = [cover("2026-03-27T16:00", "2026-03-31T08:00", "sara")]
    found = shifts(rota, since=at("2026-03-25T12:00"), until=at("2026-04-02T12:00"), overrides=overrides)

    def runs(tech: str, role: str) -> list[tuple[datetime, datetime, bool]]:
        return [(s.start, s.end, s.changed) for s in found if s.technician.id == tech and s.role == role]

    assert runs("ib", "primary") == [(at("2026-03-23T08:00"), at("2026-03-27T16:00"), False)]
    assert runs("sara", "primary") == [(at("2026-03-27T16:00"), at("2026-03-31T08:00"), True)]
    assert runs("morten", "primary") == [(at("2026-03-31T08:00"), at("2026-04-06T08:00"), False)]
    # Morten backs the cover up through the handover (sara cannot back herself up): one shift, changed.
    assert runs("morten", "backup") == [(at("2026-03-23T08:00"), at("2026-03-31T08:00"), True)]
    assert runs("sara", "backup") == [(at("2026-03-31T08:00"), at("2026-04-06T08:00"), False)]


def test_shift_starts_do_not_move_as_time_passes_so_calendars_update_rather_than_duplicate(rota: Rota) -> None:
    overrides = [cover("2026-05-02T08:00", "2026-05-04T08:00", "sara", "ib")]
    first = shifts(rota, since=at("2026-04-22T09:00"), until=at("2026-07-15T09:00"), overrides=overrides)
    later = shifts(rota, since=at("2026-04-25T03:00"), until=at("2026-07-18T03:00"), overrides=overrides)

    def key(s: Shift) -> tuple[str, datetime]:
        return (s.role, s.start)

    both = {key(s) for s in first} & {key(s) for s in later}
    assert len(both) >= 2 * 11
    assert {key(s): s for s in first if key(s) in both} == {key(s): s for s in later if key(s) in both}


def test_the_last_override_listed_wins_so_chat_overrides_can_be_passed_after_the_configs(rota: Rota) -> None:
    config = cover("2026-05-09T08:00", "2026-05-10T08:00", "ib")
    chat = cover("2026-05-09T08:00", "2026-05-10T08:00", "sara")
    found = shifts(rota, since=at("2026-05-08T00:00"), until=at("2026-05-11T00:00"), overrides=[config, chat])

    assert holder(found, "primary", at("2026-05-09T12:00")) == "sara"
