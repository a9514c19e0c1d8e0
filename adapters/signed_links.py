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
`<data>/links/generations.json`. Both files are written by `_write_private` alone. With PostgreSQL
(`SUPPORTBOT_DATABASE_URL`) the generations are in the database instead, shared by every replica
(`SharedGenerations`), so a link revoked beside one replica stops working on all of them.
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
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from aiohttp import web

from adapters.storage import database_url
from adapters.storage.embedded.files import write_private
from adapters.storage.postgres import PostgresStorage
from bot.config import Settings
from bot.errors import ConfigError, StorageError
from bot.ports import Records, Storage

logger = logging.getLogger(__name__)

SECRET_VARIABLE = "SUPPORTBOT_LINK_SECRET"
OLD_SECRET_VARIABLE = "SUPPORTBOT_LOCAL_SECRET"  # deprecated: read for one more release, then removed
MIN_SECRET_LENGTH = 32
SIGNATURE_CHARS = 32  # base64url characters of the HMAC-SHA256 kept (192 bits)
TOKEN = re.compile(rf"[A-Za-z0-9_-]{{0,400}}\.[0-9]{{1,9}}\.[A-Za-z0-9_-]{{{SIGNATURE_CHARS}}}")
GENERATIONS = "link-generations"  # the kind of the shared counters in `bot.ports.Records`
# How often (seconds) a server reads the shared counters again: a link revoked beside one replica
# stops working on every replica within this long.
REFRESH_SECONDS = 2.0


class Generations(Protocol):
    """The revocation counters: "purpose:subject" -> generation (0 when never revoked)."""

    def read(self) -> dict[str, int]: ...

    def raise_generation(self, entry: str) -> None: ...

    def close(self) -> None: ...


class FileGenerations:
    """The counters in `<data>/links/generations.json`, read again only when the file changed (the CLI
    revokes while the server runs)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._generations: dict[str, int] = {}
        self._stamp: tuple[int, int] | None = None

    def read(self) -> dict[str, int]:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StorageError(f"{self._path} cannot be read ({exc.strerror or exc})") from exc
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                raw = json.loads(self._path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise StorageError(f"{self._path} cannot be read ({exc}); fix or remove it") from exc
            if not isinstance(raw, dict) or not all(isinstance(v, int) for v in raw.values()):
                raise StorageError(f"{self._path} is not a table of numbers; fix or remove it")
            self._generations, self._stamp = raw, stamp
        return self._generations

    def raise_generation(self, entry: str) -> None:
        generations = dict(self.read())
        generations[entry] = generations.get(entry, 0) + 1
        write_private(self._path, json.dumps(generations, indent=2, sort_keys=True).encode())

    def close(self) -> None:
        return None


class SharedGenerations:
    """The counters in the database every replica shares (`bot.ports.Records`, kind GENERATIONS), over those
    `earlier` kept in a data folder before (the higher one counts), so moving to PostgreSQL revives no link.

    `follow` (a server): read at start, then again every REFRESH_SECONDS by a thread of its own, so a
    check of a link never waits for the database; while the database is unreachable the counters last
    read stay in force. Otherwise (a command) read afresh at each use.
    """

    def __init__(self, records: Records, *, earlier: FileGenerations, follow: bool) -> None:
        self._records = records
        self._earlier = earlier
        self._generations = self._fetch()
        self._stopped = threading.Event()
        self._follower: threading.Thread | None = None
        if follow:
            self._follower = threading.Thread(target=self._follow, name="link-generations", daemon=True)
            self._follower.start()

    def read(self) -> dict[str, int]:
        return self._generations if self._follower is not None else self._fetch()

    def raise_generation(self, entry: str) -> None:
        """One more than the stored generation (two revocations at the same moment may make one: still revoked)."""
        generation = self._fetch().get(entry, 0) + 1
        self._records.put(GENERATIONS, entry, {"entry": entry, "generation": generation})
        self._generations = self._fetch()

    def close(self) -> None:
        self._stopped.set()
        if self._follower is not None:
            self._follower.join()

    def _fetch(self) -> dict[str, int]:
        found = dict(self._earlier.read())
        for doc in self._records.all(GENERATIONS):
            entry = str(doc["entry"])
            found[entry] = max(found.get(entry, 0), int(doc["generation"]))
        return found

    def _follow(self) -> None:
        while not self._stopped.wait(REFRESH_SECONDS):
            try:
                self._generations = self._fetch()
            except Exception as exc:  # the follower must outlive an outage or a damaged row
                logger.warning("the revoked links could not be read again; those read before stay in force: %s", exc)


class SignedLinks:
    """Issues and verifies tokens for one data folder; revokes a subject's tokens of one purpose."""

    def __init__(
        self, folder: Path, *, environ: Mapping[str, str], shared: Records | None = None, follow: bool = False
    ) -> None:
        """With `shared`, the revocations are kept there (`SharedGenerations`, following it with `follow`)."""
        self._key = _key(folder, environ)
        kept = FileGenerations(folder / "generations.json")
        self._generations: Generations = (
            kept if shared is None else SharedGenerations(shared, earlier=kept, follow=follow)
        )
        self._generations.read()  # a damaged file shows when the server starts, not at the first request

    @classmethod
    def for_data(
        cls, data_dir: Path, environ: Mapping[str, str], shared: Records | None = None, *, follow: bool = False
    ) -> SignedLinks:
        return cls(data_dir / "links", environ=environ, shared=shared, follow=follow)

    def close(self) -> None:
        self._generations.close()

    def issue(self, purpose: str, subject: str) -> str:
        """The token for `subject`, valid for `purpose` until the subject's tokens are revoked."""
        generation = str(self._generations.read().get(_entry(purpose, subject), 0))
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
        current = self._generations.read().get(_entry(purpose, subject), 0)
        return subject if int(generation) == current else None

    def revoke(self, purpose: str, subject: str) -> str:
        """End every token of `subject` for `purpose` given out so far; returns the new one."""
        self._generations.raise_generation(_entry(purpose, subject))
        return self.issue(purpose, subject)

    def _sign(self, purpose: str, subject: str, generation: str) -> str:
        message = "\n".join((purpose, subject, generation)).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:SIGNATURE_CHARS]


SIGNED_LINKS = web.AppKey("signed_links", SignedLinks)


def links_of(app: web.Application, data_dir: Path, environ: Mapping[str, str], storage: Storage) -> SignedLinks:
    """The application's one `SignedLinks`, made by the first front end that asks; on PostgreSQL, with the
    revocations every replica shares, followed until the application is cleaned up.

    Raises:
        ConfigError: the key in the environment is too short.
        StorageError: the key file or the generations file cannot be used (the message names it).
    """
    if SIGNED_LINKS not in app:
        shared = storage.records if database_url(environ) else None
        links = SignedLinks.for_data(data_dir, environ, shared, follow=True)
        app[SIGNED_LINKS] = links

        async def close(app: web.Application) -> None:
            links.close()

        app.on_cleanup.append(close)
    return app[SIGNED_LINKS]


@contextmanager
def command_links(settings: Settings, environ: Mapping[str, str]) -> Iterator[SignedLinks]:
    """The links as a command beside the server sees them: on PostgreSQL, the revocations every replica shares
    (without opening the data folder's engine, which the server owns)."""
    url = database_url(environ)
    if url is None:
        yield SignedLinks.for_data(settings.data_dir, environ)
        return
    storage = PostgresStorage(url, upgrade=False)
    try:
        yield SignedLinks.for_data(settings.data_dir, environ, storage.records)
    finally:
        storage.db.close()


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
