"""Webhook calls: the event's JSON POSTed to the receiver, signed, with its idempotency key.

Headers: `X-Supportbot-Signature` (see `signing`), `X-Supportbot-Event` ("case.created"),
`Idempotency-Key` (the event id, also the body's "id"), `X-Supportbot-Delivery` (the outbox id, for
the operator). Any 2xx is delivered; anything else, a timeout or a refused connection is a failed
attempt, retried by the runner. The secret is read from the environment at each call, so a rotated
secret applies to the retries too; it is never logged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence

import aiohttp

from adapters.outgoing.signing import HEADER, signature
from bot.config import Webhook
from bot.outgoing.runner import SendError
from bot.ports import Delivery

TIMEOUT_SECONDS = 10.0
USER_AGENT = "supportbot-webhooks/1"


class WebhookSender:
    """`bot.outgoing.runner.Sender` for the "webhook" channel."""

    def __init__(
        self, hooks: Sequence[Webhook], environ: Mapping[str, str], *, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self._secret_env = {hook.url: hook.secret_env for hook in hooks}
        self._environ = environ
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, delivery: Delivery) -> None:
        message = delivery.message
        env = self._secret_env.get(message.target)
        if env is None:
            raise SendError("this address is no longer in [[webhooks]]; add it back, or leave the delivery failed")
        secret = self._environ.get(env, "")
        if not secret:
            raise SendError(f"the signing secret is missing: set the environment variable {env}")
        body = json.dumps(message.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            HEADER: signature(secret, int(time.time()), body),  # the receiver's clock, not the bot's (--now)
            "X-Supportbot-Event": message.event,
            "Idempotency-Key": message.event_id,
            "X-Supportbot-Delivery": str(delivery.id),
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.post(message.target, data=body, headers=headers, allow_redirects=False) as response,
            ):
                if not 200 <= response.status < 300:
                    raise SendError(f"HTTP {response.status} {response.reason or ''}".strip())
        except TimeoutError as exc:
            raise SendError(f"no answer within {self._timeout.total:g} s") from exc
        except aiohttp.ClientError as exc:
            raise SendError(f"{type(exc).__name__}: {exc}") from exc
