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


def oncall(tmp_path: Path, config: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "supportbot.toml"
    path.write_text(config, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTBOT_")}
    env.update(SUPPORTBOT_CONFIG=str(path), SUPPORTBOT_DATA=str(tmp_path / "data"))
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
    done = oncall(tmp_path, ROTA, "--at", "2026-11-25T23:00")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "On call Wednesday 25 Nov at 23:00",
        "  Primary: Morten (morten) – Slack",
        "  Backup: Sara (sara) – the local chat",
        "  Until: Friday 27 Nov at 16:00",
        "Next handover: Monday 30 Nov at 08:00: Sara, backup Morten",
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


def test_danish_and_the_clock_of_supportbot_now(tmp_path: Path) -> None:
    path = tmp_path / "supportbot.toml"
    path.write_text(ROTA, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTBOT_")}
    env.update(SUPPORTBOT_CONFIG=str(path), SUPPORTBOT_DATA=str(tmp_path / "data"), SUPPORTBOT_NOW="2026-11-30T07:59")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "oncall", "--language", "da"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == "  Primær: Morten (morten) – Slack"
    assert "Næste overdragelse: mandag 30. nov. kl. 08:00: Sara, backup Morten" in done.stdout


def test_a_broken_rota_is_reported_and_fails_the_check(tmp_path: Path) -> None:
    broken = """
[oncall]
rotation = []
overrides = [{ start = "2026-01-01T16:00", end = "2026-01-02T08:00", primary = "ghost" }]

[[oncall.technicians]]
id = "ghost"
name = "Ghost"
"""
    done = oncall(tmp_path, broken, "--at", "2026-11-25T23:00")
    assert done.returncode == 0, done.stderr
    assert "  Primary: nobody" in done.stdout
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
