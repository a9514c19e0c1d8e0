"""Kill writers with SIGKILL at random moments: every number they printed must be on disk, once.

A writer prints a case number only after `create()` returned, exactly as the bot shows it only
then. After each kill the folder must load, and at the end every printed number must be there,
with no number handed out twice. A second writer started beside a running one is refused with one
line naming the folder and the first writer's process id, and writes nothing.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.storage.embedded import EmbeddedStorage
from adapters.storage.embedded.files import load_json_file
from bot.cases import NewCase

pytestmark = pytest.mark.slow

WRITER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from adapters.storage.embedded import EmbeddedStorage
from bot.cases import CaseEvent, CaseStatus, CustomerRef, EventKind, NewCase, Reporter
from bot.categories import Category, Scope
store = EmbeddedStorage(Path(sys.argv[1])).cases.store  # takes the data folder's lock
new = NewCase(
    reporter=Reporter("teams", "tenant", "user", "Mette", "da"), customer=CustomerRef("Acme A/S"),
    description="printeren virker ikke for nogen " * 20, category=Category.PRINTING_DOWN, confidence=80,
    scope=Scope.ALL, critical=True, after_hours=True,
)
print("ready", flush=True)
while True:
    case = store.create(new, now=datetime.now(UTC))
    print(case.number, flush=True)
    if case.number % 3 == 0:  # updates rewrite shards too
        store.update(case.number, CaseEvent(at=datetime.now(UTC), kind=EventKind.RESOLVED), status=CaseStatus.RESOLVED)
"""

KILLS = 24


def start_writer(folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def kill_and_collect(writer: subprocess.Popen[str]) -> list[int]:
    os.kill(writer.pid, signal.SIGKILL)
    out, err = writer.communicate(timeout=30)
    assert writer.returncode == -signal.SIGKILL, err
    return [int(line) for line in out.splitlines() if line.strip().isdigit()]


def assert_every_file_loads(folder: Path) -> None:
    for path in (folder / "cases").glob("*.json"):
        load_json_file(path)  # raises on a damaged file


def test_killed_writers_never_lose_a_shown_number_or_reuse_one(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    shown: list[int] = []
    for round_ in range(KILLS):
        writer = start_writer(tmp_path)
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read() if writer.stderr else ""
        if round_ % 4 == 3:
            second = start_writer(tmp_path)
            out, err = second.communicate(timeout=30)
            assert second.returncode != 0 and out == ""
            assert f"{tmp_path}: the data folder is in use by another bot (process {writer.pid})" in err
        time.sleep(rng.uniform(0.0, 0.25))
        shown += kill_and_collect(writer)
        assert_every_file_loads(tmp_path)

    print(f"{KILLS} kill rounds, {len(shown)} numbers shown")
    assert len(shown) > KILLS, "the writers should have created cases before being killed"
    assert len(set(shown)) == len(shown), "a number was handed out twice"
    storage = EmbeddedStorage(tmp_path)
    store = storage.cases.store
    missing = [n for n in shown if store.get(n) is None]
    assert missing == []
    first = store.get(shown[0])
    assert first is not None
    again = NewCase(**{name: getattr(first, name) for name in NewCase.__dataclass_fields__})
    assert store.create(again, now=datetime.now(UTC)).number > max(shown)
    asyncio.run(storage.close())
    assert not list((tmp_path / "cases").glob(".*.tmp")), "leftover temporary files are cleaned when the store opens"
