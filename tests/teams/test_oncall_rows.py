"""On-call life in Teams, end to end: "hvem har vagten?", test pages, a swap offered and taken by the first
of two pressing at once (and then in the calendar feed), the handover messages and team-channel line, and
a page that goes by SMS through the fake Twilio when the Teams message is not answered.

Real botbuilder code behind the real server on 127.0.0.1, the fake Bot Connector and the fake Twilio;
the clock is a manual one, moved and ticked as the server's loop would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import aiohttp
import pytest
from icalendar import Calendar

from adapters.calendar_feed import PATH_PREFIX, calendar_link
from bot.cases import CaseStatus
from bot.clock import ManualClock
from bot.config import load_settings
from tests.rota_config import technician
from tests.servers import start_server
from tests.teams.conftest import CUSTOMER_TENANT, PROVIDER_TENANT, REPORTER, SATURDAY_NIGHT, TeamsClient, personal_chat
from tests.teams.fake_connector import Call, FakeConnector, choices_of, shown_text
from tests.teams.test_flow import page_for, report_outage
from tests.twilio.fake_twilio import ACCOUNT_SID, FROM, PUBLIC_URL, FakeTwilio, callback

MORTEN, SARA, JENS = "aad-morten", "aad-sara", "aad-jens"
MORTEN_PHONE = "+4520304050"
TEAM_CHANNEL = "19:oncall-team@thread.tacv2"
# Saturday 28 November 2026 is in Morten's week (primary, Sara backup); Sara takes over on Monday at 8.00.
CONFIG = f"""
[oncall]
ack_timeout_minutes = 10
sms_after_minutes = 5
call_after_minutes = 8
rotation_start = "2026-11-23"
rotation = [{{ primary = "morten", backup = "sara" }}, {{ primary = "sara", backup = "jens" }}]

{technician("morten", "Morten", phone=MORTEN_PHONE, teams=(PROVIDER_TENANT, MORTEN))}
{technician("sara", "Sara", language="en", teams=(PROVIDER_TENANT, SARA))}
{technician("jens", "Jens", teams=(PROVIDER_TENANT, JENS))}

[[customers]]
name = "Bageriet ApS"
agreement = true
teams_tenants = ["{CUSTOMER_TENANT}"]

[team_channel]
teams_conversation = "{TEAM_CHANNEL}"
teams_service_url = "{{service_url}}"
"""


@dataclass
class Rig:
    teams: TeamsClient
    twilio: FakeTwilio
    clock: ManualClock
    env: dict[str, str]

    def posted(self, user: str) -> list[Call]:
        return self.teams.connector.posted(personal_chat(user))

    def said(self, user: str) -> str:
        """Everything in the technician's 1:1 chat with the bot, as now shown."""
        chat = personal_chat(user)
        return "\n".join(shown_text(self.teams.connector.current(chat, c.activity_id)) for c in self.posted(user))

    def with_buttons(self, user: str) -> list[Call]:
        chat = personal_chat(user)
        return [c for c in self.posted(user) if choices_of(self.teams.connector.current(chat, c.activity_id))]

    async def tech_says(self, user: str, text: str) -> None:
        response = await self.teams.say(text, user=user, tenant=PROVIDER_TENANT)
        assert response.status == 200
        await self.teams.settle()

    async def press(self, user: str, card: Call, label: str) -> int:
        return (await self.teams.press(card, label, user=user, tenant=PROVIDER_TENANT)).status

    async def later(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))
        await self.teams.services().oncall.tick()
        await self.teams.settle()


@pytest.fixture
async def rig(connector: FakeConnector, tmp_path: Path) -> AsyncIterator[Rig]:
    twilio = FakeTwilio()
    await twilio.start()
    config = tmp_path / "supportbot.toml"
    config.write_text(CONFIG.replace("{service_url}", connector.url), encoding="utf-8")
    env = {"SUPPORTBOT_CONFIG": str(config), "SUPPORTBOT_DATA": str(tmp_path / "data"), **twilio.env()}
    clock = ManualClock(SATURDAY_NIGHT)
    runner, url = await start_server(env, clock)
    async with aiohttp.ClientSession() as session:
        teams = TeamsClient(url=url, connector=connector, session=session, app=runner.app)
        for technician in (MORTEN, SARA, JENS):  # each has the bot in a 1:1 chat in the provider's tenant
            assert (await teams.install(user=technician, tenant=PROVIDER_TENANT)).status == 200
        await teams.settle()
        yield Rig(teams, twilio, clock, env)
        await teams.settle()
    await runner.cleanup()
    await twilio.stop()


async def test_who_is_on_call_for_a_technician_and_for_an_employee_in_teams(rig: Rig) -> None:
    await rig.tech_says(MORTEN, "hvem har vagten?")
    answer = rig.posted(MORTEN)[-1]
    shown = shown_text(answer.body)
    assert "Hvem har vagten?" in shown and "Morten" in shown and "Sara" in shown
    assert "mandag den 30. november kl. 8.00" in shown
    assert list(choices_of(answer.body).values()) == ["rota:who", "rota:test"]

    assert (await rig.teams.say("hvem har vagten?")).status == 200  # an employee at a customer
    await rig.teams.settle()
    employee = shown_text(rig.teams.last(personal_chat(REPORTER)).body)
    assert "Der er en tekniker på vagt nu og frem til mandag den 30. november kl. 8.00." in employee
    assert "Morten" not in employee and "Sara" not in employee


async def test_a_test_page_comes_as_a_teams_message_and_its_button_answers(rig: Rig) -> None:
    await rig.tech_says(MORTEN, "send en testside")
    [test_page] = [c for c in rig.posted(MORTEN) if "TESTSIDE" in shown_text(c.body)]
    assert list(choices_of(test_page.body).values()) == ["rota:testack"]
    assert "Testsiden er sendt via Teams" in rig.said(MORTEN)
    assert await rig.press(MORTEN, test_page, "Kvittér for testen") == 200
    await rig.teams.settle()
    assert "Testen virker" in rig.said(MORTEN)
    assert await rig.teams.services().store.find(open_only=True) == []


async def test_a_swap_asked_in_teams_goes_to_the_first_of_two_pressing_at_once_and_into_the_calendar(
    rig: Rig,
) -> None:
    await rig.tech_says(MORTEN, "Kan nogen tage min vagt søndag kl. 8.00 til mandag kl. 8.00?")
    assert "Jeg har spurgt Sara og Jens" in rig.said(MORTEN)
    [offer_sara] = rig.with_buttons(SARA)
    [offer_jens] = rig.with_buttons(JENS)
    assert "Can you take a shift?" in shown_text(offer_sara.body)  # Sara reads English
    assert choices_of(offer_sara.body)["I'll take it"] == choices_of(offer_jens.body)["Jeg tager den"]

    pressed = await asyncio.gather(
        rig.press(SARA, offer_sara, "I'll take it"), rig.press(JENS, offer_jens, "Jeg tager den")
    )
    assert pressed == [200, 200]
    await rig.teams.settle()
    told = rig.said(MORTEN)
    winner = "Sara" if "Sara har taget din vagt" in told else "Jens"
    assert f"{winner} har taget din vagt fra søndag den 29. november kl. 8.00" in told
    loser = SARA if winner == "Jens" else JENS
    already = f"{winner} has already taken the shift" if loser == SARA else f"{winner} har allerede taget vagten"
    assert already in rig.said(loser)
    assert rig.with_buttons(loser) == []  # the loser's offer lost its button

    settings = load_settings(rig.env)
    link = calendar_link(settings, rig.env, winner.lower())
    async with rig.teams.session.get(rig.teams.url + link[link.index(PATH_PREFIX) :]) as response:
        assert response.status == 200
        calendar = Calendar.from_ical(await response.read())
    sunday = datetime(2026, 11, 29, 12, 0, tzinfo=SATURDAY_NIGHT.tzinfo)
    covering = [e for e in calendar.walk("VEVENT") if e.start <= sunday < e.end]
    assert len(covering) == 1, [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")]

    rig.clock.set(sunday)
    await rig.tech_says(MORTEN, "vagt")
    assert f"{winner} dækker fra søndag den 29. november kl. 8.00" in shown_text(rig.posted(MORTEN)[-1].body)


async def test_the_handover_is_announced_in_teams_and_the_team_channel_once(rig: Rig) -> None:
    rig.clock.set(datetime(2026, 11, 30, 7, 59, tzinfo=SATURDAY_NIGHT.tzinfo))
    await rig.later(minutes=1, seconds=5)  # Monday 8.00: Sara takes over with Jens as backup
    await rig.later(minutes=1)
    [incoming] = [shown_text(c.body) for c in rig.posted(SARA) if "You are on call" in shown_text(c.body)]
    assert "Monday 7 December at 8:00" in incoming and "Jens" in incoming
    assert "Din vagt er slut" in rig.said(MORTEN)
    [line] = rig.teams.connector.posted(TEAM_CHANNEL)
    assert "Vagtskifte: Sara har vagten nu til mandag den 7. december kl. 8.00, med Jens som backup." in shown_text(
        line.body
    )


async def test_an_unanswered_teams_page_goes_by_sms_and_the_sms_reply_acknowledges_it_in_teams(rig: Rig) -> None:
    await report_outage(rig.teams)
    page = page_for(rig.teams, personal_chat(MORTEN))
    number = choices_of(page.body)["Kvittér"].rsplit(":", 1)[1]
    assert rig.twilio.sms == []

    await rig.later(minutes=5)
    [sms] = rig.twilio.sms
    assert sms.to == MORTEN_PHONE and number in sms.body and "Svar 1" in sms.body

    params = {"From": MORTEN_PHONE, "To": FROM, "Body": "1", "AccountSid": ACCOUNT_SID, "MessageSid": "SM" + "3" * 32}
    status, body = await callback(rig.teams.url, PUBLIC_URL, "/twilio/sms", params)
    assert status == 200
    assert ET.fromstring(body).findtext("Message", "").startswith(f"Du har kvitteret for sag {number}.")
    await rig.teams.settle()
    assert (await rig.teams.services().store.get(int(number))).status is CaseStatus.ACKNOWLEDGED
    updated = rig.teams.connector.current(personal_chat(MORTEN), page.activity_id)  # the page, updated in place
    assert "Kvittér" not in choices_of(updated)
    assert "Kvitteret af Morten kl. 22.05" in shown_text(updated)
    assert "Morten" in shown_text(rig.teams.last(personal_chat(REPORTER)).body)  # the reporter hears who has it
