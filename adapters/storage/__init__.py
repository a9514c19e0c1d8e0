"""The composition root's choice of storage engine; the core only knows the ports in `bot.ports`."""

from __future__ import annotations

from adapters.storage.embedded import EmbeddedStorage
from bot.config import Settings
from bot.ports import Storage


def open_storage(settings: Settings, *, read_only: bool = False) -> Storage:
    """The engine for `settings`: the embedded one in `SUPPORTBOT_DATA` (the only one so far).

    `read_only` is for the operator's commands beside a running bot: only `cases` and `overrides` can be used.
    """
    return EmbeddedStorage(settings.data_dir, first_number=settings.cases.first_number, read_only=read_only)
