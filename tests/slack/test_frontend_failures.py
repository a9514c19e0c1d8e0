"""A failure while finding out who wrote (users.info) still gets the person an answer, never silence."""

from __future__ import annotations

from typing import Any

import pytest

from tests.slack.conftest import REPORTER, SlackUser, visible_text

APOLOGY = "Beklager, der gik noget galt hos os"


@pytest.fixture
def malformed_users_info(slack: SlackUser) -> None:
    """users.info answers ok but with a shape the bot does not expect ("user" is not an object)."""

    def users_info(params: dict[str, Any]) -> dict[str, Any]:
        return {"user": params["user"]}

    slack.fake._users_info = users_info  # type: ignore[method-assign]


@pytest.mark.usefixtures("malformed_users_info")
async def test_a_dm_gets_an_apology_when_users_info_is_malformed(slack: SlackUser, caplog: Any) -> None:
    assert (await slack.say("printeren virker ikke")).status == 200
    await slack.settle()
    messages = slack.dm_messages(REPORTER)
    assert len(messages) == 1 and APOLOGY in visible_text(messages[0])
    assert "failed after the ack" in caplog.text


@pytest.mark.usefixtures("malformed_users_info")
async def test_a_command_gets_an_ephemeral_apology_when_users_info_is_malformed(slack: SlackUser) -> None:
    assert (await slack.command("printeren virker ikke")).status == 200
    await slack.settle()
    assert [APOLOGY in visible_text(r) for r in slack.fake.responses] == [True]


async def test_once_users_info_answers_again_the_conversation_goes_on(slack: SlackUser) -> None:
    normal = slack.fake._users_info
    slack.fake._users_info = lambda params: {"user": None}  # type: ignore[method-assign]
    await slack.say("printeren virker ikke")
    await slack.settle()
    slack.fake._users_info = normal  # type: ignore[method-assign]
    await slack.say("printeren virker stadig ikke")
    await slack.settle()
    last = visible_text(slack.dm_messages(REPORTER)[-1])
    assert APOLOGY not in last and "print" in last
