"""One Bot Connector client per service URL, kept across turns instead of one per activity.

botbuilder's connector factory builds a new `ConnectorClient` for every activity, and with it a new
HTTP session: every turn opens a new connection to the Bot Connector (a TLS handshake to Teams'
regional endpoint) and pays for the client's set-up. The endpoint wraps the factory of each
authenticated request in `ReusedConnectors.factory`, so turns with the same service URL and
audience share one client and its pool of kept-alive connections. The client's credentials renew
their own token; `messenger._without_connector_retries` sets the same retry policy on every use.
The endpoint serves one bot (one app id), so the app id is no part of the key.
"""

from __future__ import annotations

from collections import OrderedDict

from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import ConnectorFactory

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
