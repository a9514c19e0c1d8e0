"""The real server (adapters.server.create_app) on 127.0.0.1 with Slack enabled against a local fake Slack."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from adapters.slack.webapi import SlackWebApi
from bot.clock import ManualClock
from tests.rota_config import technician
from tests.servers import start_server
from tests.slack.fake_slack import TEAM, FakeSlack

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"
REPORTER = "UEMP1"
PRIMARY, BACKUP = "UTECH1", "UTECH2"
# Saturday night: outside normal hours.
SATURDAY_NIGHT = datetime(2026, 11, 28, 22, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))

CONFIG = f"""
[oncall]
rotation_start = "2026-01-05"
rotation = [{{ primary = "morten", backup = "sara" }}]

{technician("morten", "Morten", language="da", slack=(TEAM, PRIMARY))}
{technician("sara", "Sara", language="en", slack=(TEAM, BACKUP))}

[[customers]]
name = "Kunde A/S"
agreement = true
slack_teams = ["{TEAM}"]
"""


class SlackUser:
    """Sends what Slack would send, signed like Slack signs it, to the bot's server."""

    def __init__(self, *, url: str, fake: FakeSlack, session: aiohttp.ClientSession, app: web.Application) -> None:
        self.url = url
        self.fake = fake
        self.session = session
        self.app = app
        self.signer = SignatureVerifier(SECRET)
        self._n = 0

    def _next(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    async def post(
        self,
        body: str,
        *,
        content_type: str,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signer = self.signer if secret is None else SignatureVerifier(secret)
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signer.generate_signature(timestamp=ts, body=body),
            **(headers or {}),
        }
        async with self.session.post(f"{self.url}/slack/events", data=body.encode(), headers=all_headers) as response:
            await response.read()
            return response

    async def command(
        self, text: str = "", *, user: str = REPORTER, channel: str = "CGENERAL", team: str = TEAM, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        form = {
            "token": "legacy",
            "team_id": team,
            "team_domain": "kunde",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/support",
            "text": text,
            "api_app_id": "A1",
            "response_url": self.fake.response_url(self._next("cmd")),
            "trigger_id": self._next("trigger."),
        }
        return await self.post(urlencode(form), content_type="application/x-www-form-urlencoded", **kwargs)

    async def press(
        self, message: dict[str, Any], value: str, *, user: str = REPORTER, channel: str = "", **kwargs: Any
    ) -> aiohttp.ClientResponse:
        """Press the button with `value` on a message as the fake holds it (ephemeral: a response_url post)."""
        block, button = next(
            (b, e) for b in message["blocks"] if b["type"] == "actions" for e in b["elements"] if e["value"] == value
        )
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "kunde"},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A1",
            "trigger_id": self._next("trigger."),
            "container": {
                "type": "message",
                "message_ts": message.get("ts", "1700000999.000001"),
                "channel_id": message.get("channel", channel),
                "is_ephemeral": "ts" not in message,
            },
            "channel": {"id": message.get("channel", channel)},
            "response_url": self.fake.response_url(self._next("press")),
            **(
                {"message": {"ts": message["ts"], "text": message.get("text", ""), "blocks": message["blocks"]}}
                if "ts" in message
                else {}
            ),
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": block["block_id"],
                    "text": button["text"],
                    "value": value,
                    "action_ts": str(time.time()),
                }
            ],
        }
        return await self.post(
            urlencode({"payload": json.dumps(payload)}), content_type="application/x-www-form-urlencoded", **kwargs
        )

    async def say(
        self, text: str, *, user: str = REPORTER, event_id: str | None = None, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        """A message in the bot's DM (message.im)."""
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": self.fake.dm(user),
            "user": user,
            "text": text,
            "ts": f"{time.time():.6f}",
            "team": TEAM,
        }
        body = {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id or self._next("Ev"),
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}],
        }
        return await self.post(json.dumps(body), content_type="application/json", **kwargs)

    async def settle(self) -> None:
        """Wait for everything the bot started after its acks, and for the pages it sends after its answers."""
        from adapters.server import SERVICES
        from adapters.slack import SLACK

        await self.app[SLACK].drain()
        await self.app[SERVICES].oncall.settled()

    def app_services(self) -> Any:
        from adapters.server import SERVICES

        return self.app[SERVICES]

    def dm_messages(self, user: str = REPORTER) -> list[dict[str, Any]]:
        return self.fake.in_channel(self.fake.dm(user))


def buttons(message: dict[str, Any]) -> list[str]:
    return [e["value"] for b in message.get("blocks", []) if b["type"] == "actions" for e in b["elements"]]


def visible_text(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks", []), ensure_ascii=False)


@pytest.fixture
async def api(fake_slack: FakeSlack) -> AsyncIterator[SlackWebApi]:
    """The Web API client on the fake Slack, with short waits between retries."""

    async def token(team: str) -> str:
        return "xoxb-unit"

    web_api = SlackWebApi(tokens=token, base_url=fake_slack.api_url, backoff=0.01, max_wait=2.0, timeout=1.0)
    yield web_api
    await web_api.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(SATURDAY_NIGHT)


def slack_env(fake: FakeSlack, tmp_path: Path, *, config_text: str = CONFIG, **extra: str) -> dict[str, str]:
    config = tmp_path / "supportbot.toml"
    config.write_text(config_text, encoding="utf-8")
    env = {
        "SUPPORTBOT_CONFIG": str(config),
        "SUPPORTBOT_DATA": str(tmp_path / "data"),
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": fake.api_url,
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v}


@pytest.fixture
async def slack(fake_slack: FakeSlack, clock: ManualClock, tmp_path: Path) -> AsyncIterator[SlackUser]:
    runner, url = await start_server(slack_env(fake_slack, tmp_path), clock)
    async with aiohttp.ClientSession() as session:
        user = SlackUser(url=url, fake=fake_slack, session=session, app=runner.app)
        yield user
        await user.settle()
    await runner.cleanup()
    assert fake_slack.invalid == [], "the bot sent blocks Slack would reject"
