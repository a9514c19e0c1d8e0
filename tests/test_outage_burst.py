"""The night a whole office loses its internet: twenty employees report it within a minute.

Real server (create_app) on 127.0.0.1, twenty employees of one customer in the local chat at once,
on a Saturday night, each accepting the surcharge. Expected: one page (the first report), nineteen
cases linked to it, twenty answers with each person's own case number, and when the technician
acknowledges, all twenty hear it once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from adapters.local.routes import employee_id
from adapters.server import SERVICES, create_app
from adapters.signed_links import SIGNED_LINKS
from bot.cases import Case, EventKind
from bot.clock import ManualClock
from bot.config import load_settings
from tests.servers import local_cookies

pytestmark = pytest.mark.timeout(120)

SATURDAY_NIGHT = datetime(2026, 11, 28, 22, 40, tzinfo=ZoneInfo("Europe/Copenhagen"))
EMPLOYEES = 20
# How twenty people put it, typos and all.
SAYINGS = (
    "internettet virker ikke for nogen på kontoret",
    "vi har ingen internet, alle er ramt",
    "netværket er nede for hele kontoret",
    "internet virker ikk for nogen af os",
    "ingen af os kan komme på nettet",
)
PREFERRED = (":page", ":accept", ":yes", ":scope:all", ":cat:internet_down", ":skip")


class Office:
    def __init__(self, runner: web.AppRunner, url: str, clock: ManualClock) -> None:
        self.runner, self.url, self.clock = runner, url, clock
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def call(self, method: str, path: str, *, user: str = "", tech: str = "", **kwargs: Any) -> dict[str, Any]:
        """A request from the browser of employee `user` or technician `tech`."""
        headers = local_cookies(self.runner.app[SIGNED_LINKS], user=user, tech=tech)
        async with self.session.request(method, f"{self.url}{path}", headers=headers, **kwargs) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())

    async def report(self, user: str, problem: str) -> list[dict[str, Any]]:
        """Report, answer the questions, accept on-call; every reply this person was shown."""
        shown: list[dict[str, Any]] = []
        body: dict[str, str] = {"text": problem}
        for n in range(8):
            answer = await self.call(
                "POST", "/local/api/turn", user=user, json={"name": user.title(), "lang": "da", **body}
            )
            shown += answer["replies"]
            last = answer["replies"][-1]
            if last["case"] and not last["choices"]:
                return shown
            offered = [c["id"] for c in last["choices"]]
            choice = next(c for suffix in PREFERRED for c in offered if c.endswith(suffix))
            body = {"choice": choice, "delivery_id": f"{user}-{n}"}
        raise AssertionError(f"{user} got no case: {shown[-1]}")

    async def case(self, number: int) -> Case:
        case = await self.runner.app[SERVICES].store.get(number)
        assert case is not None
        return case


@pytest.fixture
async def office(tmp_path: Path) -> AsyncIterator[Office]:
    env = {"SUPPORTBOT_DATA": str(tmp_path / "data")}
    clock = ManualClock(SATURDAY_NIGHT)
    runner = web.AppRunner(create_app(load_settings(env), environ=env, clock=clock))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    office = Office(runner, f"http://127.0.0.1:{runner.addresses[0][1]}", clock)
    yield office
    await office.session.close()
    await runner.cleanup()


async def test_twenty_reports_of_one_outage_make_one_page_and_twenty_answered_linked_cases(office: Office) -> None:
    rng = random.Random(20)
    people = [f"ansat{n:02d}" for n in range(EMPLOYEES)]

    async def employee(index: int, user: str) -> list[dict[str, Any]]:
        await asyncio.sleep(rng.uniform(0, 0.3))
        office.clock.advance(timedelta(seconds=2.5))  # twenty reports spread over fifty seconds
        return await office.report(user, SAYINGS[index % len(SAYINGS)])

    shown = await asyncio.gather(*(employee(i, user) for i, user in enumerate(people)))
    await office.runner.app[SERVICES].oncall.settled()  # the one page goes out after its reporter's answer

    numbers = {user: int(replies[-1]["case"]) for user, replies in zip(people, shown, strict=True)}
    assert len(set(numbers.values())) == EMPLOYEES, "twenty answers, each with the person's own case number"
    cases = {user: await office.case(number) for user, number in numbers.items()}
    assert all(case.reporter.user_id == employee_id(user) for user, case in cases.items())
    paged = [case for case in cases.values() if any(e.kind is EventKind.PAGED for e in case.history)]
    assert len(paged) == 1, f"one page for one outage, not {len(paged)}"
    (root,) = paged
    linked = [case for case in cases.values() if case.number != root.number]
    assert all(case.linked_to == root.number for case in linked), [(c.number, c.linked_to) for c in linked]
    assert all(case.cost is not None and case.cost.accepted for case in cases.values()), "each accepted the cost"
    assert {e.data["case"] for e in root.history if e.kind is EventKind.LINKED} == {c.number for c in linked}

    # One answer each: the first reporter hears that on-call is being paged, then that it has been; each of
    # the others that a colleague's page covers their case, and nothing about paging besides.
    answers = {user: replies[-1]["text"] for user, replies in zip(people, shown, strict=True)}
    for user, case in cases.items():
        feed = (await office.call("GET", "/local/api/messages", user=user))["entries"]
        paging_news = [e["text"] for e in feed if e["role"] == "bot" and "Vagten er nu tilkaldt" in e["text"]]
        if case.number == root.number:
            assert answers[user].startswith("Jeg tilkalder vagten nu") and len(paging_news) == 1
        else:
            assert answers[user].startswith("En kollega har allerede meldt det samme problem") and not paging_news

    inbox = await office.call("GET", "/local/api/inbox", tech="vagt")
    pages = [p for p in inbox["pages"] if p["case"]]
    assert [p["case"] for p in pages] == [str(root.number)], "the technician's phone buzzes once"

    # The technician acknowledges the one page: all twenty hear it, once each.
    ack = next(c["id"] for c in pages[0]["choices"] if c["id"].startswith("oncall:ack:"))
    await office.call("POST", "/local/api/press", tech="vagt", json={"choice": ack, "delivery_id": "ack-1"})
    for user in people:
        feed = (await office.call("GET", "/local/api/messages", user=user))["entries"]
        heard = [e for e in feed if e["role"] == "bot" and "har set din sag" in e["text"]]
        assert len(heard) == 1, f"{user} heard of the acknowledgement {len(heard)} times: {[e['text'] for e in feed]}"
    for case in [root, *linked]:
        assert (await office.case(case.number)).status == "acknowledged"
