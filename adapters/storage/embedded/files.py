"""The only code that touches the data folder's files: atomic writes, damaged-file checks, the folder lock.

A write goes to a temporary file in the same folder, is fsynced, renamed over the old file, and the
folder is fsynced, so the file on disk is always the old or the new version, never a mix. A file
that does not parse raises `CorruptFileError` naming it; it is never overwritten. `AtomicJSONStorage`
gives TinyDB the same guarantees (its own `JSONStorage` rewrites in place and reads a broken file
as empty). `FolderLock` keeps a second bot off the data folder.

A write the disk refuses for want of room (full, a file size or quota limit, remounted read-only)
raises `StorageFullError` naming the folder, after removing its temporary file: nothing changed, and
the same write works once there is room. The server survives a file size limit because Python
ignores SIGXFSZ, so the write fails with EFBIG instead of the process being killed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from bot.errors import StorageError, StorageFullError

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"
LOCK_FILE = ".lock"
# Why a write found no room, for the one log line and the person reading it.
NO_ROOM = {
    errno.ENOSPC: "disk full",
    errno.EFBIG: "disk full (the file size limit is reached)",
    errno.EDQUOT: "disk full (the disk quota is used up)",
    errno.EROFS: "the disk is read-only",
}
NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


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


def write_failure(path: Path, exc: OSError, doing: str) -> StorageError:
    """The domain error for `exc` met while `doing` `path`: `StorageFullError` naming the folder when the disk
    had no room, else a `StorageError` naming the file."""
    reason = NO_ROOM.get(exc.errno or 0)
    if reason is not None:
        return StorageFullError(
            f"{path.parent}: {reason}, cannot {doing} {path.name}; nothing was changed, and saving works again "
            "as soon as there is room"
        )
    return StorageError(f"{path}: cannot {doing} ({exc.strerror or exc})")


def check_writable(folder: Path) -> None:
    """Refuse at start-up a data folder this process cannot write, in one line naming it and what to do."""
    probe = folder / f".writable.{os.getpid()}{TEMP_SUFFIX}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
        probe.unlink()
    except OSError as exc:
        if exc.errno not in NOT_WRITABLE:
            raise write_failure(probe, exc, "create") from None
        raise StorageError(
            f"{folder}: the data folder is not writable ({exc.strerror}); mount it read-write and give this user "
            "write access to it, or set SUPPORTBOT_DATA to a folder it can write"
        ) from None


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
        if exc.errno in NO_ROOM:
            raise write_failure(folder, exc, "create the folder") from None
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
        _remove_quietly(temp)
        if exc.errno in NO_ROOM:
            raise write_failure(path, exc, "write") from None
        raise StorageError(f"{path}: cannot write the data file ({exc.strerror or exc}); nothing was changed") from exc


def _remove_quietly(temp: Path) -> None:
    """Remove a temporary file after a failed write; on a read-only disk it cannot exist anyway."""
    try:
        temp.unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("cannot remove the temporary file %s (%s)", temp, exc.strerror or exc)


def write_private(path: Path, content: bytes, *, replace: bool = True) -> None:
    """Write `content` readable by this user only, atomically; with `replace` False, keep a file already there
    (the local channel's signing key, made once by whichever process comes first)."""
    make_folder(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            temporary.replace(path)
        else:
            with contextlib.suppress(FileExistsError):  # another process made the file first: theirs is kept
                os.link(temporary, path)
    except OSError as exc:
        raise write_failure(path, exc, "write") from None
    finally:
        _remove_quietly(temporary)


def write_json(path: Path, data: Any, *, durable: bool = True) -> None:
    try:
        payload = json.dumps(data, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise StorageError(f"{path}: the data cannot be stored as JSON: {exc}") from exc
    make_folder(path.parent)
    write_atomically(path, payload, durable=durable)


def delete_file(path: Path) -> None:
    try:
        if path.exists():
            path.unlink()
            fsync_directory(path.parent)
    except OSError as exc:
        raise write_failure(path, exc, "delete") from None


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
        check_writable(folder)
        path = folder / LOCK_FILE
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise write_failure(path, exc, "open") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(self._fd)
            raise FolderInUseError(
                f"{folder}: the data folder is in use by another bot (process {other}); "
                "stop it first, or set SUPPORTBOT_DATA to another folder"
            ) from None
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError as exc:
            os.close(self._fd)
            raise write_failure(path, exc, "write") from None

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = -1
