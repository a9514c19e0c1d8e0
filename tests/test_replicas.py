"""Several replicas on one PostgreSQL database: real `bot serve` processes, the local API and the fake Slack.

What a load balancer spreading requests over replicas must never cause: two cases with one number
or a gap, a case made twice from one Slack event delivered to two replicas, two acknowledgements
from one button pressed at once on several replicas, a conversation that loses a step because its
turns landed on different replicas. And what a replica killed while paging must never cause: a lost
page (another replica sends it once the claim's lease lapses), or more than one duplicate message.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest
from aiohttp import web

from adapters.local.routes import employee_id
from adapters.signed_links import REFRESH_SECONDS, SignedLinks
from adapters.storage.postgres import PostgresStorage
from bot.cases import Case, EventKind
from bot.oncall.ladder import LEASE
from bot.oncall.records import PageRecord
from bot.oncall.service import POLL_INTERVAL
from tests.pg_cluster import Cluster, free_port
from tests.servers import local_cookies
from tests.slack.conftest import BACKUP, PRIMARY, REPORTER, SECRET, TOKEN, SlackUser, buttons, visible_text
from tests.slack.conftest import CONFIG as SLACK_CONFIG
from tests.slack.fake_slack import FakeSlack
from tests.test_faults_kill import CONFIG, PROBLEMS, ROOT, SATURDAY_NIGHT, Employee, Server, turn

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

LINK_SECRET = "replicas-share-this-signing-key-0123456789"
FIRST = 10001


class Replica(Server):
    """`bot serve` on the shared database, with a data folder of its own (where nothing is kept)."""

    def __init__(self, folder: Path, url: str, *, config: str = CONFIG, env: dict[str, str] | None = None) -> None:
        folder.mkdir(parents=True)
        super().__init__(folder, SATURDAY_NIGHT, config=config)
        self.env = {"SUPPORTBOT_DATABASE_URL": url, "SUPPORTBOT_LINK_SECRET": LINK_SECRET, **(env or {})}

    def cookies(self, *, user: str = "", tech: str = "") -> dict[str, str]:
        links = SignedLinks.for_data(self.data, {"SUPPORTBOT_LINK_SECRET": LINK_SECRET})
        return local_cookies(links, user=user, tech=tech)


def start_replicas(tmp_path: Path, url: str, count: int, **kwargs: Any) -> list[Replica]:
    replicas = [Replica(tmp_path / f"replica{n}", url, **kwargs) for n in range(count)]
    for replica in replicas:
        replica.launch()
    return replicas


def stop_all(replicas: list[Replica]) -> None:
    """Stop the replicas still running (not those a test killed); none may have logged a traceback."""
    for replica in replicas:
        if replica.proc is not None and replica.proc.poll() is None:
            replica.stop()
    assert [t for r in replicas for t in r.tracebacks()] == []


def stored_cases(url: str) -> dict[int, Case]:
    with psycopg.connect(url) as conn:
        return {n: Case.from_dict(doc) for n, doc in conn.execute("SELECT number, doc FROM cases")}


async def wait_until(condition: Callable[[], Any], what: str, *, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        await asyncio.sleep(0.05)
    return found


CREATOR = """
import asyncio, sys, time
from datetime import UTC, datetime
from pathlib import Path
from adapters.storage.postgres import PostgresStorage
from tests.contract.test_cases import new_case

storage = PostgresStorage(sys.argv[1])
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)

async def main():
    now = datetime.now(UTC)
    made = await asyncio.gather(*(storage.cases.create(new_case(sys.argv[3]), now=now) for _ in range(50)))
    print(" ".join(str(case.number) for case in made))
    await storage.close()

asyncio.run(main())
"""


def test_eight_processes_creating_fifty_cases_each_at_once_get_400_distinct_gapless_numbers(
    postgres_url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CREATOR, postgres_url, str(go), f"P{n}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    time.sleep(2)  # every process connected and waiting
    go.touch()
    numbers: list[int] = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        numbers += [int(n) for n in out.split()]
    assert sorted(numbers) == list(range(FIRST, FIRST + 400))
    cases = stored_cases(postgres_url)
    assert sorted(cases) == list(range(FIRST, FIRST + 400))


def test_conversations_spread_over_three_replicas_make_each_case_once(postgres_url: str, tmp_path: Path) -> None:
    """Every turn goes to a replica picked at random; each conversation still reaches exactly one case."""
    replicas = start_replicas(tmp_path, postgres_url, 3)
    people = [Employee(f"emp{n}", random.sample(PROBLEMS, len(PROBLEMS))) for n in range(6)]

    async def talk() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:

            async def converse(who: Employee) -> None:
                for _ in range(40):
                    if who.finished >= 2 and who.last is None:
                        return
                    assert await turn(session, random.choice(replicas), who)
                raise AssertionError(f"{who.user} did not get two cases: {who.last}")

            await asyncio.gather(*(converse(p) for p in people))

    asyncio.run(talk())
    with urllib.request.urlopen(f"{replicas[1].url}/healthz", timeout=5) as response:
        health = json.load(response)
    assert health["status"] == "ok" and health["storage"].startswith("postgresql 127.0.0.1:"), health
    assert "postgres@" not in health["storage"]
    listed = subprocess.run(
        [sys.executable, "-m", "bot", "cases", "list", "--json"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "SUPPORTBOT_DATABASE_URL": postgres_url, "SUPPORTBOT_DATA": str(tmp_path / "x")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    stop_all(replicas)
    assert listed.returncode == 0, listed.stderr
    cases = {c["number"]: c for c in json.loads(listed.stdout)}
    assert sorted(cases) == list(range(FIRST, FIRST + len(cases))), "gapless"
    for who in people:
        made = [n for n, c in cases.items() if c["reporter"]["user_id"] == employee_id(who.user)]
        assert {str(n) for n in made} == who.shown, f"{who.user}: every case made was shown, and only those"
        assert len(made) == who.finished


class TwoReplicas(SlackUser):
    """Delivers every request to all `urls` at once, as a retry reaching another replica would."""

    def __init__(self, *, urls: list[str], fake: FakeSlack, session: aiohttp.ClientSession) -> None:
        super().__init__(url=urls[0], fake=fake, session=session, app=None)  # type: ignore[arg-type]
        self.urls = urls

    async def post(self, body: str, *, content_type: str, **kwargs: Any) -> aiohttp.ClientResponse:
        ts = str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": self.signer.generate_signature(timestamp=ts, body=body),
        }

        async def one(url: str) -> aiohttp.ClientResponse:
            async with self.session.post(f"{url}/slack/events", data=body.encode(), headers=headers) as response:
                await response.read()
                return response

        responses = await asyncio.gather(*(one(url) for url in self.urls))
        assert all(r.status == 200 for r in responses), [r.status for r in responses]
        return responses[0]


def signature(message: dict[str, Any] | None) -> tuple[str, tuple[str, ...]] | None:
    return None if message is None else (message.get("ts", ""), tuple(buttons(message)))


def pages_to(user: SlackUser, slack_user: str) -> list[dict[str, Any]]:
    """The messages with buttons in the DM of `slack_user`: pages to a technician, questions to a reporter."""
    return [m for m in user.dm_messages(slack_user) if buttons(m)]


async def report_outage(user: SlackUser) -> None:
    """The reporter's whole conversation in Slack, up to accepting the page of on-call."""
    await user.command("Internettet er nede for hele kontoret, ingen kan komme på")
    pressed: dict[str, Any] | None = None
    for _ in range(8):
        seen = signature(pressed)
        message = await wait_until(
            lambda seen=seen: (m := pages_to(user, REPORTER)) and signature(m[-1]) != seen and m[-1],
            "the next question",
        )
        choice = next(
            (
                v
                for end in (":page", ":skip", ":yes", ":scope:all", ":cat:internet_down")
                for v in buttons(message)
                if v.endswith(end)
            ),
            None,
        )
        assert choice is not None, visible_text(message)
        await user.press(message, choice)
        pressed = message
        if choice.endswith(":skip"):
            return
    raise AssertionError("the conversation did not reach the page")


async def test_slack_deliveries_reaching_two_replicas_make_one_case_and_twenty_presses_one_ack(
    postgres_url: str, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    env = {"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": fake_slack.api_url}
    config = SLACK_CONFIG.replace("[oncall]\n", "[oncall]\nack_timeout_minutes = 5\nescalate_all_minutes = 5\n", 1)
    replicas = await asyncio.to_thread(start_replicas, tmp_path, postgres_url, 3, config=config, env=env)
    try:
        async with aiohttp.ClientSession() as session:
            both = TwoReplicas(urls=[replicas[0].url, replicas[1].url], fake=fake_slack, session=session)

            def live(user: str = REPORTER) -> dict[str, Any] | None:
                found = pages_to(both, user)
                return found[-1] if found else None

            # The whole conversation, every command, message and press delivered to two replicas at once.
            await report_outage(both)
            page = await wait_until(lambda: live(PRIMARY), "the page to the technician on call")
            await asyncio.sleep(1.5)  # time for a second case or a second page, were there to be one
            cases = stored_cases(postgres_url)
            assert list(cases) == [FIRST], "one conversation delivered twice made one case"
            assert len([m for m in both.dm_messages(PRIMARY) if buttons(m)]) == 1, "one page"
            assert sum(str(FIRST) in visible_text(m) for m in both.dm_messages(REPORTER)) >= 1

            # Twenty presses of Ack at once, spread over the three replicas.
            ack = next(v for v in buttons(page) if v.endswith(f"ack:{FIRST}"))
            presses = []
            for n in range(20):
                presser = TwoReplicas(urls=[replicas[n % 3].url], fake=fake_slack, session=session)
                presses.append(presser.press(page, ack, user=PRIMARY))
            await asyncio.gather(*presses)
            await wait_until(
                lambda: stored_cases(postgres_url)[FIRST].status.value == "acknowledged", "the acknowledgement"
            )
            await asyncio.sleep(1.5)
            case = stored_cases(postgres_url)[FIRST]
            acks = [e for e in case.history if e.kind is EventKind.ACKNOWLEDGED]
            assert len(acks) == 1, case.history
            assert len(fake_slack.called("chat.update", channel=page["channel"], ts=page["ts"])) == 1, "one update"
    finally:
        await asyncio.to_thread(stop_all, replicas)


async def test_postgresql_restarted_under_traffic_gets_the_apology_then_the_bot_reconnects(tmp_path: Path) -> None:
    """While the database is down a turn is answered 503 with the short apology in the person's language
    (the chat page keeps the message and sends it again); afterwards the bot works again by itself and
    what was committed before is all there."""
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="supportbot-pg-restart-")), free_port(), durable=False)
    cluster.start()
    url = cluster.create_database("restart")
    replica = Replica(tmp_path / "replica", url)
    try:
        replica.launch()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

            async def say(user: str, lang: str) -> tuple[int, dict[str, Any]]:
                body = {"name": user.title(), "lang": lang, "text": "internettet er nede for alle"}
                post = session.post(f"{replica.url}/local/api/turn", json=body, headers=replica.cookies(user=user))
                async with post as response:
                    return response.status, await response.json()

            assert (await say("mette", "da"))[0] == 200
            with psycopg.connect(url) as conn:
                before = conn.execute("SELECT key, e_tag FROM conversations ORDER BY key").fetchall()
            assert before, "the conversation was kept"
            cluster.stop(mode="immediate")
            danish, english = await say("jonas", "da"), await say("jane", "en")
            assert danish[0] == english[0] == 503
            assert danish[1]["key"] == english[1]["key"] == "unavailable"
            assert danish[1]["error"] != english[1]["error"] and "Traceback" not in danish[1]["error"]
            async with session.get(f"{replica.url}/healthz") as health:
                assert health.status == 503
            cluster.start()
            deadline = time.monotonic() + 30
            while (answer := await say("jonas", "da"))[0] != 200:
                assert time.monotonic() < deadline, f"the bot did not reconnect: {answer}"
                await asyncio.sleep(0.5)
            assert answer[1]["replies"]
        with psycopg.connect(url) as conn:
            after = dict(conn.execute("SELECT key, e_tag FROM conversations").fetchall())
        assert all(key in after for key, _ in before), "nothing committed before the outage is lost"
    finally:
        replica.stop()
        cluster.remove()


# -- a replica killed while paging ---------------------------------------------------------------


class HoldingSlack(FakeSlack):
    """The fake Slack that can sit on the next chat.postMessage to a channel, so the replica sending it is
    stuck there: before taking the message (the replica claimed the step, nothing went out) or after
    (the message went out, the replica never heard so and never recorded it)."""

    def __init__(self) -> None:
        super().__init__()
        self.holds: dict[str, tuple[bool, asyncio.Event]] = {}  # channel -> (take the message first, arrived)
        self.released = asyncio.Event()

    def hold(self, channel: str, *, take: bool) -> asyncio.Event:
        arrived = asyncio.Event()
        self.holds[channel] = (take, arrived)
        return arrived

    async def stop(self) -> None:
        self.released.set()
        await super().stop()

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "chat.postMessage":
            held = self.holds.pop((await self._params(request)).get("channel", ""), None)  # the body is kept
            if held is not None:
                take, arrived = held
                answer = await super()._api(request) if take else web.json_response({"ok": False}, status=500)
                arrived.set()
                await self.released.wait()  # meanwhile the replica is killed
                return answer
        return await super()._api(request)


@pytest.fixture
async def holding_slack() -> AsyncIterator[HoldingSlack]:
    fake = HoldingSlack()
    await fake.start()
    yield fake
    await fake.stop()


def stored_page(url: str, case: int) -> PageRecord:
    with psycopg.connect(url) as conn:
        ((doc, version),) = conn.execute("SELECT doc, version FROM pages WHERE case_number = %s", (case,)).fetchall()
    return PageRecord.from_dict({**doc, "version": version})


def fall_due(url: str, case: int, replica: Replica) -> None:
    """The next step's timeout (minutes) passes now: its due moment, on the replicas' clock, is moved to now."""
    due = (replica.now() - timedelta(seconds=5)).isoformat()
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE pages SET next_due = %s, doc = jsonb_set(doc, '{due}', to_jsonb(%s::text)) WHERE case_number = %s",
            (due, due, case),
        )


def kill_the_sender(url: str, case: int, replicas: list[Replica]) -> Replica:
    """SIGKILL the replica holding the lease of the step being sent (named by its claim, "host:pid#n")."""
    sending = stored_page(url, case).sending
    assert sending is not None, "a step is being sent"
    pid = int(sending.by.split("#")[0].rsplit(":", 1)[1])
    (sender,) = [r for r in replicas if r.proc is not None and r.proc.pid == pid]
    sender.kill()
    return sender


def paged_events(url: str, case: int, step: str) -> list[tuple[str, bool]]:
    history = stored_cases(url)[case].history
    return sorted(
        (str(e.data["technician"]), bool(e.data.get("resent")))
        for e in history
        if e.kind is EventKind.PAGED and e.data.get("step") == step
    )


# One lease and one poll after the kill, with a margin for the replicas' clocks (started a second or
# two apart) and a loaded machine.
TAKEN_OVER_WITHIN = (LEASE + timedelta(seconds=POLL_INTERVAL)).total_seconds() + 5
KILL_CONFIG = SLACK_CONFIG.replace("[oncall]\n", "[oncall]\nack_timeout_minutes = 5\nescalate_all_minutes = 5\n", 1)


async def test_a_replica_killed_after_claiming_the_first_page_leaves_it_to_another_that_sends_it_once(
    postgres_url: str, tmp_path: Path, holding_slack: HoldingSlack
) -> None:
    """The replica that claimed the page is stuck before Slack took the message and is killed: another
    replica sends the page once its lease lapses, exactly once, and the ladder goes on from there."""
    fake = holding_slack
    env = {"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": fake.api_url}
    replicas = await asyncio.to_thread(start_replicas, tmp_path, postgres_url, 3, config=KILL_CONFIG, env=env)
    try:
        async with aiohttp.ClientSession() as session:
            reporter = TwoReplicas(urls=[replicas[0].url], fake=fake, session=session)
            stuck = fake.hold(fake.dm(PRIMARY), take=False)
            await report_outage(reporter)
            await asyncio.wait_for(stuck.wait(), 20)
            killed = await asyncio.to_thread(kill_the_sender, postgres_url, FIRST, replicas)
            assert killed is replicas[0], "the replica of the turn claimed the first page"
            assert pages_to(reporter, PRIMARY) == []
            began = time.monotonic()
            await wait_until(lambda: pages_to(reporter, PRIMARY), "the page, from another replica", seconds=30)
            assert time.monotonic() - began < TAKEN_OVER_WITHIN
            await asyncio.sleep(2 * POLL_INTERVAL)  # time for a second copy, were there to be one
            assert len(pages_to(reporter, PRIMARY)) == 1, "sent once"
            assert paged_events(postgres_url, FIRST, "primary") == [("morten", True)]
            assert stored_page(postgres_url, FIRST).sending is None, "sent and recorded: the lease is given up"
            told = [m for m in reporter.dm_messages(REPORTER) if str(FIRST) in visible_text(m) and not buttons(m)]
            assert told, "the reporter heard that on-call has been paged"

            # The ladder goes on: nobody acknowledged, so the primary again and the backup, once each.
            fall_due(postgres_url, FIRST, replicas[1])
            await wait_until(lambda: pages_to(reporter, BACKUP), "the page to the backup")
            await asyncio.sleep(2 * POLL_INTERVAL)
            assert (len(pages_to(reporter, PRIMARY)), len(pages_to(reporter, BACKUP))) == (2, 1)
            assert paged_events(postgres_url, FIRST, "backup") == [("morten", False), ("sara", False)]
    finally:
        await asyncio.to_thread(stop_all, replicas)


async def test_a_replica_killed_after_slack_took_a_page_before_recording_it_costs_at_most_one_duplicate(
    postgres_url: str, tmp_path: Path, holding_slack: HoldingSlack
) -> None:
    """The backup step: the primary's copy is sent and recorded, the backup's is taken by Slack, and the
    replica is killed before it hears so. Another replica sends the step again to the backup only (the
    one duplicate promised), never to the primary, and the ladder goes on to everyone."""
    fake = holding_slack
    env = {"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": fake.api_url}
    replicas = await asyncio.to_thread(start_replicas, tmp_path, postgres_url, 3, config=KILL_CONFIG, env=env)
    try:
        async with aiohttp.ClientSession() as session:
            reporter = TwoReplicas(urls=[replicas[0].url], fake=fake, session=session)
            await report_outage(reporter)
            await wait_until(lambda: pages_to(reporter, PRIMARY), "the first page")
            await wait_until(lambda: stored_page(postgres_url, FIRST).sending is None, "the first page recorded")

            stuck = fake.hold(fake.dm(BACKUP), take=True)
            fall_due(postgres_url, FIRST, replicas[0])
            await asyncio.wait_for(stuck.wait(), 20)  # claimed by whichever replica looked first

            def primary_recorded() -> bool:
                sending = stored_page(postgres_url, FIRST).sending
                return sending is not None and "chat:morten" in sending.done

            await wait_until(primary_recorded, "the primary's copy recorded as sent")
            await asyncio.to_thread(kill_the_sender, postgres_url, FIRST, replicas)
            assert len(pages_to(reporter, BACKUP)) == 1, "Slack took the backup's copy"
            began = time.monotonic()
            await wait_until(lambda: len(pages_to(reporter, BACKUP)) == 2, "the step again, from another replica")
            assert time.monotonic() - began < TAKEN_OVER_WITHIN
            await asyncio.sleep(2 * POLL_INTERVAL)
            assert len(pages_to(reporter, BACKUP)) == 2, "one duplicate, no more"
            assert len(pages_to(reporter, PRIMARY)) == 2, "the primary's recorded copy is not sent again"
            assert paged_events(postgres_url, FIRST, "backup") == [("morten", False), ("sara", True)]
            assert stored_page(postgres_url, FIRST).sending is None

            fall_due(postgres_url, FIRST, replicas[1])
            await wait_until(lambda: len(pages_to(reporter, BACKUP)) == 3, "the page to everyone")
            await asyncio.sleep(2 * POLL_INTERVAL)
            assert (len(pages_to(reporter, PRIMARY)), len(pages_to(reporter, BACKUP))) == (3, 3)
    finally:
        await asyncio.to_thread(stop_all, replicas)


# -- secret links revoked beside one replica ------------------------------------------------------


def calendar_link(url: str, tmp_path: Path, *, revoke: bool = False) -> str:
    """`python -m bot oncall calendar-link [--revoke]` run beside the replicas: the token of the rota's feed."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "oncall", "calendar-link", *(["--revoke"] if revoke else [])],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "SUPPORTBOT_DATABASE_URL": url,
            "SUPPORTBOT_LINK_SECRET": LINK_SECRET,
            "SUPPORTBOT_DATA": str(tmp_path / "cli"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().rsplit("/", 1)[1]


async def test_a_link_revoked_beside_one_replica_stops_working_on_every_replica(
    postgres_url: str, tmp_path: Path
) -> None:
    replicas = await asyncio.to_thread(start_replicas, tmp_path, postgres_url, 2)
    try:
        async with aiohttp.ClientSession() as session:

            async def statuses(token: str) -> list[int]:
                found = []
                for replica in replicas:
                    async with session.get(f"{replica.url}/oncall/calendar/{token}") as response:
                        found.append(response.status)
                return found

            old = await asyncio.to_thread(calendar_link, postgres_url, tmp_path)
            assert await statuses(old) == [200, 200]
            new = await asyncio.to_thread(calendar_link, postgres_url, tmp_path, revoke=True)
            began = time.monotonic()
            while (found := await statuses(old)) != [404, 404]:
                assert time.monotonic() - began < REFRESH_SECONDS + 3, f"still served after the revocation: {found}"
                await asyncio.sleep(0.2)
            assert await statuses(new) == [200, 200]
            assert not (tmp_path / "cli" / "links" / "generations.json").exists(), "kept in the database"
    finally:
        await asyncio.to_thread(stop_all, replicas)


def test_links_revoked_in_a_data_folder_before_the_move_to_postgresql_stay_revoked(
    postgres_url: str, tmp_path: Path
) -> None:
    env = {"SUPPORTBOT_LINK_SECRET": LINK_SECRET}
    before = SignedLinks.for_data(tmp_path, env)
    old = before.issue("inbox", "vagt")
    kept = before.revoke("inbox", "vagt")
    storage = PostgresStorage(postgres_url)
    try:
        shared = SignedLinks.for_data(tmp_path, env, storage.records)
        assert shared.verify("inbox", old) is None and shared.verify("inbox", kept) == "vagt"
        newer = shared.revoke("inbox", "vagt")
        assert shared.verify("inbox", kept) is None and shared.verify("inbox", newer) == "vagt"
        assert SignedLinks.for_data(tmp_path / "elsewhere", env, storage.records).verify("inbox", newer) == "vagt"
    finally:
        storage.db.close()
