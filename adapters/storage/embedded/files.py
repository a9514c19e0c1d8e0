"""The only code that touches the data folder's files: atomic writes, damaged-file checks, the folder lock.

A write goes to a temporary file in the same folder, is fsynced, renamed over the old file, and the
folder is fsynced, so the file on disk is always the old or the new version, never a mix. A file
that does not parse raises `CorruptFileError` naming it; it is never overwritten. `AtomicJSONStorage`
gives TinyDB the same guarantees (its own `JSONStorage` rewrites in place and reads a broken file
as empty). `FolderLock` keeps a second bot off the data folder.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from bot.errors import StorageError

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"
LOCK_FILE = ".lock"


class CorruptFileError(StorageError):
    """A data file exists but cannot be loaded (truncated, garbage, empty)."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(
            f"{path}: the data file is damaged ({problem}). Restore it from a backup or move it aside; "
            "the bot will not overwrite it."
        )


class FolderInUseError(StorageError):
    """Another process holds the data folder's writer lock."""


def fsync_directory(folder: Path) -> None:
    """Make a rename or a new file in `folder` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_folder(folder: Path, *, mode: int = 0o755) -> None:
    try:
        folder.mkdir(mode=mode, parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"{folder}: cannot create the data folder ({exc.strerror or exc})") from exc


def write_atomically(path: Path, payload: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `payload` so that readers and crashes see the old or the new file, never a mix."""
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


def write_private(path: Path, content: bytes, *, replace: bool = True) -> None:
    """Write `content` readable by this user only, atomically; with `replace` False, keep a file already there
    (the local channel's signing key, made once by whichever process comes first)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            temporary.replace(path)
        else:
            try:
                os.link(temporary, path)  # fails if another process made the file first: theirs is kept
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
    except OSError as exc:
        raise StorageError(f"cannot write {path} ({exc.strerror or exc})") from exc


def write_json(path: Path, data: Any, *, durable: bool = True) -> None:
    try:
        payload = json.dumps(data, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise StorageError(f"{path}: the data cannot be stored as JSON: {exc}") from exc
    make_folder(path.parent)
    write_atomically(path, payload, durable=durable)


def delete_file(path: Path) -> None:
    if path.exists():
        path.unlink()
        fsync_directory(path.parent)


def remove_leftover_temp_files(folder: Path) -> None:
    """Delete the temporary files in `folder` whose writer is gone (killed mid-write)."""
    try:
        leftovers = list(folder.glob(f".*{TEMP_SUFFIX}"))
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

    With `cache`, the last data read or written is kept and the file is not read again: only for the
    one writer of the file (the engine holds the folder lock), or a short-lived reader.
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True, cache: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.durable = durable
        self._use_cache = cache
        self._cached: dict[str, Any] | None = None

    def read(self) -> dict[str, Any] | None:
        if self._cached is not None:
            return self._cached
        data = load_json_file(self.path)
        if self._use_cache:
            self._cached = data
        return data

    def write(self, data: dict[str, Any]) -> None:
        self._cached = None  # TinyDB mutates the dict it read before handing it back: forget it on failure
        write_json(self.path, data, durable=self.durable)
        if self._use_cache:
            self._cached = data

    def close(self) -> None:
        self._cached = None


class FolderLock:
    """An exclusive `flock` on `<folder>/.lock` for as long as one bot writes the folder; the file names its pid.

    The kernel drops the lock when the process dies (also by SIGKILL), so a crash never leaves it stuck.
    """

    def __init__(self, folder: Path) -> None:
        make_folder(folder)
        path = folder / LOCK_FILE
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(self._fd)
            raise FolderInUseError(
                f"{folder}: the data folder is in use by another bot (process {other}); "
                "stop it first, or set SUPPORTBOT_DATA to another folder"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode("ascii"), 0)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = -1
