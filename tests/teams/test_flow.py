"""End to end over HTTP: Teams-shaped activities into the real server, replies out to the fake Bot Connector."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bot.cases import CaseStatus
from bot.clock import ManualClock
from tests.teams.conftest import (
    BOT,
    CUSTOMER_TENANT,
    PRIMARY,
    PROVIDER_TENANT,
    REPORTER,
    TeamsClient,
    personal_chat,
    start_server,
    teams_env,
)
from tests.teams.fake_connector import Call, FakeConnector, card_of, choices_of, shown_text

REPORTER_CHAT = personal_chat(REPORTER)


async def report_outage(teams: TeamsClient, **who: str) -> Call:
    """Employee: internet down for everyone, confirm, accept the on-call cost; returns the outcome message
    (the answer to the last press; the update that on-call has been paged comes after it)."""
    chat = who.get("conversation") or personal_chat(who.get("user", REPORTER))
    await teams.say("internettet er nede for alle på kontoret", **who)
    offer = teams.last(chat)
    assert "Vi har lukket" in shown_text(offer.body)
    await teams.press(offer, "Ja, tilkald vagten", **who)
    await teams.press(teams.last(chat), "Spring over", **who)  # the callback number is optional
    await teams.settle()
    return [c for c in teams.connector.posted(chat) if c.method != "send"][-1]


def page_for(teams: TeamsClient, conversation: str) -> Call:
    return next(c for c in teams.connector.posted(conversation) if "oncall:ack" in str(choices_of(c.body)))


async def test_install_welcomes_once_and_again_after_a_reinstall(teams: TeamsClient) -> None:
    assert (await teams.install()).status == 200
    await teams.post(teams.activity("installationUpdate", action="add"))
    welcomes = teams.connector.posted(REPORTER_CHAT)
    assert len(welcomes) == 1
    assert "supportbot" in shown_text(welcomes[0].body) and "status" in shown_text(welcomes[0].body)

    await teams.post(teams.activity("installationUpdate", action="remove"))
    await teams.post(teams.activity("installationUpdate", action="add", locale="en-US"))
    assert len(teams.connector.posted(REPORTER_CHAT)) == 2
    assert "support bot" in shown_text(teams.last().body)


async def test_after_hours_report_pages_a_technician_in_teams_and_the_answers_come_back(teams: TeamsClient) -> None:
    outcome = await report_outage(teams)
    assert "Jeg tilkalder vagten nu" in shown_text(outcome.body) and "10001" in shown_text(outcome.body)
    paged = teams.last()  # after the answer, the employee hears that the page went out
    assert paged.method == "send" and "Vagten er nu tilkaldt om din sag 10001" in shown_text(paged.body)

    # The technician never wrote to the bot: a 1:1 chat is created in the provider's tenant.
    (created,) = teams.connector.created()
    assert created.body["members"] == [{"id": PRIMARY}]
    assert created.body["channelData"] == {"tenant": {"id": PROVIDER_TENANT}}
    assert created.body["bot"] == {"id": BOT}
    page = page_for(teams, created.conversation)
    assert list(choices_of(page.body)) == ["Kvittér"]  # "Løst" once someone has acknowledged
    assert "Bageriet ApS" in shown_text(page.body)
    # The reporter is in the customer's tenant: named as text, since a mention there would reach nobody.
    assert "msteams" not in card_of(page.body) and "<at>" not in shown_text(page.body)

    # No stale buttons left for the employee: every card they got is answered or has none.
    for call in teams.connector.posted(REPORTER_CHAT):
        assert choices_of(teams.connector.current(REPORTER_CHAT, call.activity_id)) == {}

    technician = {"user": PRIMARY, "tenant": PROVIDER_TENANT, "conversation": created.conversation}
    assert (await teams.press(page, "Kvittér", **technician)).status == 200
    await teams.settle()
    # The page is updated in place (same activity), now offering only "Løst".
    now_shown = teams.connector.current(created.conversation, page.activity_id)
    assert choices_of(now_shown) == {"Løst": "oncall:resolve:10001"}
    news = teams.last()
    assert news.method == "send", "a proactive update is a new message, not a reply to an old one"
    assert "Morten" in shown_text(news.body) and "10001" in shown_text(news.body)
    assert news.body["channelData"] == {"tenant": {"id": CUSTOMER_TENANT}}
    assert "kvitteret" in shown_text(teams.last(created.conversation).body)

    await teams.press(page, "Løst", **technician)
    await teams.settle()
    question = teams.last(created.conversation)  # asks once before it closes the case
    assert "Er sag 10001 løst?" in shown_text(question.body)
    assert (await teams.services().store.get(10001)).status is CaseStatus.ACKNOWLEDGED
    await teams.press(question, "Ja, sagen er løst", **technician)
    await teams.settle()
    assert choices_of(teams.connector.current(created.conversation, page.activity_id)) == {}
    case = await teams.services().store.get(10001)
    assert case.status is CaseStatus.RESOLVED
    assert case.reporter.platform == "teams" and case.reporter.workspace == CUSTOMER_TENANT
    assert len(teams.connector.created()) == 1, "the second message reuses the stored conversation"


async def test_a_reporter_in_the_technicians_tenant_is_mentioned_on_the_page(teams: TeamsClient) -> None:
    await teams.install(user=PRIMARY, tenant=PROVIDER_TENANT)
    colleague = {"user": "aad-kontor-1", "tenant": PROVIDER_TENANT}
    await report_outage(teams, **colleague)
    card = card_of(page_for(teams, personal_chat(PRIMARY)).body)
    assert card["msteams"]["entities"] == [
        {
            "type": "mention",
            "text": "<at>Aad-Kontor-1</at>",
            "mentioned": {"id": "aad-kontor-1", "name": "Aad-Kontor-1"},
        }
    ]
    assert {"type": "TextBlock", "text": "Meldt af: <at>Aad-Kontor-1</at> via Teams", "wrap": True} in card["body"]


async def test_a_technician_who_wrote_before_is_paged_in_the_existing_chat(teams: TeamsClient) -> None:
    await teams.install(user=PRIMARY, tenant=PROVIDER_TENANT)
    await report_outage(teams)
    assert teams.connector.created() == []
    page = page_for(teams, personal_chat(PRIMARY))
    assert page.body["channelData"] == {"tenant": {"id": PROVIDER_TENANT}}


async def test_a_retried_activity_does_not_run_twice(teams: TeamsClient) -> None:
    first = teams.activity("message", text="min konto er låst")
    assert (await teams.post(first)).status == 200
    assert (await teams.post(first)).status == 200
    assert len(teams.connector.posted(REPORTER_CHAT)) == 1

    # A retried button press creates one case, not two.
    await teams.press(teams.last(), "Ja, tilkald vagten")
    question = teams.last()  # the optional callback number; answering it creates the case
    choice = choices_of(question.body)["Spring over"]
    press = teams.activity("message", value={"choice": choice}, replyToId=question.activity_id)
    await teams.post(press)
    await teams.post(press)
    await teams.settle()
    cases = await teams.services().store.find()
    assert [c.number for c in cases] == [10001]


async def test_a_slow_turn_is_answered_at_once_and_finishes_in_the_background(teams: TeamsClient) -> None:
    from adapters.teams import TEAMS_ENDPOINT

    teams.app[TEAMS_ENDPOINT].budget = 0.05
    teams.connector.delay = 0.3
    message = teams.activity("message", text="printeren virker ikke")
    assert (await teams.post(message)).status == 202
    assert (await teams.post(message)).status == 202, "Teams' retry while it still runs"
    await teams.settle()
    assert len(teams.connector.posted(REPORTER_CHAT)) == 1


async def test_an_unknown_tenant_still_gets_a_case_marked_unknown_customer(teams: TeamsClient) -> None:
    stranger = {"tenant": "a-tenant-nobody-configured"}
    outcome = await report_outage(teams, **stranger)
    assert "10001" in shown_text(outcome.body)
    case = await teams.services().store.get(10001)
    assert case.customer.known is False
    assert case.reporter.workspace == "a-tenant-nobody-configured"


@pytest.mark.parametrize("entities", [[None], [{}], [{"type": None}], "mention"], ids=repr)
async def test_entities_botbuilder_cannot_read_are_dropped_and_the_message_is_answered(
    teams: TeamsClient, caplog: pytest.LogCaptureFixture, entities: object
) -> None:
    """Found by test_properties_http: botbuilder's mention removal crashed on an entity without a type."""
    response = await teams.post({**teams.activity("message", text="hej"), "entities": entities})
    assert response.status == 200
    assert "Hvad er der galt?" in shown_text(teams.last().body)
    assert "Traceback" not in caplog.text


async def test_a_malformed_body_gets_400_and_sends_nothing(teams: TeamsClient) -> None:
    good = teams.activity("message", text="hej")
    bodies = [
        b"{not json",
        b"[1, 2]",
        b'"a string"',
        b"",
        {**good, "type": None},
        {key: value for key, value in good.items() if key != "conversation"},
        {key: value for key, value in good.items() if key != "serviceUrl"},
        {**good, "serviceUrl": "file:///etc/passwd"},
        {key: value for key, value in good.items() if key != "from"},
        {**good, "conversation": "not an object"},
        {**good, "type": "conversationUpdate", "from": "message"},  # found by test_properties_http
    ]
    for body in bodies:
        response = await teams.post(body)
        assert response.status == 400, body
    assert teams.connector.calls == []


async def test_json_nested_too_deeply_gets_400_without_a_traceback(
    teams: TeamsClient, caplog: pytest.LogCaptureFixture
) -> None:
    for body in (b"[" * 100_000, b'{"type": "message", "value": ' + b"[" * 100_000):
        response = await teams.post(body)
        assert response.status == 400
        assert "nested too deeply" in await response.text()
    assert teams.connector.calls == []
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


async def test_card_submits_with_data_never_offered_are_answered_politely(teams: TeamsClient) -> None:
    await teams.say("min konto er låst")
    question = teams.last()
    for value in ({"choice": "intake:99:yes"}, {"foo": 1}, "just a string", {"choice": 42}, {"choice": "x" * 500}):
        response = await teams.submit(value, reply_to=question)
        assert response.status == 200
    await teams.submit({"choice": "oncall:ack:10001"}, reply_to=question)
    assert await teams.services().store.find() == []
    answers = [shown_text(c.body) for c in teams.connector.posted(REPORTER_CHAT)[1:]]
    assert len(answers) == 6
    assert all("Beklager, der gik noget galt" not in answer for answer in answers)


async def test_a_mention_in_a_team_channel_continues_in_the_personal_chat(teams: TeamsClient) -> None:
    channel = "19:general@thread.tacv2"
    mention = {
        "type": "mention",
        "text": "<at>OneOffice Support</at>",
        "mentioned": {"id": BOT, "name": "OneOffice Support"},
    }
    await teams.say(
        "<at>OneOffice Support</at> min adgangskode virker ikke",
        conversation=channel,
        conversation_type="channel",
        entities=[mention],
    )
    await teams.settle()
    (created,) = teams.connector.created()
    assert created.body["members"] == [{"id": f"29:{REPORTER}"}]
    question = teams.connector.posted(created.conversation)[-1]
    assert choices_of(question.body), "the intake question is asked in the personal chat"
    assert "privat chat" in shown_text(teams.connector.posted(channel)[-1].body)

    # The answer in the personal chat continues the same conversation.
    await teams.press(question, "Ja, tilkald vagten", conversation=created.conversation)
    assert teams.connector.posted(created.conversation)[-1] != question


async def test_english_locale_gets_english_and_copenhagen_times(teams: TeamsClient) -> None:
    await teams.say("the internet is down for everyone", locale="en-US")
    offer = shown_text(teams.last().body)
    assert "I understand that there's no internet connection" in offer
    assert "Monday at 8:00" in offer


async def test_the_fallback_text_numbers_the_choices_and_a_typed_number_answers(teams: TeamsClient) -> None:
    await teams.say("min konto er låst")
    card = card_of(teams.last().body)
    assert "1. Ja, tilkald vagten" in card["fallbackText"] and "Svar med tallet" in card["fallbackText"]
    await teams.say("1")
    assert "Hvilket telefonnummer" in shown_text(teams.last().body)


async def test_times_are_shown_in_copenhagen_time(teams: TeamsClient) -> None:
    teams.services().clock.set(datetime(2026, 11, 30, 6, 30, tzinfo=ZoneInfo("UTC")))  # 07:30 in Copenhagen
    await teams.say("min konto er låst")
    assert "kl. 8.00" in shown_text(teams.last().body)


async def test_concurrent_messages_from_many_employees(teams: TeamsClient) -> None:
    users = [f"aad-employee-{n}" for n in range(2, 12)]
    responses = await asyncio.gather(*(teams.say("printeren virker ikke", user=u) for u in users))
    assert {r.status for r in responses} == {200}
    assert all(len(teams.connector.posted(personal_chat(u))) == 1 for u in users)


async def test_a_mention_from_someone_the_bot_cannot_write_to_privately_is_told_what_to_do(teams: TeamsClient) -> None:
    channel = "19:general@thread.tacv2"
    teams.connector.fail_next(403)  # Teams refuses the 1:1 chat: the app is not installed for this user
    await teams.say("min skærm er sort", conversation=channel, conversation_type="groupChat")
    await teams.settle()
    (answer,) = teams.connector.posted(channel)
    assert "Apps i Teams" in shown_text(answer.body) and "+45 7021 1813" in shown_text(answer.body)
    assert await teams.services().store.find() == []


async def test_a_message_delivered_again_after_a_restart_is_not_answered_twice(
    connector: FakeConnector, clock: ManualClock, tmp_path: Path
) -> None:
    env = teams_env(connector, tmp_path)
    message: dict[str, object] = {}
    for _ in range(2):  # the bot restarts between Teams' first delivery and its retry
        runner, url = await start_server(env, clock)
        async with aiohttp.ClientSession() as session:
            teams = TeamsClient(url=url, connector=connector, session=session, app=runner.app)
            message = message or teams.activity("message", text="printeren virker ikke")
            assert (await teams.post(message)).status == 200
            await teams.settle()
        await runner.cleanup()
    assert len(connector.posted(REPORTER_CHAT)) == 1
