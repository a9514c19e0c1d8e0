"""Slack's Web API for any installed workspace, with the retries a page at 3 a.m. deserves.

Transient failures (HTTP 5xx, `ratelimited` with Retry-After, timeouts, broken connections) are
retried with exponential backoff; anything else (a deleted user, a revoked token) fails at once.
When it gives up it raises `DeliveryError`, so the on-call service moves on to the backup instead
of waiting. Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import DeliveryError
from bot.observe import NO_OBSERVER, Observer

logger = logging.getLogger(__name__)

TokenSource = Callable[[str], Awaitable[str]]  # team id -> bot token; raises DeliveryError when not installed

MAX_CLIENTS = 1000  # workspaces whose Web API client is kept

# Slack errors that say "try again later" rather than "this will never work".
TRANSIENT_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})


class Transient(Exception):
    """One failed attempt worth repeating; `wait` is Slack's Retry-After when it sent one."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


class SlackWebApi:
    """Web API calls with retries; one shared HTTP session for every workspace."""

    def __init__(
        self,
        *,
        tokens: TokenSource,
        base_url: str,
        attempts: int = 4,
        backoff: float = 0.5,
        max_wait: float = 30.0,
        timeout: float = 10.0,
        observer: Observer = NO_OBSERVER,
    ) -> None:
        self._tokens = tokens
        self._base_url = base_url
        self._attempts = attempts
        self._backoff = backoff
        self._max_wait = max_wait
        self._timeout = timeout
        self._observer = observer
        self._session: aiohttp.ClientSession | None = None
        # One client per bot token, on the shared session: building one per call cost more than the call.
        self._clients: OrderedDict[str, AsyncWebClient] = OrderedDict()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
            self._clients.clear()  # they hold the closed session
        return self._session

    def _client(self, token: str) -> AsyncWebClient:
        session = self._http()
        client = self._clients.get(token)
        if client is None:
            client = AsyncWebClient(
                token=token, base_url=self._base_url, timeout=int(self._timeout), session=session, retry_handlers=[]
            )
            self._clients[token] = client
            if len(self._clients) > MAX_CLIENTS:  # tokens of uninstalled workspaces go first
                self._clients.popitem(last=False)
        self._clients.move_to_end(token)
        return client

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, team: str, method: str, *, http_verb: str = "POST", **params: Any) -> dict[str, Any]:
        """Call `method` in workspace `team`; the response data, or DeliveryError after the retries."""
        client = self._client(await self._tokens(team))

        async def attempt() -> dict[str, Any]:
            try:
                if http_verb == "GET":
                    response = await client.api_call(method, http_verb="GET", params=params)
                else:
                    response = await client.api_call(method, json=params)
            except SlackApiError as exc:
                raise _classify(exc) from exc
            except (TimeoutError, aiohttp.ClientError, SlackClientError) as exc:
                raise Transient(type(exc).__name__) from exc
            return dict(response.data) if isinstance(response.data, dict) else {}

        return await self._with_retries(f"{method} in {team}", attempt)

    async def respond(self, response_url: str, payload: dict[str, Any]) -> None:
        """Post to an interaction's response_url (ephemeral replies and in-place replacements)."""

        async def attempt() -> None:
            try:
                async with self._http().post(response_url, json=payload) as response:
                    body = await response.text()
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise Transient(type(exc).__name__) from exc
            if response.status == 429:
                raise Transient("ratelimited", _retry_after(response.headers.get("Retry-After")))
            if response.status >= 500:
                raise Transient(f"HTTP {response.status}")
            if response.status >= 400:
                # 404 means the response_url expired (30 minutes, 5 uses): nothing a retry fixes.
                raise DeliveryError(f"response_url refused the message: HTTP {response.status} {body[:100]}")

        await self._with_retries("response_url", attempt)

    async def _with_retries(self, what: str, attempt: Callable[[], Awaitable[Any]]) -> Any:
        delay = self._backoff
        for number in range(1, self._attempts + 1):
            try:
                return await attempt()
            except Transient as failure:
                wait = failure.wait if failure.wait is not None else delay
                if number == self._attempts or wait > self._max_wait:
                    logger.warning("Slack %s failed %d times (%s); giving up", what, number, failure.reason)
                    raise DeliveryError(f"Slack {what} failed: {failure.reason}") from failure
                logger.info("Slack %s: %s, retrying in %.1f s", what, failure.reason, wait)
                self._observer.delivery_retried("slack")
                await asyncio.sleep(wait)
                delay *= 2
        raise AssertionError("unreachable")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _classify(exc: SlackApiError) -> Exception:
    """A transient failure to retry, or a DeliveryError naming Slack's error code."""
    response = exc.response
    status = getattr(response, "status_code", 200)
    error = response.get("error", "") if isinstance(response.data, dict) else ""
    if status == 429 or error == "ratelimited":
        return Transient(
            "ratelimited", _retry_after(response.headers.get("Retry-After") or response.headers.get("retry-after"))
        )
    if status >= 500 or error in TRANSIENT_ERRORS:
        return Transient(error or f"HTTP {status}")
    return DeliveryError(f"Slack refused: {error or f'HTTP {status}'}")
