"""The composition root's choice of storage engine; the core only knows the ports in `bot.ports`."""

from __future__ import annotations

from adapters.storage.embedded import EmbeddedStorage
from bot.config import Settings
from bot.ports import Announcer, Storage


def open_storage(settings: Settings, *, read_only: bool = False, announce: Announcer | None = None) -> Storage:
    """The engine for `settings`: the embedded one in `SUPPORTBOT_DATA` (the only one so far).

    `read_only` is for the operator's commands beside a running bot: only `cases`, `outbox`, `overrides`
    and `audit` (read, and appended to with the operator's own changes) can be used. `announce` says
    what each change of a case sends out (see `bot.ports.Announcer`).
    """
    return EmbeddedStorage(
        settings.data_dir, first_number=settings.cases.first_number, read_only=read_only, announce=announce
    )
