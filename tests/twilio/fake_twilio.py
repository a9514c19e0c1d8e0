"""A local fake of Twilio's REST API (Messages and Calls) on 127.0.0.1 that records what it accepts.

It checks requests as Twilio does: HTTP Basic auth with the account SID and auth token, the
account in the path, form fields (To in E.164, From one of the account's numbers, Body for a
message, Url or Twiml for a call; TwiML that parses, with a Response root), and answers refusals
with Twilio's error codes. It also plays Twilio calling back: `callback` posts a form to the bot
signed as Twilio signs (`X-Twilio-Signature`), written here independently of the bot's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = "f" * 32
FROM = "+4552000000"
PUBLIC_URL = "https://bot.example.dk"  # where the callbacks are signed for
E164 = re.compile(r"\+[1-9]\d{1,14}")


@dataclass
class Sent:
    kind: str  # "sms" or "call"
    sid: str
    to: str
    from_: str
    body: str = ""  # the SMS text
    twiml: str = ""  # the call's TwiML

    def gather(self) -> tuple[str, str]:
        """(action URL, spoken text) of the call's <Gather>."""
        root = ET.fromstring(self.twiml)
        gather = root.find("Gather")
        assert gather is not None, self.twiml
        say = gather.find("Say")
        assert say is not None
        return gather.attrib["action"], say.text or ""


class FakeTwilio:
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.refused: list[tuple[int, dict[str, Any]]] = []
        self.numbers = {FROM}
        self.down = False  # answer 503 to everything
        self.url = ""
        self._sids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    def env(self) -> dict[str, str]:
        """The variables that point the bot at this fake with its credentials, and its callbacks' public URL."""
        return {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM": FROM,
            "TWILIO_API_URL": self.url,
            "SUPPORTBOT_PUBLIC_URL": PUBLIC_URL,
        }

    @property
    def sms(self) -> list[Sent]:
        return [s for s in self.sent if s.kind == "sms"]

    @property
    def calls(self) -> list[Sent]:
        return [s for s in self.sent if s.kind == "call"]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/{resource}.json", self._create)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _create(self, request: web.Request) -> web.Response:
        if self.down:
            return self._error(503, 20500, "Service unavailable")
        user, password = _basic(request.headers.get("Authorization", ""))
        if (user, password) != (ACCOUNT_SID, AUTH_TOKEN):
            return self._error(401, 20003, "Authenticate")
        if request.match_info["account"] != user:
            return self._error(404, 20404, "The requested resource was not found")
        if request.content_type != "application/x-www-form-urlencoded":
            return self._error(400, 20001, "Form-encoded parameters expected")
        form = dict(parse_qsl(await request.text(), keep_blank_values=True))
        to, from_ = form.get("To", ""), form.get("From", "")
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not E164.fullmatch(to):
            return self._error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if from_ not in self.numbers:
            return self._error(400, 21606, "The 'From' phone number is not a valid Twilio phone number")
        resource = request.match_info["resource"]
        if resource == "Messages":
            body = form.get("Body", "")
            if not body.strip():
                return self._error(400, 21602, "Message body is required.")
            if len(body) > 1600:
                return self._error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
            sent = Sent("sms", f"SM{next(self._sids):032d}", to, from_, body=body)
        elif resource == "Calls":
            document = form.get("Twiml", "")
            if not document and not form.get("Url"):
                return self._error(400, 21205, "Url or Twiml parameter is required.")
            if len(document) > 4000:
                return self._error(400, 21236, "Twiml exceeds 4000 characters.")
            try:
                if document and ET.fromstring(document).tag != "Response":
                    raise ET.ParseError("no Response root")
            except ET.ParseError:
                return self._error(400, 12100, "Document parse failure")
            sent = Sent("call", f"CA{next(self._sids):032d}", to, from_, twiml=document)
        else:
            return self._error(404, 20404, "The requested resource was not found")
        self.sent.append(sent)
        return web.json_response({"sid": sent.sid, "status": "queued", "to": to, "from": from_}, status=201)

    def _error(self, status: int, code: int, message: str) -> web.Response:
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
        self.refused.append((status, body))
        return web.json_response({**body, "status": status}, status=status)


def _basic(header: str) -> tuple[str, str]:
    if not header.startswith("Basic "):
        return "", ""
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return "", ""
    return user, password


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """Twilio's X-Twilio-Signature of a POST to `url` with `params`."""
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


async def callback(
    bot_url: str, public_url: str, path: str, params: dict[str, str], *, signature: str | None = None
) -> tuple[int, str]:
    """POST `params` to the bot at `path` as Twilio does (signed over the public URL); (status, body)."""
    header = sign(public_url + path, params) if signature is None else signature
    async with (
        aiohttp.ClientSession() as session,
        session.post(bot_url + path, data=params, headers={"X-Twilio-Signature": header}) as response,
    ):
        return response.status, await response.text()
