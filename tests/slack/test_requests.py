"""What Slack sends, and what goes wrong: verification, retries, double presses, long texts, slow or failing Slack."""

from __future__ import annotations

import json
import time

from adapters.server import SERVICES
from tests.slack.conftest import REPORTER, SlackUser, buttons, visible_text
from tests.slack.test_flow import last_with_buttons, pick


async def test_forged_signature_is_refused_and_touches_nothing(slack: SlackUser) -> None:
    response = await slack.command("Printeren er død", secret="not-the-secret")
    assert response.status == 401
    response = await slack.say("hej", secret="not-the-secret")
    assert response.status == 401
    await slack.settle()
    assert [c.method for c in slack.fake.calls if c.method != "auth.test"] == []
    assert await slack.app[SERVICES].store.find() == []


async def test_stale_timestamp_is_refused(slack: SlackUser) -> None:
    # Correctly signed, but six minutes old: a replayed request.
    response = await slack.command("Printeren er død", timestamp=int(time.time()) - 360)
    assert response.status == 401
    await slack.settle()
    assert [c.method for c in slack.fake.calls if c.method != "auth.test"] == []


async def test_command_is_acked_before_slack_or_the_store_are_asked(slack: SlackUser) -> None:
    slack.fake.delays["users.info"] = 1.0
    response = await slack.command("Min skærm er sort")
    assert response.status == 200
    # Acked while the bot was still waiting for users.info: nothing posted yet.
    assert slack.fake.called("chat.postMessage") == []
    await slack.settle()
    assert slack.fake.called("chat.postMessage")


async def test_event_retries_are_answered_once(slack: SlackUser) -> None:
    await slack.say("Min adgangskode virker ikke", event_id="Ev42")
    await slack.say(
        "Min adgangskode virker ikke",
        event_id="Ev42",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    await slack.settle()
    assert len(slack.fake.called("chat.postMessage", channel=slack.fake.dm(REPORTER))) == 1


async def test_a_damaged_delivery_log_still_answers_and_is_left_alone(slack: SlackUser) -> None:
    log = slack.app_services().storage.deliveries.store
    damaged = log.path_of("slack\nEv43")
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_text('{"deliveries": {', encoding="utf-8")
    log.close()  # forget what was read, as after a restart
    await slack.say("Min adgangskode virker ikke", event_id="Ev43")
    await slack.settle()
    assert len(slack.fake.called("chat.postMessage", channel=slack.fake.dm(REPORTER))) == 1
    assert damaged.read_text(encoding="utf-8") == '{"deliveries": {'


async def test_bot_own_messages_and_edits_are_not_turns(slack: SlackUser) -> None:
    body = {
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": "EvBot",
        "event_time": 1,
        "event": {
            "type": "message",
            "channel_type": "im",
            "channel": "DUEMP1",
            "bot_id": "BBOT",
            "text": "hej",
            "ts": "1.0",
        },
    }
    await slack.post(json.dumps(body), content_type="application/json")
    body["event_id"], body["event"] = (
        "EvEdit",
        {"type": "message", "subtype": "message_changed", "channel_type": "im", "channel": "DUEMP1", "ts": "2.0"},
    )
    await slack.post(json.dumps(body), content_type="application/json")
    await slack.settle()
    assert slack.fake.called("chat.postMessage") == []


async def test_double_press_never_makes_a_second_case_or_page(slack: SlackUser) -> None:
    await slack.command("Internettet er nede for hele kontoret")
    await slack.settle()
    for _ in range(6):
        message = last_with_buttons(slack)
        choice = pick(buttons(message), ":page", ":skip", ":yes", ":scope:all", ":cat:internet_down")
        if choice.endswith(":skip"):  # the press that creates the case and pages
            # Two presses as fast as a nervous thumb, plus one arriving after the first was handled.
            await slack.press(message, choice)
            await slack.press(message, choice)
            await slack.settle()
            await slack.press(message, choice)
            await slack.settle()
            break
        await slack.press(message, choice)
        await slack.settle()
    cases = await slack.app[SERVICES].store.find()
    assert [c.number for c in cases] == [10001]
    assert len(slack.fake.called("chat.postMessage", channel="DUTECH1")) == 1


async def test_a_long_description_with_channel_mentions_is_escaped_and_shortened(slack: SlackUser) -> None:
    text = "<!channel> <@U999> internettet er nede for hele kontoret & ingen kan arbejde. " + "Det er helt galt. " * 230
    assert len(text) > 4000
    # Slack escapes &, < and > in what people type; the bot must show them as typed, never as markup.
    await slack.say(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    await slack.settle()
    for _ in range(6):
        message = last_with_buttons(slack)
        choice = pick(buttons(message), ":page", ":skip", ":yes", ":scope:all", ":cat:internet_down")
        await slack.press(message, choice)
        await slack.settle()
        if choice.endswith(":skip"):  # the last question: the optional callback number
            break
    for call in slack.fake.calls:
        blob = json.dumps(call.params, ensure_ascii=False)
        assert "<!channel>" not in blob and "<@U999>" not in blob, call.method
    page = visible_text(last_with_buttons(slack, "UTECH1"))
    assert "&lt;!channel&gt; &lt;@U999&gt; internettet er nede for hele kontoret &amp; ingen" in page
    assert "…" in page and len(page) < len(text), "the description is cut visibly, not rejected by Slack"
    assert slack.fake.invalid == []


async def test_a_failure_after_the_ack_still_answers_the_user(slack: SlackUser) -> None:
    slack.fake.fail("conversations.open", status=200, error="cannot_dm_bot")
    response = await slack.command("Outlook virker ikke")
    assert response.status == 200
    await slack.settle()
    apology = slack.fake.responses[-1]
    assert "+45 7021 1813" in visible_text(apology)


async def test_status_answers_in_the_channel_where_it_was_asked(slack: SlackUser) -> None:
    await slack.command("status")
    await slack.command("status 10099")
    await slack.settle()
    assert slack.fake.called("conversations.open") == [] and slack.fake.called("chat.postMessage") == []
    assert len(slack.fake.responses) == 2
    assert all(r["response_type"] == "ephemeral" for r in slack.fake.responses)
    assert "10099" in visible_text(slack.fake.responses[1])


async def test_english_locale_gets_english(slack: SlackUser) -> None:
    slack.fake.locales[REPORTER] = "en-US"
    await slack.command("")
    await slack.settle()
    assert "direct message" in visible_text(slack.fake.responses[-1])


async def test_status_in_the_dm_re_asks_the_open_question_and_its_buttons_work_in_place(slack: SlackUser) -> None:
    await slack.say("Printeren virker ikke")
    await slack.settle()
    dm = slack.fake.dm(REPORTER)
    await slack.command("status", channel=dm)
    await slack.settle()
    ephemeral = [r for r in slack.fake.responses if buttons(r)]
    assert ephemeral, "the open question is asked again under the status"
    question = ephemeral[-1]
    choice = buttons(question)[0]
    await slack.press(question, choice, channel=dm)
    await slack.settle()
    answer = slack.fake.responses[-1]
    assert answer["_name"].startswith("press") and answer["replace_original"] is True


async def test_url_verification_and_ssl_check(slack: SlackUser) -> None:
    body = json.dumps({"token": "legacy", "challenge": "abc123", "type": "url_verification"})
    async with slack.session.post(
        f"{slack.url}/slack/events",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": str(int(time.time())),
            "X-Slack-Signature": slack.signer.generate_signature(timestamp=str(int(time.time())), body=body),
        },
    ) as response:
        assert response.status == 200 and "abc123" in await response.text()


async def test_ratelimited_and_failing_slack_is_retried_and_the_reply_arrives(slack: SlackUser) -> None:
    dm = slack.fake.dm(REPORTER)
    slack.fake.fail("chat.postMessage", where={"channel": dm}, status=429, error="ratelimited", retry_after=1, times=1)
    slack.fake.fail("users.info", status=500, times=1)
    await slack.say("Min computer siger blå skærm")
    await slack.settle()
    attempts = slack.fake.called("chat.postMessage", channel=dm)
    assert len(attempts) == 2
    assert len(slack.dm_messages()) == 1
