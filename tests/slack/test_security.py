"""Deliveries that must not block or repeat: another person's press, a replayed slash command."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from bot.cases import CaseStatus
from tests.slack.conftest import PRIMARY, REPORTER, TEAM, SlackUser, buttons
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
