"""The command line as the operator runs it: real processes, real exit codes, stdout and stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SUPPORTBOT = Path(sys.executable).with_name("supportbot")
COMMANDS = ("serve", "chat", "hours", "triage", "cases", "oncall")


def run(argv: list[str], cwd: Path, *, config: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTBOT_") and k not in ("PORT", "HOST")}
    environ["SUPPORTBOT_DATA"] = str(cwd / "data")
    if config is not None:
        path = cwd / "supportbot.toml"
        path.write_text(config, encoding="utf-8")
        environ["SUPPORTBOT_CONFIG"] = str(path)
    environ.update(env)
    return subprocess.run(
        argv, cwd=cwd, env=environ, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False
    )


def hours(tmp_path: Path, *args: str, **env: str) -> dict[str, object]:
    done = run([sys.executable, "-m", "bot", "hours", *args], tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    "program", [[sys.executable, "-m", "bot"], [str(SUPPORTBOT)]], ids=["python -m bot", "supportbot"]
)
def test_help_lists_every_subcommand(tmp_path: Path, program: list[str]) -> None:
    done = run([*program, "--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: supportbot")
    for command in COMMANDS:
        assert command in done.stdout


def test_hours_help_explains_the_output(tmp_path: Path) -> None:
    done = run([sys.executable, "-m", "bot", "hours", "--help"], tmp_path)
    assert done.returncode == 0
    assert "--at" in done.stdout
    assert "next_open" in done.stdout
    assert "when open" in done.stdout


def test_hours_when_open(tmp_path: Path) -> None:
    # Friday 27 November 2026 10:00: open until 15:00, then next Monday.
    assert hours(tmp_path, "--at", "2026-11-27T10:00") == {
        "open": True,
        "next_open": "2026-11-30T08:00:00+01:00",
        "closes": "2026-11-27T15:00:00+01:00",
    }


def test_hours_on_the_friday_before_easter(tmp_path: Path) -> None:
    assert hours(tmp_path, "--at", "2026-03-27T15:00") == {
        "open": False,
        "next_open": "2026-03-30T08:00:00+02:00",  # across the spring-forward night, in summer time
        "closes": None,
    }
    assert hours(tmp_path, "--at", "2026-04-03T15:00")["next_open"] == "2026-04-07T08:00:00+02:00"


def test_hours_at_with_an_offset_is_converted(tmp_path: Path) -> None:
    # 07:30 UTC on Monday 30 November is 08:30 in Copenhagen.
    result = hours(tmp_path, "--at", "2026-11-30T07:30:00Z")
    assert result["open"] is True
    assert result["closes"] == "2026-11-30T16:00:00+01:00"
    assert hours(tmp_path, "--at", "2026-11-30T02:00-05:00")["open"] is True  # 08:00 in Copenhagen


def test_hours_without_at_uses_the_supportbot_now_clock(tmp_path: Path) -> None:
    result = hours(tmp_path, SUPPORTBOT_NOW="2026-12-25T12:00")  # juledag
    assert result["open"] is False
    assert result["next_open"] == "2026-12-28T08:00:00+01:00"


def test_hours_follows_the_config_file(tmp_path: Path) -> None:
    done = run(
        [sys.executable, "-m", "bot", "hours", "--at", "2026-11-28T11:00"],
        tmp_path,
        config='[hours]\nsaturday = "10:00-12:00"\n',
    )
    assert json.loads(done.stdout)["closes"] == "2026-11-28T12:00:00+01:00"


@pytest.mark.parametrize("bad", ["tomorrow", "2026-13-01T10:00", "2026-11-27 25:00", "", "9999-12-31T23:00"])
def test_a_bad_at_is_one_clear_line(tmp_path: Path, bad: str) -> None:
    done = run([sys.executable, "-m", "bot", "hours", "--at", bad], tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("supportbot: --at:")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["serve", "hours", "oncall", "chat", "triage"])
def test_a_broken_config_stops_any_command_with_one_line(tmp_path: Path, command: str) -> None:
    done = run([sys.executable, "-m", "bot", command], tmp_path, config='[hours]\nfriday = "8 til 15"\n')
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert str(tmp_path / "supportbot.toml") in lines[0]
    assert "hours.friday" in lines[0]


def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    done = run([sys.executable, "-m", "bot", "hours"], tmp_path, SUPPORTBOT_CONFIG=str(tmp_path / "missing.toml"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"supportbot: {tmp_path / 'missing.toml'}: the configuration file does not exist (SUPPORTBOT_CONFIG)"
    )


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the process's memory map from /proc")
def test_a_serving_bot_maps_neither_the_charting_nor_the_training_libraries(tmp_path: Path) -> None:
    """matplotlib (the report's charts) and scikit-learn with NumPy and SciPy (training the triage model) cost
    some 140 MB resident that a process never gives back: `bot serve`, which trains the model in a child
    process and serves the report page, has loaded none of them before anyone opens that page."""
    from tests.test_faults_kill import SATURDAY_NIGHT, Server

    server = Server(tmp_path, SATURDAY_NIGHT)
    server.launch()
    try:
        assert server.proc is not None
        mapped = Path(f"/proc/{server.proc.pid}/maps").read_text()
    finally:
        server.stop()
    assert [lib for lib in ("matplotlib", "numpy", "scipy", "sklearn") if f"/{lib}/" in mapped] == []
