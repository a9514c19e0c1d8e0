"""Many workspaces: the OAuth install page, the redirect, the installation store; and when Slack stays off."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.oauth.installation_store import Bot, Installation

from adapters.slack.installations import TinyDBInstallationStore
from adapters.slack.settings import SlackSettings
from bot.clock import ManualClock
from tests.slack.conftest import SECRET, TOKEN, SlackUser, slack_env, start_server
from tests.slack.fake_slack import FakeSlack


async def test_install_from_the_page_then_serve_that_workspace(
    fake_slack: FakeSlack, clock: ManualClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = slack_env(
        fake_slack, tmp_path, SLACK_BOT_TOKEN="", SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="client-secret"
    )
    runner, url = await start_server(env, clock)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/slack/install") as page:
                assert page.status == 200
                html = await page.text()
                cookie = page.headers["Set-Cookie"].split(";")[0]
            authorize = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', html)
            assert authorize is not None and "client_id=111.222" in authorize.group(1)
            assert "im%3Ahistory" in authorize.group(1) or "im:history" in authorize.group(1)
            state = re.search(r"state=([^&\"]+)", authorize.group(1)).group(1)
            # A forged state is refused and installs nothing.
            async with session.get(
                f"{url}/slack/oauth_redirect", params={"code": "good-code", "state": "forged"}
            ) as bad:
                assert bad.status >= 400
            redirect = f"{url}/slack/oauth_redirect"
            async with session.get(
                redirect, params={"code": "good-code", "state": state}, headers={"Cookie": cookie}
            ) as done:
                assert done.status == 200, await done.text()
            slack = SlackUser(url=url, fake=fake_slack, session=session, app=runner.app)
            installed = len(fake_slack.calls)
            await slack.command("Printeren virker ikke", user="UEMP9", team="T2")
            await slack.settle()
        posts = fake_slack.called("chat.postMessage")
        assert posts and all(c.token == "xoxb-installed-token" for c in posts)
        assert "auth.test" not in [c.method for c in fake_slack.calls[installed:]], (
            "authorization reads the local store, never Slack, before the ack"
        )
        assert "client-secret" not in caplog.text and "xoxb-installed-token" not in caplog.text
    finally:
        await runner.cleanup()


async def test_installation_store_round_trip(tmp_path: Path) -> None:
    store = TinyDBInstallationStore(tmp_path / "slack" / "installations.json")
    installation = Installation(
        app_id="A1",
        team_id="T9",
        user_id="U1",
        bot_token="xoxb-1",
        bot_id="B1",
        bot_user_id="UB",
        bot_scopes=["chat:write"],
    )
    await store.async_save(installation)
    await store.async_save(
        Installation(app_id="A1", team_id="T9", user_id="U2", bot_token="xoxb-2", bot_id="B1", bot_user_id="UB")
    )
    assert (await store.async_find_bot(enterprise_id=None, team_id="T9")).bot_token == "xoxb-2"
    found = await store.async_find_installation(enterprise_id=None, team_id="T9", user_id="U1")
    assert found is not None and found.user_id == "U1" and found.bot_token == "xoxb-2", (
        "the workspace's current bot wins"
    )
    assert await store.async_find_bot(enterprise_id=None, team_id="T8") is None
    store.close()
    reopened = TinyDBInstallationStore(tmp_path / "slack" / "installations.json")
    assert (await reopened.async_find_installation(enterprise_id=None, team_id="T9")).user_id == "U2"
    await reopened.async_delete_all(enterprise_id=None, team_id="T9")
    assert await reopened.async_find_bot(enterprise_id=None, team_id="T9") is None
    assert await reopened.async_find_installation(enterprise_id=None, team_id="T9") is None
    await reopened.async_save_bot(
        Bot(app_id="A1", team_id="T7", bot_token="xoxb-7", bot_id="B", bot_user_id="U", installed_at=1.0)
    )
    assert (await reopened.async_find_bot(enterprise_id=None, team_id="T7")).bot_token == "xoxb-7"
    assert oct((tmp_path / "slack").stat().st_mode)[-3:] == "700"
    reopened.close()


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({}, "no Slack credentials"),
        ({"SLACK_BOT_TOKEN": TOKEN}, "SLACK_SIGNING_SECRET is missing"),
        ({"SLACK_CLIENT_ID": "1.2", "SLACK_SIGNING_SECRET": SECRET}, "SLACK_CLIENT_SECRET missing"),
        ({"SLACK_BOT_TOKEN": "xoxp-user", "SLACK_SIGNING_SECRET": SECRET}, "not a bot token"),
        (
            {
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_CLIENT_ID": "1",
                "SLACK_CLIENT_SECRET": "2",
                "SLACK_SIGNING_SECRET": SECRET,
            },
            "not both",
        ),
        ({"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": "xoxb-wrong"}, "app-level token"),
    ],
)
def test_disabled_with_a_reason(env: dict[str, str], reason: str) -> None:
    found = SlackSettings.from_env(env).disabled_reason()
    assert found is not None and reason in found
    assert TOKEN not in found and SECRET not in found


def test_enabled_settings_hide_their_secrets() -> None:
    settings = SlackSettings.from_env(
        {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": "http://x/api"}
    )
    assert settings.disabled_reason() is None and settings.api_url == "http://x/api/"
    assert TOKEN not in repr(settings) and SECRET not in repr(settings)
    assert SlackSettings.from_env({"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": "xapp-1"}).disabled_reason() is None


async def test_without_credentials_the_server_runs_without_slack(
    fake_slack: FakeSlack, clock: ManualClock, tmp_path: Path
) -> None:
    env = slack_env(fake_slack, tmp_path, SLACK_BOT_TOKEN="", SLACK_SIGNING_SECRET="")
    runner, url = await start_server(env, clock)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/healthz") as health:
                assert "no Slack credentials" in (await health.json())["front_ends"]["slack"]
            async with session.post(f"{url}/slack/events", data="x") as events:
                assert events.status in (404, 405)
    finally:
        await runner.cleanup()


async def test_socket_mode_works_without_a_public_url(
    fake_slack: FakeSlack, clock: ManualClock, tmp_path: Path
) -> None:
    env = slack_env(fake_slack, tmp_path, SLACK_SIGNING_SECRET="", SLACK_APP_TOKEN="xapp-1-test")
    runner, url = await start_server(env, clock)
    try:
        await asyncio.wait_for(fake_slack.socket_connected.wait(), 10)
        assert fake_slack.called("apps.connections.open")[0].token == "xapp-1-test"
        command = {
            "team_id": "T1",
            "channel_id": "CGENERAL",
            "user_id": "UEMP1",
            "command": "/support",
            "text": "Min adgangskode virker ikke",
            "response_url": fake_slack.response_url("socket"),
            "trigger_id": "trigger.socket",
        }
        ack = await fake_slack.socket_send("slash_commands", command)
        assert ack["envelope_id"].startswith("env-")
        async with aiohttp.ClientSession() as session:
            await SlackUser(url=url, fake=fake_slack, session=session, app=runner.app).settle()
            # With no signing secret there is no HTTP endpoint to get in through.
            async with session.post(f"{url}/slack/events", data="command=/support") as response:
                assert response.status in (404, 405)
        assert fake_slack.called("chat.postMessage", channel="DUEMP1")
    finally:
        await runner.cleanup()
