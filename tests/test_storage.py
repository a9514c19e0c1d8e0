"""AtomicJSONStorage: whole-file atomic writes, and a damaged file is reported, never overwritten."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tinydb import TinyDB

from bot.errors import StorageError
from bot.storage import AtomicJSONStorage, CorruptFileError, load_json_file


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
