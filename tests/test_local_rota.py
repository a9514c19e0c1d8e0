"""The inbox's standing "Vagten" controls over HTTP on a real server: who is on call, test pages, swaps typed
in the inbox and taken from another technician's inbox, handover notices in the feed, and bad input.

What the page sends (`POST /local/api/press` with the bot's button id or the typed words, a fresh delivery
id each time) and what it shows (`GET /local/api/inbox`: the bot's rota messages have no case number).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from adapters.server import SERVICES, create_app
from adapters.signed_links import SIGNED_LINKS
from bot.clock import ManualClock
from bot.config import load_settings
from tests.rota_config import technician
from tests.servers import local_cookies

ZONE = ZoneInfo("Europe/Copenhagen")
WEDNESDAY = datetime(2026, 12, 9, 14, 0, tzinfo=ZONE)  # rota week of Morten (primary) and Sara (backup)
CONFIG = f"""
[oncall]
rotation_start = "2026-12-07"
rotation = [{{ primary = "vagt", backup = "vagt2" }}, {{ primary = "vagt2", backup = "vagt3" }}]

{technician("vagt", "Morten", local=True)}
{technician("vagt2", "Sara", local=True)}
{technician("vagt3", "Jens", language="en", local=True)}
"""


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    (tmp_path / "supportbot.toml").write_text(CONFIG, encoding="utf-8")
    env = {"SUPPORTBOT_DATA": str(tmp_path / "data"), "SUPPORTBOT_CONFIG": str(tmp_path / "supportbot.toml")}
    app = create_app(load_settings(env), environ={}, clock=ManualClock(WEDNESDAY))
    client = TestClient(TestServer(app, host="127.0.0.1"), cookie_jar=DummyCookieJar())
    await client.start_server()
    yield client
    await client.close()


_deliveries = iter(range(1_000_000))


async def ask(client: TestClient, tech: str, **body: str) -> list[dict[str, Any]]:
    """What the inbox sends for a standing button or the typed box: one press, a fresh delivery id."""
    headers = local_cookies(client.app[SIGNED_LINKS], tech=tech)
    body = {"delivery_id": f"ask-{next(_deliveries)}", **body}
    response = await client.post("/local/api/press", json=body, headers=headers)
    assert response.status == 200, await response.text()
    return (await response.json())["replies"]


async def rota_cards(client: TestClient, tech: str) -> list[dict[str, Any]]:
    """What the inbox lists under "Vagten": the bot's messages about no case, not replaced by a newer one."""
    headers = local_cookies(client.app[SIGNED_LINKS], tech=tech)
    response = await client.get("/local/api/inbox?after=0", headers=headers)
    assert response.status == 200, await response.text()
    pages = (await response.json())["pages"]
    return [p for p in pages if not p["case"] and not p["thread"] and p["role"] == "bot" and not p["superseded"]]


def choices(message: dict[str, Any]) -> list[str]:
    return [c["id"] for c in message["choices"]]


async def test_the_page_has_the_standing_controls_and_their_texts_in_both_languages(client: TestClient) -> None:
    page = await client.get("/oncall")
    html = await page.text()
    for needle in ('id="ask-who"', 'id="ask-test"', 'id="ask-text"', 'href="/oncall/report"'):
        assert needle in html
    assert "<script>" not in html and "style=" not in html  # the CSP allows neither
    config = await (await client.get("/local/api/config")).json()
    assert config["texts"]["da"]["rota_who"] == "Hvem har vagten?"
    assert config["texts"]["en"]["rota_who"] == "Who is on call?"
    assert config["texts"]["da"]["report_link"] == "Rapport"


async def test_who_is_on_call_from_the_button_and_typed_alike(client: TestClient) -> None:
    [pressed] = await ask(client, "vagt", choice="rota:who")
    [typed] = await ask(client, "vagt", text="hvem har vagten?")
    for answer in (pressed, typed):
        facts = {f["label"]: f["value"] for f in answer["facts"]}
        assert facts["Primær"] == "Morten" and facts["Backup"] == "Sara"
        assert facts["Til"] == "mandag den 14. december kl. 8.00"
        assert facts["Derefter"] == "Sara (backup Jens)"
        assert choices(answer) == ["rota:who", "rota:test"]  # asked again from the answer
    [english] = await ask(client, "vagt3", choice="rota:who")
    assert english["title"] == "Who is on call?"


async def test_a_test_page_arrives_in_the_inbox_without_a_case_and_its_button_answers(client: TestClient) -> None:
    [said] = await ask(client, "vagt", choice="rota:test")
    assert said["text"].startswith("Testsiden er sendt")
    [test_page] = await rota_cards(client, "vagt")
    assert test_page["title"] == "TESTSIDE – ikke en rigtig sag"
    assert choices(test_page) == ["rota:testack"]
    [acknowledged] = await ask(client, "vagt", choice="rota:testack")
    assert acknowledged["text"].startswith("Testen virker")
    assert await rota_cards(client, "vagt2") == []  # only the one who asked gets it
    assert await client.app[SERVICES].store.find(open_only=True) == []


async def test_a_swap_typed_in_one_inbox_is_taken_in_another_by_the_first_of_two_pressing_at_once(
    client: TestClient,
) -> None:
    [said] = await ask(client, "vagt", text="Kan nogen tage min vagt lørdag kl. 8.00 til søndag kl. 8.00?")
    assert said["text"].startswith("Jeg har spurgt Sara og Jens")
    [offer_sara] = await rota_cards(client, "vagt2")
    [offer_jens] = await rota_cards(client, "vagt3")
    assert offer_sara["text"].startswith("Morten spørger, om nogen kan tage vagten fra lørdag den 12. december")
    assert offer_jens["title"] == "Can you take a shift?"  # Jens reads English
    [take] = choices(offer_sara)
    assert choices(offer_jens) == [take] and take.startswith("rota:take:")

    sara, jens = await asyncio.gather(ask(client, "vagt2", choice=take), ask(client, "vagt3", choice=take))
    answers = {"vagt2": sara[0]["text"], "vagt3": jens[0]["text"]}
    winners = [who for who, text in answers.items() if text.startswith(("Tak! Du har vagten", "Thanks! You are"))]
    assert len(winners) == 1, answers
    loser = "vagt3" if winners == ["vagt2"] else "vagt2"
    winner_name = {"vagt2": "Sara", "vagt3": "Jens"}[winners[0]]
    assert winner_name in answers[loser]  # "Sara har allerede taget vagten ..."

    [told] = await rota_cards(client, "vagt")
    assert told["text"].startswith(f"{winner_name} har taget din vagt fra lørdag den 12. december kl. 8.00")
    # Both offer cards, the loser's and the winner's own, are replaced by one without the button that
    # names the winner (a second press on the winner's would only say that they already have it).
    for holder in (loser, winners[0]):
        [card] = await rota_cards(client, holder)
        assert choices(card) == [] and f"{winner_name} ha" in card["text"], holder
    # And "Hvem har vagten?" on Saturday names the winner.
    client.app[SERVICES].clock.set(datetime(2026, 12, 12, 12, 0, tzinfo=ZONE))
    [who] = await ask(client, "vagt", choice="rota:who")
    assert {f["label"]: f["value"] for f in who["facts"]}["Primær"] == winner_name


async def test_a_period_taken_directly_from_the_box_applies_at_once(client: TestClient) -> None:
    [said] = await ask(client, "vagt3", text="I'll take the shift today 14:00 to tomorrow 8:00")
    assert said["text"].startswith("You are now on call from Wednesday 9 December at 14:00")
    [who] = await ask(client, "vagt", choice="rota:who")
    assert {f["label"]: f["value"] for f in who["facts"]}["Primær"] == "Jens"
    assert "Jens dækker fra onsdag den 9. december kl. 14.00" in who["text"]


async def test_the_handover_notice_arrives_in_the_inbox(client: TestClient) -> None:
    services = client.app[SERVICES]
    services.clock.set(datetime(2026, 12, 14, 8, 0, 5, tzinfo=ZONE))  # Monday 8.00: Sara takes over
    await services.oncall.tick()
    [incoming] = await rota_cards(client, "vagt2")
    assert incoming["title"] == "Du har vagten"
    assert incoming["text"].startswith("Du har vagten fra nu til mandag den 21. december kl. 8.00. Jens er backup.")
    [outgoing] = await rota_cards(client, "vagt")
    assert outgoing["title"] == "Din vagt er slut"


@pytest.mark.parametrize(
    ("said", "answer"),
    [
        ("kan nogen tage min vagt i weekenden?", 'Jeg kan ikke læse perioden. Skriv fx "Kan nogen tage min vagt'),
        ("jeg tager vagten i dag kl. 8.00 til kl. 9.00", "Perioden er allerede slut."),
    ],
)
async def test_a_request_the_bot_cannot_use_gets_a_clear_answer_and_changes_nothing(
    client: TestClient, said: str, answer: str
) -> None:
    [reply] = await ask(client, "vagt", text=said)
    assert reply["text"].startswith(answer)
    assert await client.app[SERVICES].oncall.overrides.all(ending_after=WEDNESDAY) == []
    assert await rota_cards(client, "vagt2") == []


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"text": "   "}, 400, "send either a choice or a non-empty text"),
        ({"text": "x" * 201}, 400, "text is longer than 200 characters"),
        ({"text": "hvem har vagten?", "choice": "rota:who"}, 400, "send either a choice or a non-empty text"),
    ],
)
async def test_bad_requests_from_the_box_get_a_clear_400(
    client: TestClient, body: dict[str, str], status: int, error: str
) -> None:
    headers = local_cookies(client.app[SIGNED_LINKS], tech="vagt")
    response = await client.post("/local/api/press", json=body, headers=headers)
    assert response.status == status
    assert error in (await response.json())["error"]


async def test_without_the_inbox_link_nobody_asks_as_a_technician(client: TestClient) -> None:
    response = await client.post("/local/api/press", json={"choice": "rota:test", "delivery_id": "x"})
    assert response.status == 403
    assert (await response.json())["key"] == "need_link"
    assert await rota_cards(client, "vagt") == []
