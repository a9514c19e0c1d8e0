"""The Slack messenger's memory is bounded by count, never by the number of messages sent (issue 7)."""

from __future__ import annotations

from adapters.slack.messenger import SlackMessenger
from adapters.slack.webapi import SlackWebApi
from bot.delivery import Address
from bot.messages import Choice, Message
from tests.slack.fake_slack import TEAM, FakeSlack


def question(n: int) -> Message:
    return Message(text=f"Spørgsmål {n}: passer det?", choices=(Choice(f"intake:{n}:yes", "Ja"),), key="intake")


def has_buttons(fake_slack: FakeSlack, channel: str, ts: str) -> bool:
    return any(b["type"] == "actions" for b in fake_slack.messages[(channel, ts)]["blocks"])


async def test_only_the_most_recent_live_replies_are_remembered(api: SlackWebApi, fake_slack: FakeSlack) -> None:
    messenger = SlackMessenger(api=api, live_replies=4)
    refs = [await messenger.post(TEAM, f"D{n:03d}", question(n), language="da", live=True) for n in range(10)]
    remembered = [(ref.channel, ts) for ref in refs for ts in messenger.live_replies(TEAM, ref.channel)]
    assert remembered == [(ref.channel, ref.message_id) for ref in refs[-4:]]

    # The newest conversations still lose their old buttons when the person types an answer ...
    await messenger.retire_buttons(TEAM, refs[-1].channel, language="da")
    assert not has_buttons(fake_slack, refs[-1].channel, refs[-1].message_id)
    assert messenger.live_replies(TEAM, refs[-1].channel) == []
    # ... while a forgotten one keeps them: nothing is looked up, nothing fails.
    await messenger.retire_buttons(TEAM, refs[0].channel, language="da")
    assert has_buttons(fake_slack, refs[0].channel, refs[0].message_id)
    assert len(fake_slack.called("chat.update")) == 1


async def test_several_live_replies_in_one_channel_all_lose_their_buttons(
    api: SlackWebApi, fake_slack: FakeSlack
) -> None:
    messenger = SlackMessenger(api=api)
    refs = [await messenger.post(TEAM, "DREPORTER", question(n), language="da", live=True) for n in range(3)]
    await messenger.post(TEAM, "DOTHER", question(9), language="da", live=True)
    await messenger.retire_buttons(TEAM, "DREPORTER", language="da")
    assert not any(has_buttons(fake_slack, "DREPORTER", ref.message_id) for ref in refs)
    assert messenger.live_replies(TEAM, "DOTHER") != []


async def test_the_language_is_remembered_per_channel_not_per_message(api: SlackWebApi, fake_slack: FakeSlack) -> None:
    messenger = SlackMessenger(api=api, memory=3)
    page = await messenger.send(Address("slack", TEAM, "UTECH", "en-GB"), Message(text="Case 10001", key="page"))
    for n in range(50):  # many messages to the same person add nothing to remember
        await messenger.send(Address("slack", TEAM, "UTECH", "en-GB"), Message(text=f"update {n}"))
    assert len(messenger._languages) == 1

    # An update is rendered in the channel's language: the shortening marker of a too long text is English.
    await messenger.update(page, Message(text="x" * 4000, key="page"))
    updated = fake_slack.messages[(page.channel, page.message_id)]
    assert updated["blocks"][0]["text"]["text"].endswith("(shortened)")

    for n in range(10):  # other people's channels push the oldest ones out: the memory stays at its bound
        await messenger.send(Address("slack", TEAM, f"U{n}", "da-DK"), Message(text="Hej"))
    assert len(messenger._languages) == 3
