"""Many workspaces: our install, success and failure pages around bolt's OAuth flow, the installation store;
and when Slack stays off."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.oauth.installation_store import Bot, Installation

from adapters.slack.app import bolt_app
from adapters.slack.install_pages import preferred_language
from adapters.slack.installations import RecordsInstallationStore, RecordsOAuthStateStore
from adapters.slack.settings import SlackSettings
from adapters.storage.embedded.documents import EmbeddedRecords
from bot.clock import ManualClock
from bot.config import ProviderSettings
from tests.slack.conftest import SECRET, TOKEN, SlackUser, slack_env, start_server
from tests.slack.fake_slack import FakeSlack

CLIENT = {"SLACK_BOT_TOKEN": "", "SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "client-secret"}
ENGLISH = {"Accept-Language": "en-US,en;q=0.9"}
STATE_COOKIE = "slack-app-oauth-state"


@pytest.fixture
async def oauth_url(fake_slack: FakeSlack, clock: ManualClock, tmp_path: Path) -> AsyncIterator[str]:
    """The real server installing into many workspaces through OAuth, against the fake Slack."""
    runner, url = await start_server(slack_env(fake_slack, tmp_path, **CLIENT), clock)
    try:
        yield url
    finally:
        await runner.cleanup()


async def start_install(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None, query: str = ""
) -> tuple[str, str, str]:
    """Open the install page like the admin's browser: its HTML, the state cookie, and the state in the button."""
    async with session.get(f"{url}/slack/install{query}", headers=headers) as page:
        assert page.status == 200
        html = await page.text()
        cookie = page.headers["Set-Cookie"].split(";")[0]
    authorize = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', html)
    assert authorize is not None
    state = re.search(r"state=([^&\"]+)", authorize.group(1)).group(1)
    assert cookie == f"{STATE_COOKIE}={state}", "bolt's state cookie matches the state in the button"
    return html, cookie, state


def assert_self_contained(html: str) -> None:
    """Readable on a phone, nothing loaded from elsewhere, nothing that runs."""
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<script" not in html.lower() and "src=" not in html and "<link" not in html
    assert "default-src 'none'" in html


def assert_cookie_deleted(response: aiohttp.ClientResponse) -> None:
    deleted = response.headers.getall("Set-Cookie")
    assert any(c.startswith(f"{STATE_COOKIE}=deleted") and "1970" in c for c in deleted), deleted


async def test_install_from_the_page_then_serve_that_workspace(
    fake_slack: FakeSlack, clock: ManualClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = slack_env(fake_slack, tmp_path, **CLIENT)
    runner, url = await start_server(env, clock)
    try:
        async with aiohttp.ClientSession() as session:
            html, cookie, state = await start_install(session, url)
            authorize = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', html).group(1)
            assert "client_id=111.222" in authorize
            assert "im%3Ahistory" in authorize or "im:history" in authorize
            # A forged state is refused and installs nothing.
            async with session.get(
                f"{url}/slack/oauth_redirect", params={"code": "good-code", "state": "forged"}
            ) as bad:
                assert bad.status >= 400
            redirect = f"{url}/slack/oauth_redirect"
            async with session.get(
                redirect, params={"code": "good-code", "state": state}, headers={"Cookie": cookie}
            ) as done:
                page = await done.text()
                assert done.status == 200, page
                assert_cookie_deleted(done)
                assert done.headers["Cache-Control"] == "no-store"
            assert '<html lang="da">' in page and "Appen er installeret" in page
            assert "Medarbejderne i Kunde B kan nu få hjælp fra OneOffice direkte i Slack." in page
            assert "/support" in page
            assert 'href="https://slack.com/app_redirect?app=A1&amp;team=T2">Åbn appen i Slack</a>' in page
            assert_self_contained(page)
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


async def test_install_page_is_danish_unless_the_browser_prefers_english(oauth_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        danish, _, _ = await start_install(session, oauth_url)
        english, _, _ = await start_install(session, oauth_url, ENGLISH)
        still_danish, _, _ = await start_install(session, oauth_url, {"Accept-Language": "en;q=0.5,da"})
        chosen, _, _ = await start_install(session, oauth_url, query="?lang=en&team=T7")
    assert '<html lang="da">' in danish and "<h1>Support fra OneOffice i Slack</h1>" in danish
    assert ">Tilføj til Slack</a>" in danish and "/support" in danish
    assert "tilkalde den vagthavende tekniker" in danish and "Add to Slack" not in danish
    assert 'Ring til OneOffice på <a href="tel:+4570211813">+45 7021 1813</a>' in danish
    assert 'href="/slack/install?lang=en">In English</a>' in danish
    assert_self_contained(danish)
    assert '<html lang="en">' in english and "<h1>Support from OneOffice in Slack</h1>" in english
    assert ">Add to Slack</a>" in english and "Tilføj" not in english
    assert 'href="/slack/install?lang=da">På dansk</a>' in english
    assert '<html lang="da">' in still_danish
    # The language chosen on the page carries over, and so does the workspace bolt passes on to Slack.
    assert '<html lang="en">' in chosen and 'href="/slack/install?lang=da&amp;team=T7">På dansk</a>' in chosen
    assert re.search(r'href="https://slack\.com/oauth/v2/authorize\?[^"]*team=T7', chosen)


async def test_a_cancelled_install_says_so_and_how_to_start_again(oauth_url: str, fake_slack: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        _, cookie, state = await start_install(session, oauth_url)
        params = {"error": "access_denied", "state": state}
        async with session.get(f"{oauth_url}/slack/oauth_redirect", params=params, headers={"Cookie": cookie}) as r:
            page = await r.text()
            assert r.status == 200
            assert_cookie_deleted(r)
        async with session.get(f"{oauth_url}/slack/oauth_redirect", params=params, headers=ENGLISH) as r:
            english = await r.text()
    assert "<h1>Installationen blev afbrudt</h1>" in page and "appen er ikke installeret" in page
    assert 'href="/slack/install?lang=da">Start forfra</a>' in page
    assert "+45 7021 1813" in page and "Fejlkode" not in page
    assert_self_contained(page)
    assert "<h1>The installation was cancelled</h1>" in english and ">Start again</a>" in english
    assert not fake_slack.called("oauth.v2.access")


@pytest.mark.parametrize(
    ("cookie_state", "status", "danish", "english"),
    [
        # Another browser, a blocked cookie or a reloaded page: bolt's invalid_browser.
        (None, 400, "i den samme browser", "in the same browser"),
        # A state we never issued (forged), or one that expired: bolt's invalid_state.
        ("forged", 401, "udløbet eller er allerede blevet brugt", "expired or has already been used"),
        # A forged state that points outside the state folder opens and deletes nothing.
        ("../victim", 401, "udløbet", "expired"),
    ],
)
async def test_a_bad_state_gets_our_page_with_bolts_status(
    oauth_url: str, tmp_path: Path, cookie_state: str | None, status: int, danish: str, english: str
) -> None:
    victim = tmp_path / "data" / "slack" / "victim"
    victim.parent.mkdir(parents=True)
    victim.write_text("1700000000.0", encoding="utf-8")  # what a state file holds: its issue time
    state = cookie_state or "forged"
    headers = {"Cookie": f"{STATE_COOKIE}={cookie_state}"} if cookie_state else {}
    async with aiohttp.ClientSession() as session:
        await start_install(session, oauth_url)  # someone opened the install page: the state folder exists
        params = {"code": "good-code", "state": state}
        async with session.get(f"{oauth_url}/slack/oauth_redirect", params=params, headers=headers) as r:
            page = await r.text()
            assert r.status == status
            assert_cookie_deleted(r)
        async with session.get(f"{oauth_url}/slack/oauth_redirect", params=params, headers={**headers, **ENGLISH}) as r:
            in_english = await r.text()
    assert "<h1>Appen blev ikke installeret</h1>" in page and danish in page
    assert 'href="/slack/install?lang=da">Start forfra</a>' in page
    assert "Bliver det ved med at gå galt, så ring til OneOffice på" in page and "+45 7021 1813" in page
    assert "Fejlkode: <code>invalid_" in page
    assert_self_contained(page)
    assert english in in_english and ">Start again</a>" in in_english
    assert victim.exists()


async def test_a_state_works_once(oauth_url: str, fake_slack: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        _, cookie, state = await start_install(session, oauth_url)
        params = {"code": "good-code", "state": state}
        for expected in (200, 401):
            async with session.get(f"{oauth_url}/slack/oauth_redirect", params=params, headers={"Cookie": cookie}) as r:
                assert r.status == expected
                page = await r.text()
    assert "udløbet eller er allerede blevet brugt" in page
    assert len(fake_slack.called("oauth.v2.access")) == 1


async def test_slack_refusing_the_code_and_a_store_that_cannot_save(
    oauth_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as session:
        _, cookie, state = await start_install(session, oauth_url)
        params = {"code": "stale-code", "state": state}
        async with session.get(f"{oauth_url}/slack/oauth_redirect", params=params, headers={"Cookie": cookie}) as r:
            assert r.status == 401
            assert "udløbet" in await r.text()
        # The installation files cannot be written (a folder where their temporary files go).
        folder = tmp_path / "data" / "slack" / "installations"
        for shard in range(32):
            (folder / f".{shard:02d}-of-32.json.{os.getpid()}.tmp").mkdir(parents=True)
        _, cookie, state = await start_install(session, oauth_url)
        params = {"code": "good-code", "state": state}
        async with session.get(f"{oauth_url}/slack/oauth_redirect", params=params, headers={"Cookie": cookie}) as r:
            page = await r.text()
            assert r.status == 500
            assert_cookie_deleted(r)
    assert "Der gik noget galt hos os" in page and "Fejlkode: <code>storage_error</code>" in page
    assert 'href="/slack/install?lang=da">Start forfra</a>' in page


async def test_what_slack_or_a_link_sends_is_shown_escaped(
    oauth_url: str, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = "<script>alert(1)</script>"

    monkeypatch.setattr(fake_slack, "installed_team", {"id": "T3", "name": f"Kunde {evil} & Co"})
    async with aiohttp.ClientSession() as session:
        _, cookie, state = await start_install(session, oauth_url)
        params = {"code": "good-code", "state": state}
        async with session.get(f"{oauth_url}/slack/oauth_redirect", params=params, headers={"Cookie": cookie}) as r:
            installed = await r.text()
            assert r.status == 200
        async with session.get(f"{oauth_url}/slack/oauth_redirect", params={"error": evil + "x" * 500}) as r:
            refused = await r.text()
            assert r.status == 200
    assert "Kunde &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in installed
    assert "Fejlkode: <code>&lt;script&gt;alert(1)&lt;/script&gt;xxx" in refused and "x" * 101 not in refused
    assert "Slack afviste installationen" in refused
    for page in (installed, refused):
        assert_self_contained(page)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("", "da"),
        ("en-US,en;q=0.9", "en"),
        ("da-DK,da;q=0.9,en-US;q=0.8", "da"),
        ("en;q=0.5,da", "da"),
        ("de-DE,de;q=0.9,en;q=0.8", "en"),
        ("sv-SE", "da"),
        ("*", "da"),
        ("en;q=0", "da"),
        ("en;q=nonsense,da;q=0.1", "da"),
        ("EN-GB", "en"),
    ],
)
def test_the_language_the_browser_prefers(header: str, language: str) -> None:
    assert preferred_language(header) == language


async def test_the_pages_name_the_configured_provider(tmp_path: Path) -> None:
    provider = ProviderSettings(name="Acme IT", phone="+45 11 22 33 44", phone_menu="1", email="hjælp@acme.dk")
    config = SlackSettings(signing_secret=SECRET, client_id="1.2", client_secret="s", api_url="http://127.0.0.1:9/api/")
    records = EmbeddedRecords(tmp_path)
    store, states = RecordsInstallationStore(records), RecordsOAuthStateStore(records)
    flow = bolt_app(config, store, states, {}, provider=provider).oauth_flow
    install = await flow.handle_installation(AsyncBoltRequest(body="", query="", headers={}))
    failed = await flow.handle_callback(AsyncBoltRequest(body="", query="error=access_denied", headers={}))
    assert "<h1>Support fra Acme IT i Slack</h1>" in install.body and "OneOffice" not in install.body
    assert 'href="tel:+4511223344">+45 11 22 33 44</a>' in install.body
    assert 'href="mailto:hjælp@acme.dk"' in install.body
    assert failed.status == 200 and "Acme IT" in failed.body


async def test_installation_store_round_trip(tmp_path: Path) -> None:
    store = RecordsInstallationStore(EmbeddedRecords(tmp_path))
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
    reopened = RecordsInstallationStore(EmbeddedRecords(tmp_path))
    assert (await reopened.async_find_installation(enterprise_id=None, team_id="T9")).user_id == "U2"
    await reopened.async_delete_all(enterprise_id=None, team_id="T9")
    assert await reopened.async_find_bot(enterprise_id=None, team_id="T9") is None
    assert await reopened.async_find_installation(enterprise_id=None, team_id="T9") is None
    await reopened.async_save_bot(
        Bot(app_id="A1", team_id="T7", bot_token="xoxb-7", bot_id="B", bot_user_id="U", installed_at=1.0)
    )
    assert (await reopened.async_find_bot(enterprise_id=None, team_id="T7")).bot_token == "xoxb-7"
    assert oct((tmp_path / "slack").stat().st_mode)[-3:] == "700"


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
