"""Secret links that need no login: a token that names a subject, signed with a key only the server knows.

Every such token in the product is made here, each kind with its own purpose so one is never taken
for another: "inbox" (a technician's link to the local on-call inbox, kept as the inbox cookie once
opened), "chat" (an employee's chat cookie in the local channel, for an id the server chose) and
"oncall-calendar" (a calendar feed's address).

A token is `<subject, base64url>.<generation>.<signature>`, the signature an HMAC-SHA256 over the
purpose, the subject and the subject's generation. Revoking a subject for a purpose raises its
generation, which ends every token of that kind given out before. The key comes from
`SUPPORTBOT_LINK_SECRET` (or, until the next release, the older name `SUPPORTBOT_LOCAL_SECRET`), else
from `<data>/links/secret.key`, made once with mode 0600; the generations are kept beside it in
`<data>/links/generations.json`. Both files are written by `_write_private` alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from adapters.storage.embedded.files import write_private
from bot.errors import ConfigError, StorageError

logger = logging.getLogger(__name__)

SECRET_VARIABLE = "SUPPORTBOT_LINK_SECRET"
OLD_SECRET_VARIABLE = "SUPPORTBOT_LOCAL_SECRET"  # deprecated: read for one more release, then removed
MIN_SECRET_LENGTH = 32
SIGNATURE_CHARS = 32  # base64url characters of the HMAC-SHA256 kept (192 bits)
TOKEN = re.compile(rf"[A-Za-z0-9_-]{{0,400}}\.[0-9]{{1,9}}\.[A-Za-z0-9_-]{{{SIGNATURE_CHARS}}}")


class SignedLinks:
    """Issues and verifies tokens for one data folder; revokes a subject's tokens of one purpose."""

    def __init__(self, folder: Path, *, environ: Mapping[str, str]) -> None:
        self._generations_path = folder / "generations.json"
        self._key = _key(folder, environ)
        self._generations: dict[str, int] = {}
        self._generations_stamp: tuple[int, int] | None = None
        self._read_generations()  # a damaged file shows when the server starts, not at the first request

    @classmethod
    def for_data(cls, data_dir: Path, environ: Mapping[str, str]) -> SignedLinks:
        return cls(data_dir / "links", environ=environ)

    def issue(self, purpose: str, subject: str) -> str:
        """The token for `subject`, valid for `purpose` until the subject's tokens are revoked."""
        generation = str(self._read_generations().get(_entry(purpose, subject), 0))
        encoded = base64.urlsafe_b64encode(subject.encode()).decode().rstrip("=")
        return f"{encoded}.{generation}.{self._sign(purpose, subject, generation)}"

    def verify(self, purpose: str, token: str) -> str | None:
        """The subject of a current token for `purpose`; None when malformed, forged, or revoked (never why)."""
        if not TOKEN.fullmatch(token):
            return None
        encoded, generation, signature = token.split(".")
        try:
            subject = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(signature.encode(), self._sign(purpose, subject, generation).encode()):
            return None
        current = self._read_generations().get(_entry(purpose, subject), 0)
        return subject if int(generation) == current else None

    def revoke(self, purpose: str, subject: str) -> str:
        """End every token of `subject` for `purpose` given out so far; returns the new one."""
        generations = dict(self._read_generations())
        generations[_entry(purpose, subject)] = generations.get(_entry(purpose, subject), 0) + 1
        write_private(self._generations_path, json.dumps(generations, indent=2, sort_keys=True).encode())
        return self.issue(purpose, subject)

    def _sign(self, purpose: str, subject: str, generation: str) -> str:
        message = "\n".join((purpose, subject, generation)).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:SIGNATURE_CHARS]

    def _read_generations(self) -> dict[str, int]:
        """The revocation counters, read again only when the file changed (the CLI revokes while the server runs)."""
        try:
            stat = self._generations_path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StorageError(f"{self._generations_path} cannot be read ({exc.strerror or exc})") from exc
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


SIGNED_LINKS = web.AppKey("signed_links", SignedLinks)


def links_of(app: web.Application, data_dir: Path, environ: Mapping[str, str]) -> SignedLinks:
    """The application's one `SignedLinks`, made by the first front end that asks.

    Raises:
        ConfigError: the key in the environment is too short.
        StorageError: the key file or the generations file cannot be used (the message names it).
    """
    if SIGNED_LINKS not in app:
        app[SIGNED_LINKS] = SignedLinks.for_data(data_dir, environ)
    return app[SIGNED_LINKS]


def _entry(purpose: str, subject: str) -> str:
    return f"{purpose}:{subject}"


def _key(folder: Path, environ: Mapping[str, str]) -> bytes:
    """The signing key: from the environment, else the one kept in the data folder (made on first use)."""
    name, configured = _configured_secret(environ)
    if configured:
        if len(configured) < MIN_SECRET_LENGTH:
            raise ConfigError(f"{name} must be at least {MIN_SECRET_LENGTH} characters long")
        return configured.encode()
    path = folder / "secret.key"
    if not path.exists():
        write_private(path, secrets.token_hex(32).encode(), replace=False)
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise StorageError(f"{path} cannot be read ({exc.strerror or exc})") from exc
    if len(key) < MIN_SECRET_LENGTH:
        raise StorageError(f"{path} holds no usable key; remove it and a new one is made (old links stop working)")
    return key


def _configured_secret(environ: Mapping[str, str]) -> tuple[str, str]:
    """The variable the key is taken from and its value ("" when neither is set)."""
    if environ.get(OLD_SECRET_VARIABLE):
        ignored = f"; it is ignored, {SECRET_VARIABLE} is set" if environ.get(SECRET_VARIABLE) else ""
        logger.warning("%s is deprecated: rename it to %s%s", OLD_SECRET_VARIABLE, SECRET_VARIABLE, ignored)
    for name in (SECRET_VARIABLE, OLD_SECRET_VARIABLE):
        if environ.get(name):
            return name, environ[name]
    return SECRET_VARIABLE, ""
