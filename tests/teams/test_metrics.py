"""Teams deliveries on /metrics: a Bot Connector that fails for a moment is counted as a retry for Teams."""

from __future__ import annotations

from tests.scrape import scrape
from tests.teams.conftest import TeamsClient
from tests.teams.test_flow import report_outage


async def test_a_connector_that_fails_once_is_counted_as_one_teams_retry(teams: TeamsClient) -> None:
    teams.connector.fail_next(503)
    await report_outage(teams)

    m = await scrape(teams.session, teams.url)
    assert m.value("supportbot_deliveries_retried_total", platform="teams") == 1
    assert m.total("supportbot_deliveries_failed_total") == 0
    assert m.value("supportbot_pages_sent_total", platform="teams", step="primary") == 1
    assert m.value("supportbot_http_request_duration_seconds_count", route="/api/messages", method="POST") == 3
