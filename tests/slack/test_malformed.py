"""Forged, malformed and odd requests to /slack/events: 401 or 400 (or a quiet ack), never a 500 or a traceback.

findings-issue7.md #6 and #7: bolt parsed the body, and slack_sdk did int() on the timestamp header,
before the signature was checked, so anyone could fill the log with tracebacks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from adapters.slack import SLACK
from adapters.slack.events import RefusalLog
from adapters.slack.frontend import WORKERS
from tests.slack.conftest import SECRET, SlackUser
from tests.slack.fake_slack import TEAM

FORM = "application/x-www-form-urlencoded"


def tracebacks_or_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def send(slack: SlackUser, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with slack.session.post(f"{slack.url}/slack/events", data=body, headers=headers) as response:
        return response.status, await response.text()


def signed_headers(body: bytes, content_type: str) -> dict[str, str]:
    ts = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body.decode())
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature or ""}


async def nothing_happened(slack: SlackUser, caplog: pytest.LogCaptureFixture) -> None:
    await slack.settle()
    assert [c.method for c in slack.fake.calls if c.method != "auth.test"] == []
    assert tracebacks_or_errors(caplog) == []


@pytest.mark.parametrize(
    ("body", "content_type", "timestamp", "signature"),
    [
        pytest.param(b"{}", "application/json", "", "v0=00", id="empty timestamp"),
        pytest.param(b"{}", "application/json", "yesterday", "v0=00", id="words for a timestamp"),
        pytest.param(b"{}", "application/json", "-1", "v0=00", id="negative timestamp"),
        pytest.param(b"{}", "application/json", "9" * 5000, "v0=00", id="a timestamp int() refuses to parse"),
        pytest.param(b"not json", "application/json", "NOW", "v0=00", id="JSON content type, not JSON"),
        pytest.param(b"{not json", FORM, "NOW", "v0=00", id="a brace, not JSON"),
        pytest.param(b"payload=%7Bnope", FORM, "NOW", "v0=00", id="payload field, not JSON"),
        pytest.param(b"\xff\xfe\x00garbage", "application/json", "NOW", "v0=00", id="not UTF-8"),
        pytest.param(b"command=%2Fsupport&team_id=T1", FORM, "NOW", "", id="no signature"),
    ],
)
async def test_unsigned_and_malformed_requests_are_refused_quietly(
    slack: SlackUser, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str, timestamp: str, signature: str
) -> None:
    headers = {"Content-Type": content_type, "X-Slack-Signature": signature}
    headers["X-Slack-Request-Timestamp"] = str(int(time.time())) if timestamp == "NOW" else timestamp
    status, _ = await send(slack, body, headers)
    assert status == 401
    await nothing_happened(slack, caplog)


async def test_a_request_without_slack_headers_is_refused(slack: SlackUser, caplog: pytest.LogCaptureFixture) -> None:
    status, text = await send(slack, b'{"type": "url_verification", "challenge": "x"}', {})
    assert status == 401 and "x" not in text.replace("invalid", "")
    await nothing_happened(slack, caplog)


async def test_a_signature_for_another_timestamp_is_refused(slack: SlackUser, caplog: pytest.LogCaptureFixture) -> None:
    body = urlencode({"command": "/support", "team_id": TEAM, "user_id": "U1", "channel_id": "C1"}).encode()
    headers = signed_headers(body, FORM)
    headers["X-Slack-Request-Timestamp"] = str(int(headers["X-Slack-Request-Timestamp"]) - 1)
    assert (await send(slack, body, headers))[0] == 401
    await nothing_happened(slack, caplog)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"not json", "application/json", id="JSON content type, not JSON"),
        pytest.param(b"payload=%7Bnope", FORM, id="payload field, not JSON"),
        pytest.param(b"[1, 2]", "application/json", id="JSON, not an object"),
        pytest.param(
            urlencode({"payload": json.dumps({"type": "block_actions", "actions": None})}).encode(),
            FORM,
            id="actions null",
        ),
        pytest.param(
            json.dumps({"type": "event_callback", "event": "message"}).encode(), "application/json", id="event a string"
        ),
    ],
)
async def test_signed_bodies_bolt_cannot_read_are_answered_400_with_a_warning(
    slack: SlackUser, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str
) -> None:
    status, _ = await send(slack, body, signed_headers(body, content_type))
    assert status == 400
    await nothing_happened(slack, caplog)
    assert any("could not be read" in w or "cannot read" in w for w in warnings(caplog))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"[" * 100_000, "application/json", id="an event"),
        pytest.param(
            b'{"type": "event_callback", "event": ' + b"[" * 100_000, "application/json", id="inside an event"
        ),
        pytest.param(urlencode({"payload": "[" * 100_000}).encode(), FORM, id="a button press"),
    ],
)
async def test_signed_json_nested_too_deeply_is_answered_400_without_a_traceback(
    slack: SlackUser, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str
) -> None:
    status, _ = await send(slack, body, signed_headers(body, content_type))
    assert status == 400
    await nothing_happened(slack, caplog)
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


def press(actions: Any, **extra: Any) -> bytes:
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": "UEMP1", "team_id": TEAM},
        "container": {"type": "message", "channel_id": "DUEMP1", "message_ts": "1.0"},
        "actions": actions,
        **extra,
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


async def test_a_press_whose_action_is_not_an_object_is_answered_400(
    slack: SlackUser, caplog: pytest.LogCaptureFixture
) -> None:
    body = press([None])
    status, _ = await send(slack, body, signed_headers(body, FORM))
    assert status == 400
    await nothing_happened(slack, caplog)
    assert any("cannot read" in w for w in warnings(caplog))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(press([{"action_id": "sb:0:x", "block_id": "intake|1|a", "value": 5}]), id="value a number"),
        pytest.param(press([{"action_id": "sb:0:x", "block_id": "intake|1|a"}]), id="no value"),
        pytest.param(
            press([{"action_id": "sb:0:x", "value": "intake:1:yes"}], user="UEMP1", team=None), id="user a string"
        ),
    ],
)
async def test_odd_signed_presses_are_acked_and_ignored_with_a_warning(
    slack: SlackUser, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    status, _ = await send(slack, body, signed_headers(body, FORM))
    assert status == 200
    await nothing_happened(slack, caplog)
    assert any("button press without" in w for w in warnings(caplog))


@pytest.mark.parametrize("missing", ["team_id", "user_id", "channel_id"])
async def test_a_signed_command_without_its_ids_is_acked_and_ignored(
    slack: SlackUser, caplog: pytest.LogCaptureFixture, missing: str
) -> None:
    form = {"command": "/support", "text": "printeren", "team_id": TEAM, "user_id": "U1", "channel_id": "C1"}
    del form[missing]
    body = urlencode(form).encode()
    status, _ = await send(slack, body, signed_headers(body, FORM))
    assert status == 200
    await nothing_happened(slack, caplog)
    assert any("command without" in w for w in warnings(caplog))


async def test_a_real_command_still_works_after_refusals(slack: SlackUser) -> None:
    await send(slack, b"{}", {"X-Slack-Request-Timestamp": "junk", "X-Slack-Signature": "v0=00"})
    assert (await slack.command("Printeren virker ikke")).status == 200
    await slack.settle()
    assert slack.fake.called("chat.postMessage")


def test_refusals_are_logged_once_a_minute_with_their_count(caplog: pytest.LogCaptureFixture) -> None:
    log = RefusalLog(every=60.0)
    for now in (1000.0, 1001.0, 1002.0, 1059.0):
        log.refused(now)
    log.refused(1060.0)
    lines = [r.getMessage() for r in caplog.records if r.name == "adapters.slack.events"]
    assert len(lines) == 2
    assert "refused 1 request" in lines[0] and "refused 4 request" in lines[1]
    assert "SLACK_SIGNING_SECRET" in lines[0]


async def test_work_after_the_ack_is_bounded_and_never_dropped(slack: SlackUser) -> None:
    front = slack.app[SLACK]
    running, most, done = 0, 0, []

    async def work(n: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        done.append(n)

    for n in range(WORKERS * 3):
        front.spawn(work(n))
    await front.drain()
    assert most == WORKERS
    assert done == list(range(WORKERS * 3)), "all of it, in the order it was acked"


async def test_work_that_fails_after_the_ack_is_logged_and_the_rest_still_runs(
    slack: SlackUser, caplog: pytest.LogCaptureFixture
) -> None:
    front = slack.app[SLACK]
    done: list[int] = []

    async def work(n: int) -> None:
        if n == 3:
            raise RuntimeError("the platform broke")
        done.append(n)

    for n in range(WORKERS * 2):
        front.spawn(work(n))
    await front.drain()
    assert done == [n for n in range(WORKERS * 2) if n != 3]
    assert any("Slack work after the ack failed" in r.getMessage() for r in caplog.records)


async def test_at_shutdown_work_still_running_after_the_grace_is_cancelled_and_queued_work_closed(
    slack: SlackUser, caplog: pytest.LogCaptureFixture
) -> None:
    front = slack.app[SLACK]
    cancelled, started = [], []
    all_started = asyncio.Event()

    async def hung(n: int) -> None:
        started.append(n)
        if len(started) == WORKERS:
            all_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(n)
            raise

    for n in range(WORKERS * 2):
        front.spawn(hung(n))
    await asyncio.wait_for(all_started.wait(), timeout=5)
    await asyncio.wait_for(front.stop(grace=0.1), timeout=5)
    assert sorted(cancelled) == list(range(WORKERS)), "the running ones were cancelled"
    assert started == list(range(WORKERS)), "the queued ones never started"
    assert any("cancelling it" in r.getMessage() for r in caplog.records)
