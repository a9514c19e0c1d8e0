"""`python -m bot triage eval FILE` and `triage export` as a provider runs them: real processes, real files,
a real case store; the model is trained once into the shared data folder and read from its cache after."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.storage import open_storage
from bot.cases import CaseEvent, CustomerRef, EventKind, NewCase, Reporter
from bot.categories import Category, Scope
from bot.config import load_settings
from bot.corpus import read_examples

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
REPORTER = Reporter("local", "local", "anna", "Anna", "da")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("triage-cli") / "data"


def triage(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTBOT_")}
    environ["SUPPORTBOT_DATA"] = str(data)
    return subprocess.run(
        [sys.executable, "-m", "bot", "triage", *args],
        cwd=data.parent,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def labelled(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_eval_prints_the_figures_and_the_confusion_table(data: Path) -> None:
    path = labelled(
        data.parent / "ours.jsonl",
        [
            {"text": "internettet er nede for hele kontoret", "category": "internet_down", "scope": "all"},
            {"text": "min konto er låst", "category": "account_locked"},
            {"text": "kan I bestille en ny mus til mig?", "category": "other", "scope": "me"},
            # Labelled harmless on purpose: triage reads a locked account, so this one counts against it.
            {"text": "min konto er blevet låst efter tre forsøg", "category": "other", "scope": "me"},
        ],
    )
    done = triage(data, "eval", str(path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{path}: 4 labelled texts"
    figures = {line.split(":")[0]: line.split(":", 1)[1].split() for line in lines[1:6]}
    assert figures["right"] == ["75.0%"]
    assert figures["critical missed"][:3] == ["0.0%", "of", "2"]
    assert figures["harmless marked critical"][:3] == ["50.0%", "of", "2"]
    table = lines[lines.index("") + 1 :]
    assert table[0].split()[-1] == "other"[:8]
    row = {line.split()[0]: [int(n) for n in line.split()[1:]] for line in table[1:]}
    assert sum(sum(counts) for counts in row.values()) == 4
    assert row["other"][[c.value for c in Category].index("account_locked")] == 1
    assert (data / "triage-model.pickle").is_file()  # the next command reads the model from here


def test_eval_of_a_file_it_cannot_read_names_the_file_and_line(data: Path) -> None:
    bad = labelled(data.parent / "bad.jsonl", [{"text": "printeren er død", "category": "printer_dead"}])
    for args in (["eval", str(bad)], ["eval", str(data.parent / "missing.jsonl")], ["eval"]):
        done = triage(data, *args)
        assert done.returncode != 0
        assert "Traceback" not in done.stderr and done.stderr.strip()
    assert (
        "bad.jsonl" in triage(data, "eval", str(bad)).stderr and "printer_dead" in triage(data, "eval", str(bad)).stderr
    )


async def _three_cases(data: Path) -> None:
    """Three cases as the bot stores them, the last one cancelled by its reporter."""
    storage = open_storage(load_settings({"SUPPORTBOT_DATA": str(data)}))
    try:
        for description, category, scope in [
            ("Printeren på 2. sal er offline for alle", Category.PRINTING_DOWN, Scope.ALL),
            ("Can't log in, my password was rejected", Category.PASSWORD_NOT_WORKING, Scope.ME),
            ("Skal bruge en ny skærm", Category.OTHER, Scope.ME),
        ]:
            new = NewCase(REPORTER, CustomerRef("Acme A/S"), description, category, 90, scope, False, False)
            await storage.cases.create(new, now=NOW)
        await storage.cases.update(10003, CaseEvent(NOW, EventKind.CANCELLED, "anna", {}), status="cancelled")
    finally:
        await storage.close()


def test_export_writes_each_case_in_corpus_format_and_eval_reads_it(data: Path) -> None:
    assert triage(data, "export").stdout == ""  # no cases yet: nothing, and no error
    asyncio.run(_three_cases(data))
    done = triage(data, "export")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["text"], r["category"], r["scope"], r["lang"]) for r in rows] == [
        ("Printeren på 2. sal er offline for alle", "printing_down", "all", "da"),
        ("Can't log in, my password was rejected", "password_not_working", "me", "en"),
    ]  # the cancelled case is left out
    assert all(r["batch"].startswith("cases-") for r in rows)
    exported = data.parent / "exported.jsonl"
    exported.write_text(done.stdout, encoding="utf-8")
    assert len(read_examples(exported)) == 2  # the corpus reader takes it as it is
    evaluated = triage(data, "eval", str(exported))
    assert evaluated.returncode == 0 and f"{exported}: 2 labelled texts" in evaluated.stdout


# One start of the bot as far as triage goes: which heavy libraries it imported and how it read two texts.
_START = """
import json, sys
from pathlib import Path
from bot.triage import Triage
triage = Triage(cache_dir=Path(sys.argv[1]))
readings = [triage.classify(t).to_dict() for t in ("printeren virker ikke for nogen", "kan I bestille en ny mus?")]
heavy = sorted(m for m in ("sklearn", "scipy", "numpy") if m in sys.modules)
print(json.dumps({"heavy": heavy, "readings": readings}))
"""


def start(cache: Path) -> tuple[dict, str]:
    done = subprocess.run(
        [sys.executable, "-c", _START, str(cache)], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout), done.stderr


def test_the_bot_reads_with_the_model_without_importing_scikit_learn_trained_or_cached(tmp_path: Path) -> None:
    """scikit-learn, NumPy and SciPy cost some 100 MB a process never gives back: the model is trained in a
    child process, and the bot's own process reads texts in plain Python, whether it trained or read the cache."""
    trained, _ = start(tmp_path)
    cache = tmp_path / "triage-model.pickle"
    assert cache.is_file()
    written = cache.stat().st_mtime_ns
    cached, _ = start(tmp_path)
    assert cache.stat().st_mtime_ns == written  # read, not trained again
    assert trained["heavy"] == cached["heavy"] == []
    assert trained["readings"] == cached["readings"]
    assert trained["readings"][0]["category"] == "printing_down"
    assert trained["readings"][1]["category"] == "other"


def test_a_damaged_model_cache_is_trained_again_and_replaced(tmp_path: Path) -> None:
    good, _ = start(tmp_path)
    cache = tmp_path / "triage-model.pickle"
    cache.write_bytes(b"\x80\x05 not a model")
    again, log = start(tmp_path)
    assert "Ignoring the triage model cache" in log
    assert again["readings"] == good["readings"]
    assert cache.read_bytes()[:20] != b"\x80\x05 not a model"[:20]
