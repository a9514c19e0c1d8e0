"""On-call life in Slack, end to end: `/support vagt`, test pages, a swap offered and taken by the first of
two pressing at once (and then in the calendar feed), the handover DMs and team-channel line, and a page
that goes by SMS through the fake Twilio when the Slack DM is not answered.

Signed Slack requests to the real server on 127.0.0.1; the bot's calls go to the fake Slack Web API and
the fake Twilio; the clock is a manual one, moved and ticked as the server's loop would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
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
from tests.slack.conftest import REPORTER, SATURDAY_NIGHT, SlackUser, buttons, slack_env, visible_text
from tests.slack.fake_slack import TEAM, FakeSlack
from tests.slack.test_flow import report_critical
from tests.twilio.fake_twilio import ACCOUNT_SID, FROM, PUBLIC_URL, FakeTwilio, callback

MORTEN, SARA, JENS = "UTECH1", "UTECH2", "UTECH3"
MORTEN_PHONE = "+4520304050"
TEAM_CHANNEL = "C0TEAM"
# Saturday 28 November 2026 is in Morten's week (primary, Sara backup); Sara takes over on Monday at 8.00.
CONFIG = f"""
[oncall]
ack_timeout_minutes = 10
sms_after_minutes = 5
call_after_minutes = 8
rotation_start = "2026-11-23"
rotation = [{{ primary = "morten", backup = "sara" }}, {{ primary = "sara", backup = "jens" }}]

{technician("morten", "Morten", phone=MORTEN_PHONE, slack=(TEAM, MORTEN))}
{technician("sara", "Sara", language="en", slack=(TEAM, SARA))}
{technician("jens", "Jens", slack=(TEAM, JENS))}

[[customers]]
name = "Kunde A/S"
agreement = true
slack_teams = ["{TEAM}"]

[team_channel]
slack_channel = "{TEAM_CHANNEL}"
"""


@dataclass
class Rig:
    slack: SlackUser
    twilio: FakeTwilio
    clock: ManualClock
    env: dict[str, str]

    def dm(self, user: str) -> list[dict[str, Any]]:
        return self.slack.dm_messages(user)

    def said(self, user: str) -> str:
        """Everything in the DM of `user`, as shown."""
        return "\n".join(visible_text(m) for m in self.dm(user))

    async def later(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))
        await self.slack.app_services().oncall.tick()
        await self.slack.settle()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    fake, twilio = FakeSlack(), FakeTwilio()
    await fake.start()
    await twilio.start()
    env = slack_env(fake, tmp_path, config_text=CONFIG, **twilio.env())
    clock = ManualClock(SATURDAY_NIGHT)
    runner, url = await start_server(env, clock)
    async with aiohttp.ClientSession() as session:
        slack = SlackUser(url=url, fake=fake, session=session, app=runner.app)
        yield Rig(slack, twilio, clock, env)
        await slack.settle()
    await runner.cleanup()
    await twilio.stop()
    await fake.stop()
    assert fake.invalid == [], "the bot sent blocks Slack would reject"


async def test_support_vagt_tells_a_technician_who_and_an_employee_only_that_someone_is(rig: Rig) -> None:
    assert (await rig.slack.command("vagt", user=MORTEN)).status == 200
    await rig.slack.settle()
    [answer] = rig.dm(MORTEN)
    shown = visible_text(answer)
    assert "Hvem har vagten?" in shown and "Morten" in shown and "Sara" in shown
    assert "mandag den 30. november kl. 8.00" in shown
    assert buttons(answer) == ["rota:who", "rota:test"]

    assert (await rig.slack.command("vagt", user=REPORTER)).status == 200
    await rig.slack.settle()
    employee = rig.said(REPORTER)
    assert "Der er en tekniker på vagt nu og frem til mandag den 30. november kl. 8.00." in employee
    assert "Morten" not in employee and "Sara" not in employee


async def test_a_test_page_comes_as_a_slack_dm_and_its_button_answers(rig: Rig) -> None:
    assert (await rig.slack.say("send en testside", user=MORTEN)).status == 200
    await rig.slack.settle()
    [test_page] = [m for m in rig.dm(MORTEN) if "TESTSIDE" in visible_text(m)]
    assert buttons(test_page) == ["rota:testack"]
    assert "Testsiden er sendt via Slack" in rig.said(MORTEN)
    assert (await rig.slack.press(test_page, "rota:testack", user=MORTEN)).status == 200
    await rig.slack.settle()
    assert "Testen virker" in rig.said(MORTEN)
    assert await rig.slack.app_services().store.find(open_only=True) == []


async def test_a_swap_asked_in_a_dm_goes_to_the_first_of_two_pressing_at_once_and_into_the_calendar(rig: Rig) -> None:
    said = "Kan nogen tage min vagt søndag kl. 8.00 til mandag kl. 8.00?"
    assert (await rig.slack.say(said, user=MORTEN)).status == 200
    await rig.slack.settle()
    assert "Jeg har spurgt Sara og Jens" in rig.said(MORTEN)
    [offer_sara] = [m for m in rig.dm(SARA) if buttons(m)]
    [offer_jens] = [m for m in rig.dm(JENS) if buttons(m)]
    assert "Can you take a shift?" in visible_text(offer_sara)  # Sara reads English
    [take] = buttons(offer_jens)
    assert buttons(offer_sara) == [take] and take.startswith("rota:take:")

    pressed = await asyncio.gather(
        rig.slack.press(offer_sara, take, user=SARA), rig.slack.press(offer_jens, take, user=JENS)
    )
    assert [r.status for r in pressed] == [200, 200]
    await rig.slack.settle()
    told = rig.said(MORTEN)
    winner = "Sara" if "Sara har taget din vagt" in told else "Jens"
    assert f"{winner} har taget din vagt fra søndag den 29. november kl. 8.00" in told
    loser = SARA if winner == "Jens" else JENS
    already = f"{winner} has already taken the shift" if loser == SARA else f"{winner} har allerede taget vagten"
    assert already in rig.said(loser)
    assert [m for m in rig.dm(loser) if buttons(m)] == []  # the loser's offer lost its button

    # The feed of the winner has the Sunday; the whole rota's says the winner is primary then.
    settings = load_settings(rig.env)
    async with aiohttp.ClientSession() as session:
        link = calendar_link(settings, rig.env, winner.lower())
        async with session.get(rig.slack.url + link[link.index(PATH_PREFIX) :]) as response:
            assert response.status == 200
            calendar = Calendar.from_ical(await response.read())
    sunday = datetime(2026, 11, 29, 12, 0, tzinfo=SATURDAY_NIGHT.tzinfo)
    covering = [e for e in calendar.walk("VEVENT") if e.start <= sunday < e.end]
    assert len(covering) == 1, [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")]

    rig.clock.set(sunday)
    assert (await rig.slack.command("vagt", user=MORTEN)).status == 200
    await rig.slack.settle()
    assert f"{winner} dækker fra søndag den 29. november kl. 8.00" in visible_text(rig.dm(MORTEN)[-1])


async def test_the_handover_is_announced_in_slack_dms_and_the_team_channel_once(rig: Rig) -> None:
    rig.clock.set(datetime(2026, 11, 30, 7, 59, tzinfo=SATURDAY_NIGHT.tzinfo))
    await rig.later(minutes=1, seconds=5)  # Monday 8.00: Sara takes over with Jens as backup
    await rig.later(minutes=1)
    [incoming] = rig.dm(SARA)
    assert "You are on call" in visible_text(incoming)
    assert "Monday 7 December at 8:00" in visible_text(incoming) and "Jens" in visible_text(incoming)
    assert "Din vagt er slut" in rig.said(MORTEN)
    [line] = rig.slack.fake.in_channel(TEAM_CHANNEL)
    assert "Vagtskifte: Sara har vagten nu til mandag den 7. december kl. 8.00, med Jens som backup." in (
        line.get("text", "") + visible_text(line)
    )


async def test_an_unanswered_slack_page_goes_by_sms_and_the_sms_reply_acknowledges_it_in_slack(rig: Rig) -> None:
    await report_critical(rig.slack)
    await rig.slack.settle()
    [page] = [m for m in rig.dm(MORTEN) if buttons(m)]
    number = next(v for v in buttons(page) if ":ack:" in v).rsplit(":", 1)[1]
    assert rig.twilio.sms == []

    await rig.later(minutes=5)
    [sms] = rig.twilio.sms
    assert sms.to == MORTEN_PHONE and number in sms.body and "Svar 1" in sms.body

    params = {"From": MORTEN_PHONE, "To": FROM, "Body": "1", "AccountSid": ACCOUNT_SID, "MessageSid": "SM" + "2" * 32}
    status, body = await callback(rig.slack.url, PUBLIC_URL, "/twilio/sms", params)
    assert status == 200
    assert ET.fromstring(body).findtext("Message", "").startswith(f"Du har kvitteret for sag {number}.")
    await rig.slack.settle()
    case = await rig.slack.app_services().store.get(int(number))
    assert case.status is CaseStatus.ACKNOWLEDGED
    updated = rig.slack.fake.messages[(page["channel"], page["ts"])]  # the Slack page, updated in place
    assert not any(v.endswith(f":ack:{number}") for v in buttons(updated))
    assert "Kvitteret af Morten kl. 22.05" in visible_text(updated)
    assert "Morten" in rig.said(REPORTER)  # and the reporter hears who has it
