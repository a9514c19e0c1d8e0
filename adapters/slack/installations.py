"""Slack installations (one per customer workspace) and OAuth states, as platform records of the storage engine.

`RecordsInstallationStore` implements slack_sdk's `AsyncInstallationStore`, so bolt's OAuth flow
saves into it and its authorization reads from it; `RecordsOAuthStateStore` issues the state of an
install and consumes it once (`Records.take`), also with several replicas. The records hold bot
tokens: the engine keeps Slack's records private (a 0700 folder, or the database's access rules).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.ports import Records

logger = logging.getLogger(__name__)

INSTALLATIONS, STATES = "slack/installations", "slack/oauth-states"
NONE = "-"  # stands for an absent id in a key


def _ids(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> tuple[str, str]:
    # An org-wide (Enterprise Grid) install is found by enterprise id alone.
    return enterprise_id or NONE, NONE if is_enterprise_install else (team_id or NONE)


def _key(kind: str, enterprise: str, team: str, user: str) -> str:
    return "\n".join((kind, enterprise, team, user))  # Slack ids never contain a line break


class RecordsInstallationStore(AsyncInstallationStore):
    """Latest installation per workspace and per installing user, plus the workspace's bot."""

    def __init__(self, records: Records) -> None:
        self._records = records

    @property
    def logger(self) -> logging.Logger:
        return logger

    def _put(self, kind: str, enterprise: str, team: str, user: str, data: dict[str, Any]) -> None:
        doc = {"kind": kind, "enterprise": enterprise, "team": team, "user": user, "data": data}
        self._records.put(INSTALLATIONS, _key(kind, enterprise, team, user), doc)

    def _get(self, kind: str, enterprise: str, team: str, user: str) -> dict[str, Any] | None:
        found = self._records.get(INSTALLATIONS, _key(kind, enterprise, team, user))
        return dict(found["data"]) if found else None

    def _remove(self, kind: str, enterprise: str, team: str, user: str | None) -> None:
        keys = [
            _key(kind, enterprise, team, doc["user"])
            for doc in self._records.all(INSTALLATIONS)
            if (doc["kind"], doc["enterprise"], doc["team"]) == (kind, enterprise, team)
            and (user is None or doc["user"] == user)
        ]
        self._records.delete(INSTALLATIONS, keys)

    async def async_save(self, installation: Installation) -> None:
        enterprise, team = _ids(installation.enterprise_id, installation.team_id, installation.is_enterprise_install)
        data = dict(installation.__dict__)

        def save() -> None:
            self._put("installation", enterprise, team, NONE, data)
            self._put("installation", enterprise, team, installation.user_id or NONE, data)

        await asyncio.to_thread(save)
        if installation.bot_token:
            await self.async_save_bot(installation.to_bot())
        logger.info("Slack app installed in workspace %s", installation.team_id or installation.enterprise_id)

    async def async_save_bot(self, bot: Bot) -> None:
        enterprise, team = _ids(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        await asyncio.to_thread(self._put, "bot", enterprise, team, NONE, dict(bot.__dict__))

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        enterprise, team = _ids(enterprise_id, team_id, is_enterprise_install)
        data = await asyncio.to_thread(self._get, "bot", enterprise, team, NONE)
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
        data = await asyncio.to_thread(self._get, "installation", enterprise, team, user_id or NONE)
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
        await asyncio.to_thread(self._remove, "bot", enterprise, team, None)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        enterprise, team = _ids(enterprise_id, team_id, False)
        await asyncio.to_thread(self._remove, "installation", enterprise, team, user_id)


class RecordsOAuthStateStore(AsyncOAuthStateStore):
    """The `state` of each install link: issued once, consumed once, and only within `expiration_seconds`."""

    def __init__(self, records: Records, *, expiration_seconds: int = 600) -> None:
        self._records = records
        self.expiration_seconds = expiration_seconds

    @property
    def logger(self) -> logging.Logger:
        return logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = str(uuid.uuid4())
        await asyncio.to_thread(self._records.put, STATES, state, {"issued": time.time()})
        return state

    async def async_consume(self, state: str) -> bool:
        found = await asyncio.to_thread(self._records.take, STATES, state)
        if found is None:
            logger.warning("an OAuth state that was never issued, or was used already, came back")
            return False
        return time.time() < float(found["issued"]) + self.expiration_seconds
