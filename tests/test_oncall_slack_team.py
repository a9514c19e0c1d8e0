"""The Slack team channel when the app is installed in many workspaces (OAuth): posted with that workspace's token.

The real server and Slack front end against the local fake Slack Web API; the installation is in
the real installation store, as the OAuth flow leaves it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from slack_sdk.oauth.installation_store import Installation

from adapters.server import SERVICES
from adapters.slack.installations import RecordsInstallationStore
from adapters.storage.embedded.documents import EmbeddedRecords
from bot.cases import CustomerRef, EventKind, NewCase, Reporter
from bot.categories import Category, Scope
from bot.clock import ManualClock
from tests.slack.conftest import CONFIG, slack_env, start_server
from tests.slack.fake_slack import FakeSlack

PROVIDER_TEAM = "T0PROVIDER"  # the provider's own workspace, where its team channel is
MONDAY_MORNING = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))


async def test_open_hours_cases_reach_the_team_channel_in_its_workspace(fake_slack: FakeSlack, tmp_path: Path) -> None:
    installations = RecordsInstallationStore(EmbeddedRecords(tmp_path / "data"))
    for team, token in ((PROVIDER_TEAM, "xoxb-provider"), ("T1", "xoxb-customer")):
        await installations.async_save(
            Installation(app_id="A1", team_id=team, user_id="UADMIN", bot_token=token, bot_id="B1", bot_user_id="UBOT")
        )
    env = slack_env(
        fake_slack, tmp_path, SLACK_BOT_TOKEN="", SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="client-secret"
    )
    (tmp_path / "supportbot.toml").write_text(
        f'{CONFIG}\n[team_channel]\nslack_channel = "C0TEAM"\nslack_team = "{PROVIDER_TEAM}"\n', encoding="utf-8"
    )
    runner, _ = await start_server(env, ManualClock(MONDAY_MORNING))
    try:
        services = runner.app[SERVICES]
        assert not any("slack_team" in problem for problem in services.oncall.report_problems())
        new = NewCase(
            reporter=Reporter("slack", "T1", "UEMP1", "Anna", "da"),
            customer=CustomerRef("Kunde A/S", known=True, agreement=True),
            description="Printeren på 2. sal virker ikke",
            category=Category.PRINTING_DOWN,
            confidence=90,
            scope=Scope.ME,
            critical=False,
            after_hours=False,
        )
        case = await services.store.create(new, now=MONDAY_MORNING)
        await services.oncall.post_to_team(case)
        await services.oncall.settled()  # posted after the reporter's answer
        [post] = fake_slack.called("chat.postMessage", channel="C0TEAM")
        assert post.token == "xoxb-provider"
        history = [e.kind for e in (await services.store.get(case.number)).history]
        assert EventKind.POSTED_TO_TEAM in history and EventKind.PAGE_FAILED not in history
    finally:
        await runner.cleanup()
