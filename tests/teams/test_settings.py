"""The bot registration from the environment, and when the endpoint may run at all."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from adapters.net import is_loopback_host
from adapters.teams.settings import TeamsSettings
from bot.errors import ConfigError
from tests.teams.conftest import TeamsClient, start_server, teams_env
from tests.teams.fake_connector import FakeConnector

APP = {
    "MicrosoftAppId": "11111111-2222-3333-4444-555555555555",
    "MicrosoftAppPassword": "s3cret-value",
    "MicrosoftAppTenantId": "0b5e7d21-0000-0000-0000-000000000000",
}


def test_no_app_id_is_the_unauthenticated_emulator_mode() -> None:
    settings = TeamsSettings.from_env({})
    assert not settings.authenticated
    assert settings.botbuilder_configuration().APP_TYPE == "MultiTenant"


def test_single_tenant_is_the_default_and_needs_password_and_tenant() -> None:
    settings = TeamsSettings.from_env(APP)
    assert settings.authenticated and settings.app_type == "SingleTenant"
    with pytest.raises(ConfigError, match="MicrosoftAppTenantId"):
        TeamsSettings.from_env({**APP, "MicrosoftAppTenantId": ""})
    with pytest.raises(ConfigError, match="MicrosoftAppPassword"):
        TeamsSettings.from_env({**APP, "MicrosoftAppPassword": ""})


def test_other_app_types() -> None:
    multi = TeamsSettings.from_env({**APP, "MicrosoftAppType": "multitenant", "MicrosoftAppTenantId": ""})
    assert multi.app_type == "MultiTenant"
    msi = TeamsSettings.from_env({**APP, "MicrosoftAppType": "UserAssignedMSI", "MicrosoftAppPassword": ""})
    assert msi.app_type == "UserAssignedMSI"
    with pytest.raises(ConfigError, match="MicrosoftAppType"):
        TeamsSettings.from_env({**APP, "MicrosoftAppType": "Tenantless"})


def test_the_password_never_shows() -> None:
    settings = TeamsSettings.from_env(APP)
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in repr(settings.botbuilder_configuration())
    with pytest.raises(ConfigError) as error:
        TeamsSettings.from_env({**APP, "MicrosoftAppTenantId": ""})
    assert "s3cret" not in str(error.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True), ("0.0.0.0", False), ("::", False)],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


async def test_without_app_id_the_endpoint_refuses_to_run_on_a_public_address(
    connector: FakeConnector, clock, tmp_path: Path
) -> None:
    from adapters.server import FRONT_END_STATUS

    runner, url = await start_server(teams_env(connector, tmp_path, HOST="0.0.0.0"), clock)
    try:
        status = runner.app[FRONT_END_STATUS]["teams"]
        assert status.startswith("disabled") and "MicrosoftAppId" in status and "localhost" in status
        async with aiohttp.ClientSession() as session, session.post(f"{url}/api/messages", json={}) as response:
            assert response.status in (404, 405)
    finally:
        await runner.cleanup()


async def test_a_broken_registration_keeps_teams_off_with_the_reason(connector: FakeConnector, clock, tmp_path: Path):
    from adapters.server import FRONT_END_STATUS

    env = teams_env(connector, tmp_path, **{**APP, "MicrosoftAppTenantId": ""})
    runner, _ = await start_server(env, clock)
    try:
        assert "MicrosoftAppTenantId" in runner.app[FRONT_END_STATUS]["teams"]
    finally:
        await runner.cleanup()


async def test_with_an_app_id_an_unsigned_request_gets_401(connector: FakeConnector, clock, tmp_path: Path) -> None:
    runner, url = await start_server(teams_env(connector, tmp_path, **APP), clock)
    try:
        async with aiohttp.ClientSession() as session:
            client = TeamsClient(url=url, connector=connector, session=session, app=runner.app)
            assert (await client.say("hej")).status == 401
            assert (await client.post(client.activity("message", text="hej"), Authorization="")).status == 401
            assert (await client.post(b"{broken")).status == 400
    finally:
        await runner.cleanup()
    assert connector.calls == []


async def test_a_damaged_teams_file_keeps_teams_off_and_is_not_overwritten(
    connector: FakeConnector, clock, tmp_path: Path
) -> None:
    from adapters.server import FRONT_END_STATUS

    damaged = tmp_path / "data" / "teams" / "references" / "00-of-32.json"
    damaged.parent.mkdir(parents=True)
    damaged.write_text('{"references": {"1": ', encoding="utf-8")
    runner, _ = await start_server(teams_env(connector, tmp_path), clock)
    try:
        assert "00-of-32.json: the data file is damaged" in runner.app[FRONT_END_STATUS]["teams"]
    finally:
        await runner.cleanup()
    assert damaged.read_text(encoding="utf-8") == '{"references": {"1": '
