"""`TwilioPhone`: the `PhoneProvider` on Twilio's REST API (Messages and Calls), with aiohttp.

One POST per SMS or call, form-encoded, HTTP Basic auth with the account SID and auth token. A
refusal (Twilio's error code and message) or an unreachable API becomes a `PhoneError`; the caller
records it on the case and the ladder goes on, so there is no retry here.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import aiohttp

from adapters.twilio import twiml
from adapters.twilio.settings import TwilioSettings
from bot.i18n import text
from bot.oncall.phone import PhoneError

logger = logging.getLogger(__name__)

GATHER_PATH = "/twilio/voice/gather"
TIMEOUT = aiohttp.ClientTimeout(total=15)


class TwilioPhone:
    """Texts and calls technicians through Twilio."""

    def __init__(self, *, settings: TwilioSettings) -> None:
        self._settings = settings
        credentials = f"{settings.account_sid}:{settings.auth_token}".encode()
        self._auth = "Basic " + base64.b64encode(credentials).decode()
        self._session: aiohttp.ClientSession | None = None

    async def send_sms(self, to: str, text: str) -> str:
        return await self._post("Messages", {"To": to, "From": self._settings.from_number, "Body": text})

    async def call(self, to: str, spoken_text: str, *, language: str, case: int) -> str:
        action = f"{self._settings.public_url}{GATHER_PATH}?case={case}"
        document = twiml.gather(spoken_text, language, action=action, otherwise=text("oncall.phone.no_key", language))
        return await self._post("Calls", {"To": to, "From": self._settings.from_number, "Twiml": document})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(self, resource: str, form: dict[str, str]) -> str:
        """POST to Accounts/{sid}/{resource}.json; the new resource's sid."""
        settings = self._settings
        url = f"{settings.api_url}/2010-04-01/Accounts/{settings.account_sid}/{resource}.json"
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        try:
            async with self._session.post(url, data=form, headers={"Authorization": self._auth}) as response:
                status = response.status
                body: Any = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise PhoneError(f"Twilio {resource}: no usable answer ({type(exc).__name__})") from exc
        if not isinstance(body, dict):
            raise PhoneError(f"Twilio {resource}: HTTP {status} without a JSON object")
        if status >= 400 or not body.get("sid"):
            raise PhoneError(f"Twilio {resource}: HTTP {status}, error {body.get('code')}: {body.get('message')}")
        logger.info("Twilio %s %s accepted", resource, body["sid"])
        return str(body["sid"])
