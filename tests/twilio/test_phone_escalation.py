"""SMS and voice escalation end to end: the real server on 127.0.0.1 with a manual clock, the fake
Twilio (tests/twilio/fake_twilio.py) for the texts, calls and signed callbacks, real files on disk.

Morten is primary and Sara backup on Saturday night; both have a phone. Unanswered, the page goes by
SMS after 5 minutes and by a call after 8 (the next step would come at 10).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import aiohttp
import pytest
from aiohttp import web

from adapters.server import SERVICES
from adapters.twilio.signature import is_valid
from adapters.wiring import Services
from bot.cases import Case, CaseStatus, CostAnswer, CustomerRef, EventKind, NewCase, Reporter
from bot.categories import Category, Scope
from bot.clock import ManualClock
from bot.config import load_settings
from bot.delivery import Address
from bot.errors import ConfigError
from bot.oncall.pages import ACK, choice_id
from tests.servers import start_server
from tests.test_oncall_service import SATURDAY_NIGHT
from tests.twilio.fake_twilio import ACCOUNT_SID, FROM, PUBLIC_URL, FakeTwilio, callback, sign

MORTEN_PHONE = "+4520304050"
SARA_PHONE = "+4560708090"

CONFIG = f"""
[oncall]
ack_timeout_minutes = 10
escalate_all_minutes = 10
sms_after_minutes = 5
call_after_minutes = 8
rotation_start = "2026-01-05"
rotation = [{{ primary = "morten", backup = "sara" }}]

[[oncall.technicians]]
id = "morten"
name = "Morten"
local = true
phone = "+45 20 30 40 50"

[[oncall.technicians]]
id = "sara"
name = "Sara"
language = "en"
local = true
phone = "{SARA_PHONE}"
"""


@dataclass
class Bot:
    url: str
    services: Services
    clock: ManualClock
    twilio: FakeTwilio

    async def report(self) -> Case:
        """A critical case accepted for on-call, paged as the reporter's turn does."""
        now = self.clock.now()
        new = NewCase(
            reporter=Reporter("local", "local", "anna", "Anna Jensen", "da"),
            customer=CustomerRef("Demo A/S", known=True, agreement=True),
            description="Internettet er helt væk på kontoret",
            category=Category.INTERNET_DOWN,
            confidence=95,
            scope=Scope.ALL,
            critical=True,
            after_hours=True,
            cost=CostAnswer(("surcharge",), "tillæg 100 %", "page", True, now, now),
            page_requested=True,
        )
        case = await self.services.store.create(new, now=now)
        await self.services.oncall.page(case)
        await self.services.oncall.settled()
        return case

    async def later(self, minutes: float) -> None:
        self.clock.advance(timedelta(minutes=minutes))
        await self.services.oncall.tick()
        await self.services.oncall.settled()

    async def case(self, number: int) -> Case:
        case = await self.services.store.get(number)
        assert case is not None
        return case

    async def sms_reply(self, sender: str, body: str) -> tuple[int, str]:
        params = {"From": sender, "To": FROM, "Body": body, "AccountSid": ACCOUNT_SID, "MessageSid": "SM" + "1" * 32}
        return await callback(self.url, PUBLIC_URL, "/twilio/sms", params)


def env_for(tmp_path: Path, twilio: FakeTwilio, **extra: str) -> dict[str, str]:
    config = tmp_path / "supportbot.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return {
        "SUPPORTBOT_CONFIG": str(config),
        "SUPPORTBOT_DATA": str(tmp_path / "data"),
        **twilio.env(),
        **extra,
    }


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio()
    await fake.start()
    yield fake
    await fake.stop()


async def running(env: dict[str, str], twilio: FakeTwilio) -> tuple[web.AppRunner, Bot]:
    clock = ManualClock(SATURDAY_NIGHT)
    runner, url = await start_server(env, clock)
    return runner, Bot(url, runner.app[SERVICES], clock, twilio)


@pytest.fixture
async def bot(tmp_path: Path, twilio: FakeTwilio) -> AsyncIterator[Bot]:
    runner, found = await running(env_for(tmp_path, twilio), twilio)
    yield found
    await runner.cleanup()


def kinds(case: Case, kind: EventKind) -> list[dict[str, object]]:
    return [e.data for e in case.history if e.kind is kind]


async def test_an_unanswered_page_is_texted_after_five_minutes_and_called_after_eight_once(bot: Bot) -> None:
    case = await bot.report()
    await bot.later(4.9)
    assert bot.twilio.sent == []
    await bot.later(0.1)
    [sms] = bot.twilio.sms
    assert (sms.to, sms.from_) == (MORTEN_PHONE, FROM)
    assert str(case.number) in sms.body and "Intet internet på kontoret" in sms.body and "Demo A/S" in sms.body
    assert "Svar 1 for at tage sagen" in sms.body
    await bot.later(3)
    [call] = bot.twilio.calls
    action, spoken = call.gather()
    assert call.to == MORTEN_PHONE and action == f"{PUBLIC_URL}/twilio/voice/gather?case={case.number}"
    assert "Tast 1 for at tage sagen" in spoken and "Demo A/S" in spoken
    assert ET.fromstring(call.twiml).find("Gather/Say").attrib["language"] == "da-DK"  # type: ignore[union-attr]
    await bot.later(1.9)
    assert len(bot.twilio.sent) == 2  # once per step, however often the timers look
    phoned = [(d["technician"], d["platform"]) for d in kinds(await bot.case(case.number), EventKind.PAGED)]
    assert phoned == [("morten", "local"), ("morten", "sms"), ("morten", "voice")]


async def test_the_next_step_texts_primary_and_backup_each_in_their_language(bot: Bot) -> None:
    case = await bot.report()
    await bot.later(10)  # the backup step; Morten's SMS and call were due before it
    bot.twilio.sent.clear()
    await bot.later(5)
    texts = {s.to: s.body for s in bot.twilio.sms}
    assert set(texts) == {MORTEN_PHONE, SARA_PHONE}
    assert "Svar 1" in texts[MORTEN_PHONE]
    assert f"case {case.number}" in texts[SARA_PHONE] and "Reply 1 to take the case" in texts[SARA_PHONE]


async def test_acknowledged_in_time_nothing_goes_by_phone(bot: Bot) -> None:
    case = await bot.report()
    await bot.later(4)
    answer = await bot.services.oncall.press(choice_id(ACK, case.number), Address("local", "local", "morten"))
    assert "Du har kvitteret" in answer.text
    for _ in range(6):
        await bot.later(5)
    assert bot.twilio.sent == []


async def test_an_sms_reply_of_1_acknowledges_like_the_button_and_stops_the_call(bot: Bot) -> None:
    case = await bot.report()
    await bot.later(5)
    status, body = await bot.sms_reply(MORTEN_PHONE, " 1 ")
    assert status == 200
    assert ET.fromstring(body).findtext("Message", "").startswith(f"Du har kvitteret for sag {case.number}.")
    acknowledged = await bot.case(case.number)
    assert acknowledged.status is CaseStatus.ACKNOWLEDGED
    [ack] = kinds(acknowledged, EventKind.ACKNOWLEDGED)
    assert ack["platform"] == "sms" and ack["name"] == "Morten"
    await bot.later(10)
    assert bot.twilio.calls == []  # the call of this step, and the next step, are off


async def test_a_key_press_in_the_call_acknowledges(bot: Bot) -> None:
    case = await bot.report()
    await bot.later(8)
    [call] = bot.twilio.calls
    action, _ = call.gather()
    path = action.removeprefix(PUBLIC_URL)
    params = {"To": MORTEN_PHONE, "From": FROM, "Digits": "1", "CallSid": call.sid, "AccountSid": ACCOUNT_SID}
    status, body = await callback(bot.url, PUBLIC_URL, path, params)
    assert status == 200
    said = ET.fromstring(body).find("Say")
    assert said is not None and said.attrib["language"] == "da-DK"
    assert (said.text or "").startswith(f"Du har kvitteret for sag {case.number}.")
    assert (await bot.case(case.number)).status is CaseStatus.ACKNOWLEDGED


async def test_another_key_in_the_call_changes_nothing(bot: Bot) -> None:
    case = await bot.report()
    await bot.later(8)
    params = {"To": MORTEN_PHONE, "From": FROM, "Digits": "7"}
    status, body = await callback(bot.url, PUBLIC_URL, f"/twilio/voice/gather?case={case.number}", params)
    assert status == 200 and "Du tastede ikke 1" in body
    assert (await bot.case(case.number)).status is CaseStatus.OPEN


async def test_an_sms_acknowledgement_racing_a_button_has_one_outcome(bot: Bot) -> None:
    case = await bot.report()
    await bot.later(5)
    press = bot.services.oncall.press(choice_id(ACK, case.number), Address("local", "local", "sara"))
    (status, body), answer = await asyncio.gather(bot.sms_reply(MORTEN_PHONE, "1"), press)
    assert status == 200
    acknowledged = await bot.case(case.number)
    [ack] = kinds(acknowledged, EventKind.ACKNOWLEDGED)
    texted = ET.fromstring(body).findtext("Message", "")
    if ack["name"] == "Morten":
        assert texted.startswith("Du har kvitteret") and "already acknowledged by Morten" in answer.text
    else:
        assert "allerede kvitteret af Sara" in texted and answer.text.startswith("You have acknowledged")
    told = [d for d in kinds(acknowledged, EventKind.REPORTER_NOTIFIED) if "acknowledged" in str(d)]
    assert len(told) <= 1


async def test_a_forged_or_altered_callback_is_refused_with_403(bot: Bot) -> None:
    case = await bot.report()
    await bot.later(8)
    params = {"From": MORTEN_PHONE, "To": FROM, "Body": "1"}
    forged = sign(PUBLIC_URL + "/twilio/sms", params, token="not-the-token")
    assert (await callback(bot.url, PUBLIC_URL, "/twilio/sms", params, signature=forged))[0] == 403
    assert (await callback(bot.url, PUBLIC_URL, "/twilio/sms", params, signature=""))[0] == 403
    # Signed for another case: changing the URL breaks the signature.
    keys = {"To": MORTEN_PHONE, "From": FROM, "Digits": "1"}
    signed_other = sign(f"{PUBLIC_URL}/twilio/voice/gather?case={case.number + 1}", keys)
    path = f"/twilio/voice/gather?case={case.number}"
    assert (await callback(bot.url, PUBLIC_URL, path, keys, signature=signed_other))[0] == 403
    # Signed over the bot's private address instead of the public one Twilio calls.
    assert (await callback(bot.url, bot.url, "/twilio/sms", params))[0] == 403
    assert (await bot.case(case.number)).status is CaseStatus.OPEN


async def test_an_sms_from_a_number_not_on_the_rota_is_ignored_politely(bot: Bot) -> None:
    case = await bot.report()
    await bot.later(5)
    status, body = await bot.sms_reply("+4599887766", "1")
    assert status == 200 and list(ET.fromstring(body)) == []  # nothing is texted back to strangers
    assert (await bot.case(case.number)).status is CaseStatus.OPEN


async def test_other_sms_text_gets_the_help_and_a_case_can_be_named(bot: Bot) -> None:
    first = await bot.report()
    await bot.later(5)
    status, body = await bot.sms_reply(MORTEN_PHONE, "hvad?")
    assert status == 200 and "Svar 1" in ET.fromstring(body).findtext("Message", "")
    status, body = await bot.sms_reply(MORTEN_PHONE, f"1 {first.number}")
    assert f"Du har kvitteret for sag {first.number}" in ET.fromstring(body).findtext("Message", "")


async def test_a_reply_with_nothing_texted_says_so(bot: Bot) -> None:
    await bot.report()
    status, body = await bot.sms_reply(SARA_PHONE, "1")
    assert status == 200 and "No open on-call case" in ET.fromstring(body).findtext("Message", "")


async def test_twilio_refusing_is_recorded_and_the_ladder_goes_on(tmp_path: Path, twilio: FakeTwilio) -> None:
    runner, bot = await running(env_for(tmp_path, twilio, TWILIO_AUTH_TOKEN="wrong" * 4), twilio)
    try:
        case = await bot.report()
        await bot.later(5)
        assert bot.twilio.sent == [] and bot.twilio.refused[0][1]["code"] == 20003
        failed = kinds(await bot.case(case.number), EventKind.PAGE_FAILED)
        assert failed == [{"technician": "morten", "platform": "sms", "step": "primary"}]
        await bot.later(5)
        assert [d["step"] for d in kinds(await bot.case(case.number), EventKind.ESCALATED)] == ["backup"]
    finally:
        await runner.cleanup()


async def test_without_the_twilio_variables_it_stays_off_and_says_why(tmp_path: Path, twilio: FakeTwilio) -> None:
    env = env_for(tmp_path, twilio)
    del env["TWILIO_AUTH_TOKEN"], env["SUPPORTBOT_PUBLIC_URL"]
    runner, bot = await running(env, twilio)
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{bot.url}/healthz") as response:
            health = await response.json()
        assert health["front_ends"]["twilio"] == "disabled: TWILIO_AUTH_TOKEN, SUPPORTBOT_PUBLIC_URL not set"
        assert any("no phone gateway" in p for p in bot.services.oncall.report_problems())
        await bot.report()
        await bot.later(8)
        assert bot.twilio.sent == []
        async with aiohttp.ClientSession() as session, session.post(f"{bot.url}/twilio/sms", data={}) as response:
            assert response.status in (404, 405)
    finally:
        await runner.cleanup()


# Twilio's published example of a signed callback (its SDKs' tests use it): token, URL, form, header.
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_FORM = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_signatures_match_twilios_published_example() -> None:
    assert sign(VECTOR_URL, VECTOR_FORM, token="12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="  # the fake signs as Twilio
    assert is_valid(VECTOR_URL, list(VECTOR_FORM.items()), "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]
    assert is_valid(VECTOR_URL, repeated, "12345", "IK+Dwps556ElfBT0I3Rgjkr1wJU=")
    assert not is_valid(VECTOR_URL + "&x=1", list(VECTOR_FORM.items()), "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_a_phone_number_that_is_not_international_is_named_in_the_config_error(tmp_path: Path) -> None:
    path = tmp_path / "supportbot.toml"
    path.write_text(CONFIG.replace("+45 20 30 40 50", "20 30 40 50"), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings({"SUPPORTBOT_CONFIG": str(path)})
    assert "[oncall.technicians[0].phone]" in str(raised.value) and "+45 12 34 56 78" in str(raised.value)
