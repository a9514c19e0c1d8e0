"""Twilio's callbacks: an SMS reply (`POST /twilio/sms`) and a key pressed in a call (`POST /twilio/voice/gather`).

Each is refused with 403 unless `X-Twilio-Signature` is Twilio's signature of the public URL and
the form; then the answer goes to `OncallService.phone_answer`, which acknowledges through the
same `press` as the chat button. A number that is no technician's gets an empty answer: nothing
is texted back to strangers.
"""

from __future__ import annotations

import logging

from aiohttp import web

from adapters.twilio import twiml
from adapters.twilio.settings import TwilioSettings
from adapters.twilio.signature import is_valid
from bot.oncall.phone import SMS, VOICE
from bot.oncall.service import OncallService

logger = logging.getLogger(__name__)

SMS_PATH = "/twilio/sms"
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_FORM = 64 * 1024  # Twilio's callbacks are a few hundred bytes


class TwilioWebhooks:
    def __init__(self, *, settings: TwilioSettings, oncall: OncallService) -> None:
        self._settings = settings
        self._oncall = oncall

    async def sms(self, request: web.Request) -> web.Response:
        form = await self._signed_form(request)
        answer = await self._oncall.phone_answer(form.get("From", ""), form.get("Body", ""), via=SMS)
        return _twiml(twiml.document(twiml.message(answer.text)) if answer else twiml.document())

    async def gather(self, request: web.Request) -> web.Response:
        form = await self._signed_form(request)
        case = request.query.get("case", "")
        if not case.isdigit() or len(case) > 12:
            raise web.HTTPBadRequest(text="case must be a case number")
        # In a call the bot placed, Twilio's To is the technician's number.
        answer = await self._oncall.phone_answer(form.get("To", ""), form.get("Digits", ""), via=VOICE, case=int(case))
        if answer is None:
            return _twiml(twiml.document("<Hangup/>"))
        return _twiml(twiml.document(twiml.say(answer.text, answer.language)))

    async def _signed_form(self, request: web.Request) -> dict[str, str]:
        """The form of a request Twilio signed; 403 for anything else."""
        if request.content_length is not None and request.content_length > MAX_FORM:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM, actual_size=request.content_length)
        try:
            posted = await request.post()
        except ValueError as exc:
            raise web.HTTPBadRequest(text="the body must be a form") from exc
        params = [(name, value) for name, value in posted.items() if isinstance(value, str)]
        url = self._settings.public_url + request.path_qs
        if not is_valid(url, params, self._settings.auth_token, request.headers.get(SIGNATURE_HEADER, "")):
            logger.warning("refused a %s callback without a valid Twilio signature", request.path)
            raise web.HTTPForbidden(text="invalid X-Twilio-Signature")
        return dict(params)


def _twiml(document: str) -> web.Response:
    return web.Response(text=document, content_type="application/xml")
