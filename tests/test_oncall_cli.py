"""`python -m bot oncall` as the operator runs it: a real process with SUPPORTBOT_CONFIG pointing at a rota."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROTA = """
[oncall]
rotation_start = "2026-01-05"
rotation = [{ primary = "morten", backup = "sara" }, { primary = "sara", backup = "morten" }]
overrides = [{ start = "2026-11-27T16:00", end = "2026-11-28T08:00", primary = "sara" }]

[[oncall.technicians]]
id = "morten"
name = "Morten"
slack = { team = "T1", user = "U1" }

[[oncall.technicians]]
id = "sara"
name = "Sara"
local = true
"""


def oncall(tmp_path: Path, config: str, *args: str, **more_env: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "supportbot.toml"
    path.write_text(config, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTBOT_")}
    env.update(SUPPORTBOT_CONFIG=str(path), SUPPORTBOT_DATA=str(tmp_path / "data"), **more_env)
    return subprocess.run(
        [sys.executable, "-m", "bot", "oncall", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_prints_who_is_on_call_and_the_next_handover(tmp_path: Path) -> None:
    done = oncall(tmp_path, ROTA, "--at", "2026-11-25T23:00", "--language", "en")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "On call Wednesday 25 Nov at 23:00",
        "  Primary: Morten (morten) – Slack",
        "  Backup: Sara (sara) – the local chat",
        "  Until: Friday 27 Nov at 16:00",
        "Next handover: Monday 30 Nov at 8:00: Sara, backup Morten",
        "",
        "The rota looks fine.",
    ]


def test_json_during_an_override(tmp_path: Path) -> None:
    done = oncall(tmp_path, ROTA, "--at", "2026-11-27T22:00", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["primary"] == {"id": "sara", "name": "Sara", "language": "da", "reachable_on": ["local"]}
    assert report["backup"]["id"] == "morten"
    assert report["until"] == "2026-11-28T08:00:00+01:00"
    assert report["override"]["end"] == "2026-11-28T08:00:00+01:00"
    assert report["next_handover"]["at"] == "2026-11-30T08:00:00+01:00"
    assert report["problems"] == []


def test_danish_by_default_and_the_clock_of_supportbot_now(tmp_path: Path) -> None:
    done = oncall(tmp_path, ROTA, SUPPORTBOT_NOW="2026-11-30T07:59")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:5] == [
        "Vagten mandag 30. nov. kl. 7.59",
        "  Primær: Morten (morten) – Slack",
        "  Backup: Sara (sara) – den lokale chat",
        "  Til: mandag 30. nov. kl. 8.00",
        "Næste overdragelse: mandag 30. nov. kl. 8.00: Sara, backup Morten",
    ]


def test_at_wins_over_the_clock_and_the_language_comes_from_the_environment(tmp_path: Path) -> None:
    done = oncall(
        tmp_path, ROTA, "--at", "2026-11-27T22:00", SUPPORTBOT_NOW="2026-11-30T07:59", SUPPORTBOT_LANGUAGE="en-GB"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == ["On call Friday 27 Nov at 22:00", "  Primary: Sara (sara) – the local chat"]
    danish = oncall(tmp_path, ROTA, "--at", "2026-11-27T22:00", "--language", "da", SUPPORTBOT_LANGUAGE="en")
    assert danish.stdout.startswith("Vagten fredag 27. nov. kl. 22.00\n")


def test_a_handover_to_the_same_pair_says_so_and_until_is_the_real_change(tmp_path: Path) -> None:
    same_twice = ROTA.replace(
        'rotation = [{ primary = "morten", backup = "sara" },',
        'rotation = [{ primary = "morten", backup = "sara" }, { primary = "morten", backup = "sara" },',
    )
    done = oncall(tmp_path, same_twice, "--at", "2026-11-18T23:00", "--language", "en")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[3:5] == [
        "  Until: Friday 27 Nov at 16:00",  # the override, past a handover that changes nobody
        "Next handover: Monday 23 Nov at 8:00: no change, the same people stay on call",
    ]
    report = json.loads(oncall(tmp_path, same_twice, "--at", "2026-11-18T23:00", "--json").stdout)
    assert report["until"] == "2026-11-27T16:00:00+01:00"
    assert report["next_handover"]["same"] is True
    assert report["next_handover"]["primary"]["id"] == "morten"


def test_a_rota_of_one_pair_never_changes(tmp_path: Path) -> None:
    one_pair = ROTA.replace(', { primary = "sara", backup = "morten" }]', "]").replace("overrides = [", "# [")
    done = oncall(tmp_path, one_pair, "--at", "2026-11-25T23:00")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[3:5] == [
        "  Til: intet skift i vagtplanen",
        "Næste overdragelse: mandag 30. nov. kl. 8.00: intet skift, samme vagt fortsætter",
    ]
    report = json.loads(oncall(tmp_path, one_pair, "--at", "2026-11-25T23:00", "--json").stdout)
    assert report["until"] is None
    assert report["next_handover"]["same"] is True


def test_an_unknown_language_in_the_environment_is_one_clear_line(tmp_path: Path) -> None:
    done = oncall(tmp_path, ROTA, SUPPORTBOT_LANGUAGE="sv")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "supportbot: SUPPORTBOT_LANGUAGE='sv' is not a language of the reports; use one of da, en"
    )


def test_a_broken_rota_is_reported_and_fails_the_check(tmp_path: Path) -> None:
    broken = """
[oncall]
rotation = []
overrides = [{ start = "2026-01-01T16:00", end = "2026-01-02T08:00", primary = "ghost" }]

[[oncall.technicians]]
id = "ghost"
name = "Ghost"
"""
    done = oncall(tmp_path, broken, "--at", "2026-11-25T23:00", SUPPORTBOT_LANGUAGE="en")
    assert done.returncode == 0, done.stderr
    assert "  Primary: nobody" in done.stdout
    assert "  Until: no change in the rota" in done.stdout
    assert "Next handover: Monday 30 Nov at 8:00: still nobody on call" in done.stdout
    assert "Problems with the rota:" in done.stdout
    assert "  - The rota [oncall] rotation is empty" in done.stdout
    assert "  - Technician ghost has none of local, slack or teams set up and cannot be paged." in done.stdout
    assert "ended 2026-01-02 08:00 and can be removed" in done.stdout
    checked = oncall(tmp_path, broken, "--check", "--json")
    assert checked.returncode == 1
    assert len(json.loads(checked.stdout)["problems"]) == 3


def test_bad_input_gets_one_clear_line(tmp_path: Path) -> None:
    done = oncall(tmp_path, ROTA, "--at", "friday night")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "supportbot: --at: 'friday night' is not an ISO-8601 moment such as 2026-11-28T22:30"
    )
    unknown = oncall(tmp_path, ROTA.replace('primary = "sara" }]', 'primary = "nobody" }]'))
    assert unknown.returncode == 2
    assert "names technician 'nobody', who is not in [[oncall.technicians]]" in unknown.stderr
