"""E-mail to the support mailbox over SMTP (aiosmtplib), configured from the environment.

`SUPPORTBOT_SMTP_HOST` turns it on; `SUPPORTBOT_SMTP_PORT` (587), `SUPPORTBOT_SMTP_USER` and
`SUPPORTBOT_SMTP_PASSWORD` (log in when a user is given), `SUPPORTBOT_SMTP_STARTTLS` (1: upgrade the
connection with STARTTLS, the default; 0: plain, only for a relay on the same machine; port 465 is
TLS from the start), `SUPPORTBOT_SMTP_FROM` (the sender; default the user, else supportbot@<host>).
The Message-ID comes from the event id, so a mail re-sent after a lost answer is recognised as the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from bot.errors import ConfigError
from bot.outgoing.runner import SendError
from bot.ports import Delivery

TIMEOUT_SECONDS = 20.0
IMPLICIT_TLS_PORT = 465


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str
    password: str
    starttls: bool
    sender: str


def smtp_config(environ: Mapping[str, str]) -> SmtpConfig | None:
    """The SMTP settings, or None when `SUPPORTBOT_SMTP_HOST` is not set (e-mail stays off).

    Raises:
        ConfigError: a variable is set to something unusable; the message names it.
    """
    host = environ.get("SUPPORTBOT_SMTP_HOST", "").strip()
    if not host:
        return None
    port_text = environ.get("SUPPORTBOT_SMTP_PORT", "587").strip()
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"environment: SUPPORTBOT_SMTP_PORT must be a port number such as 587, not {port_text!r}")
    starttls_text = environ.get("SUPPORTBOT_SMTP_STARTTLS", "1").strip().lower()
    if starttls_text not in ("1", "0", "true", "false", "yes", "no"):
        raise ConfigError(f"environment: SUPPORTBOT_SMTP_STARTTLS must be 1 or 0, not {starttls_text!r}")
    user = environ.get("SUPPORTBOT_SMTP_USER", "").strip()
    password = environ.get("SUPPORTBOT_SMTP_PASSWORD", "")
    if user and not password:
        raise ConfigError("environment: SUPPORTBOT_SMTP_USER is set but SUPPORTBOT_SMTP_PASSWORD is not")
    sender = environ.get("SUPPORTBOT_SMTP_FROM", "").strip() or (user if "@" in user else f"supportbot@{host}")
    return SmtpConfig(host, int(port_text), user, password, starttls_text in ("1", "true", "yes"), sender)


class SmtpSender:
    """`bot.outgoing.runner.Sender` for the "email" channel."""

    def __init__(self, config: SmtpConfig, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.config = config
        self._timeout = timeout

    async def send(self, delivery: Delivery) -> None:
        mail = delivery.message.payload
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = delivery.message.target
        message["Subject"] = mail["subject"]
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<case-{mail['message_id']}@supportbot.invalid>"
        message["X-Supportbot-Case"] = str(delivery.message.case)
        message.set_content(mail["body"])
        config = self.config
        implicit_tls = config.port == IMPLICIT_TLS_PORT
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.user or None,
                password=config.password or None,
                use_tls=implicit_tls,
                start_tls=config.starttls and not implicit_tls,
                timeout=self._timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SendError(f"{type(exc).__name__}: {exc}") from exc
