"""A dead or hanging Bot Connector: TeamsMessenger alone retries, a bounded number of times, within one deadline.

findings-issue7.md #5: msrest's requests-based sender retried refused connects itself (urllib3 `Retry`,
logged "Retrying ... Connection refused") inside each of the messenger's own attempts, so a Teams
connector that refused connections cost ~26 s per technician before the backup was paged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

from adapters.storage.embedded.documents import EmbeddedRecords
from adapters.teams.messenger import SEND_DEADLINE, TeamsMessenger
from adapters.teams.settings import TeamsSettings
from adapters.teams.store import AsyncTeamsStore, TeamsStore
from bot.clock import ManualClock
from bot.delivery import Address, DeliveryError, MessageRef
from bot.messages import Message
from tests.teams.conftest import PROVIDER_TENANT, SATURDAY_NIGHT
from tests.teams.fake_connector import FakeConnector

TECHNICIAN = Address("teams", PROVIDER_TENANT, "aad-morten", "da")
PAGE = Message("Bageriet ApS: intet internet", title="Sag 10001", key="page:10001")
RETRIES = (0.01, 0.01, 0.01)


def messenger_for(
    service_url: str, store: TeamsStore, *, deadline: float = SEND_DEADLINE, retry_delays: Sequence[float] = RETRIES
) -> TeamsMessenger:
    settings = TeamsSettings()
    return TeamsMessenger(
        adapter=CloudAdapter(ConfigurationBotFrameworkAuthentication(settings.botbuilder_configuration())),
        settings=settings,
        store=AsyncTeamsStore(store),
        clock=ManualClock(SATURDAY_NIGHT),
        service_url=service_url,
        retry_delays=retry_delays,
        attempt_timeout=0.5,
        deadline=deadline,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[TeamsStore]:
    teams_store = TeamsStore(EmbeddedRecords(tmp_path))
    yield teams_store


@pytest.fixture
async def dead_url() -> str:
    """The address of a fake connector that has stopped: its port refuses connections."""
    connector = FakeConnector()
    await connector.start()
    await connector.stop()
    return connector.url


@pytest.fixture
async def proxy_error_url() -> AsyncIterator[str]:
    """A proxy in front of the connector that answers every request with its own plain-text 502 page."""
    calls: list[str] = []

    async def bad_gateway(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.Response(status=502, text="Bad Gateway", content_type="text/plain")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", bad_gateway)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    await runner.cleanup()


def connector_retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    """urllib3's own retries (msrest's requests sender), which must not happen."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("urllib3") and "Retrying" in r.getMessage()]


def our_retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "adapters.teams.messenger" and "retrying" in r.message]


async def test_a_refusing_connector_fails_after_our_attempts_only(
    dead_url: str, store: TeamsStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    messenger = messenger_for(dead_url, store)
    with pytest.raises(DeliveryError, match="ClientRequestError"):
        await messenger.send(TECHNICIAN, PAGE)  # opening the 1:1 chat is the first call
    assert connector_retries(caplog) == []
    assert len(our_retries(caplog)) == len(RETRIES), "the first attempt and one per retry delay, nothing more"


async def test_an_update_in_a_known_chat_on_a_refusing_connector_fails_the_same_way(
    dead_url: str, store: TeamsStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    messenger = messenger_for(dead_url, store)
    with pytest.raises(DeliveryError):
        await messenger.update(MessageRef("teams", PROVIDER_TENANT, "a:chat-with-morten", "bot-1"), PAGE)
    assert connector_retries(caplog) == []
    assert len(our_retries(caplog)) == len(RETRIES)


async def test_a_proxy_error_page_is_a_delivery_error_after_the_retries(
    proxy_error_url: str, store: TeamsStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with pytest.raises(DeliveryError):
        await messenger_for(proxy_error_url, store).send(TECHNICIAN, PAGE)
    assert len(our_retries(caplog)) == len(RETRIES)


async def test_a_hanging_connector_gives_up_at_the_deadline(connector: FakeConnector, store: TeamsStore) -> None:
    # Every attempt would time out after 0.5 s and be retried; the deadline ends the send during the first.
    connector.delay = 5.0
    messenger = messenger_for(connector.url, store, deadline=0.2, retry_delays=(0.01,) * 10)
    with pytest.raises(DeliveryError, match="within"):
        await messenger.send(TECHNICIAN, PAGE)
    assert len(connector.calls) <= 1


async def test_the_deadline_covers_the_waits_between_attempts(connector: FakeConnector, store: TeamsStore) -> None:
    connector.fail_next(503)
    messenger = messenger_for(connector.url, store, deadline=0.2, retry_delays=(30.0,))
    with pytest.raises(DeliveryError, match="within"):
        await messenger.send(TECHNICIAN, PAGE)
    assert connector.created() == []


async def test_a_healthy_connector_is_unaffected(connector: FakeConnector, store: TeamsStore) -> None:
    messenger = messenger_for(connector.url, store)
    ref = await messenger.send(TECHNICIAN, PAGE)
    await messenger.update(ref, Message("Kvitteret af Morten", key="page:10001"))
    assert len(connector.created()) == 1 and len(connector.posted()) == 1 and len(connector.updates()) == 1
