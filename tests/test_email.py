"""E-mail to the support mailbox: a real SMTP server (aiosmtpd) on 127.0.0.1, the bot's outbox, runner and sender."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from adapters.outgoing import mail_recipient
from adapters.outgoing.smtp import SmtpSender, smtp_config
from adapters.storage.embedded import EmbeddedStorage
from bot.cases import CaseEvent, CaseStatus, EventKind
from bot.clock import ManualClock
from bot.config import load_settings
from bot.errors import ConfigError
from bot.outgoing.events import Announcements
from bot.outgoing.mail import MAIL
from bot.outgoing.runner import OutboxRunner
from tests.contract.test_cases import new_case

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Mailbox:
    """The aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MailServer:
    """An SMTP server on one port of 127.0.0.1 that can go down and come back."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.port = free_port()
        self._mailbox = mailbox
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self._mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Any:
    mailbox = Mailbox()
    server = MailServer(mailbox)
    server.start()
    yield server, mailbox
    server.stop()


def environ(port: int) -> dict[str, str]:
    return {"SUPPORTBOT_SMTP_HOST": "127.0.0.1", "SUPPORTBOT_SMTP_PORT": str(port), "SUPPORTBOT_SMTP_STARTTLS": "0"}


async def test_a_new_case_is_mailed_to_the_support_address_once_with_the_number_in_the_subject(
    tmp_path: Path, smtp: Any
) -> None:
    controller, mailbox = smtp
    env = environ(controller.port)
    settings = load_settings({"SUPPORTBOT_DATA": str(tmp_path / "data")})
    storage = EmbeddedStorage(
        tmp_path / "data", announce=Announcements(settings, mail_to=mail_recipient(settings, env))
    )
    config = smtp_config(env)
    assert config is not None
    runner = OutboxRunner(
        outbox=storage.outbox, senders={MAIL: SmtpSender(config)}, settings=settings.outbox, clock=ManualClock(NOW)
    )
    case = await storage.cases.create(new_case(), now=NOW)
    ack = CaseEvent(NOW, EventKind.ACKNOWLEDGED, "vagt", {"name": "Morten"})
    await storage.cases.update(case.number, ack, status=CaseStatus.ACKNOWLEDGED)
    assert await runner.deliver_due() == 1
    (mail,) = mailbox.messages
    assert mail["To"] == "support@oo.dk" and mail["From"] == "supportbot@127.0.0.1"
    assert mail["Subject"] == "[Sag 10001] Intet internet på kontoret – Acme A/S"
    assert mail["Message-ID"] == "<case-10001-1@supportbot.invalid>"
    body = mail.get_content()
    assert "Ny sag 10001 fra OneOffices supportbot." in body
    assert "Beskrivelse:  internettet er nede for alle på kontoret" in body
    assert "Kunde:" in body and "Acme A/S" in body and "Svar på denne mail med emnet uændret" in body
    await storage.close()


async def test_a_mail_server_that_is_down_gets_the_mail_when_it_is_back(tmp_path: Path, smtp: Any) -> None:
    controller, mailbox = smtp
    env = environ(controller.port)
    config_file = tmp_path / "supportbot.toml"
    config_file.write_text('[email]\nto = "sager@oo.dk"\nlanguage = "en"\n', encoding="utf-8")
    settings = load_settings({"SUPPORTBOT_DATA": str(tmp_path / "data"), "SUPPORTBOT_CONFIG": str(config_file)})
    clock = ManualClock(NOW)
    storage = EmbeddedStorage(
        tmp_path / "data", announce=Announcements(settings, mail_to=mail_recipient(settings, env))
    )
    config = smtp_config(env)
    assert config is not None
    runner = OutboxRunner(
        outbox=storage.outbox, senders={MAIL: SmtpSender(config)}, settings=settings.outbox, clock=clock
    )
    controller.stop()
    await storage.cases.create(new_case(), now=NOW)
    assert await runner.deliver_due() == 0
    (waiting,) = await storage.outbox.unsent()
    assert waiting.attempts == 1 and "Connect" in waiting.last_error
    controller.start()
    clock.advance(timedelta(minutes=1))
    assert await runner.deliver_due() == 1
    (mail,) = mailbox.messages
    assert mail["To"] == "sager@oo.dk" and mail["Subject"] == "[Case 10001] No internet at the office – Acme A/S"
    await storage.close()


def test_email_is_off_without_smtp_and_bad_smtp_settings_are_named() -> None:
    settings = load_settings({})
    assert mail_recipient(settings, {}) is None
    assert mail_recipient(settings, {"SUPPORTBOT_SMTP_HOST": "smtp.oo.dk"}) == "support@oo.dk"
    config = smtp_config(
        {"SUPPORTBOT_SMTP_HOST": "smtp.oo.dk", "SUPPORTBOT_SMTP_USER": "bot@oo.dk", "SUPPORTBOT_SMTP_PASSWORD": "x"}
    )
    assert config is not None and config.port == 587 and config.starttls and config.sender == "bot@oo.dk"
    with pytest.raises(ConfigError, match="SUPPORTBOT_SMTP_PORT must be a port number"):
        smtp_config({"SUPPORTBOT_SMTP_HOST": "smtp.oo.dk", "SUPPORTBOT_SMTP_PORT": "smtp"})
    with pytest.raises(ConfigError, match="SUPPORTBOT_SMTP_PASSWORD is not"):
        smtp_config({"SUPPORTBOT_SMTP_HOST": "smtp.oo.dk", "SUPPORTBOT_SMTP_USER": "bot@oo.dk"})
