"""Slack deliveries on /metrics: a retried page and a refused one, counted per platform after a real flow."""

from __future__ import annotations

from tests.scrape import scrape
from tests.slack.conftest import SlackUser
from tests.slack.test_flow import report_critical


async def test_a_refused_page_and_a_retried_one_are_counted_for_slack(slack: SlackUser) -> None:
    fake = slack.fake
    # The primary's DM refuses for good; the backup's fails once with a 5xx, then takes the page.
    fake.fail("chat.postMessage", where={"channel": "DUTECH1"}, status=200, error="channel_not_found")
    fake.fail("chat.postMessage", where={"channel": "DUTECH2"}, status=503, times=1)
    await report_critical(slack)

    m = await scrape(slack.session, slack.url)
    assert m.value("supportbot_deliveries_failed_total", platform="slack") == 1
    assert m.value("supportbot_deliveries_retried_total", platform="slack") == 1
    assert m.value("supportbot_pages_sent_total", platform="slack", step="primary") == 0
    assert m.value("supportbot_pages_sent_total", platform="slack", step="backup") == 1
    assert m.value("supportbot_escalations_total", step="backup", reason="unreachable") == 1
    created = {"category": "internet_down", "critical": "true", "after_hours": "true"}
    assert m.value("supportbot_cases_created_total", **created) == 1
    assert m.value("supportbot_http_request_duration_seconds_count", route="/slack/events", method="POST") > 0
