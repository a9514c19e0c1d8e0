"""`python -m bot chat` fed through a pipe: the scripted conversation of a real employee, in a real process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def chat(tmp_path: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTBOT_")}
    env |= {"SUPPORTBOT_DATA": str(tmp_path / "data"), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat", *args],
        input=script,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )


def test_saturday_night_everyone_without_internet_accepts_the_surcharge(tmp_path: Path) -> None:
    script = "ingen internet, alle er ramt\n1\n20 30 40 50\nstatus\n"
    done = chat(tmp_path, script, "--now", "2026-11-28T22:30", "--user", "anna")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Hvad er der galt?" in out
    assert "Jeg forstår, at der ikke er forbindelse til internettet. Vi har lukket lige nu" in out
    assert "100 % tillæg på timeprisen" in out and "[1] Ja, tilkald vagten" in out and "[3] Det er noget andet" in out
    assert "Hvilket telefonnummer kan vagten ringe til dig på?\n  [1] Spring over" in out
    assert "[Besked til vagt]" in out  # the local technician's page, printed as it arrives
    assert "== Sag 10001 ==" in out and "Jeg tilkalder vagten nu" in out
    assert "Vagten får dit nummer (20 30 40 50)" in out
    # the page goes out after the answer, and the employee hears that it did
    assert "Vagten er nu tilkaldt om din sag 10001 og ringer til dig på 20 30 40 50" in out
    # "status" right after: the page may still be on its way
    assert re.search(
        r"Dine sager fra de seneste 14 dage:\n"
        r"10001 – Intet internet på kontoret – Vagten (tilkaldt kl\. \d+\.\d\d|tilkaldes)",
        out,
    )
    assert "INFO" not in done.stderr


def test_english_answers_by_text_and_the_state_survives_between_runs(tmp_path: Path) -> None:
    first = chat(tmp_path, "the printer is not working\nonly me\n", "--lang", "en", "--now", "2026-11-25T10:00")
    assert first.returncode == 0, first.stderr
    assert "Is it just you, or are others affected too?" in first.stdout and "== Case 10001 ==" in first.stdout
    assert "within one hour" in first.stdout
    second = chat(tmp_path, "status\nstatus 10001\n", "--lang", "en", "--now", "2026-11-25T10:05")
    assert "Your cases from the last 14 days:\n10001 – Can't print – Open" in second.stdout
    assert "Case number  10001" in second.stdout


@pytest.mark.parametrize("script", ["", "\n\n", "9\n<b>hi</b>\n\x00\n"])
def test_empty_and_odd_input_ends_cleanly(tmp_path: Path, script: str) -> None:
    done = chat(tmp_path, script, "--now", "2026-11-25T10:00")
    assert done.returncode == 0, done.stderr
    assert "Hvad er der galt?" in done.stdout and "Traceback" not in done.stderr


def test_a_bad_now_is_one_clear_line(tmp_path: Path) -> None:
    done = chat(tmp_path, "", "--now", "lørdag aften")
    assert done.returncode == 2
    assert "--now" in done.stderr and "ISO-8601" in done.stderr and "Traceback" not in done.stderr


def test_through_a_pipe_an_empty_line_skips_the_phone_question(tmp_path: Path) -> None:
    done = chat(tmp_path, "ingen internet, alle er ramt\n1\n\n", "--now", "2026-11-28T22:30", "--user", "anna")
    assert done.returncode == 0, done.stderr
    assert "Hvilket telefonnummer kan vagten ringe til dig på?" in done.stdout
    assert "== Sag 10001 ==" in done.stdout and "Jeg tilkalder vagten nu" in done.stdout
    assert "Vagten får dit nummer" not in done.stdout


def test_the_team_channel_post_is_not_shown_to_the_employee(tmp_path: Path) -> None:
    done = chat(tmp_path, "min konto er låst\n", "--now", "2026-11-25T10:00", "--user", "anna")
    assert done.returncode == 0, done.stderr
    assert "== Sag 10001 ==" in done.stdout
    assert "[Besked til team]" not in done.stdout and "Besked til" not in done.stdout
