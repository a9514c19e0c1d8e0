"""The local channel's JSON API on a real server: the after-hours flow, the inbox, and bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from adapters.local.routes import tel_digits
from adapters.server import SERVICES, create_app
from adapters.signed_links import SIGNED_LINKS
from bot.clock import ManualClock
from bot.config import load_settings
from tests.servers import local_cookies

SATURDAY_NIGHT = datetime(2026, 11, 28, 22, 30, tzinfo=ZoneInfo("Europe/Copenhagen"))
MONDAY_MORNING = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))
USER = "u-mette"
# Preferred answers, in order, to reach a page: confirm the category, say everyone, accept the surcharge,
# skip the callback number.
PATH_TO_PAGE = (":page", ":yes", ":cat:internet_down", ":scope:all", ":skip")


async def start(data: Path, moment: datetime = SATURDAY_NIGHT) -> TestClient:
    settings = load_settings({"SUPPORTBOT_DATA": str(data)})
    app = create_app(settings, environ={}, clock=ManualClock(moment))
    # No cookie jar: each request says who sends it (`as_who`), so one client can be several people.
    client = TestClient(TestServer(app, host="127.0.0.1"), cookie_jar=DummyCookieJar())
    await client.start_server()
    return client


def as_who(client: TestClient, *, user: str = "", tech: str = "") -> dict[str, str]:
    """The cookies a browser of employee `user` or technician `tech` sends (the chat cookie, the inbox link's)."""
    return local_cookies(client.app[SIGNED_LINKS], user=user, tech=tech)


def _as_cookies(client: TestClient, path: str, body: dict[str, Any] | None = None) -> tuple[str, dict[str, str]]:
    """`user` and `tech` in the query or body, as the cookies of that person (the server reads only those)."""
    base, _, query = path.partition("?")
    params = dict(parse_qsl(query))
    who = {k: str(v) for k, v in {**params, **(body or {})}.items() if k in ("user", "tech")}
    rest = urlencode({k: v for k, v in params.items() if k not in who})
    return (f"{base}?{rest}" if rest else base), as_who(client, **who)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    client = await start(tmp_path)
    yield client
    await client.close()


async def post(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    path, headers = _as_cookies(client, path, body)
    response = await client.post(path, json=body, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def get(client: TestClient, path: str) -> dict[str, Any]:
    path, headers = _as_cookies(client, path)
    response = await client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def say(
    client: TestClient, text: str = "", choice: str = "", delivery_id: str = "", name: str = "Mette"
) -> dict[str, Any]:
    body = {"user": USER, "name": name, "lang": "da", "text": text, "choice": choice, "delivery_id": delivery_id}
    return await post(client, "/local/api/turn", body)


async def report(
    client: TestClient,
    problem: str = "ingen internet, alle er ramt",
    *,
    answers: tuple[str, ...] = PATH_TO_PAGE,
    name: str = "Mette",
) -> dict[str, Any]:
    """Report `problem`, pressing the preferred `answers`, until a case exists; the outcome entry."""
    answer = await say(client, problem, name=name)
    for _ in range(6):
        last = answer["replies"][-1]
        if last["case"]:
            return last
        offered = [c["id"] for c in last["choices"]]
        pick = next(c for suffix in answers for c in offered if c.endswith(suffix))
        answer = await say(client, choice=pick, delivery_id=f"press-{pick}", name=name)
    raise AssertionError(f"no case after the flow; last reply: {answer}")


async def report_outage(client: TestClient) -> dict[str, Any]:
    """Report "ingen internet, alle er ramt" and accept the surcharge."""
    return await report(client)


async def test_after_hours_outage_is_paged_acknowledged_and_the_employee_hears_it(client: TestClient) -> None:
    outcome = await report_outage(client)
    number = outcome["case"]
    assert number.isdigit()
    assert number in outcome["title"]

    assert outcome["text"].startswith("Jeg tilkalder vagten nu")
    await client.app[SERVICES].oncall.settled()  # the page goes out after the answer

    feed = await get(client, f"/local/api/messages?user={USER}&after=0")
    assert feed["entries"][0]["role"] == "user"
    assert feed["entries"][0]["text"] == "ingen internet, alle er ramt"
    # the answer with the case number, then (in that order) the update that on-call has it
    assert feed["entries"][-2]["id"] == outcome["id"]
    assert feed["entries"][-1]["text"].startswith(f"Vagten er nu tilkaldt om din sag {number}.")
    employee_cursor = feed["cursor"]

    inbox = await get(client, "/local/api/inbox?tech=vagt&after=0")
    page = next(e for e in inbox["pages"] if e["case"] == number)
    assert f"oncall:ack:{number}" in [c["id"] for c in page["choices"]]
    inbox_cursor = inbox["cursor"]

    pressed = await post(
        client, "/local/api/press", {"tech": "vagt", "choice": f"oncall:ack:{number}", "delivery_id": "ack-1"}
    )
    assert number in pressed["replies"][0]["text"]
    again = await post(
        client, "/local/api/press", {"tech": "vagt", "choice": f"oncall:ack:{number}", "delivery_id": "ack-1"}
    )
    assert again == pressed

    updated = await get(client, f"/local/api/inbox?tech=vagt&after={inbox_cursor}")
    [page_now] = [e for e in updated["pages"] if e["id"] == page["id"]]
    assert page_now["version"] > page["version"]
    assert f"oncall:ack:{number}" not in [c["id"] for c in page_now["choices"]]
    assert "Morten" in page_now["text"]

    news = await get(client, f"/local/api/messages?user={USER}&after={employee_cursor}")
    told = [e for e in news["entries"] if e["role"] == "bot" and e["case"] == number]
    assert told, news
    assert "Morten" in told[-1]["text"]


async def test_a_restart_keeps_the_inbox_and_the_chat(tmp_path: Path) -> None:
    client = await start(tmp_path)
    number = (await report_outage(client))["case"]
    await client.app[SERVICES].oncall.settled()  # the page, and the employee's update about it, are out
    chat = (await get(client, f"/local/api/messages?user={USER}&after=0"))["entries"]
    await client.close()

    client = await start(tmp_path)
    try:
        inbox = await get(client, "/local/api/inbox?tech=vagt&after=0")
        assert [e["case"] for e in inbox["pages"]] == [number]
        assert (await get(client, f"/local/api/messages?user={USER}&after=0"))["entries"] == chat
    finally:
        await client.close()


async def test_an_open_hours_case_is_posted_to_the_team_channel_in_the_inbox(tmp_path: Path) -> None:
    client = await start(tmp_path, MONDAY_MORNING)
    try:
        number = (await report(client, "printeren virker ikke", answers=(":yes", ":cat:printing_down", ":scope:me")))[
            "case"
        ]
        inbox = await get(client, "/local/api/inbox?tech=vagt2&after=0")
        assert inbox["pages"] == []
        [post_] = inbox["team"]
        assert post_["case"] == number
        assert f"oncall:ack:{number}" in [c["id"] for c in post_["choices"]]
    finally:
        await client.close()


async def test_an_employee_who_calls_themselves_like_a_technician_is_still_only_an_employee(
    client: TestClient,
) -> None:
    number = (await report_outage(client))["case"]
    # On-call buttons are pressed in the inbox, never through the employee's chat.
    body = {"name": "Morten", "lang": "da", "choice": f"oncall:ack:{number}"}
    response = await client.post("/local/api/turn", json=body, headers=as_who(client, user="vagt"))
    assert response.status == 400
    assert "/local/api/press" in (await response.json())["error"]
    # The employee "vagt" has a chat of their own, not the technician's pages.
    assert (await get(client, "/local/api/messages?user=vagt&after=0"))["entries"] == []
    inbox = await get(client, "/local/api/inbox?tech=vagt&after=0")
    assert f"oncall:ack:{number}" in [c["id"] for e in inbox["pages"] for c in e["choices"]]
    # ... and what they write is an employee's turn in their own chat.
    answer = await post(client, "/local/api/turn", {"user": "vagt", "name": "Morten", "text": "printeren virker ikke"})
    assert answer["replies"]
    chat = (await get(client, "/local/api/messages?user=vagt&after=0"))["entries"]
    assert [e["text"] for e in chat if e["role"] == "user"] == ["printeren virker ikke"]
    assert not any(e["case"] == number for e in chat)
    assert (await get(client, "/local/api/inbox?tech=vagt&after=0"))["pages"] == inbox["pages"]


async def test_an_employee_without_a_name_is_shown_to_the_technician_readably(client: TestClient) -> None:
    await report(client, name="   ")
    [page] = (await get(client, "/local/api/inbox?tech=vagt&after=0"))["pages"]
    reported_by = " ".join(f["value"] for f in page["facts"])
    assert "Medarbejder uden navn (ette)" in reported_by


async def test_an_english_employee_without_a_name_is_named_in_the_technicians_language(client: TestClient) -> None:
    answer = await post(client, "/local/api/turn", {"user": USER, "lang": "en", "text": "no internet, everyone"})
    for _ in range(6):
        last = answer["replies"][-1]
        if last["case"]:
            break
        pick = next(c["id"] for suffix in PATH_TO_PAGE for c in last["choices"] if c["id"].endswith(suffix))
        answer = await post(client, "/local/api/turn", {"user": USER, "lang": "en", "choice": pick})
    [page] = (await get(client, "/local/api/inbox?tech=vagt&after=0"))["pages"]
    facts = " ".join(f["value"] for f in page["facts"])
    assert "Medarbejder uden navn" in facts
    assert "without a name" not in facts


async def test_inbox_entries_carry_their_case_status_and_a_call_back_number_to_tap(client: TestClient) -> None:
    answers = PATH_TO_PAGE[:-1]
    answer = await say(client, "ingen internet, alle er ramt")
    for _ in range(8):
        last = answer["replies"][-1]
        if last["case"]:
            break
        offered = [c["id"] for c in last["choices"]]
        if any(c.endswith(":skip") for c in offered):  # the question for a call-back number
            answer = await say(client, "+45 22 33 44 55")
            continue
        pick = next(c for suffix in answers for c in offered if c.endswith(suffix))
        answer = await say(client, choice=pick, delivery_id=f"press-{pick}")
    number = answer["replies"][-1]["case"]
    assert number

    [page] = (await get(client, "/local/api/inbox?tech=vagt&after=0"))["pages"]
    assert page["status"] == "open"
    [callback] = [f for f in page["facts"] if "tel" in f]
    assert callback == {"label": "Ring til", "value": "+45 22 33 44 55", "tel": "+4522334455"}
    stored = await get(client, "/local/api/inbox?tech=vagt&after=0")
    assert stored["pages"][0]["facts"] == page["facts"]  # the annotation is not written into the feed

    for action, status in (("ack", "acknowledged"), ("resolve", "acknowledged"), ("confirm_resolve", "resolved")):
        body = {"tech": "vagt", "choice": f"oncall:{action}:{number}", "delivery_id": action}
        await post(client, "/local/api/press", body)
        [page] = (await get(client, "/local/api/inbox?tech=vagt&after=0"))["pages"]
        assert page["status"] == status


async def test_the_technician_writes_to_the_reporter_and_the_answer_comes_back_in_the_inbox(
    client: TestClient,
) -> None:
    number = (await report_outage(client))["case"]  # no phone number given
    body = {"tech": "vagt", "case": number, "text": "Hej Mette <!channel>, er routeren tændt?", "delivery_id": "w1"}
    answer = await post(client, "/local/api/write", body)
    assert answer["sent"] is True and answer["replies"][0]["text"].startswith("Sendt til Mette.")
    assert await post(client, "/local/api/write", body) == answer  # a double click writes once
    chat = (await get(client, f"/local/api/messages?user={USER}&after=0"))["entries"]
    assert [e["text"] for e in chat].count(
        "Hej Mette <!channel>, er routeren tændt?\n\nSvar her i chatten, så får Morten dit svar."
    ) == 1
    await say(client, "Ja, den blinker")
    pages = (await get(client, "/local/api/inbox?tech=vagt&after=0"))["pages"]
    thread = [(e["thread"], e["text"]) for e in pages if e["thread"]]
    assert thread == [("technician", "Hej Mette <!channel>, er routeren tændt?"), ("reporter", "Ja, den blinker")]
    # Without the technician's inbox cookie nobody can write.
    response = await client.post("/local/api/write", json=body, headers=as_who(client, user=USER))
    assert response.status == 403


@pytest.mark.parametrize(
    ("typed", "tel"),
    [
        ("22 33 44 55", "22334455"),
        ("+45 22 33 44 55", "+4522334455"),
        ("(+45) 2233-4455", "+4522334455"),
        ("0045 22.33.44.55", "004522334455"),
        ("2233", ""),  # too short to be a number
        ("+45 22 33 44 55 66 77 88 99", ""),  # too long
        ("22334455 eller 33445566", ""),  # two numbers or words: shown as text, never a link
        ("javascript:alert(1)", ""),
        ("\u0662\u0662\u0663\u0663\u0664\u0664\u0665\u0665", ""),  # Arabic-Indic digits: not for a tel: link
        ("22334455;ext=1", ""),
    ],
)
def test_only_a_plain_phone_number_becomes_a_tel_link(typed: str, tel: str) -> None:
    assert tel_digits(typed) == tel


async def test_a_double_click_is_answered_once(client: TestClient) -> None:
    first = await say(client, "printeren virker ikke")
    choice = first["replies"][-1]["choices"][0]["id"]
    both = await asyncio.gather(*(say(client, choice=choice, delivery_id="click-1") for _ in range(2)))
    assert both[0] == both[1]
    feed = (await get(client, f"/local/api/messages?user={USER}&after=0"))["entries"]
    assert [e["role"] for e in feed].count("user") == 2


async def test_markup_is_kept_as_text(client: TestClient) -> None:
    markup = '<script>alert("x")</script><b>printer</b> & <img src=x onerror=alert(1)>'
    answer = await say(client, markup)
    assert answer["echo"]["text"] == markup
    assert answer["replies"]


async def test_the_pages_are_served_with_a_strict_policy(client: TestClient) -> None:
    for path, needle in (("/", 'name="viewport"'), ("/oncall", 'id="tech"'), ("/local/static/chat.js", "textContent")):
        response = await client.get(path)
        assert response.status == 200
        assert needle in await response.text()
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert (await client.get("/local/static/routes.py")).status == 404


async def test_the_config_names_local_technicians_and_texts_in_both_languages(client: TestClient) -> None:
    config = await get(client, "/local/api/config")
    assert [t["id"] for t in config["technicians"]] == ["vagt", "vagt2"]
    assert set(config["texts"]["da"]) == set(config["texts"]["en"])
    assert config["texts"]["da"]["send"] == "Send"
    assert config["provider"]["phone"] == "+45 7021 1813"
    assert config["provider"]["tel"] == "+4570211813"


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("/local/api/turn", b"{not json", "not valid JSON"),
        ("/local/api/turn", b"\xff\xfe", "not valid JSON"),
        ("/local/api/turn", b"[1, 2]", "must be a JSON object"),
        ("/local/api/turn", b'{"user": "u-1", "text": ["hej"]}', "text must be a string"),
        ("/local/api/turn", b'{"user": "u-1"}', "either a non-empty text or a choice"),
        ("/local/api/turn", b'{"user": "u-1", "text": "hej", "choice": "x"}', "either a non-empty text or a choice"),
        ("/local/api/turn", b'{"user": "u-1", "text": "hej", "lang": "de"}', "lang must be one of da, en"),
        ("/local/api/turn", b'{"user": "u-1", "text": "' + b"x" * 70_000 + b'"}', "larger than 64 KiB"),
        ("/local/api/press", b'{"choice": ""}', "send either a choice or a non-empty text"),
        ("/local/api/press", b'{"choice": 7}', "choice must be a string"),
        ("/local/api/write", b'{"case": "10001", "text": "  "}', "text is empty"),
        ("/local/api/write", b'{"case": "abc", "text": "hej"}', "case must be a case number"),
        ("/local/api/write", b'{"case": "10001", "text": "' + b"x" * 2001 + b'"}', "text is longer than 2000"),
    ],
)
async def test_bad_bodies_get_a_clear_400(client: TestClient, path: str, body: bytes, error: str) -> None:
    headers = {"Content-Type": "application/json", **as_who(client, user="u-1", tech="vagt")}
    response = await client.post(path, data=body, headers=headers)
    assert response.status == 400
    assert error in (await response.json())["error"]


@pytest.mark.parametrize("path", ["/local/api/turn", "/local/api/press"])
@pytest.mark.parametrize(
    "body", [b"[" * 60_000, b'{"user": "u-1", "text": ' + b"[" * 60_000], ids=["bare", "in a field"]
)
async def test_json_nested_too_deeply_gets_a_clear_400_without_a_traceback(
    client: TestClient, caplog: pytest.LogCaptureFixture, path: str, body: bytes
) -> None:
    headers = {"Content-Type": "application/json", **as_who(client, user="u-1", tech="vagt")}
    response = await client.post(path, data=body, headers=headers)
    assert response.status == 400
    assert "nested too deeply" in (await response.json())["error"]
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


async def test_a_body_that_is_not_declared_json_is_refused(client: TestClient) -> None:
    """A form post from another site cannot reach the bot (it would have to declare text/plain)."""
    response = await client.post("/local/api/turn", data='{"user": "u-1", "text": "hej"}')
    assert response.status == 400
    assert "Content-Type: application/json" in (await response.json())["error"]


async def test_a_chunked_body_over_the_limit_is_refused(client: TestClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"user": "u-1", "text": "'
        for _ in range(10):
            yield b"x" * 10_000
        yield b'"}'

    response = await client.post("/local/api/turn", data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert "larger than 64 KiB" in (await response.json())["error"]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("/local/api/messages?after=-1", "after must be a whole number"),
        ("/local/api/messages?after=abc", "after must be a whole number"),
        ("/local/api/inbox?after=abc", "after must be a whole number"),
    ],
)
async def test_bad_queries_get_a_clear_400(client: TestClient, query: str, error: str) -> None:
    response = await client.get(query, headers=as_who(client, user="u-1", tech="vagt"))
    assert response.status == 400
    assert error in (await response.json())["error"]


async def test_a_request_for_a_foreign_host_name_is_refused(client: TestClient) -> None:
    response = await client.get("/local/api/config", headers={"Host": "evil.example"})
    assert response.status == 403
    assert "localhost" in (await response.json())["error"]
