"""Deliveries that must not block or repeat: another person's press, a replayed slash command."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from bot.cases import CaseStatus, CustomerRef, NewCase, Reporter
from bot.categories import Category, Scope
from tests.slack.conftest import PRIMARY, REPORTER, SATURDAY_NIGHT, TEAM, SlackUser, buttons, visible_text
from tests.slack.test_flow import last_with_buttons, pick, report_critical


async def test_a_refused_press_by_someone_else_does_not_block_the_technicians_press(slack: SlackUser) -> None:
    await report_critical(slack)
    page = last_with_buttons(slack, PRIMARY)
    ack = pick(buttons(page), "ack:10001")
    # The employee presses Ack on the same message (a page in a shared channel): refused.
    assert (await slack.press(page, ack, user=REPORTER)).status == 200
    await slack.settle()
    case = await slack.app_services().store.get(10001)
    assert case is not None and case.status is CaseStatus.OPEN
    # The technician's press a moment later is a delivery of its own, not a repeat of the refused one.
    assert (await slack.press(page, ack, user=PRIMARY)).status == 200
    await slack.settle()
    case = await slack.app_services().store.get(10001)
    assert case is not None and case.status is CaseStatus.ACKNOWLEDGED


async def test_a_replayed_signed_slash_command_runs_once(slack: SlackUser) -> None:
    form = urlencode(
        {
            "team_id": TEAM,
            "channel_id": "CGENERAL",
            "user_id": REPORTER,
            "command": "/support",
            "text": "Printeren virker ikke",
            "api_app_id": "A1",
            "response_url": slack.fake.response_url("cmd-replayed"),
            "trigger_id": "trigger.replayed",
        }
    )
    signed_at = int(time.time())
    assert (await slack.post(form, content_type="application/x-www-form-urlencoded", timestamp=signed_at)).status == 200
    await slack.settle()
    answered = (len(slack.dm_messages()), len(slack.fake.responses))
    assert answered[0] >= 1
    # The very same signed request again, within Slack's five minutes: acked, and nothing runs again.
    for _ in range(2):
        response = await slack.post(form, content_type="application/x-www-form-urlencoded", timestamp=signed_at)
        assert response.status == 200
    await slack.settle()
    assert (len(slack.dm_messages()), len(slack.fake.responses)) == answered


async def reported_by(slack: SlackUser, user: str) -> int:
    """A case `user` reported (made in the store, as the intake would)."""
    new = NewCase(
        reporter=Reporter("slack", TEAM, user, user.title(), "da"),
        customer=CustomerRef("Kunde A/S"),
        description="Min skærm flimrer hele tiden",
        category=Category.OTHER,
        confidence=90,
        scope=Scope.ME,
        critical=False,
        after_hours=True,
    )
    return (await slack.app_services().store.create(new, now=SATURDAY_NIGHT)).number


async def test_a_colleague_cannot_read_a_case_by_its_number(slack: SlackUser) -> None:
    number = await reported_by(slack, REPORTER)
    colleague = "UEMP2"
    await slack.command(f"status {number}", user=colleague)
    await slack.command("status 10099", user=colleague)
    await slack.say(str(number), user=colleague)
    await slack.say("10099", user=colleague)
    await slack.settle()
    refused, missing = (visible_text(r) for r in slack.fake.responses[-2:])
    assert "flimrer" not in refused and refused.replace(str(number), "10099") == missing
    dm = [visible_text(m) for m in slack.dm_messages(colleague)][:2]  # the two answers, in either order
    assert len({text.replace(str(number), "10099") for text in dm}) == 1 and not any("flimrer" in t for t in dm)
    await slack.command(f"status {number}", user=REPORTER)
    await slack.settle()
    assert "flimrer" in visible_text(slack.fake.responses[-1]), "the reporter still sees their own case"
