"""Pages while Slack and the Bot Connector fail: 500, `ratelimited` + Retry-After, a hung request, refused connections.

The real server (create_app) on 127.0.0.1; the reporter uses the local chat API on a Saturday night;
the technicians are on Slack (a local fake Web API that fails on command) and Teams (a service URL
where nothing listens: every connection is refused). The on-call timers are fired by advancing the
clock and calling `tick()` twice at once, as a restart and the timer loop could.
The Slack and Teams helpers test their own retry code; this covers what only shows end to end:
failing over between platforms and people, one page per step, and what the reporter is told. The
page is sent after the reporter's answer (in the background), so the tests wait for it to settle.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.server import SERVICES, create_app
from adapters.signed_links import SIGNED_LINKS
from bot.cases import Case, EventKind
from bot.clock import ManualClock
from bot.config import load_settings
from tests.rota_config import technician
from tests.servers import local_cookies
from tests.test_faults_kill import free_port

pytestmark = pytest.mark.timeout(120)

SATURDAY_NIGHT = datetime(2026, 11, 28, 23, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))
TEAM = "TPROVIDER"
MORTEN, SARA = "UMORTEN", "USARA"
SLOW = 5.0  # seconds a "slow" Slack takes to accept a message (within the client's 10 s timeout)
PREFERRED = (":page", ":accept", ":yes", ":scope:all", ":skip")


@dataclass
class Rule:
    """Fail calls of `method` whose params contain `where`: `mode` is "500", "ratelimited" or "hang";
    "slow" answers, but only after `SLOW` seconds."""

    method: str
    where: dict[str, str]
    mode: str
    times: int | None = None  # None: for ever
    retry_after: int = 1


@dataclass
class FakeSlack:
    """Slack's Web API on 127.0.0.1: DMs are "D<user>", every attempt is recorded with its time."""

    rules: list[Rule] = field(default_factory=list)
    attempts: list[tuple[float, str, dict[str, Any], str]] = field(default_factory=list)  # (t, method, params, outcome)
    posted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> delivered messages
    server: TestServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self.handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return f"http://127.0.0.1:{self.server.port}/api/"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                params |= json.loads(raw or b"{}")
            else:
                params |= dict(await request.post())
        live = (r for r in self.rules if r.times != 0 and r.method == method and _matches(params, r.where))
        rule = next(live, None)
        if rule is not None:
            rule.times = None if rule.times is None else rule.times - 1
            self.attempts.append((time.monotonic(), method, params, rule.mode))
            if rule.mode == "hang":
                await asyncio.sleep(30)  # longer than the client waits: it gives up and tries again
            if rule.mode == "slow":
                await asyncio.sleep(SLOW)
                self.attempts.append((time.monotonic(), method, params, "ok"))
                return web.json_response(self.answer(method, params))
            if rule.mode == "ratelimited":
                headers = {"Retry-After": str(rule.retry_after)}
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers=headers)
            return web.json_response({"ok": False, "error": "internal_error"}, status=500)
        self.attempts.append((time.monotonic(), method, params, "ok"))
        return web.json_response(self.answer(method, params))

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": TEAM, "team": "OneOffice"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": f"D{params.get('users', '')}"}}
        if method == "chat.postMessage":
            channel = params["channel"]
            ts = f"{1_700_000_000 + len(self.attempts)}.000100"
            self.posted.setdefault(channel, []).append({**params, "ts": ts})
            return {"ok": True, "channel": channel, "ts": ts}
        return {"ok": True, "channel": params.get("channel", ""), "ts": params.get("ts", "")}

    def tried(self, method: str, **where: str) -> list[tuple[float, str]]:
        return [(t, outcome) for t, m, p, outcome in self.attempts if m == method and _matches(p, where)]

    def pages(self, user: str) -> list[dict[str, Any]]:
        """Pages delivered to a technician's DM (messages with an acknowledge button)."""
        return [m for m in self.posted.get(f"D{user}", []) if "oncall:ack" in json.dumps(m.get("blocks", []))]


def _matches(params: dict[str, Any], where: dict[str, str]) -> bool:
    return all(str(params.get(k)) == v for k, v in where.items())


def config(refused: str, *, ib_local: bool = True) -> str:
    return f"""
[oncall]
ack_timeout_minutes = 10
escalate_all_minutes = 10
rotation_start = "2026-01-05"
rotation = [{{ primary = "morten", backup = "sara" }}]

{technician("morten", "Morten", language="da", slack=(TEAM, MORTEN), teams=("tenant-oneoffice", "aad-morten"))}
{technician("sara", "Sara", language="en", slack=(TEAM, SARA))}
{technician("ib", "Ib", language="da", local=ib_local)}

[team_channel]
teams_service_url = "{refused}"
"""


class Bot:
    """The real server, its clock, the fake Slack, and a reporter in the local chat."""

    def __init__(self, runner: web.AppRunner, url: str, clock: ManualClock, slack: FakeSlack) -> None:
        self.runner, self.url, self.clock, self.slack = runner, url, clock, slack
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=90))

    @property
    def services(self) -> Any:
        return self.runner.app[SERVICES]

    def _as(self, *, user: str = "", tech: str = "") -> dict[str, str]:
        return local_cookies(self.runner.app[SIGNED_LINKS], user=user, tech=tech)

    async def say(self, user: str, **body: str) -> dict[str, Any]:
        payload = {"name": user.title(), "lang": "da", **body}
        async with self.session.post(
            f"{self.url}/local/api/turn", json=payload, headers=self._as(user=user)
        ) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())

    async def report(self, user: str, problem: str = "internettet virker ikke for nogen på kontoret") -> dict[str, Any]:
        """Walk the after-hours flow to the page; the outcome reply (with the case number)."""
        answer = await self.say(user, text=problem)
        for n in range(6):
            last = answer["replies"][-1]
            if last["case"]:
                return last
            offered = [c["id"] for c in last["choices"]]
            choice = next(c for suffix in PREFERRED for c in offered if c.endswith(suffix))
            answer = await self.say(user, choice=choice, delivery_id=f"{user}-{n}")
        raise AssertionError(f"no case: {answer}")

    async def settled(self) -> None:
        """Wait until the pages started so far have been sent and their reporters told."""
        await self.services.oncall.settled()

    async def feed(self, user: str) -> list[dict[str, Any]]:
        async with self.session.get(f"{self.url}/local/api/messages", headers=self._as(user=user)) as response:
            return list((await response.json())["entries"])

    async def inbox(self, tech: str) -> list[dict[str, Any]]:
        async with self.session.get(f"{self.url}/local/api/inbox", headers=self._as(tech=tech)) as response:
            return list((await response.json())["pages"])

    async def case(self, number: int | str) -> Case:
        case = await self.services.store.get(int(number))
        assert case is not None
        return case

    async def timers_after(self, minutes: float) -> None:
        """Time passes; the timers fire, from two callers at once (the loop and a restart, say)."""
        self.clock.advance(timedelta(minutes=minutes))
        await asyncio.gather(self.services.oncall.tick(), self.services.oncall.tick())


async def blocked(request: web.Request) -> web.Response:
    """The Bot Connector refusing for good: the app is blocked or not installed for the user."""
    return web.json_response({"error": {"code": "BotDisabledByAdmin", "message": "blocked"}}, status=403)


@pytest.fixture
async def bot(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bot]:
    """The server. Parametrized indirectly with "blocked": the connector answers 403 instead of refusing
    connections, and the rota's third technician has no platform at all."""
    slack = FakeSlack()
    api_url = await slack.start()
    mode = getattr(request, "param", "refused")
    connector = web.Application()
    connector.router.add_route("*", "/{tail:.*}", blocked)
    connector_server = TestServer(connector, host="127.0.0.1")
    await connector_server.start_server()
    teams_url = f"http://127.0.0.1:{connector_server.port if mode == 'blocked' else free_port()}/"
    (tmp_path / "supportbot.toml").write_text(config(teams_url, ib_local=mode != "blocked"), encoding="utf-8")
    env = {
        "SUPPORTBOT_CONFIG": str(tmp_path / "supportbot.toml"),
        "SUPPORTBOT_DATA": str(tmp_path / "data"),
        "SLACK_SIGNING_SECRET": "fault-secret",
        "SLACK_BOT_TOKEN": "xoxb-fault",
        "SLACK_API_URL": api_url,
    }
    clock = ManualClock(SATURDAY_NIGHT)
    runner = web.AppRunner(create_app(load_settings(env), environ=env, clock=clock))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    bot = Bot(runner, f"http://127.0.0.1:{runner.addresses[0][1]}", clock, slack)
    yield bot
    await bot.session.close()
    await runner.cleanup()
    assert slack.server is not None
    await slack.server.close()
    await connector_server.close()


def kinds(case: Case, kind: EventKind) -> list[dict[str, Any]]:
    return [dict(e.data) for e in case.history if e.kind is kind]


def one_page_per_step(case: Case) -> None:
    sent = [(e["technician"], e["step"]) for e in kinds(case, EventKind.PAGED)]
    assert len(sent) == len(set(sent)), f"case {case.number} paged twice for one step: {sent}"


def backoff_gaps(attempts: list[tuple[float, str]]) -> list[float]:
    times = [t for t, _ in attempts]
    return [b - a for a, b in itertools.pairwise(times)]


async def test_primary_down_on_slack_and_teams_pages_the_backup_at_once(bot: Bot) -> None:
    """Slack answers 500 for Morten's DM, Teams refuses connections: Sara is paged now, not in 10 minutes."""
    bot.slack.rules.append(Rule("chat.postMessage", {"channel": f"D{MORTEN}"}, "500"))
    began = time.monotonic()
    outcome = await bot.report("mette")
    waited = time.monotonic() - began
    assert outcome["text"].startswith("Jeg tilkalder vagten nu")
    await bot.settled()
    case = await bot.case(outcome["case"])

    tries = bot.slack.tried("chat.postMessage", channel=f"D{MORTEN}")
    assert [o for _, o in tries] == ["500"] * 4, "retried, then given up"
    gaps = backoff_gaps(tries)
    assert all(b > a * 1.5 for a, b in itertools.pairwise(gaps)), f"no exponential backoff: {gaps}"
    failed = {(e["technician"], e["platform"]) for e in kinds(case, EventKind.PAGE_FAILED)}
    assert {("morten", "slack"), ("morten", "teams")} <= failed
    assert len(bot.slack.pages(SARA)) == 1 and bot.slack.pages(MORTEN) == []
    assert [e["step"] for e in kinds(case, EventKind.ESCALATED)] == ["backup"]
    one_page_per_step(case)
    assert "10001" in outcome["text"] + json.dumps(outcome["facts"])
    # The answer came at once; the outcome followed as an update once Sara had the page.
    updates = [e["text"] for e in await bot.feed("mette") if e["role"] == "bot"][-2:]
    assert updates[0].startswith("Jeg tilkalder vagten nu")
    assert updates[1] == "Vagten er nu tilkaldt om din sag 10001. Du får besked her, så snart der er nyt."

    # Slack's retries for Morten take 3.5 s and a refused Teams connection more: none of it inside the turn.
    assert waited < 3.5, f"the reporter waited {waited:.1f} s for the answer while the primary was tried"


async def test_the_answer_comes_before_a_slow_platform_has_taken_the_page(bot: Bot) -> None:
    """Slack takes 5 s to accept Morten's page: the reporter has the answer with the case number while Slack
    is still holding the page; the page arrives afterwards, and then the reporter hears that on-call has it."""
    bot.slack.rules.append(Rule("chat.postMessage", {"channel": f"D{MORTEN}"}, "slow", times=1))
    began = time.monotonic()
    outcome = await bot.report("mette")
    waited = time.monotonic() - began
    assert outcome["text"].startswith("Jeg tilkalder vagten nu") and outcome["case"] == "10001"
    # Proof by order, not by the clock: the page had been sent to Slack, and Slack had not yet taken it.
    assert [o for _, o in bot.slack.tried("chat.postMessage", channel=f"D{MORTEN}")] == ["slow"]
    assert bot.slack.pages(MORTEN) == []
    feed = [e for e in await bot.feed("mette") if e["role"] == "bot"]
    assert feed[-1]["id"] == outcome["id"], "nothing about the page yet"

    await bot.settled()
    assert len(bot.slack.pages(MORTEN)) == 1 and bot.slack.pages(SARA) == []
    case = await bot.case(outcome["case"])
    assert [(e["technician"], e["step"]) for e in kinds(case, EventKind.PAGED)] == [("morten", "primary")]
    after = [e for e in await bot.feed("mette") if e["role"] == "bot"]
    assert after[-2]["id"] == outcome["id"]
    assert after[-1]["text"] == "Vagten er nu tilkaldt om din sag 10001. Du får besked her, så snart der er nyt."
    print(f"the reporter's five turns took {waited:.2f} s; Slack held the page for {SLOW:.0f} s")


@pytest.mark.parametrize("bot", ["blocked"], indirect=True)
async def test_nobody_reachable_tells_the_reporter_to_phone_and_pages_nobody_later(bot: Bot) -> None:
    """Slack is rate limited for an hour for both DMs, Teams answers 403, Ib has no platform: nobody at all."""
    for user in (MORTEN, SARA):
        bot.slack.rules.append(Rule("conversations.open", {"users": user}, "ratelimited", retry_after=3600))
    began = time.monotonic()
    outcome = await bot.report("mette")
    assert outcome["text"].startswith("Jeg tilkalder vagten nu")
    await bot.settled()
    assert time.monotonic() - began < 30, "a Retry-After of an hour is not waited for"
    told = [e["text"] for e in await bot.feed("mette") if e["role"] == "bot"][-1]
    assert told == (
        "Vi kan ikke få fat i vagten lige nu. Ring på +45 7021 1813 og tryk 2, så hjælper vi dig med sag 10001."
    )
    case = await bot.case(outcome["case"])
    assert kinds(case, EventKind.PAGED) == []
    assert [e["step"] for e in kinds(case, EventKind.ESCALATED)] == ["backup", "everyone", "gave_up"]
    opened = len(bot.slack.tried("conversations.open"))
    await bot.timers_after(30)
    await bot.timers_after(120)
    assert len(bot.slack.tried("conversations.open")) == opened, "a page that gave up must not start again"


async def test_rate_limit_and_a_hung_request_are_retried_and_each_step_is_sent_once(bot: Bot) -> None:
    """Morten's page is rate limited once (Retry-After 1 s) and then delivered, once. At the escalation
    Slack hangs on his DM once: the retry delivers it, and Sara gets the backup page once."""
    bot.slack.rules.append(Rule("chat.postMessage", {"channel": f"D{MORTEN}"}, "ratelimited", times=1))
    outcome = await bot.report("mette")
    await bot.settled()
    tries = bot.slack.tried("chat.postMessage", channel=f"D{MORTEN}")
    assert [o for _, o in tries] == ["ratelimited", "ok"]
    assert tries[1][0] - tries[0][0] >= 0.9, "Retry-After was not honoured"
    assert len(bot.slack.pages(MORTEN)) == 1 and bot.slack.pages(SARA) == []

    bot.slack.rules.append(Rule("chat.postMessage", {"channel": f"D{MORTEN}"}, "hang", times=1))
    await bot.timers_after(11)
    case = await bot.case(outcome["case"])
    one_page_per_step(case)
    assert [o for _, o in bot.slack.tried("chat.postMessage", channel=f"D{MORTEN}")][2:] == ["hang", "ok"]
    assert len(bot.slack.pages(MORTEN)) == 2 and len(bot.slack.pages(SARA)) == 1
    assert {(e["technician"], e["step"]) for e in kinds(case, EventKind.PAGED)} == {
        ("morten", "primary"),
        ("morten", "backup"),
        ("sara", "backup"),
    }

    # Nobody acknowledges: everyone is paged once (Ib in the local inbox), then the ladder ends, once,
    # and the reporter hears it, with the number to phone. Each tick runs twice at once.
    await bot.timers_after(11)
    case = await bot.case(outcome["case"])
    one_page_per_step(case)
    assert len(bot.slack.pages(SARA)) == 2 and len(bot.slack.pages(MORTEN)) == 3
    assert len([p for p in await bot.inbox("ib") if p["case"] == outcome["case"]]) == 1
    assert [e["step"] for e in kinds(case, EventKind.ESCALATED)] == ["backup", "everyone"]
    await bot.timers_after(11)
    await bot.timers_after(60)
    case = await bot.case(outcome["case"])
    assert [e["step"] for e in kinds(case, EventKind.ESCALATED)] == ["backup", "everyone", "gave_up"]
    assert len(bot.slack.pages(SARA)) == 2 and len(bot.slack.pages(MORTEN)) == 3
    told = [e for e in await bot.feed("mette") if "7021 1813" in e["text"]]
    assert len(told) == 1, "the reporter is told once that nobody answered"
