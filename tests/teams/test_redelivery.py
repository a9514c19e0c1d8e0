"""Teams sends an activity again (same id) when it got no answer in time: one case and one reply, at any timing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.teams.conftest import REPORTER, TeamsClient, personal_chat
from tests.teams.fake_connector import Call, choices_of, shown_text

REPORTER_CHAT = personal_chat(REPORTER)


async def at_callback_question(teams: TeamsClient) -> Call:
    """Employee after hours: internet down for everyone, on-call accepted; the bot asks for a callback number."""
    await teams.say("internettet er nede for alle på kontoret")
    await teams.press(teams.last(), "Ja, tilkald vagten")
    question = teams.last()
    assert "Spring over" in choices_of(question.body)
    return question


async def deliver_twice(teams: TeamsClient, activity: dict[str, Any], *, at_once: bool) -> None:
    if at_once:
        statuses = [r.status for r in await asyncio.gather(teams.post(activity), teams.post(activity))]
    else:
        statuses = [(await teams.post(activity)).status, (await teams.post(activity)).status]
    assert all(status in (200, 202) for status in statuses), statuses
    await teams.settle()


async def one_case_and_one_answer(teams: TeamsClient, before: int) -> None:
    """One case; one reply with its number, then the one news that on-call has been paged."""
    assert [c.number for c in await teams.services().store.find()] == [10001]
    new = teams.connector.posted(REPORTER_CHAT)[before:]
    assert [c.method for c in new] == ["reply", "send"], [shown_text(c.body) for c in new]
    reply, news = (shown_text(c.body) for c in new)
    assert "Jeg tilkalder vagten nu" in reply and "10001" in reply
    assert "Vagten er nu tilkaldt om din sag 10001" in news


@pytest.mark.parametrize("at_once", [False, True], ids=["one after the other", "at the same time"])
async def test_a_typed_message_delivered_twice_makes_one_case_and_one_reply(teams: TeamsClient, at_once: bool) -> None:
    question = await at_callback_question(teams)
    before = len(teams.connector.posted(REPORTER_CHAT))
    typed = teams.activity("message", text="22 33 44 55", replyToId=question.activity_id)
    await deliver_twice(teams, typed, at_once=at_once)
    await one_case_and_one_answer(teams, before)


@pytest.mark.parametrize("at_once", [False, True], ids=["one after the other", "at the same time"])
async def test_a_button_press_delivered_twice_makes_one_case_and_one_reply(teams: TeamsClient, at_once: bool) -> None:
    question = await at_callback_question(teams)
    before = len(teams.connector.posted(REPORTER_CHAT))
    press = teams.activity(
        "message", value={"choice": choices_of(question.body)["Spring over"]}, replyToId=question.activity_id
    )
    await deliver_twice(teams, press, at_once=at_once)
    await one_case_and_one_answer(teams, before)
