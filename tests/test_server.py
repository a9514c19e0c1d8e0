"""The composition root: which front ends run and why, the on-call timers, and `python -m bot serve`."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.local.passes import INBOX
from adapters.server import COLLECTOR, ONCALL_TASK, create_app
from adapters.signed_links import SignedLinks
from bot.config import Settings, load_settings
from tests.servers import local_cookies

# Credentials the front ends read; removed so a developer's shell cannot change what these tests see.
CREDENTIALS = ("SLACK_", "MICROSOFT_APP_", "MicrosoftApp", "TEAMS_", "SUPPORTBOT_")


def settings_in(data: Path, **changes: object) -> Settings:
    return replace(load_settings({"SUPPORTBOT_DATA": str(data)}), **changes)


async def health_of(settings: Settings, environ: dict[str, str]) -> dict[str, object]:
    async with TestClient(TestServer(create_app(settings, environ=environ))) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        return await response.json()


async def test_without_credentials_the_local_channel_runs_and_the_log_says_why_others_do_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.server")
    health = await health_of(settings_in(tmp_path), {})

    assert health["status"] == "ok"
    front_ends = health["front_ends"]
    assert isinstance(front_ends, dict)
    assert front_ends["local"] == "enabled"
    assert front_ends["slack"].startswith("disabled: ")
    assert "front end local: enabled" in caplog.text
    assert "front end slack: disabled, " in caplog.text
    # Teams runs unauthenticated on localhost for the Bot Framework Emulator: the log says so and what to set.
    assert front_ends["teams"] == (
        "enabled without authentication for the Bot Framework Emulator"
        " (set MicrosoftAppId, MicrosoftAppPassword, MicrosoftAppTenantId for Teams)"
    )
    assert f"front end teams: {front_ends['teams']}" in caplog.text


async def test_on_a_public_address_the_local_channel_stays_off_unless_asked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    public = settings_in(tmp_path, host="0.0.0.0")
    health = await health_of(public, {})
    assert isinstance(health["front_ends"], dict)
    assert "SUPPORTBOT_LOCAL=1" in health["front_ends"]["local"]
    assert "HOST=0.0.0.0 is not a loopback address" in caplog.text
    # The rota's technicians are reachable only in the local inbox, which is now off: said at start-up.
    warnings = [r.message for r in caplog.records if r.name.startswith("bot.oncall") and r.levelno == logging.WARNING]
    assert any("vagt" in w for w in warnings)

    health = await health_of(public, {"SUPPORTBOT_LOCAL": "1"})
    assert isinstance(health["front_ends"], dict)
    assert health["front_ends"]["local"] == "enabled"


async def test_rota_problems_are_logged_at_start_up(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    settings = settings_in(tmp_path)
    unreachable = tuple(replace(t, local=False) for t in settings.oncall.technicians)
    await health_of(replace(settings, oncall=replace(settings.oncall, technicians=unreachable)), {})
    problems = [r.message for r in caplog.records if r.name.startswith("bot.oncall") and r.levelno == logging.WARNING]
    assert len(problems) >= 2
    assert any("vagt2" in p for p in problems)


async def test_the_oncall_timers_run_while_the_app_runs_and_stop_with_it(tmp_path: Path) -> None:
    app = create_app(settings_in(tmp_path), environ={})
    client = TestClient(TestServer(app))
    await client.start_server()
    task = app[ONCALL_TASK]
    assert not task.done()
    await client.close()
    assert task.cancelled()


async def test_long_lived_objects_are_frozen_once_the_cases_are_loaded_and_thawed_at_shutdown(tmp_path: Path) -> None:
    # A full garbage collection would otherwise walk every case summary and stall the event loop.
    app = create_app(settings_in(tmp_path), environ={})
    client = TestClient(TestServer(app))
    await client.start_server()
    await asyncio.wait_for(app[COLLECTOR].warmed_up.wait(), timeout=10)
    assert gc.get_freeze_count() > 0
    await client.close()
    assert gc.get_freeze_count() == 0


async def test_the_local_pages_are_not_served_when_the_channel_is_off(tmp_path: Path) -> None:
    app = create_app(settings_in(tmp_path, host="0.0.0.0"), environ={})
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/")).status == 404
        assert (await client.get("/local/api/config")).status == 404


async def test_a_damaged_local_file_keeps_the_local_channel_off_with_the_reason(tmp_path: Path) -> None:
    damaged = tmp_path / "local" / "messages" / "00-of-32.json"
    damaged.parent.mkdir(parents=True)
    damaged.write_text('{"messages": {"1": ', encoding="utf-8")
    health = await health_of(settings_in(tmp_path), {})
    assert isinstance(health["front_ends"], dict)
    assert "00-of-32.json: the data file is damaged" in health["front_ends"]["local"]
    assert damaged.read_text(encoding="utf-8") == '{"messages": {"1": '


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    log: Path


@contextmanager
def serving(data: Path, *args: str) -> Iterator[Served]:
    """`python -m bot serve` in a subprocess on a free port, stopped with SIGTERM afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(CREDENTIALS)}
    env |= {"SUPPORTBOT_DATA": str(data / "data"), "PORT": str(port), "HOST": "127.0.0.1"}
    log = data / "serve.log"
    with log.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", *args],
            env=env,
            cwd=data,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    served = Served(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_until_healthy(served)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_healthy(served: Served, *, patience: float = 60.0) -> None:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise AssertionError(
                f"the server exited early (code {served.process.returncode}):\n{served.log.read_text(encoding='utf-8')}"
            )
        try:
            with urllib.request.urlopen(f"{served.url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError(f"the server did not answer /healthz:\n{served.log.read_text(encoding='utf-8')}")


def test_serve_starts_tells_where_to_go_and_stops_on_sigterm(tmp_path: Path) -> None:
    with serving(tmp_path, "--now", "2026-11-28T22:30") as served:
        with urllib.request.urlopen(f"{served.url}/", timeout=5) as page:
            assert b"chat.js" in page.read()
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=30) == 0
    log = served.log.read_text(encoding="utf-8")
    assert "front end local: enabled" in log
    assert f"chat as an employee: {served.url}/" in log
    # Running locally, each technician's secret inbox link is printed (not logged) at start-up.
    links = SignedLinks.for_data(tmp_path / "data", {})
    for tech in ("vagt", "vagt2"):
        assert f"\non-call inbox for {tech}: {served.url}/oncall?key={links.issue(INBOX, tech)}\n" in log
    assert "the bot's clock started at 2026-11-28T22:30:00+01:00" in log
    assert "stopping" in log
    assert "Traceback" not in log


def test_serve_on_a_busy_port_says_so(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(CREDENTIALS)}
        env |= {"SUPPORTBOT_DATA": str(tmp_path), "PORT": str(port)}
        done = subprocess.run(
            [sys.executable, "-m", "bot", "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "set PORT or HOST" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_access_log_has_no_query_strings_and_no_polls(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        # The technician's and the employee's browsers (the inbox link's cookie, the chat cookie).
        cookies = local_cookies(SignedLinks.for_data(tmp_path / "data", {}), user="anna", tech="vagt")
        for path in (
            "/slack/oauth_redirect?code=SECRET-CODE&state=SECRET-STATE",
            "/local/api/messages?after=0",
            "/local/api/inbox?after=0",
            "/healthz",
            "/local/api/messages?after=not-a-number",
        ):
            try:
                urllib.request.urlopen(
                    urllib.request.Request(f"{served.url}{path}", headers=cookies), timeout=5
                ).close()
            except urllib.error.HTTPError as error:
                error.close()
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=30) == 0
    access = [line for line in served.log.read_text(encoding="utf-8").splitlines() if "aiohttp.access" in line]
    assert "SECRET" not in "\n".join(access)
    assert any('"GET /slack/oauth_redirect" 404' in line for line in access), access
    # The routine polls and health checks are not logged; a poll that fails is.
    assert not any("/local/api/inbox" in line or "/healthz" in line for line in access), access
    assert [line for line in access if "/local/api/messages" in line] == [
        line for line in access if '"GET /local/api/messages" 400' in line
    ]
    assert len([line for line in access if "/local/api/messages" in line]) == 1
