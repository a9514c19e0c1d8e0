"""A Teams reporter and a technician on Slack: the page goes to Slack, the answer comes back in Teams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.cases import CaseStatus
from bot.clock import ManualClock
from tests.rota_config import technician
from tests.slack.conftest import SECRET, TOKEN, SlackUser, buttons, visible_text
from tests.slack.fake_slack import TEAM, FakeSlack
from tests.teams.conftest import REPORTER, TeamsClient, personal_chat, rota_config, start_server
from tests.teams.fake_connector import FakeConnector, shown_text
from tests.teams.test_flow import report_outage

SLACK_TECHNICIAN = "UTECH1"


@pytest.fixture
async def both(
    connector: FakeConnector, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[tuple[TeamsClient, SlackUser]]:
    fake = FakeSlack()
    await fake.start()
    config = tmp_path / "supportbot.toml"
    # The Teams test rota with the primary technician on Slack instead.
    morten_on_slack = technician("morten", "Morten", language="da", slack=(TEAM, SLACK_TECHNICIAN))
    config.write_text(rota_config(connector.url, primary=morten_on_slack), encoding="utf-8")
    env = {
        "SUPPORTBOT_CONFIG": str(config),
        "SUPPORTBOT_DATA": str(tmp_path / "data"),
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": fake.api_url,
    }
    runner, url = await start_server(env, clock)
    async with aiohttp.ClientSession() as session:
        teams = TeamsClient(url=url, connector=connector, session=session, app=runner.app)
        slack = SlackUser(url=url, fake=fake, session=session, app=runner.app)
        yield teams, slack
        await teams.settle()
        await slack.settle()
    await runner.cleanup()
    await fake.stop()


async def test_a_technician_on_slack_is_paged_for_a_teams_reporter(both: tuple[TeamsClient, SlackUser]) -> None:
    teams, slack = both
    outcome = await report_outage(teams)
    await slack.settle()
    assert "Jeg tilkalder vagten nu" in shown_text(outcome.body)
    (page,) = [m for m in slack.dm_messages(SLACK_TECHNICIAN) if buttons(m)]
    assert "10001" in visible_text(page) and "Bageriet ApS" in visible_text(page)

    ack = next(v for v in buttons(page) if v.endswith("ack:10001"))
    assert (await slack.press(page, ack, user=SLACK_TECHNICIAN)).status == 200
    await slack.settle()
    await teams.settle()
    news = teams.connector.posted(personal_chat(REPORTER))[-1]
    assert news.method == "send" and "Morten" in shown_text(news.body)
    assert (await teams.services().store.get(10001)).status is CaseStatus.ACKNOWLEDGED
