"""SMS and voice escalation through Twilio: the `PhoneProvider` for on-call and its two callbacks.

Enabled when TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM and SUPPORTBOT_PUBLIC_URL are set
(the callbacks' signatures are checked against the public URL Twilio calls). Texts and calls go
out only where `[oncall] sms_after_minutes` / `call_after_minutes` say so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web

from adapters.twilio.client import GATHER_PATH, TwilioPhone
from adapters.twilio.settings import TwilioSettings
from adapters.twilio.webhooks import SMS_PATH, TwilioWebhooks
from adapters.wiring import Services

__all__ = ["GATHER_PATH", "SMS_PATH", "TwilioPhone", "mount"]

logger = logging.getLogger(__name__)


def mount(app: web.Application, services: Services, environ: Mapping[str, str]) -> str | None:
    """Give on-call the Twilio phone and mount its callbacks; the reason when it stays off."""
    settings = TwilioSettings.from_env(environ)
    reason = settings.disabled_reason(environ)
    if reason is not None:
        return reason
    phone = TwilioPhone(settings=settings)
    services.oncall.use_phone(phone)
    hooks = TwilioWebhooks(settings=settings, oncall=services.oncall)
    app.router.add_post(SMS_PATH, hooks.sms)
    app.router.add_post(GATHER_PATH, hooks.gather)

    async def close(_: web.Application) -> None:
        await phone.close()

    app.on_cleanup.append(close)
    logger.info(
        "Twilio: SMS replies at %s%s, key presses at %s%s",
        settings.public_url,
        SMS_PATH,
        settings.public_url,
        GATHER_PATH,
    )
    return None
