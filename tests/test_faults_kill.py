"""SIGKILL the real server (`python -m bot serve`) at random moments during a burst of conversations.

Employees talk to the local JSON API at once, each walking the after-hours flow to a page; the
server is killed with SIGKILL at random points and started again on the same data folder, with
the clock running on from where it was. Afterwards: every case number an employee was shown exists
and belongs to that employee, no number is used twice, every data file loads, every conversation
that was cut off goes on to a case, no accepted case is left unpaged, and the pending escalations fire
once, also across a restart.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from adapters.local.routes import employee_id
from adapters.signed_links import SignedLinks
from adapters.slack.app import SHUTDOWN_GRACE as SLACK_GRACE
from adapters.storage.embedded import EmbeddedStorage
from adapters.storage.embedded.cases import CaseStore
from adapters.storage.embedded.files import load_json_file
from bot.cases import Case, EventKind
from bot.oncall.service import SHUTDOWN_GRACE as ONCALL_GRACE
from dialogs.records import ConversationMemory, Record
from dialogs.turns import ConversationKey
from tests.servers import local_cookies

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parent.parent
# A bot process starts in a few seconds; on a machine busy with other suites it has taken over 30.
START_WITHIN = 90
# A clean stop lets work in flight finish (the on-call jobs' grace, then the Slack turns'), with room to spare.
STOP_WITHIN = ONCALL_GRACE + SLACK_GRACE + 15
ZONE = ZoneInfo("Europe/Copenhagen")
SATURDAY_NIGHT = datetime(2026, 11, 28, 23, 0, tzinfo=ZONE)
# Critical problems of different kinds: some share a page (same outage), the others page on their own.
PROBLEMS = (
    "internettet virker ikke for nogen på kontoret",
    "min konto er låst og jeg kan ikke logge på",
    "jeg tror vi er blevet hacket, der sendes mails fra min konto",
    "mit password virker ikke",
    "computeren viser en systemfejl med blå skærm",
    "ingen af os kan komme på vores it-system",
)
# The answers an employee prefers, in order, on the way to a page.
PREFERRED = (":page", ":accept", ":yes", ":scope:all", ":skip")
EMPLOYEES = 8
KILLS = 4
# Short enough to test, long enough that nothing falls due while the burst runs (a few dozen seconds).
CONFIG = """
[oncall]
ack_timeout_minutes = 5
escalate_all_minutes = 5
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`python -m bot serve` on a data folder; its clock runs on across restarts from `start`."""

    def __init__(self, folder: Path, start: datetime, *, config: str = CONFIG) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.config = folder / "supportbot.toml"
        self.config.write_text(config, encoding="utf-8")
        self.start = start
        self.began = time.monotonic()
        self.skipped = timedelta(0)  # time jumped ahead on purpose (to make timers due)
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.logs: list[Path] = []
        self.env: dict[str, str] = {}  # set last, over the environment (a database, a fake Slack)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.began) + self.skipped

    def cookies(self, *, user: str = "", tech: str = "") -> dict[str, str]:
        """What the browser of employee `user` or technician `tech` sends (signed with the server's kept key)."""
        return local_cookies(SignedLinks.for_data(self.data, os.environ), user=user, tech=tech)

    def launch(self) -> None:
        self.port = free_port()
        log = self.folder / f"server-{len(self.logs)}.log"
        self.logs.append(log)
        env = {
            **os.environ,
            "PORT": str(self.port),
            "SUPPORTBOT_DATA": str(self.data),
            "SUPPORTBOT_CONFIG": str(self.config),
            "SUPPORTBOT_NOW": self.now().isoformat(),
            "PYTHONFAULTHANDLER": "1",
        }
        for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CLIENT_ID", "MicrosoftAppId"):
            env.pop(name, None)
        env.update(self.env)
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_WITHIN
        while True:
            assert self.proc.poll() is None, f"the server exited: {log.read_text(errors='replace')[-3000:]}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                assert time.monotonic() < deadline, f"the server did not start within {START_WITHIN} s"
                time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, as an operator stops it; it must exit cleanly (else its log shows where every thread waits)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: the threads' stacks into the log
            self.proc.wait(timeout=10)
            pytest.fail(f"no clean stop within {STOP_WITHIN} s: {self.logs[-1].read_text(errors='replace')[-6000:]}")
        assert status == 0, self.logs[-1].read_text(errors="replace")[-3000:]

    def tracebacks(self) -> list[str]:
        found = []
        for log in self.logs:
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                found.append(f"{log.name}: {text[text.index('Traceback') - 300 :][:2500]}")
        return found


@dataclass
class Employee:
    """One person at the keyboard: what they last saw, and every case number shown to them."""

    user: str
    problems: list[str]
    shown: set[str] = field(default_factory=set)
    last: dict[str, Any] | None = None  # the newest bot reply seen
    started: int = 0  # conversations begun (problems sent)
    finished: int = 0  # conversations that showed a case number
    presses: int = 0

    def next_input(self) -> dict[str, str]:
        """Press the preferred button of the last reply; with nothing to press, describe a problem."""
        offered = [c["id"] for c in (self.last or {}).get("choices", [])]
        for suffix in PREFERRED:
            for choice in offered:
                if choice.endswith(suffix):
                    self.presses += 1
                    return {"choice": choice, "delivery_id": f"{self.user}-press-{self.presses}"}
        if offered:
            self.presses += 1
            return {"choice": offered[0], "delivery_id": f"{self.user}-press-{self.presses}"}
        self.started += 1
        return {"text": self.problems[self.started % len(self.problems)]}

    def saw(self, body: dict[str, Any]) -> None:
        for reply in body["replies"]:
            if reply["case"]:
                self.shown.add(reply["case"])
        last = body["replies"][-1]
        if last["case"] and not last["choices"]:
            self.finished += 1
            self.last = None
        else:
            self.last = last


async def turn(session: aiohttp.ClientSession, server: Server, who: Employee) -> bool:
    """One turn; False when the server was not there to answer (killed, restarting)."""
    body = {"name": who.user.title(), "lang": "da", **who.next_input()}
    headers = server.cookies(user=who.user)
    try:
        async with session.post(f"{server.url}/local/api/turn", json=body, headers=headers) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()
    except (TimeoutError, aiohttp.ClientError):
        if "text" in body:
            who.started -= 1  # never arrived, or arrived without an answer: sent again next time
        return False
    assert answer["replies"], f"an empty answer to {body}"
    texts = " ".join(r["text"] for r in answer["replies"])
    assert "Internal error" not in texts and "gik galt" not in texts, texts
    who.saw(answer)
    return True


async def burst(server: Server, people: list[Employee], seconds: float) -> None:
    """Everyone talks at once for `seconds`, then the server is killed mid-turn."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def talk(who: Employee) -> None:
            while True:
                if not await turn(session, server, who):
                    return
                await asyncio.sleep(random.uniform(0, 0.05))

        tasks = [asyncio.create_task(talk(p)) for p in people]
        await asyncio.sleep(seconds)
        server.kill()
        await asyncio.gather(*tasks)


async def finish_all(server: Server, people: list[Employee]) -> None:
    """No kills now: everyone who is mid-conversation goes on until a case number is shown."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:

        async def finish(who: Employee) -> None:
            if who.last is None and who.started == who.finished:
                return
            done_before = who.finished
            for _ in range(8):
                assert await turn(session, server, who)
                if who.finished > done_before:
                    return
            raise AssertionError(f"{who.user}'s conversation did not reach a case after a restart: {who.last}")

        await asyncio.gather(*(finish(p) for p in people))


def all_cases(data: Path) -> dict[int, Case]:
    store = CaseStore(data / "cases", read_only=True)  # as `cases list` reads it beside the server
    try:
        return {case.number: case for case in store.find()}
    finally:
        store.close()


def events(case: Case, kind: EventKind) -> list[dict[str, Any]]:
    return [dict(e.data) for e in case.history if e.kind is kind]


async def inbox(server: Server, tech: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.url}/local/api/inbox", headers=server.cookies(tech=tech)) as response,
    ):
        assert response.status == 200
        return list((await response.json())["pages"])


def test_sigkill_during_a_burst_loses_no_case_and_no_escalation(tmp_path: Path) -> None:
    rng = random.Random(os.environ.get("FAULT_SEED", "7"))
    random.seed(rng.random())
    people = [Employee(f"emp{n}", random.sample(PROBLEMS, len(PROBLEMS))) for n in range(EMPLOYEES)]
    server = Server(tmp_path, SATURDAY_NIGHT)
    for _ in range(KILLS):
        server.launch()
        asyncio.run(burst(server, people, random.uniform(0.3, 2.0)))
        for path in server.data.rglob("*.json"):
            load_json_file(path)  # every file loads after every kill (raises if damaged)
    server.launch()
    asyncio.run(finish_all(server, people))
    shown_at = server.now()
    server.stop()

    cases = all_cases(server.data)
    owners: dict[str, set[str]] = {}
    for who in people:
        for number in who.shown:
            owners.setdefault(number, set()).add(who.user)
            assert int(number) in cases, f"case {number} was shown to {who.user} but is not on file"
            assert cases[int(number)].reporter.user_id == employee_id(who.user), f"case {number} is someone else's"
    assert all(len(users) == 1 for users in owners.values()), owners
    per_user = Counter(case.reporter.user_id for case in cases.values())
    for who in people:
        assert who.finished >= 1, f"{who.user} never got a case number"
        # A conversation makes at most one case, however often it was cut off and retried.
        made = per_user[employee_id(who.user)]
        assert made <= who.started, (who.user, made, who.started)
        assert made >= len(who.shown)

    # The pages of the night: no step went out twice.
    paged = {n: c for n, c in cases.items() if events(c, EventKind.PAGED)}
    assert paged, "nobody was paged"
    for number, case in paged.items():
        sends = Counter((e["technician"], e["step"]) for e in events(case, EventKind.PAGED))
        assert max(sends.values()) == 1, f"case {number} paged twice for one step: {sends}"

    # Later the backup step is due (and the next one not yet): a restart fires each once, a second restart none.
    server.skipped += shown_at + timedelta(minutes=5, seconds=30) - server.now()
    server.launch()
    wanted = {str(n) for n in paged}
    deadline = time.monotonic() + 60
    while not wanted <= {p["case"] for p in asyncio.run(inbox(server, "vagt2"))}:
        assert time.monotonic() < deadline, "the pending escalations did not fire after the restart"
        time.sleep(0.2)
    server.stop()
    after_first = all_cases(server.data)
    server.launch()
    time.sleep(2)  # the timers run at start-up: nothing is due any more
    server.stop()
    after_second = all_cases(server.data)

    for number in paged:
        case = after_second[number]
        escalated = Counter(e["step"] for e in events(case, EventKind.ESCALATED) if e.get("reason") == "timeout")
        assert escalated, f"case {number}'s pending escalation never fired: {case.history}"
        assert max(escalated.values()) == 1, f"case {number} escalated twice to one step: {escalated}"
        assert case.history == after_first[number].history, f"the second restart fired case {number} again"
        sends = Counter((e["technician"], e["step"]) for e in events(case, EventKind.PAGED))
        assert max(sends.values()) == 1, f"case {number} paged twice for one step: {sends}"
    assert server.tracebacks() == []

    # A kill between creating an accepted case and paging must not leave it unpaged: the restart sweeps it up.
    unpaged = [
        n
        for n, c in after_second.items()
        if c.page_requested
        and c.after_hours
        and not (events(c, EventKind.PAGED) or events(c, EventKind.LINKED) or events(c, EventKind.PAGE_FAILED))
    ]
    assert unpaged == [], f"cases {unpaged} were accepted for on-call but never paged"


def test_a_killed_server_leaves_files_that_load_and_a_conversation_that_continues(tmp_path: Path) -> None:
    """The smallest case, deterministic: kill right after the question, restart, press its button."""
    server = Server(tmp_path, SATURDAY_NIGHT)
    who = Employee("solo", [PROBLEMS[0]])
    server.launch()

    async def first_turn() -> None:
        async with aiohttp.ClientSession() as session:
            assert await turn(session, server, who)

    asyncio.run(first_turn())
    question = who.last
    assert question is not None and question["choices"], question
    server.kill()
    for path in server.data.rglob("*.json"):
        assert load_json_file(path) is not None
    server.launch()
    asyncio.run(finish_all(server, [who]))
    server.stop()
    (number,) = who.shown
    assert all_cases(server.data)[int(number)].reporter.user_id == employee_id("solo")
    solo = employee_id("solo")

    async def load() -> Record:
        storage = EmbeddedStorage(server.data)
        try:
            key = ConversationKey("local", "local", solo, solo).as_id()
            return await ConversationMemory(storage.conversations).load(key, now=server.now())
        finally:
            await storage.close()

    record = asyncio.run(load())
    assert record.finished_case == int(number) and record.state is None


def test_a_stop_as_soon_as_the_port_answers_is_a_clean_shutdown(tmp_path: Path) -> None:
    """A deploy may stop a replica the moment it answers: the stop must be the clean one, never the default kill."""
    server = Server(tmp_path, SATURDAY_NIGHT)
    for _ in range(3):
        server.launch()
        server.stop()  # exit code 0, with the log tail when not
        assert "stopping" in server.logs[-1].read_text(errors="replace")
