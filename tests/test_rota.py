"""The rota: weekly rotation at the local handover, overrides, who is who, and the problems reported up front."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings, load_settings
from bot.delivery import Address
from bot.oncall.rota import Rota

CPH = ZoneInfo("Europe/Copenhagen")

TECHNICIANS = """
[[oncall.technicians]]
id = "morten"
name = "Morten"
local = true
slack = { team = "T1", user = "U1" }
teams = { tenant = "tenant-1", user = "aad-morten" }

[[oncall.technicians]]
id = "sara"
name = "Sara"
language = "en"
teams = { tenant = "tenant-1", user = "aad-sara" }

[[oncall.technicians]]
id = "ib"
name = "Ib"
local = true
"""

ROTA = (
    """
[oncall]
handover_day = "monday"
handover_time = "08:00"
rotation_start = "2026-01-05"
rotation = [{ primary = "morten", backup = "sara" }, { primary = "sara", backup = "ib" }]
overrides = [{ start = "2026-11-27T16:00", end = "2026-11-28T08:00", primary = "ib" }]
"""
    + TECHNICIANS
)


def settings_from(tmp_path: Path, toml: str) -> Settings:
    path = tmp_path / "supportbot.toml"
    path.write_text(toml, encoding="utf-8")
    return load_settings({"SUPPORTBOT_CONFIG": str(path), "SUPPORTBOT_DATA": str(tmp_path / "data")})


@pytest.fixture
def rota(tmp_path: Path) -> Rota:
    settings = settings_from(tmp_path, ROTA)
    return Rota(settings.oncall, settings.hours.timezone)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CPH)


def ids(rota: Rota, moment: datetime) -> tuple[str | None, str | None]:
    on_call = rota.on_call(moment)
    return (on_call.primary.id if on_call.primary else None, on_call.backup.id if on_call.backup else None)


def test_weeks_alternate_and_hand_over_at_monday_0800_local(rota: Rota) -> None:
    # 2026-11-23 is a Monday, 46 weeks after 2026-01-05: an even week -> rotation[0].
    assert ids(rota, at("2026-11-23T07:59:59")) == ("sara", "ib")
    assert ids(rota, at("2026-11-23T08:00")) == ("morten", "sara")
    assert ids(rota, at("2026-11-29T23:59")) == ("morten", "sara")
    assert ids(rota, at("2026-11-30T08:00")) == ("sara", "ib")
    assert rota.on_call(at("2026-11-17T12:00")).until == at("2026-11-23T08:00")
    assert rota.on_call(at("2026-11-24T12:00")).until == at("2026-11-27T16:00")  # Ib's cover starts


def test_handover_stays_at_0800_local_across_daylight_saving(rota: Rota) -> None:
    # Summer time starts Sunday 2026-03-29; the Monday handover is still 08:00 in Copenhagen (06:00 UTC).
    handover = rota.handover_after(at("2026-03-28T12:00"))
    assert handover == at("2026-03-30T08:00")
    assert handover.utcoffset() == timedelta(hours=2)
    assert ids(rota, at("2026-03-30T07:59")) != ids(rota, at("2026-03-30T08:00"))


def test_the_rotation_also_runs_before_its_start(rota: Rota) -> None:
    assert ids(rota, at("2026-01-05T07:59")) == ("sara", "ib")
    assert ids(rota, at("2026-01-05T08:00")) == ("morten", "sara")


def test_an_override_replaces_the_primary_and_keeps_the_weeks_backup(rota: Rota) -> None:
    # Week of 2026-11-23: morten/sara. Ib covers Friday 16:00 to Saturday 08:00.
    assert ids(rota, at("2026-11-27T15:59")) == ("morten", "sara")
    assert rota.on_call(at("2026-11-27T15:59")).until == at("2026-11-27T16:00")
    covered = rota.on_call(at("2026-11-27T22:00"))
    assert (covered.primary.id, covered.backup.id) == ("ib", "sara")
    assert covered.override is not None
    assert covered.until == at("2026-11-28T08:00")
    assert ids(rota, at("2026-11-28T08:00")) == ("morten", "sara")


def test_an_override_of_the_backup_by_the_primary_falls_back_to_the_other(tmp_path: Path) -> None:
    toml = ROTA.replace('primary = "ib" }]', 'primary = "sara" }]')
    settings = settings_from(tmp_path, toml)
    rota = Rota(settings.oncall, settings.hours.timezone)
    assert ids(rota, at("2026-11-27T22:00")) == ("sara", "morten")


def test_addresses_prefer_slack_then_teams_then_local(rota: Rota) -> None:
    morten = rota.technician("morten")
    assert morten is not None
    assert [a.platform for a in rota.addresses(morten)] == ["slack", "teams", "local"]
    assert rota.addresses(morten)[0] == Address("slack", "T1", "U1", "da")
    assert [a.platform for a in rota.addresses(morten, ["local", "teams"])] == ["teams", "local"]
    sara = rota.technician("sara")
    assert sara is not None
    assert rota.addresses(sara) == [Address("teams", "tenant-1", "aad-sara", "en")]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (Address("local", "local", "ib"), "ib"),
        (Address("slack", "T1", "U1"), "morten"),
        (Address("teams", "tenant-1", "aad-sara"), "sara"),
        (Address("slack", "T2", "U1"), None),  # same user id in another workspace
        (Address("local", "local", "sara"), None),  # sara is not set up for the local inbox
        (Address("teams", "tenant-1", "aad-stranger"), None),
    ],
)
def test_presses_are_matched_to_technicians_by_platform_ids(rota: Rota, address: Address, expected: str | None) -> None:
    tech = rota.technician_at(address)
    assert (tech.id if tech else None) == expected


def test_a_sound_rota_has_no_problems(rota: Rota) -> None:
    assert rota.problems(now=at("2026-11-25T12:00"), platforms=["slack", "teams", "local"]) == []


def test_problems_are_reported_up_front(tmp_path: Path) -> None:
    toml = (
        """
[oncall]
rotation = [{ primary = "morten" }, { primary = "ib", backup = "ib" }]
overrides = [
  { start = "2026-11-01T16:00", end = "2026-11-02T08:00", primary = "ib" },
  { start = "2026-11-27T16:00", end = "2026-11-28T08:00", primary = "ib" },
  { start = "2026-11-27T20:00", end = "2026-11-27T23:00", primary = "morten" },
]
"""
        + TECHNICIANS
        + """
[[oncall.technicians]]
id = "ghost"
name = "Nobody reaches me"
"""
    )
    settings = settings_from(tmp_path, toml)
    rota = Rota(settings.oncall, settings.hours.timezone)
    problems = rota.problems(now=at("2026-11-25T12:00"), platforms=["local"])
    text = "\n".join(problems)
    assert "week 1 (morten) has no backup" in text
    assert "week 2 has ib as both primary and backup" in text
    assert "Technician ghost has none of local, slack or teams" in text
    assert "Technician sara can only be reached on teams, which is not enabled" in text
    assert "override 1 (ib from 2026-11-01 16:00) ended 2026-11-02 08:00" in text
    assert "override 2 (ib from 2026-11-27 16:00) overlaps override 3" in text
    assert len(problems) == 6
    danish = rota.problems(now=at("2026-11-25T12:00"), platforms=["local"], language="da")
    assert "Teknikeren ghost har hverken local, slack eller teams sat op" in "\n".join(danish)


def test_an_empty_rota_is_a_problem(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, "[oncall]\nrotation = []\ntechnicians = []\n")
    rota = Rota(settings.oncall, settings.hours.timezone)
    problems = rota.problems()
    assert any("no technicians" in p for p in problems)
    assert any("rotation is empty" in p for p in problems)
    nobody = rota.on_call(at("2026-11-25T12:00"))
    assert (nobody.primary, nobody.backup) == (None, None)


@pytest.mark.parametrize("start", ["2026-01-06", "2026-01-08", "2026-01-11"])
def test_rotation_start_may_be_any_day_of_the_first_rota_week(tmp_path: Path, rota: Rota, start: str) -> None:
    # rotation[0] is the rota week (from the handover before it) that contains rotation_start.
    settings = settings_from(tmp_path, ROTA.replace('rotation_start = "2026-01-05"', f'rotation_start = "{start}"'))
    later = Rota(settings.oncall, settings.hours.timezone)
    for moment in ("2026-01-05T08:00", "2026-01-12T07:59", "2026-01-12T08:00", "2026-11-23T08:00"):
        assert ids(later, at(moment)) == ids(rota, at(moment))
