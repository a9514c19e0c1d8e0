"""Crash-safe JSON files for TinyDB.

TinyDB's own `JSONStorage` rewrites its file in place: a kill in the middle of a write leaves a
half-written file, and an empty or broken file is silently read as an empty database, so the next
write throws the old contents away. `AtomicJSONStorage` instead writes a temporary file in the
same folder, flushes and fsyncs it, renames it over the old file and fsyncs the folder, so the
file on disk is always either the old or the new version. A file that does not parse raises
`CorruptFileError` (a `StorageError`) naming the file; it is never overwritten.

Usage: `TinyDB(path, storage=AtomicJSONStorage)`; dialog state, on-call state and the case store
share it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from bot.errors import StorageError

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"


class CorruptFileError(StorageError):
    """A data file exists but cannot be loaded (truncated, garbage, empty)."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(
            f"{path}: the data file is damaged ({problem}). Restore it from a backup or move it aside; "
            "the bot will not overwrite it."
        )


def fsync_directory(folder: Path) -> None:
    """Make a rename or a new file in `folder` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, payload: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `payload` so that readers and crashes see the old or the new file, never a mix.

    With `durable` the data and the directory entry are fsynced before returning.
    """
    temp = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        temp.replace(path)
        if durable:
            fsync_directory(path.parent)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise StorageError(f"{path}: cannot write the data file ({exc.strerror or exc}); nothing was changed") from exc


def remove_leftover_temp_files(path: Path) -> None:
    """Delete temporary files of `path` left by writers that were killed (their process is gone)."""
    _remove_leftovers(path.parent, f".{path.name}.*{TEMP_SUFFIX}")


def remove_all_leftover_temp_files(folder: Path) -> None:
    """Delete the temporary files of every data file in `folder` whose writer is gone."""
    _remove_leftovers(folder, f".*{TEMP_SUFFIX}")


def _remove_leftovers(folder: Path, pattern: str) -> None:
    try:
        leftovers = list(folder.glob(pattern))
    except OSError:
        return
    for temp in leftovers:
        pid_text = temp.name[: -len(TEMP_SUFFIX)].rpartition(".")[2]
        if pid_text.isdigit() and not _process_alive(int(pid_text)):
            logger.info("removing the leftover temporary file %s", temp)
            temp.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_json_file(path: Path) -> dict[str, Any] | None:
    """The parsed contents of a TinyDB file; None when it does not exist; `CorruptFileError` when damaged."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"{path}: cannot read the data file ({exc.strerror or exc})") from exc
    if not raw.strip():
        raise CorruptFileError(path, "the file is empty")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptFileError(path, f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(table, dict) for table in data.values()):
        raise CorruptFileError(path, "not a TinyDB database (expected an object of tables)")
    return data


class AtomicJSONStorage(Storage):
    """A TinyDB storage that never leaves a half-written file and never reads a damaged one as empty.

    Args:
        path: the JSON file; created (with its folders) on the first write, not before.
        durable: fsync the file and its folder on every write (turn off only for bulk imports).
        cache: keep the last read or written data in memory and skip re-reading the file. Only for
            a single writer that owns the file (the case store); otherwise changes made through
            another instance would go unseen.
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True, cache: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.durable = durable
        self._use_cache = cache
        self._cached: dict[str, Any] | None = None
        remove_leftover_temp_files(self.path)

    def read(self) -> dict[str, Any] | None:
        if self._cached is not None:
            return self._cached
        data = load_json_file(self.path)
        if self._use_cache:
            self._cached = data
        return data

    def write(self, data: dict[str, Any]) -> None:
        # TinyDB mutates the dict it read before handing it back here: if anything fails, forget it.
        self._cached = None
        try:
            payload = json.dumps(data, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise StorageError(f"{self.path}: the data cannot be stored as JSON: {exc}") from exc
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{self.path.parent}: cannot create the data folder ({exc.strerror or exc})") from exc
        write_atomically(self.path, payload, durable=self.durable)
        if self._use_cache:
            self._cached = data

    def close(self) -> None:
        self._cached = None
