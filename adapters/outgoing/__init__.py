"""The senders behind the outbox (`bot.outgoing.runner.Sender`): signed webhook calls over HTTP, e-mail over SMTP.

`senders(settings, environ)` is what the composition root registers: a webhook sender always (a
webhook whose secret is missing fails its deliveries with that reason, and is logged at start-up),
and an SMTP sender only when `SUPPORTBOT_SMTP_HOST` is set.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from adapters.outgoing.smtp import SmtpSender, smtp_config
from adapters.outgoing.webhook import WebhookSender
from bot.config import Settings
from bot.outgoing.events import WEBHOOK
from bot.outgoing.mail import MAIL
from bot.outgoing.runner import Sender

logger = logging.getLogger(__name__)


def senders(settings: Settings, environ: Mapping[str, str]) -> dict[str, Sender]:
    found: dict[str, Sender] = {WEBHOOK: WebhookSender(settings.webhooks, environ)}
    for hook in settings.webhooks:
        if not environ.get(hook.secret_env):
            logger.error("webhook %s: the environment variable %s (its signing secret) is not set; "
                         "its events wait in the outbox until it is", hook.url, hook.secret_env)  # fmt: skip
    smtp = smtp_config(environ)
    if smtp is not None:
        found[MAIL] = SmtpSender(smtp)
    return found


def mail_recipient(settings: Settings, environ: Mapping[str, str]) -> str | None:
    """Where new cases are mailed: `[email] to`, else `[provider] email`; None when SMTP is not configured."""
    if smtp_config(environ) is None:
        return None
    return settings.email.to or settings.provider.email
