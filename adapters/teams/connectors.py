"""One Bot Connector client per service URL, kept across turns instead of one per activity.

botbuilder's connector factory builds a new `ConnectorClient` for every activity, and with it a new
HTTP session: every turn opens a new connection to the Bot Connector (a TLS handshake to Teams'
regional endpoint) and pays for the client's set-up. The endpoint wraps the factory of each
authenticated request in `ReusedConnectors.factory`, so turns with the same service URL and
audience share one client and its pool of kept-alive connections. The client's credentials renew
their own token; `messenger._without_connector_retries` sets the same retry policy on every use.
The endpoint serves one bot (one app id), so the app id is no part of the key.

The same holds for the user-token client botbuilder makes for every turn (for sign-in prompts, which
this bot never shows): `ReusingAuthentication` keeps one per app id. Each new one cost a msrest
client with its own HTTP session, and left about a hundred objects in reference cycles per turn for
the garbage collector to find while the event loop waits.
"""

from __future__ import annotations

from collections import OrderedDict

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import AuthenticationConstants, ClaimsIdentity, ConnectorFactory, UserTokenClient

# Teams has a handful of regional service URLs; the bound only matters for odd callers (the Emulator).
MAX_CLIENTS = 32


class ReusedConnectors:
    """The shared clients, newest use last; beyond `size` the least recently used is dropped."""

    def __init__(self, size: int = MAX_CLIENTS) -> None:
        self.size = size
        self._clients: OrderedDict[tuple[str, str | None], ConnectorClient] = OrderedDict()

    def factory(self, inner: ConnectorFactory) -> ConnectorFactory:
        """`inner`, but answering from the shared clients when it can."""
        return _ReusingFactory(inner, self)

    async def get(self, inner: ConnectorFactory, service_url: str, audience: str | None) -> ConnectorClient:
        key = (service_url, audience)
        client = self._clients.get(key)
        if client is None:
            client = await inner.create(service_url, audience)
            self._clients[key] = client
            while len(self._clients) > self.size:
                self._clients.popitem(last=False)
        self._clients.move_to_end(key)
        return client

    def __len__(self) -> int:
        return len(self._clients)


class _ReusingFactory(ConnectorFactory):
    def __init__(self, inner: ConnectorFactory, clients: ReusedConnectors) -> None:
        self._inner = inner
        self._clients = clients

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        return await self._clients.get(self._inner, service_url, audience)


class ReusingAuthentication(ConfigurationBotFrameworkAuthentication):
    """botbuilder's authentication from configuration, with one user-token client per app id."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._user_token_clients: dict[str, UserTokenClient] = {}

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        # Where botbuilder reads the app id: the audience (a channel's token), else the appid claim (the
        # Emulator); None without authentication.
        app_id = claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM) or (
            claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM) or ""
        )
        client = self._user_token_clients.get(app_id)
        if client is None:
            client = await super().create_user_token_client(claims_identity)
            self._user_token_clients[app_id] = client
        return client
