"""Who may do what in the local channel: technicians by their secret inbox link, employees by their chat cookie."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import CookieJar
from aiohttp.test_utils import TestClient, TestServer

from adapters.local.passes import CHAT, INBOX, INBOX_COOKIE
from adapters.server import SERVICES, create_app
from adapters.signed_links import SECRET_VARIABLE, SIGNED_LINKS, SignedLinks
from bot.cases import CaseStatus
from bot.clock import ManualClock
from bot.config import load_settings
from tests.test_local_api import PATH_TO_PAGE, SATURDAY_NIGHT


class Browser:
    """One browser: its own cookie jar, on the one server."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        response = await self.client.request(method, path, json=body, allow_redirects=False)
        is_json = response.content_type == "application/json"
        return response.status, await response.json() if is_json else await response.text()

    async def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, answer = await self.call(method, path, body)
        assert status == 200, answer
        return answer

    async def report(self, problem: str = "ingen internet, alle er ramt") -> str:
        """Report `problem` through to a case; its number."""
        answer = await self.ok("POST", "/local/api/turn", {"name": "Mette", "text": problem})
        for _ in range(6):
            last = answer["replies"][-1]
            if last["case"]:
                return str(last["case"])
            pick = next(c["id"] for end in PATH_TO_PAGE for c in last["choices"] if c["id"].endswith(end))
            answer = await self.ok("POST", "/local/api/turn", {"choice": pick})
        raise AssertionError(f"no case: {answer}")

    async def say(self, text: str) -> str:
        answer = await self.ok("POST", "/local/api/turn", {"text": text})
        return answer["replies"][0]["title"] + "\n" + answer["replies"][0]["text"]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[list[Browser]]:
    clients: list[TestClient] = []
    app = create_app(load_settings({"SUPPORTBOT_DATA": str(tmp_path)}), environ={}, clock=ManualClock(SATURDAY_NIGHT))
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()

    async def browser() -> Browser:
        client = TestClient(test_server, cookie_jar=CookieJar(unsafe=True))  # unsafe: cookies for 127.0.0.1
        await client.start_server()
        clients.append(client)
        return Browser(client)

    browsers = [await browser() for _ in range(3)]
    yield browsers
    for client in clients:
        await client.close()
    await test_server.close()


def links_of(browser: Browser) -> SignedLinks:
    return browser.client.app[SIGNED_LINKS]


async def test_the_inbox_opens_only_through_a_technicians_link(server: list[Browser]) -> None:
    technician, stranger, _ = server
    number = await stranger.report()
    await stranger.client.app[SERVICES].oncall.settled()
    # Naming a technician is not enough, in the query or the body.
    status, answer = await stranger.call("GET", "/local/api/inbox?tech=vagt&after=0")
    assert (status, answer["key"]) == (403, "need_link")
    status, _ = await stranger.call("POST", "/local/api/press", {"tech": "vagt", "choice": f"oncall:ack:{number}"})
    assert status == 403
    forged = links_of(stranger).issue(INBOX, "vagt")[:-4] + "AAAA"
    status, _ = await stranger.call("GET", f"/oncall?key={forged}")
    assert status == 303
    assert (await stranger.call("GET", "/local/api/inbox?after=0"))[0] == 403
    case = await stranger.client.app[SERVICES].store.get(int(number))
    assert case is not None and case.status is CaseStatus.OPEN

    # The link sets a cookie scripts cannot read, and leaves the secret out of the address bar.
    response = await technician.client.get(
        f"/oncall?key={links_of(technician).issue(INBOX, 'vagt')}", allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == "/oncall"
    cookie = response.cookies[INBOX_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    inbox = await technician.ok("GET", "/local/api/inbox?after=0")
    assert inbox["technician"]["name"] == "Morten" and [p["case"] for p in inbox["pages"]] == [number]
    config = await technician.ok("GET", "/local/api/config")
    assert config["technician"]["id"] == "vagt"
    pressed = await technician.ok("POST", "/local/api/press", {"choice": f"oncall:ack:{number}", "delivery_id": "a"})
    assert number in pressed["replies"][0]["text"]
    case = await technician.client.app[SERVICES].store.get(int(number))
    assert case is not None and case.status is CaseStatus.ACKNOWLEDGED


async def test_a_revoked_link_and_the_inbox_it_opened_stop_working(server: list[Browser], tmp_path: Path) -> None:
    technician, _, _ = server
    old = links_of(technician).issue(INBOX, "vagt")
    await technician.call("GET", f"/oncall?key={old}")
    assert (await technician.call("GET", "/local/api/inbox?after=0"))[0] == 200
    # The administrator revokes while the server runs: the command prints the new link.
    env = {**os.environ, "SUPPORTBOT_DATA": str(tmp_path)}
    env.pop(SECRET_VARIABLE, None)
    new = (await oncall_command("revoke", env)).rpartition("key=")[2]
    assert new and new != old
    assert (await technician.call("GET", "/local/api/inbox?after=0"))[0] == 403
    await technician.call("GET", f"/oncall?key={old}")
    assert (await technician.call("GET", "/local/api/inbox?after=0"))[0] == 403
    await technician.call("GET", f"/oncall?key={new}")
    assert (await technician.call("GET", "/local/api/inbox?after=0"))[0] == 200
    assert (await oncall_command("link", env)).endswith(f"/oncall?key={new}")


async def oncall_command(action: str, env: dict[str, str]) -> str:
    """`python -m bot oncall <action> vagt` as the administrator runs it; what it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "oncall", action, "vagt", env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    return out.decode().strip()


def test_the_signing_key_is_kept_private_or_comes_from_the_environment(tmp_path: Path) -> None:
    made = SignedLinks.for_data(tmp_path / "a", {})
    key_file = tmp_path / "a" / "links" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = SignedLinks.for_data(tmp_path / "a", {})
    assert again.verify(INBOX, made.issue(INBOX, "vagt")) == "vagt", "the key is made once and kept"
    secret = {SECRET_VARIABLE: "s" * 40}
    from_env = SignedLinks.for_data(tmp_path / "b", secret)
    assert not (tmp_path / "b" / "links" / "secret.key").exists()
    assert SignedLinks.for_data(tmp_path / "c", secret).verify(INBOX, from_env.issue(INBOX, "vagt")) == "vagt"
    assert made.verify(INBOX, from_env.issue(INBOX, "vagt")) is None
    with pytest.raises(Exception, match=SECRET_VARIABLE):
        SignedLinks.for_data(tmp_path / "d", {SECRET_VARIABLE: "too short"})


async def test_one_browser_cannot_act_as_another_reporter(server: list[Browser]) -> None:
    mette, other, _ = server
    number = await mette.report()
    mine = (await mette.ok("GET", "/local/api/messages?after=0"))["entries"]
    assert mine
    mette_id = links_of(mette).verify(
        CHAT, mette.client.session.cookie_jar.filter_cookies(mette.client.make_url("/"))["supportbot_chat"].value
    )
    assert mette_id is not None
    # Another browser naming Mette's id gets a chat of its own, and her case is not theirs to read.
    theirs = (await other.ok("GET", f"/local/api/messages?user={mette_id}&after=0"))["entries"]
    assert theirs == []
    answer = await other.ok("POST", "/local/api/turn", {"user": mette_id, "text": f"status på sag {number}"})
    refused = answer["replies"][0]["text"]
    missing = (await other.ok("POST", "/local/api/turn", {"text": "status på sag 10099"}))["replies"][0]["text"]
    assert refused.replace(number, "10099") == missing
    bare = (await other.ok("POST", "/local/api/turn", {"text": number}))["replies"][0]["text"]
    assert bare.replace(number, "10099") == missing
    assert f"Sag {number}" in await mette.say(f"status på sag {number}"), "Mette still sees her own case"
    # "Start forfra" makes the browser a new person: the old chat and case are no longer its own.
    await mette.ok("POST", "/local/api/chat/new", {})
    assert (await mette.ok("GET", "/local/api/messages?after=0"))["entries"] == []
    assert f"Sag {number}" not in await mette.say(f"status på sag {number}")


async def test_a_customer_that_shares_cases_lets_colleagues_read_them_in_the_local_chat(tmp_path: Path) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text('[[customers]]\nname = "Demo A/S"\nlocal = true\nshare_cases = true\n', encoding="utf-8")
    settings = load_settings({"SUPPORTBOT_DATA": str(tmp_path / "data"), "SUPPORTBOT_CONFIG": str(config)})
    app = create_app(settings, environ={}, clock=ManualClock(SATURDAY_NIGHT))
    server = TestServer(app, host="127.0.0.1")
    async with (
        TestClient(server, cookie_jar=CookieJar(unsafe=True)) as a,
        TestClient(server, cookie_jar=CookieJar(unsafe=True)) as b,
    ):
        number = await Browser(a).report()
        assert f"Sag {number}" in await Browser(b).say(f"status på sag {number}")


async def test_a_damaged_revocation_file_is_named_and_the_other_front_ends_still_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    links = tmp_path / "links" / "generations.json"
    links.parent.mkdir()
    links.write_text('{"inbox:vagt": "one"', encoding="utf-8")
    caplog.set_level(logging.INFO, logger="adapters.server")
    app = create_app(load_settings({"SUPPORTBOT_DATA": str(tmp_path)}), environ={}, clock=ManualClock(SATURDAY_NIGHT))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        health = await (await client.get("/healthz")).json()
        assert health["front_ends"]["local"].startswith("disabled:")
        assert str(links) in health["front_ends"]["local"] and "fix or remove it" in health["front_ends"]["local"]
    # The calendar feed's links are revoked through the same file, so it is off too, saying why.
    assert f"on-call calendar feed: disabled, {links} cannot be read" in caplog.text
    assert links.read_text(encoding="utf-8") == '{"inbox:vagt": "one"', "the damaged file is left for the operator"
    env = {**os.environ, "SUPPORTBOT_DATA": str(tmp_path)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "oncall", "link", "vagt", env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    assert process.returncode == 2 and str(links) in err.decode() and "Traceback" not in err.decode()
