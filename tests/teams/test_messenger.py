"""TeamsMessenger with the real CloudAdapter against the fake Bot Connector: proactive sends, updates, retries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

from adapters.storage.embedded.documents import EmbeddedRecords
from adapters.teams.messenger import TeamsMessenger
from adapters.teams.settings import TeamsSettings
from adapters.teams.store import AsyncTeamsStore, TeamsStore
from bot.clock import ManualClock
from bot.delivery import Address, DeliveryError, MessageRef
from bot.messages import Choice, Message
from tests.teams.conftest import PROVIDER_TENANT, SATURDAY_NIGHT
from tests.teams.fake_connector import FakeConnector, choices_of, shown_text

TECHNICIAN = Address("teams", PROVIDER_TENANT, "aad-morten", "da")
PAGE = Message(
    "Bageriet ApS: intet internet",
    title="Sag 10001",
    choices=(Choice("oncall:ack:10001", "Kvittér", "primary"), Choice("oncall:resolve:10001", "Løst")),
    key="page:10001",
)


def make_messenger(connector: FakeConnector, store: TeamsStore, *, service_url: str | None = None) -> TeamsMessenger:
    settings = TeamsSettings()
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(settings.botbuilder_configuration()))
    return TeamsMessenger(
        adapter=adapter,
        settings=settings,
        store=AsyncTeamsStore(store),
        clock=ManualClock(SATURDAY_NIGHT),
        service_url=connector.url if service_url is None else service_url,
        retry_delays=(0.01, 0.01),
        attempt_timeout=0.5,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[TeamsStore]:
    teams_store = TeamsStore(EmbeddedRecords(tmp_path))
    yield teams_store


@pytest.fixture
def messenger(connector: FakeConnector, store: TeamsStore) -> TeamsMessenger:
    return make_messenger(connector, store)


async def test_a_first_page_opens_the_chat_and_later_ones_reuse_it(messenger: TeamsMessenger, connector: FakeConnector):
    ref = await messenger.send(TECHNICIAN, PAGE)
    (created,) = connector.created()
    assert ref == MessageRef("teams", PROVIDER_TENANT, created.conversation, connector.posted()[0].activity_id)
    assert choices_of(connector.posted()[0].body) == {"Kvittér": "oncall:ack:10001", "Løst": "oncall:resolve:10001"}

    await messenger.send(TECHNICIAN, Message("Påmindelse"))
    assert len(connector.created()) == 1
    assert [c.conversation for c in connector.posted()] == [created.conversation] * 2


async def test_update_replaces_the_page_in_place(messenger: TeamsMessenger, connector: FakeConnector) -> None:
    ref = await messenger.send(TECHNICIAN, PAGE)
    await messenger.update(ref, Message("Kvitteret af Morten", title="Sag 10001", key="page:10001"))
    (update,) = connector.updates()
    assert (update.conversation, update.activity_id) == (ref.channel, ref.message_id)
    assert "Kvitteret af Morten" in shown_text(update.body)
    assert update.body["channelData"] == {"tenant": {"id": PROVIDER_TENANT}}


async def test_a_message_with_the_key_of_a_sent_page_replaces_it(messenger: TeamsMessenger, connector: FakeConnector):
    ref = await messenger.send(TECHNICIAN, PAGE)
    again = await messenger.send(TECHNICIAN, Message("Løst af Sara", key="page:10001"))
    assert again == ref
    assert len(connector.posted()) == 1 and len(connector.updates()) == 1


async def test_429_and_5xx_are_retried(messenger: TeamsMessenger, connector: FakeConnector) -> None:
    connector.fail_next(503, 429)  # creating the chat works at the third attempt
    await messenger.send(TECHNICIAN, PAGE)
    connector.fail_next(502)
    await messenger.send(TECHNICIAN, Message("Påmindelse"))
    assert len(connector.created()) == 1 and len(connector.posted()) == 2
    assert connector.failures == []


async def test_it_gives_up_with_delivery_error_after_the_retries(messenger: TeamsMessenger, connector: FakeConnector):
    connector.fail_next(500, 500, 500, 500)
    with pytest.raises(DeliveryError):
        await messenger.send(TECHNICIAN, PAGE)
    assert connector.failures == [500], "three attempts: the first and two retries"


async def test_a_permanent_refusal_is_not_retried(messenger: TeamsMessenger, connector: FakeConnector) -> None:
    await messenger.send(TECHNICIAN, Message("hej"))
    connector.fail_next(403, 403)
    with pytest.raises(DeliveryError, match="403"):
        await messenger.send(TECHNICIAN, PAGE)
    assert connector.failures == [403]


async def test_a_connector_that_does_not_answer_times_out(messenger: TeamsMessenger, connector: FakeConnector) -> None:
    connector.delay = 1.0
    with pytest.raises(DeliveryError):
        await messenger.send(TECHNICIAN, PAGE)


async def test_an_unreachable_connector_is_a_delivery_error(connector: FakeConnector, store: TeamsStore) -> None:
    messenger = make_messenger(connector, store, service_url="http://127.0.0.1:9/")
    with pytest.raises(DeliveryError):
        await messenger.send(TECHNICIAN, PAGE)


async def test_no_service_url_and_no_chat_yet_is_a_clear_delivery_error(connector: FakeConnector, store: TeamsStore):
    messenger = make_messenger(connector, store, service_url="")
    with pytest.raises(DeliveryError, match="teams_service_url"):
        await messenger.send(TECHNICIAN, PAGE)
    assert connector.calls == []


async def test_a_team_channel_is_posted_to_directly(messenger: TeamsMessenger, connector: FakeConnector) -> None:
    channel = "19:support@thread.tacv2"
    ref = await messenger.send(Address("teams", "", channel), Message("Ny sag 10002"))
    assert connector.created() == []
    assert ref.channel == channel and connector.posted(channel)


async def test_references_survive_a_restart(connector: FakeConnector, tmp_path: Path) -> None:
    first = TeamsStore(EmbeddedRecords(tmp_path))
    await make_messenger(connector, first).send(TECHNICIAN, PAGE)
    second = TeamsStore(EmbeddedRecords(tmp_path))
    await make_messenger(connector, second).send(TECHNICIAN, Message("Påmindelse"))
    assert len(connector.created()) == 1


async def test_update_of_a_conversation_the_store_does_not_know_uses_the_service_url(
    messenger: TeamsMessenger, connector: FakeConnector
) -> None:
    ref = MessageRef("teams", PROVIDER_TENANT, "a:lost-conversation", "bot-77")
    await messenger.update(ref, Message("Løst", key="page:10001"))
    assert connector.created() == []
    (update,) = connector.updates()
    assert (update.conversation, update.activity_id) == ("a:lost-conversation", "bot-77")
