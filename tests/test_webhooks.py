"""Webhooks to a ticket system: a real aiohttp receiver on 127.0.0.1 that checks the signature, fails on
purpose (500, a timeout, a refused connection) and comes back; the bot's real outbox, runner and sender."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from adapters.outgoing.signing import HEADER, signature, verify
from adapters.outgoing.webhook import WebhookSender
from adapters.storage.embedded import EmbeddedStorage
from adapters.wiring import build_services
from bot.cases import CaseEvent, CaseStatus, EventKind
from bot.clock import ManualClock
from bot.config import Settings, load_settings
from bot.outgoing.events import WEBHOOK, Announcements
from bot.outgoing.retry import schedule
from bot.outgoing.runner import OutboxRunner
from bot.ports import DeliveryState, Storage
from tests.contract.test_cases import new_case
from tests.transcripts.harness import Bench, Employee, RecordingMessenger

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec-test-0123456789abcdef0123456789"
SECRET_ENV = "TEST_WEBHOOK_SECRET"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Copenhagen


class Receiver:
    """A ticket system's webhook endpoint: verifies the signature, drops duplicates by the idempotency key,
    and answers as `mode` says ("ok", "fail": HTTP 500, "slow": longer than the sender waits)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.events: list[dict[str, Any]] = []
        self.attempts: list[tuple[str, str]] = []  # (event id, how it was answered)
        self.bad_signatures = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        key = request.headers.get("Idempotency-Key", "")
        if not verify(SECRET, request.headers.get(HEADER, ""), body, now=int(time.time())):
            self.bad_signatures += 1
            self.attempts.append((key, "bad signature"))
            return web.Response(status=401)
        self.attempts.append((key, self.mode))
        if self.mode == "slow":
            await asyncio.sleep(3)
        if self.mode != "ok":
            return web.Response(status=500)
        event = json.loads(body)
        assert event["id"] == key and event["type"] == request.headers["X-Supportbot-Event"]
        if key not in {e["id"] for e in self.events}:
            self.events.append(event)
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def seen(self) -> list[tuple[int, str]]:
        return [(e["case"]["number"], e["type"]) for e in self.events]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    yield hook
    if hook._runner is not None:
        await hook._runner.cleanup()


def settings_with_hook(tmp_path: Path, url: str, events: str = "") -> Settings:
    config = tmp_path / "supportbot.toml"
    config.write_text(
        f'[[webhooks]]\nurl = "{url}"\nsecret_env = "{SECRET_ENV}"\n{events}', encoding="utf-8"
    )  # fmt: skip
    return load_settings({"SUPPORTBOT_DATA": str(tmp_path / "data"), "SUPPORTBOT_CONFIG": str(config)})


class Bot:
    """The storage with its announcer, and the delivery loop, as the server wires them (on a manual clock)."""

    def __init__(self, tmp_path: Path, settings: Settings, clock: ManualClock, *, env: dict[str, str]) -> None:
        self.storage: Storage = EmbeddedStorage(tmp_path / "data", announce=Announcements(settings, mail_to=None))
        sender = WebhookSender(settings.webhooks, env, timeout=0.5)
        self.runner = OutboxRunner(
            outbox=self.storage.outbox, senders={WEBHOOK: sender}, settings=settings.outbox, clock=clock
        )

    async def ack(self, number: int, at: datetime) -> None:
        event = CaseEvent(at, EventKind.ACKNOWLEDGED, "vagt", {"name": "Morten"})
        await self.storage.cases.update(number, event, status=CaseStatus.ACKNOWLEDGED)

    async def resolve(self, number: int, at: datetime) -> None:
        event = CaseEvent(at, EventKind.RESOLVED, "vagt", {"name": "Morten"})
        await self.storage.cases.update(number, event, status=CaseStatus.RESOLVED)


async def test_each_event_arrives_once_signed_in_order_with_its_idempotency_key(
    tmp_path: Path, receiver: Receiver
) -> None:
    clock = ManualClock(NOW + timedelta(hours=1))
    bot = Bot(tmp_path, settings_with_hook(tmp_path, receiver.url), clock, env={SECRET_ENV: SECRET})
    case = await bot.storage.cases.create(new_case(), now=NOW)
    await bot.ack(case.number, NOW + timedelta(minutes=4))
    await bot.storage.cases.update(case.number, CaseEvent(NOW, EventKind.REMINDED, "system"))  # no event
    await bot.resolve(case.number, NOW + timedelta(minutes=40))
    assert await bot.runner.deliver_due() == 3
    assert receiver.seen() == [(10001, "case.created"), (10001, "case.acknowledged"), (10001, "case.resolved")]
    created, acknowledged, resolved = receiver.events
    assert created["id"] == "10001-1" and acknowledged["id"] == "10001-2" and resolved["id"] == "10001-4"
    assert created["case"]["description"] == "internettet er nede for alle på kontoret"
    assert created["case"]["customer"]["name"] == "Acme A/S" and created["case"]["critical"] is True
    assert (
        acknowledged["case"]["status"] == "acknowledged" and acknowledged["case"]["acknowledged_by"]["name"] == "Morten"
    )
    assert resolved["occurred_at"] == (NOW + timedelta(minutes=40)).isoformat()
    assert receiver.bad_signatures == 0 and await bot.storage.outbox.unsent() == []
    await bot.storage.close()


async def test_a_wrong_secret_is_refused_by_the_receiver_and_retried_until_the_secret_is_fixed(
    tmp_path: Path, receiver: Receiver
) -> None:
    clock = ManualClock(NOW)
    env = {SECRET_ENV: "not-the-shared-secret"}
    bot = Bot(tmp_path, settings_with_hook(tmp_path, receiver.url), clock, env=env)
    await bot.storage.cases.create(new_case(), now=NOW)
    assert await bot.runner.deliver_due() == 0
    assert receiver.bad_signatures == 1 and receiver.events == []
    (waiting,) = await bot.storage.outbox.unsent()
    assert waiting.last_error == "HTTP 401 Unauthorized"
    env[SECRET_ENV] = SECRET  # the secret is read at each attempt: a rotation applies to the retries
    clock.advance(timedelta(minutes=1))
    assert await bot.runner.deliver_due() == 1 and receiver.seen() == [(10001, "case.created")]
    await bot.storage.close()


async def test_a_receiver_that_fails_times_out_and_is_down_gets_everything_in_order_when_it_is_back(
    tmp_path: Path, receiver: Receiver
) -> None:
    clock = ManualClock(NOW)
    settings = settings_with_hook(tmp_path, receiver.url)
    bot = Bot(tmp_path, settings, clock, env={SECRET_ENV: SECRET})
    first = await bot.storage.cases.create(new_case("U1"), now=NOW)
    await bot.ack(first.number, NOW)
    receiver.mode = "fail"
    assert await bot.runner.deliver_due() == 0
    assert receiver.attempts == [("10001-1", "fail")], "the acknowledgement waits for the creation"
    (created, acked) = await bot.storage.outbox.unsent()
    wait = created.next_attempt - NOW
    assert timedelta(seconds=24) <= wait <= timedelta(seconds=36), "30 s ± 20 %"
    assert created.attempts == 1 and created.last_error.startswith("HTTP 500") and acked.attempts == 0

    second = await bot.storage.cases.create(new_case("U2"), now=NOW)  # another case is not held up
    receiver.mode = "ok"
    assert await bot.runner.deliver_due() == 1 and receiver.seen() == [(second.number, "case.created")]

    receiver.mode = "slow"
    clock.advance(wait)
    started = time.monotonic()
    assert await bot.runner.deliver_due() == 0
    assert time.monotonic() - started < 2.5, "the sender's timeout, not the receiver's"
    (created, _) = await bot.storage.outbox.unsent()
    assert created.attempts == 2 and "no answer within" in created.last_error
    assert timedelta(seconds=48) <= created.next_attempt - clock.now() <= timedelta(seconds=72), "doubled"

    await receiver.stop()  # down: connection refused
    clock.advance(timedelta(seconds=72))
    assert await bot.runner.deliver_due() == 0
    (created, _) = await bot.storage.outbox.unsent()
    assert created.attempts == 3 and "Connect" in created.last_error

    await receiver.start()  # back, on the same port
    receiver.mode = "ok"
    clock.advance(timedelta(minutes=3))
    assert await bot.runner.deliver_due() == 2
    assert receiver.seen() == [(10002, "case.created"), (10001, "case.created"), (10001, "case.acknowledged")]
    assert await bot.storage.outbox.unsent() == []
    await bot.storage.close()


async def test_an_event_enqueued_before_a_restart_is_delivered_after_it(tmp_path: Path, receiver: Receiver) -> None:
    """The bot is killed (SIGKILL) right after a case is made; the next bot delivers the event."""
    data = tmp_path / "data"
    settings = settings_with_hook(tmp_path, receiver.url)
    script = (
        "import asyncio, os, sys\n"
        "from pathlib import Path\n"
        "from adapters.storage.embedded import EmbeddedStorage\n"
        "from bot.config import load_settings\n"
        "from bot.outgoing.events import Announcements\n"
        "from tests.contract.test_cases import new_case\n"
        "from tests.test_webhooks import NOW\n"
        "settings = load_settings(os.environ)\n"
        "async def main():\n"
        "    storage = EmbeddedStorage(Path(sys.argv[1]), announce=Announcements(settings, mail_to=None))\n"
        "    await storage.cases.create(new_case(), now=NOW)\n"
        "    print('created', flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "SUPPORTBOT_CONFIG": str(tmp_path / "supportbot.toml"), "SUPPORTBOT_DATA": str(data)}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, str(data), cwd=ROOT, env=env, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and (await child.stdout.readline()).strip() == b"created"
    finally:
        child.kill()
        await child.wait()
    assert receiver.events == []
    bot = Bot(tmp_path, settings, ManualClock(NOW), env={SECRET_ENV: SECRET})
    assert await bot.runner.deliver_due() == 1 and receiver.seen() == [(10001, "case.created")]
    await bot.storage.close()


async def test_a_delivery_is_given_up_after_the_retry_period_listed_and_resent_by_the_operator(
    tmp_path: Path, receiver: Receiver
) -> None:
    clock = ManualClock(NOW)
    settings = settings_with_hook(tmp_path, receiver.url)
    bot = Bot(tmp_path, settings, clock, env={SECRET_ENV: SECRET})
    await bot.storage.cases.create(new_case(), now=NOW)
    receiver.mode = "fail"
    attempts = 0
    while (unsent := await bot.storage.outbox.unsent())[0].state is DeliveryState.PENDING:
        clock.set(max(clock.now(), unsent[0].next_attempt))
        await bot.runner.deliver_due()
        attempts += 1
    (failed,) = await bot.storage.outbox.unsent()
    assert failed.state is DeliveryState.FAILED and failed.attempts == attempts
    assert timedelta(hours=47) <= clock.now() - NOW <= timedelta(hours=48), "retried for 48 hours"
    assert 45 <= attempts <= 60

    env = {
        **os.environ,
        "SUPPORTBOT_DATA": str(tmp_path / "data"),
        "SUPPORTBOT_CONFIG": str(tmp_path / "supportbot.toml"),
    }
    listing = await webhooks_cli("--language", "en", env=env)  # beside the running bot: it holds the lock
    assert listing.returncode == 1, listing.stderr
    row = listing.stdout.splitlines()[1].split()
    assert row == [str(failed.id), "10001", "case.created", "given", "up", str(attempts), "-"], listing.stdout
    assert f"webhook → {receiver.url}  last error: HTTP 500" in listing.stdout
    missing = await webhooks_cli("resend", "999", env=env)
    assert missing.returncode == 2 and "Der findes ingen levering med nummer 999." in missing.stderr
    resend = await webhooks_cli("resend", str(failed.id), env=env)
    assert resend.returncode == 0 and f"Levering {failed.id} (case.created for sag 10001) sendes igen" in resend.stdout
    receiver.mode = "ok"
    assert await bot.runner.deliver_due() == 1 and receiver.seen() == [(10001, "case.created")]
    done = await webhooks_cli(env=env)
    assert done.returncode == 0 and "Alle webhooks og mails er leveret." in done.stdout
    await bot.storage.close()


async def webhooks_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bot", "webhooks", *args]
    return await asyncio.to_thread(subprocess.run, command, cwd=ROOT, env=env, capture_output=True, text=True)


def test_the_retry_schedule_backs_off_to_an_hour_and_covers_two_days() -> None:
    waits = schedule(load_settings({}).outbox)
    assert waits[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert max(waits) == timedelta(hours=1) and sum(waits, timedelta(0)) >= timedelta(hours=24)


async def test_a_webhook_subscribes_to_the_events_it_names(tmp_path: Path, receiver: Receiver) -> None:
    settings = settings_with_hook(tmp_path, receiver.url, 'events = ["case.resolved"]\n')
    bot = Bot(tmp_path, settings, ManualClock(NOW), env={SECRET_ENV: SECRET})
    case = await bot.storage.cases.create(new_case(), now=NOW)
    await bot.ack(case.number, NOW)
    await bot.resolve(case.number, NOW)
    await bot.runner.deliver_due()
    assert receiver.seen() == [(10001, "case.resolved")]
    await bot.storage.close()


async def test_a_receiver_that_hangs_does_not_slow_the_employee_down(tmp_path: Path, receiver: Receiver) -> None:
    receiver.mode = "slow"
    settings = settings_with_hook(tmp_path, receiver.url)
    clock = ManualClock(datetime(2026, 11, 25, 10, 0, tzinfo=settings.hours.timezone))
    services = build_services(settings, clock=clock, environ={SECRET_ENV: SECRET})
    messenger = RecordingMessenger()
    services.messengers.register("local", messenger)
    loop = asyncio.create_task(services.outbox.run(interval=0.05))
    try:
        employee = Employee(Bench(services, clock, messenger))
        started = time.monotonic()
        await employee.say("skal bruge ny mus")
        answered = time.monotonic() - started
        assert "Sag 10001" in employee.text and answered < 1.0
        (delivery,) = await services.storage.outbox.unsent()
        assert delivery.message.event == "case.created"
        for _ in range(100):  # the loop tries it in the background and keeps it for a retry
            await asyncio.sleep(0.05)
            if receiver.attempts:
                break
        assert receiver.attempts == [("10001-1", "slow")]
    finally:
        loop.cancel()
        await services.close()


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('url = "ftp://x"\nsecret_env = "S"', "webhooks[0].url] must be an http:// or https:// address"),
        ('url = "https://x/h"\nsecret_env = "hunter2 is my secret"', "the secret itself never goes in the file"),
        ('url = "https://x/h"\nsecret_env = "S"\nevents = ["case.paged"]', "case.paged"),
        ('url = "https://x/h"\nsecret = "abc"\nsecret_env = "S"', "[webhooks[0].secret] is not a known key"),
    ],
)
def test_a_bad_webhook_entry_is_refused_naming_it(tmp_path: Path, entry: str, problem: str) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text(f"[[webhooks]]\n{entry}\n", encoding="utf-8")
    with pytest.raises(Exception, match=problem.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        load_settings({"SUPPORTBOT_CONFIG": str(config)})


def test_the_readme_verification_example_accepts_the_bots_signature_and_nothing_else() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Connecting your ticket system") :]
    namespace: dict[str, Any] = {}
    exec(section.split("```python\n", 1)[1].split("```", 1)[0], namespace)
    body = b'{"id":"10001-1","type":"case.created"}'
    header = signature(SECRET, int(time.time()), body)
    assert namespace["verify"](SECRET, header, body)
    assert not namespace["verify"](SECRET, header, body.replace(b"10001", b"10002"))
    assert not namespace["verify"]("another secret", header, body)
    assert not namespace["verify"](SECRET, signature(SECRET, int(time.time()) - 3600, body), body), "too old"
