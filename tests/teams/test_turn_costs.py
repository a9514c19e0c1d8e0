"""What keeps a Teams turn cheap: shared connector clients, no rewrite of an unchanged reference, msrest's fix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botframework.connector.auth import AuthenticationConstants, ClaimsIdentity, ConnectorFactory, UserTokenClient
from msrest.universal_http.requests import ClientRetryPolicy

from adapters.storage.embedded.documents import EmbeddedRecords
from adapters.teams import TEAMS_ENDPOINT
from adapters.teams.connectors import ReusedConnectors
from adapters.teams.patches import speed_up_retry_policy
from adapters.teams.store import TeamsStore
from tests.teams.conftest import TeamsClient, personal_chat
from tests.teams.fake_connector import choices_of

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TENANT = "0b5e7d21-customer-tenant"
CHAT = "a:1-personal-chat"


def reference(service_url: str = "https://smba.trafficmanager.net/emea/") -> dict[str, Any]:
    return {"conversation": {"id": CHAT, "tenantId": TENANT}, "serviceUrl": service_url, "channelId": "msteams"}


def save(store: TeamsStore, ref: dict[str, Any], at: datetime = NOW) -> None:
    store.save_reference(ref, tenant=TENANT, user_ids=("aad-anna", "29:anna"), personal=True, now=at)


def known(store: TeamsStore, ref: dict[str, Any]) -> bool:
    return store.has_reference(ref, tenant=TENANT, user_ids=("aad-anna", "29:anna"), personal=True)


def test_an_unchanged_reference_is_known_without_a_write_and_a_changed_one_is_saved(tmp_path: Path) -> None:
    store = TeamsStore(EmbeddedRecords(tmp_path))
    assert not known(store, reference())
    save(store, reference())
    assert known(store, reference())
    shard = tmp_path / "teams" / "references"
    written = {p.name: p.stat().st_mtime_ns for p in shard.glob("*.json")}
    save(store, reference(), NOW + timedelta(hours=1))
    assert {p.name: p.stat().st_mtime_ns for p in shard.glob("*.json")} == written

    moved = reference("https://smba.trafficmanager.net/amer/")
    assert not known(store, moved)
    save(store, moved)
    assert known(store, moved) and not known(store, reference())
    assert store.reference_of(CHAT) == moved
    store.forget(CHAT)
    assert not known(store, moved)  # after an uninstall the next message saves it again


def test_after_a_restart_the_first_message_checks_the_stored_reference(tmp_path: Path) -> None:
    store = TeamsStore(EmbeddedRecords(tmp_path))
    save(store, reference())
    assert store.welcome_once(CHAT) is True
    again = TeamsStore(EmbeddedRecords(tmp_path))
    assert not known(again, reference())  # nothing in memory yet: the worker thread compares with the file
    save(again, reference())
    assert known(again, reference())
    assert again.welcome_once(CHAT) is False  # the unchanged save kept the welcome


class CountingFactory(ConnectorFactory):
    """Stands in for botbuilder's factory: a new client object per call."""

    def __init__(self) -> None:
        self.made = 0

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        self.made += 1
        return (service_url, audience, self.made)


async def test_connector_clients_are_shared_per_service_url_and_bounded() -> None:
    connectors = ReusedConnectors(size=2)
    first, second = CountingFactory(), CountingFactory()
    emea = await connectors.factory(first).create("https://emea/", "aud")
    assert await connectors.factory(second).create("https://emea/", "aud") is emea
    assert second.made == 0
    await connectors.factory(first).create("https://amer/", "aud")
    await connectors.factory(first).create("https://emea/", "aud")  # used last: stays
    await connectors.factory(first).create("https://apac/", "aud")  # drops amer
    assert len(connectors) == 2
    assert await connectors.factory(first).create("https://emea/", "aud") is emea
    assert first.made == 3
    assert await connectors.factory(first).create("https://amer/", "aud") != emea and first.made == 4


async def test_turns_share_one_connector_client_and_earlier_buttons_still_go(teams: TeamsClient) -> None:
    for user in ("anna", "bo"):
        await teams.say("printeren virker ikke", user=user)
        await teams.say("printeren virker stadig ikke", user=user)
    assert len(teams.app[TEAMS_ENDPOINT].connectors) == 1
    for user in ("anna", "bo"):
        chat = personal_chat(user)
        posted = teams.connector.posted(chat)
        assert len(posted) >= 2 and teams.connector.updates(chat)  # a card with buttons was retired
        earlier = [c for c in posted[:-1] if choices_of(teams.connector.current(chat, c.activity_id))]
        assert earlier == []  # no card but the newest can be pressed


async def test_every_turn_shares_one_user_token_client_per_app_id(teams: TeamsClient) -> None:
    auth = teams.app[TEAMS_ENDPOINT].adapter.bot_framework_authentication
    made: list[UserTokenClient] = []
    create = auth.create_user_token_client

    async def watched(identity: ClaimsIdentity) -> UserTokenClient:
        made.append(await create(identity))
        return made[-1]

    auth.create_user_token_client = watched
    await teams.say("printeren virker ikke", user="anna")
    await teams.say("printeren virker stadig ikke", user="bo")
    assert len(made) == 2 and made[0] is made[1]
    other = await auth.create_user_token_client(ClaimsIdentity({AuthenticationConstants.AUDIENCE_CLAIM: "app-2"}, True))
    assert other is not made[0], "another app id gets its own client"


def test_the_retry_policy_fix_keeps_the_same_retry_codes() -> None:
    speed_up_retry_policy()
    speed_up_retry_policy()
    safe = [i for i in range(500) if i != 408] + [501, 505]
    assert ClientRetryPolicy().policy.status_forcelist == [i for i in range(999) if i not in safe]
    assert ClientRetryPolicy.safe_codes == frozenset(safe)
