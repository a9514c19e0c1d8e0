"""Who the bot is in the workspace a request comes from, answered from memory or the local store.

Bolt's own authorization calls `auth.test` on Slack before the listener can ack; a slow or failing
Slack would then make the bot miss the 3-second ack. These answer without any Web API call.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize

from adapters.slack.installations import RecordsInstallationStore


class SingleWorkspaceAuthorize(AsyncAuthorize):
    """One workspace, one bot token; the bot's ids are filled in from `auth.test` at start-up."""

    def __init__(self, *, token: str, identity: dict[str, str]) -> None:
        super().__init__()
        self._token = token
        self._identity = identity

    async def __call__(self, *, enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=self._token,
            bot_user_id=self._identity.get("user_id") or None,
            bot_id=self._identity.get("bot_id") or None,
        )


class InstalledAuthorize(AsyncAuthorize):
    """Many workspaces: the bot installed in the request's workspace, or None (bolt answers "not installed")."""

    def __init__(self, *, store: RecordsInstallationStore) -> None:
        super().__init__()
        self._store = store

    async def __call__(self, *, enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult | None:
        bot = await self._store.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None:
            # An org-wide install answers for every workspace of the organisation.
            bot = await self._store.async_find_bot(
                enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True
            )
        if bot is None or not bot.bot_token:
            return None
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=bot.bot_token,
            bot_user_id=bot.bot_user_id,
            bot_id=bot.bot_id,
        )
