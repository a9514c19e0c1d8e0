"""Retries against the fake Slack: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import pytest

from adapters.slack.messenger import SlackMessenger
from adapters.slack.webapi import SlackWebApi
from bot.delivery import Address, DeliveryError, MessageRef
from bot.messages import Choice, Message
from tests.slack.fake_slack import TEAM, FakeSlack


async def test_server_errors_are_retried_until_slack_answers(api: SlackWebApi, fake_slack: FakeSlack) -> None:
    fake_slack.fail("auth.test", status=500, times=2)
    data = await api.call(TEAM, "auth.test")
    assert data["user_id"] == "UBOT"
    assert len(fake_slack.called("auth.test")) == 3
    assert all(c.token == "xoxb-unit" for c in fake_slack.calls)


async def test_ratelimited_waits_for_retry_after(api: SlackWebApi, fake_slack: FakeSlack) -> None:
    fake_slack.fail("auth.test", status=429, error="ratelimited", retry_after=1, times=1)
    assert (await api.call(TEAM, "auth.test"))["ok"]
    assert len(fake_slack.called("auth.test")) == 2


async def test_a_retry_after_longer_than_a_page_can_wait_gives_up_at_once(
    api: SlackWebApi, fake_slack: FakeSlack
) -> None:
    fake_slack.fail("auth.test", status=429, error="ratelimited", retry_after=120)
    with pytest.raises(DeliveryError, match="ratelimited"):
        await api.call(TEAM, "auth.test")
    assert len(fake_slack.called("auth.test")) == 1


async def test_gives_up_after_its_attempts(api: SlackWebApi, fake_slack: FakeSlack) -> None:
    fake_slack.fail("chat.postMessage", status=503)
    with pytest.raises(DeliveryError, match="HTTP 503"):
        await api.call(TEAM, "chat.postMessage", channel="C1", text="x")
    assert len(fake_slack.called("chat.postMessage")) == 4


async def test_permanent_errors_are_not_retried(api: SlackWebApi, fake_slack: FakeSlack) -> None:
    fake_slack.fail("conversations.open", status=200, error="user_not_found")
    with pytest.raises(DeliveryError, match="user_not_found"):
        await api.call(TEAM, "conversations.open", users="UGONE")
    assert len(fake_slack.called("conversations.open")) == 1


async def test_timeouts_are_retried(api: SlackWebApi, fake_slack: FakeSlack) -> None:
    fake_slack.delays["auth.test"] = 1.5
    with pytest.raises(DeliveryError, match="Timeout"):
        await api.call(TEAM, "auth.test")
    assert len(fake_slack.called("auth.test")) == 4


async def test_response_url_expired_is_not_retried(api: SlackWebApi, fake_slack: FakeSlack) -> None:
    fake_slack.fail("response_url", status=404)
    with pytest.raises(DeliveryError):
        await api.respond(fake_slack.response_url("old"), {"text": "x", "blocks": [{"type": "divider"}]})
    assert len(fake_slack.called("response_url")) == 1


async def test_messenger_dms_and_updates_in_place(api: SlackWebApi, fake_slack: FakeSlack) -> None:
    messenger = SlackMessenger(api=api)
    page = Message(text="Sag 10001 <!channel>", choices=(Choice("oncall:ack:10001", "Kvittér"),), key="page:10001")
    ref = await messenger.send(Address("slack", TEAM, "UTECH", "en-GB"), page)
    assert ref == MessageRef("slack", TEAM, "DUTECH", ref.message_id)
    await messenger.send(Address("slack", TEAM, "UTECH"), Message(text="igen"))
    assert len(fake_slack.called("conversations.open")) == 1, "the DM channel is remembered"
    await messenger.update(ref, Message(text="Kvitteret", key="page:10001"))
    current = fake_slack.messages[("DUTECH", ref.message_id)]
    assert current["text"] == "Kvitteret" and all(b["type"] != "actions" for b in current["blocks"])
    channel_ref = await messenger.send(Address("slack", TEAM, "CTEAM"), Message(text="Ny sag"))
    assert channel_ref.channel == "CTEAM" and len(fake_slack.called("conversations.open")) == 1
    assert fake_slack.invalid == []


async def test_calls_after_the_session_was_closed_open_a_new_one(api: SlackWebApi, fake_slack: FakeSlack) -> None:
    # The Web API clients are kept per token; they must not keep using a closed session.
    assert (await api.call(TEAM, "auth.test"))["ok"]
    await api.close()
    assert (await api.call(TEAM, "auth.test"))["ok"]
    assert len(fake_slack.called("auth.test")) == 2
