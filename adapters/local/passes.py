"""Who is who in the local channel: technicians' secret inbox links and employees' chat cookies.

Both are signed with one key: `SUPPORTBOT_LOCAL_SECRET` when set, otherwise a random key made once
and kept in `<data>/local/secret.key` (mode 0600). An inbox link carries the technician's id and a
generation number; `python -m bot oncall revoke <tech>` raises the generation (kept in
`<data>/local/inbox-links.json`), which ends every link and cookie given out before. An employee's
chat cookie carries a random id the server chose, so one browser cannot write as another reporter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

from bot.config import Technician
from bot.errors import ConfigError, StorageError

SECRET_VARIABLE = "SUPPORTBOT_LOCAL_SECRET"
MIN_SECRET_LENGTH = 32
INBOX_COOKIE = "supportbot_inbox"
CHAT_COOKIE = "supportbot_chat"
SIGNATURE_CHARS = 32  # base64url characters of the HMAC-SHA256 kept (192 bits)


class LocalPasses:
    """Makes and checks inbox tokens and chat cookies; revokes a technician's links."""

    def __init__(self, folder: Path, *, environ: Mapping[str, str]) -> None:
        self._folder = folder
        self._generations_path = folder / "inbox-links.json"
        self._key = _key(folder, environ)
        self._generations: dict[str, int] = {}
        self._generations_stamp: tuple[int, int] | None = None
        self._read_generations()  # a damaged file shows at start-up, not at the first inbox request

    @classmethod
    def for_data(cls, data_dir: Path, environ: Mapping[str, str]) -> LocalPasses:
        return cls(data_dir / "local", environ=environ)

    def inbox_token(self, tech: str) -> str:
        """The secret that opens `tech`'s inbox, until the technician's links are revoked."""
        generation = self._generation(tech)
        return f"{tech}.{generation}.{self._sign('inbox', tech, str(generation))}"

    def technician_of(self, token: str) -> str | None:
        """The technician a current inbox token belongs to; None when forged, malformed or revoked."""
        parts = token.rsplit(".", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        tech, generation, signature = parts
        if not hmac.compare_digest(signature, self._sign("inbox", tech, generation)):
            return None
        return tech if int(generation) == self._generation(tech) else None

    def revoke(self, tech: str) -> str:
        """End every link and inbox cookie of `tech` given out so far; returns the new token."""
        generations = dict(self._read_generations())
        generations[tech] = generations.get(tech, 0) + 1
        _write_private(self._generations_path, json.dumps(generations, indent=2).encode())
        return self.inbox_token(tech)

    def new_chat_cookie(self) -> tuple[str, str]:
        """A new employee: (their user id, the cookie value that proves it)."""
        user = "u-" + secrets.token_hex(10)
        return user, self.chat_cookie_for(user)

    def chat_user_of(self, cookie: str) -> str | None:
        """The employee a chat cookie belongs to; None when forged or malformed."""
        user, _, signature = cookie.rpartition(".")
        if not user or not hmac.compare_digest(signature, self._sign("chat", user)):
            return None
        return user

    def chat_cookie_for(self, user: str) -> str:
        """The cookie of the employee `user` (tests and tools that act as a given employee)."""
        return f"{user}.{self._sign('chat', user)}"

    def _sign(self, purpose: str, *parts: str) -> str:
        message = "\n".join((purpose, *parts)).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:SIGNATURE_CHARS]

    def _generation(self, tech: str) -> int:
        return self._read_generations().get(tech, 0)

    def _read_generations(self) -> dict[str, int]:
        """The revocation counters, read again only when the file changed (the CLI revokes while the server runs)."""
        try:
            stat = self._generations_path.stat()
        except FileNotFoundError:
            return {}
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._generations_stamp:
            try:
                raw = json.loads(self._generations_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise StorageError(f"{self._generations_path} cannot be read ({exc}); fix or remove it") from exc
            if not isinstance(raw, dict) or not all(isinstance(v, int) for v in raw.values()):
                raise StorageError(f"{self._generations_path} is not a table of numbers; fix or remove it")
            self._generations, self._generations_stamp = raw, stamp
        return self._generations


def inbox_links(passes: LocalPasses, technicians: Iterable[Technician], base_url: str) -> dict[str, str]:
    """Each local technician's secret link to the on-call inbox, by technician id."""
    return {t.id: f"{base_url}/oncall?key={passes.inbox_token(t.id)}" for t in technicians if t.local}


def _key(folder: Path, environ: Mapping[str, str]) -> bytes:
    """The signing key: from the environment, else the one kept in the data folder (made on first use)."""
    configured = environ.get(SECRET_VARIABLE, "")
    if configured:
        if len(configured) < MIN_SECRET_LENGTH:
            raise ConfigError(f"{SECRET_VARIABLE} must be at least {MIN_SECRET_LENGTH} characters long")
        return configured.encode()
    path = folder / "secret.key"
    if not path.exists():
        _write_private(path, secrets.token_hex(32).encode(), replace=False)
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise StorageError(f"{path} cannot be read ({exc.strerror or exc})") from exc
    if len(key) < MIN_SECRET_LENGTH:
        raise StorageError(f"{path} holds no usable key; remove it and a new one is made (old links stop working)")
    return key


def _write_private(path: Path, content: bytes, *, replace: bool = True) -> None:
    """Write `content` readable by this user only, atomically; with `replace` False, keep a file already there."""
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
