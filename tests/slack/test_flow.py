"""End to end over HTTP: signed Slack requests to the real server, the bot's calls to a fake Slack."""

from __future__ import annotations

from typing import Any

from bot.cases import CaseStatus
from tests.slack.conftest import BACKUP, PRIMARY, REPORTER, SlackUser, buttons, visible_text


def last_with_buttons(slack: SlackUser, user: str = REPORTER) -> dict[str, Any]:
    live = [m for m in slack.dm_messages(user) if buttons(m)]
    assert live, (
        f"no message with buttons in the DM of {user}: {[visible_text(m)[:200] for m in slack.dm_messages(user)]}"
    )
    return live[-1]


def pick(values: list[str], *endings: str) -> str:
    for ending in endings:
        for value in values:
            if value.endswith(ending):
                return value
    raise AssertionError(f"none of {endings} in {values}")


async def report_critical(slack: SlackUser) -> None:
    """/support in a channel about the whole office being offline, through to accepting the on-call cost."""
    response = await slack.command("Internettet er nede for hele kontoret, ingen kan komme på")
    assert response.status == 200
    await slack.settle()
    for _ in range(6):
        message = last_with_buttons(slack)
        choice = pick(buttons(message), ":page", ":skip", ":yes", ":scope:all", ":cat:internet_down")
        assert (await slack.press(message, choice)).status == 200
        await slack.settle()
        if choice.endswith(":skip"):  # the last question: the optional callback number
            return
    raise AssertionError("the bot never offered to page on-call")


async def test_after_hours_critical_flow_to_the_technicians_dm_and_back(slack: SlackUser) -> None:
    fake = slack.fake
    await report_critical(slack)
    # The command was answered in the channel (ephemeral, via response_url) with a pointer to the DM.
    assert any("privat besked" in visible_text(r) for r in fake.responses)
    # The finished conversation has no live buttons left.
    assert not any(buttons(m) for m in slack.dm_messages(REPORTER))
    outcome = slack.dm_messages(REPORTER)[-1]
    assert "10001" in visible_text(outcome)
    # The page is a DM to the primary technician, opened with conversations.open.
    assert fake.called("conversations.open", users=PRIMARY)
    page = last_with_buttons(slack, PRIMARY)
    assert "10001" in visible_text(page)
    # The reporter is in the technician's workspace: a real mention, so the technician can write to them.
    assert f"*Meldt af*\n<@{REPORTER}> via Slack" in [f["text"] for b in page["blocks"] for f in b.get("fields", [])]
    assert buttons(page) == ["oncall:ack:10001"]  # "Løst" once someone has acknowledged
    ack = pick(buttons(page), "ack:10001")
    assert (await slack.press(page, ack, user=PRIMARY)).status == 200
    await slack.settle()
    # The page was updated in place (same ts) and the reporter heard back in their DM.
    updated = fake.messages[(page["channel"], page["ts"])]
    assert ack not in buttons(updated)
    assert fake.called("chat.update", channel=page["channel"], ts=page["ts"])
    reporter_dm = slack.dm_messages(REPORTER)
    assert len(reporter_dm) > 1 and reporter_dm[-1]["ts"] != outcome["ts"]
    case = await slack.app_services().store.get(10001)
    assert case is not None and case.status is CaseStatus.ACKNOWLEDGED
    assert BACKUP not in [c.params.get("users") for c in fake.called("conversations.open")]

    # "Løst" asks once in the technician's DM; the confirmation closes the case and replaces the question.
    assert (await slack.press(updated, "oncall:resolve:10001", user=PRIMARY)).status == 200
    await slack.settle()
    question = last_with_buttons(slack, PRIMARY)
    assert "Er sag 10001 løst?" in visible_text(question) and buttons(question) == ["oncall:confirm_resolve:10001"]
    assert (await slack.app_services().store.get(10001)).status is CaseStatus.ACKNOWLEDGED
    assert (await slack.press(question, "oncall:confirm_resolve:10001", user=PRIMARY)).status == 200
    await slack.settle()
    assert (await slack.app_services().store.get(10001)).status is CaseStatus.RESOLVED
    answered = fake.messages[(question["channel"], question["ts"])]
    assert "markeret som løst" in visible_text(answered) and buttons(answered) == []


async def test_the_whole_conversation_works_in_the_bots_dm(slack: SlackUser) -> None:
    await slack.say("hej")
    await slack.settle()
    first = slack.dm_messages()[-1]
    await slack.say("Jeg kan ikke logge på, min adgangskode virker ikke")
    await slack.settle()
    # Typed answers retire the buttons of earlier questions; no message keeps live buttons but the newest.
    live = [m for m in slack.dm_messages() if buttons(m)]
    assert len(live) <= 1
    assert first["ts"] != slack.dm_messages()[-1]["ts"], "a typed turn gets a new message, below what was typed"
    for _ in range(6):
        live = [m for m in slack.dm_messages() if buttons(m)]
        if not live:
            break
        choice = pick(buttons(live[-1]), ":page", ":skip", ":yes", ":scope:me", ":cat:password_not_working")
        await slack.press(live[-1], choice)
        await slack.settle()
    assert not any(buttons(m) for m in slack.dm_messages())
    assert "10001" in visible_text(slack.dm_messages()[-1])
    # The turns answer in the DM the person writes in; only the update after the answer (that on-call has
    # been paged) goes through the messenger, which looks the DM up once.
    opened = [c for c in slack.fake.called("conversations.open") if c.params["users"] == REPORTER]
    assert len(opened) <= 1, "no DM needs opening for the answers when the person already writes in it"


async def test_page_goes_to_the_backup_when_the_primary_cannot_be_reached(slack: SlackUser) -> None:
    fake = slack.fake
    # Slack keeps failing for the primary's DM: the bot retries, then gives up and pages the backup.
    fake.fail("chat.postMessage", where={"channel": "DUTECH1"}, status=500)
    await report_critical(slack)
    assert len(fake.called("chat.postMessage", channel="DUTECH1")) == 4
    page = last_with_buttons(slack, BACKUP)
    assert ("10001" in visible_text(page) and "Critical" in visible_text(page)) or "10001" in visible_text(page)
    assert fake.invalid == []


async def test_reporter_is_told_when_nobody_could_be_paged(slack: SlackUser) -> None:
    fake = slack.fake
    fake.fail("conversations.open", where={"users": PRIMARY}, status=200, error="user_not_found")
    fake.fail("conversations.open", where={"users": BACKUP}, status=429, error="ratelimited", retry_after=600)
    await report_critical(slack)
    outcome = visible_text(slack.dm_messages(REPORTER)[-1])
    assert "10001" in outcome and "7021 1813" in outcome
    case = await slack.app_services().store.get(10001)
    assert case is not None and any(e.kind == "page_failed" for e in case.history)


async def test_the_answer_with_the_case_number_comes_before_the_news_that_on_call_was_paged(slack: SlackUser) -> None:
    await report_critical(slack)
    texts = [visible_text(m) for m in slack.dm_messages(REPORTER)]
    answer = next(i for i, t in enumerate(texts) if "Jeg tilkalder vagten nu" in t)
    paged = next(i for i, t in enumerate(texts) if "Vagten er nu tilkaldt" in t)
    assert "10001" in texts[answer]
    assert answer < paged, texts
