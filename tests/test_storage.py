"""The embedded engine's files: whole-file atomic writes, and a damaged file is reported, never overwritten.

KeyedStore (built on them): string-keyed documents in sharded, cached files; the same promises per shard.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tinydb import TinyDB

from adapters.storage.embedded.files import (
    AtomicJSONStorage,
    CorruptFileError,
    load_json_file,
    remove_leftover_temp_files,
)
from adapters.storage.embedded.keyed import KeyedStore
from bot.errors import StorageError


def open_db(path: Path, **options: object) -> TinyDB:
    return TinyDB(path, storage=AtomicJSONStorage, **options)


def test_round_trip_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.json"
    with open_db(path) as db:
        db.insert({"text": "printeren er død 🖨️ \x00\x1b[2J", "n": 1})
    with open_db(path) as db:
        assert db.all() == [{"text": "printeren er død 🖨️ \x00\x1b[2J", "n": 1}]


def test_lone_surrogate_is_stored_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with open_db(path) as db:
        db.insert({"text": "halv emoji \ud83d"})
    with open_db(path) as db:
        assert db.all()[0]["text"] == "halv emoji \ud83d"


def test_no_file_until_the_first_write(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with open_db(path) as db:
        assert db.all() == []
    assert not path.exists()


def test_cached_storage_sees_its_own_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with open_db(path, cache=True) as db:
        db.insert({"a": 1})
        db.update({"a": 2})
        assert db.all() == [{"a": 2}]
    assert json.loads(path.read_text()) == {"_default": {"1": {"a": 2}}}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b'{"_default": {"1": {"a": 1}}, "_defa', "not valid JSON"),
        (b"\x00\x17\xff\xfegarbage", "not valid JSON"),
        (b"[1, 2, 3]", "not a TinyDB database"),
        (b'{"_default": 5}', "not a TinyDB database"),
    ],
    ids=["empty", "blank", "truncated", "garbage", "list", "table-not-object"],
)
def test_damaged_file_is_reported_and_left_alone(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    db = open_db(path)
    with pytest.raises(CorruptFileError) as caught:
        db.all()
    with pytest.raises(StorageError):
        db.insert({"would": "overwrite"})
    message = str(caught.value)
    assert str(path) in message
    assert problem in message
    assert "move it aside" in message
    assert "will not overwrite" in message
    assert path.read_bytes() == content


def test_unwritable_location_gives_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    db = open_db(blocker / "state.json")
    with pytest.raises(StorageError, match=r"not-a-folder.*cannot (read|create)"):
        db.insert({"a": 1})
    assert blocker.read_text() == "x"


def test_leftover_temp_files_of_dead_writers_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with open_db(path) as db:
        db.insert({"a": 1})
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_temp = tmp_path / f".state.json.{int(dead.stdout)}.tmp"
    dead_temp.write_text('{"half": ')
    live_temp = tmp_path / f".state.json.{os.getppid()}.tmp"
    live_temp.write_text("{}")
    remove_leftover_temp_files(tmp_path)
    with open_db(path) as db:
        assert db.all() == [{"a": 1}]
    assert not dead_temp.exists()
    assert live_temp.exists()  # its writer may still be busy


def test_load_json_file_of_a_missing_file_is_none(tmp_path: Path) -> None:
    assert load_json_file(tmp_path / "nothing.json") is None


def test_nothing_but_the_file_is_left_after_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with open_db(path, durable=False) as db:
        for n in range(5):
            db.insert({"n": n})
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


# -- KeyedStore: string-keyed documents in sharded, cached TinyDB files -------------------------------------------


def keyed(folder: Path, shards: int = 4) -> KeyedStore:
    return KeyedStore(folder, table="things", shards=shards)


def shard_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.json"))}


def test_keyed_documents_survive_a_restart_and_deletes_stay_deleted(tmp_path: Path) -> None:
    store = keyed(tmp_path)
    for n in range(40):
        store.put(f"teams|tenant|a:conv-{n}", {"n": n, "tags": ("x", "y"), "text": "æøå 🖨️"})
    assert store.delete_many(["teams|tenant|a:conv-3"]) == 1
    assert store.delete_many(["teams|tenant|a:conv-3"]) == 0
    assert store.delete_many(["teams|tenant|a:conv-4", "teams|tenant|a:conv-5", "never"]) == 2
    store.put("teams|tenant|a:conv-6", {"n": "replaced"})
    store.close()

    again = keyed(tmp_path)
    assert again.count() == 37
    assert again.get("teams|tenant|a:conv-0") == {"n": 0, "tags": ["x", "y"], "text": "æøå 🖨️"}
    assert again.get("teams|tenant|a:conv-3") is None
    assert again.get("teams|tenant|a:conv-6") == {"n": "replaced"}
    assert sorted(doc["n"] for doc in again.values() if doc["n"] != "replaced") == [
        n for n in range(40) if n not in (3, 4, 5, 6)
    ]
    again.close()


def test_documents_are_spread_over_shards_and_a_write_rewrites_only_its_own(tmp_path: Path) -> None:
    store = keyed(tmp_path)
    for n in range(100):
        store.put(f"key-{n}", {"n": n})
    files = shard_bytes(tmp_path)
    assert sorted(files) == ["00-of-4.json", "01-of-4.json", "02-of-4.json", "03-of-4.json"]
    for name, raw in files.items():
        keys = json.loads(raw)["things"]
        assert 10 < len(keys) < 40, "a stable hash spreads the keys evenly"
        assert all(store.path_of(key).name == name for key in keys)
    store.put("key-7", {"n": 700})
    changed = [name for name, raw in shard_bytes(tmp_path).items() if raw != files[name]]
    assert changed == [store.path_of("key-7").name]
    store.close()


def test_the_shard_of_a_key_is_the_same_in_every_process(tmp_path: Path) -> None:
    """Python's own hash() of a string changes with every run; the shard must not."""
    code = (
        "import sys; from adapters.storage.embedded.keyed import KeyedStore; "
        "print(KeyedStore(sys.argv[1], table='t').path_of('anna'))"
    )
    run = [sys.executable, "-c", code, str(tmp_path)]
    shown = {subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip() for _ in range(3)}
    assert shown == {str(KeyedStore(tmp_path, table="t").path_of("anna"))}


def test_documents_handed_out_or_stored_are_copies(tmp_path: Path) -> None:
    store = keyed(tmp_path)
    doc = {"deliveries": [["d1", []]]}
    store.put("k", doc)
    doc["deliveries"].append(["d2", []])
    got = store.get("k")
    assert got == {"deliveries": [["d1", []]]}
    got["deliveries"].clear()
    assert store.get("k") == {"deliveries": [["d1", []]]}
    store.close()


def test_a_read_is_served_from_memory_after_the_first(tmp_path: Path) -> None:
    """The single-writer assumption: once read, a shard is not read again (so a read never waits for the disk)."""
    store = keyed(tmp_path)
    store.put("k", {"n": 1})
    store.path_of("k").write_text('{"things": {"k": {"n": 2}}}')
    assert store.get("k") == {"n": 1}
    store.close()
    assert keyed(tmp_path).get("k") == {"n": 2}


def test_a_document_that_is_not_json_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    store = keyed(tmp_path)
    with pytest.raises(StorageError, match="cannot be stored as JSON"):
        store.put("k", {"when": object()})
    assert store.get("k") is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "content",
    [b'{"things": {"k": ', b"", b'{"things": {"k": 5}}', b"[1]"],
    ids=["truncated", "empty", "document-not-object", "not-tinydb"],
)
def test_a_damaged_shard_is_refused_left_untouched_and_read_again_once_restored(tmp_path: Path, content: bytes) -> None:
    store = keyed(tmp_path)
    for n in range(20):
        store.put(f"key-{n}", {"n": n})
    store.close()
    damaged = keyed(tmp_path).path_of("key-1")
    healthy = next(f"key-{n}" for n in range(20) if keyed(tmp_path).path_of(f"key-{n}") != damaged)
    good = damaged.read_bytes()
    damaged.write_bytes(content)

    store = keyed(tmp_path)
    assert store.get(healthy) == {"n": int(healthy[4:])}, "the other shards keep working"
    for action in (lambda: store.get("key-1"), lambda: store.put("key-1", {"n": 0}), store.check, store.count):
        with pytest.raises(CorruptFileError) as caught:
            action()
        assert str(damaged) in str(caught.value)
    with pytest.raises(CorruptFileError):
        list(store.values())
    assert damaged.read_bytes() == content

    damaged.write_bytes(good)
    assert store.get("key-1") == {"n": 1}
    store.check()
    store.close()


KEYED_WRITER = """
import sys
from pathlib import Path
from adapters.storage.embedded.keyed import KeyedStore
store = KeyedStore(Path(sys.argv[1]), table="counters", shards=4)
n = max((doc["n"] for doc in store.values()), default=-1) + 1  # keys are never reused
print("ready", flush=True)
while True:
    store.put(f"user-{n}", {"n": n, "text": "printeren virker ikke " * 40})
    print(n, flush=True)  # acknowledged: from here on it must survive a kill
    if n % 5 == 4:
        print(f"deleting {n - 2}", flush=True)  # said before it happens, so a kill in between is accounted for
        store.delete_many([f"user-{n - 2}"])
    n += 1
"""


@pytest.mark.slow
def test_killed_writers_leave_loadable_shards_with_every_acknowledged_write(tmp_path: Path) -> None:
    rng = random.Random(7)
    acknowledged: list[int] = []
    deleted: set[int] = set()
    for _ in range(12):
        writer = subprocess.Popen(
            [sys.executable, "-c", KEYED_WRITER, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.2))
        os.kill(writer.pid, signal.SIGKILL)
        out, err = writer.communicate(timeout=30)
        assert writer.returncode == -signal.SIGKILL, err
        acknowledged += [int(line) for line in out.splitlines() if line.strip().isdigit()]
        deleted |= {int(line.split()[1]) for line in out.splitlines() if line.startswith("deleting ")}
        for path in tmp_path.glob("*.json"):
            assert load_json_file(path) is not None
    assert len(acknowledged) > 12
    store = KeyedStore(tmp_path, table="counters", shards=4)
    store.check()
    assert [n for n in acknowledged if n not in deleted and store.get(f"user-{n}") is None] == []
    assert not list(tmp_path.glob(".*.tmp")), "leftover temporary files are cleaned when the store opens"
