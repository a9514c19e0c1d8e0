"""The composition root's choice of storage engine; the core only knows the ports in `bot.ports`."""

from __future__ import annotations

import os
from collections.abc import Mapping

from adapters.storage.embedded import EmbeddedStorage
from adapters.storage.postgres import PostgresStorage
from bot.config import Settings
from bot.errors import ConfigError
from bot.ports import Announcer, Storage

DATABASE_URL = "SUPPORTBOT_DATABASE_URL"


def database_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The PostgreSQL database to use (`SUPPORTBOT_DATABASE_URL`), or None for the embedded engine."""
    url = (os.environ if environ is None else environ).get(DATABASE_URL, "").strip()
    if not url:
        return None
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"environment: {DATABASE_URL} must start with postgresql://")
    return url


def open_storage(
    settings: Settings,
    *,
    read_only: bool = False,
    announce: Announcer | None = None,
    environ: Mapping[str, str] | None = None,
) -> Storage:
    """The engine for `settings`: PostgreSQL when `SUPPORTBOT_DATABASE_URL` is set, else the embedded one.

    The embedded engine keeps `SUPPORTBOT_DATA`; `read_only` is for the operator's commands beside a
    running bot (only `cases`, `outbox`, `overrides` and `audit`, read and appended to with the operator's
    own changes, can be used). A database is shared by any number of processes.
    `announce` says what each change of a case sends out (see `bot.ports.Announcer`).
    """
    url = database_url(environ)
    if url is not None:
        return PostgresStorage(url, first_number=settings.cases.first_number, announce=announce)  # shared: no lock
    return EmbeddedStorage(
        settings.data_dir, first_number=settings.cases.first_number, read_only=read_only, announce=announce
    )


async def describe(storage: Storage) -> tuple[bool, str]:
    """Whether the storage can be used now, and what it is, for `/healthz` (never the password)."""
    if isinstance(storage, PostgresStorage):
        ok = await storage.healthy()
        return ok, f"postgresql {storage.db.where}: {'ok' if ok else 'not answering'}"
    if isinstance(storage, EmbeddedStorage):
        return True, f"embedded {storage.data_dir}"
    return True, type(storage).__name__
