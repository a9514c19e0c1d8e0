"""Slack installations (one per customer workspace) in the bot's own crash-safe TinyDB file.

Implements slack_sdk's `AsyncInstallationStore`, so bolt's OAuth flow saves into it and its
authorization reads from it. The file holds bot tokens: its folder is created private (0700).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from tinydb import Query, TinyDB

from bot.storage import AtomicJSONStorage

logger = logging.getLogger(__name__)

NONE = "-"  # TinyDB queries cannot match None reliably; absent ids are stored as this


def _ids(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> tuple[str, str]:
    # An org-wide (Enterprise Grid) install is found by enterprise id alone.
    return enterprise_id or NONE, NONE if is_enterprise_install else (team_id or NONE)


class TinyDBInstallationStore(AsyncInstallationStore):
    """Latest installation per workspace and per installing user, plus the workspace's bot."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._db = TinyDB(path, storage=AtomicJSONStorage, cache=True)
        self._lock = threading.Lock()

    @property
    def logger(self) -> logging.Logger:
        return logger

    def close(self) -> None:
        self._db.close()

    async def _run(self, work: Any, *args: Any) -> Any:
        def locked() -> Any:
            with self._lock:
                return work(*args)

        return await asyncio.to_thread(locked)

    def _put(self, kind: str, enterprise: str, team: str, user: str, data: dict[str, Any]) -> None:
        row = Query()
        self._db.upsert(
            {"kind": kind, "enterprise": enterprise, "team": team, "user": user, "data": data},
            (row.kind == kind) & (row.enterprise == enterprise) & (row.team == team) & (row.user == user),
        )

    def _get(self, kind: str, enterprise: str, team: str, user: str) -> dict[str, Any] | None:
        row = Query()
        found = self._db.get(
            (row.kind == kind) & (row.enterprise == enterprise) & (row.team == team) & (row.user == user)
        )
        return dict(found["data"]) if isinstance(found, dict) else None

    def _remove(self, kind: str, enterprise: str, team: str, user: str | None) -> None:
        row = Query()
        condition = (row.kind == kind) & (row.enterprise == enterprise) & (row.team == team)
        self._db.remove(condition & (row.user == user) if user is not None else condition)

    async def async_save(self, installation: Installation) -> None:
        enterprise, team = _ids(installation.enterprise_id, installation.team_id, installation.is_enterprise_install)
        data = dict(installation.__dict__)

        def save() -> None:
            self._put("installation", enterprise, team, NONE, data)
            self._put("installation", enterprise, team, installation.user_id or NONE, data)

        await self._run(save)
        if installation.bot_token:
            await self.async_save_bot(installation.to_bot())
        logger.info("Slack app installed in workspace %s", installation.team_id or installation.enterprise_id)

    async def async_save_bot(self, bot: Bot) -> None:
        enterprise, team = _ids(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        await self._run(self._put, "bot", enterprise, team, NONE, dict(bot.__dict__))

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        enterprise, team = _ids(enterprise_id, team_id, is_enterprise_install)
        data = await self._run(self._get, "bot", enterprise, team, NONE)
        return Bot(**data) if data else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        enterprise, team = _ids(enterprise_id, team_id, is_enterprise_install)
        data = await self._run(self._get, "installation", enterprise, team, user_id or NONE)
        if not data:
            return None
        installation = Installation(**data)
        # A user's older installation carries an old bot token; the workspace's bot is the current one.
        latest = await self.async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        if latest is not None and latest.bot_token != installation.bot_token:
            installation.bot_id, installation.bot_user_id = latest.bot_id, latest.bot_user_id
            installation.bot_token, installation.bot_scopes = latest.bot_token, latest.bot_scopes
        return installation

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        enterprise, team = _ids(enterprise_id, team_id, False)
        await self._run(self._remove, "bot", enterprise, team, None)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        enterprise, team = _ids(enterprise_id, team_id, False)
        await self._run(self._remove, "installation", enterprise, team, user_id)
