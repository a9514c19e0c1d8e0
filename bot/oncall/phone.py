"""Phone escalation: the SMS and the voice call that reach a technician who sleeps through a chat page.

`PhoneProvider` is the port a gateway implements (Twilio's REST API in `adapters.twilio`; a
Danish SMS gateway would be another). What the technician reads and hears, and how their answer
is read, is decided here, in their language, from the message catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.cases import Case
from bot.delivery import DeliveryError
from bot.i18n import text

SMS = "sms"
VOICE = "voice"
PHONE_PLATFORMS = (SMS, VOICE)
# The reply that takes the case, by SMS or as a key press in the call ("Svar 1", "Tast 1").
ACK_REPLY = "1"


class PhoneError(DeliveryError):
    """The gateway refused or could not be reached; the message says why, without credentials."""


class PhoneProvider(Protocol):
    """Sends SMS and places voice calls to technicians' phone numbers (E.164)."""

    async def send_sms(self, to: str, text: str) -> str:
        """Send `text`; returns the gateway's id of the message.

        Raises:
            PhoneError: the gateway did not take it.
        """
        ...

    async def call(self, to: str, spoken_text: str, *, language: str, case: int) -> str:
        """Call `to`, read `spoken_text` aloud in `language`, and let the technician press 1 to take `case`.

        Returns the gateway's id of the call.

        Raises:
            PhoneError: the gateway did not take it.
        """
        ...


@dataclass(frozen=True)
class Reply:
    """A technician's answer by phone: take the case (`number` when they named one), or something else."""

    acknowledge: bool
    number: int | None = None


def parse_reply(body: str) -> Reply:
    """ "1" takes the latest case texted to the sender; "1 10023" names the case."""
    words = body.strip().split()
    if not words or words[0] != ACK_REPLY or len(words) > 2:
        return Reply(acknowledge=False)
    if len(words) == 2:
        if not words[1].isdigit() or len(words[1]) > 12:
            return Reply(acknowledge=False)
        return Reply(acknowledge=True, number=int(words[1]))
    return Reply(acknowledge=True)


def sms_text(case: Case, language: str) -> str:
    """The SMS: case number, category, customer, and how to take it by answering."""
    category = text(f"intake.category.{case.category.value}", language)
    return text("oncall.phone.sms", language, number=case.number, category=category, customer=case.customer.name)


def spoken_text(case: Case, language: str, *, provider: str) -> str:
    """What the voice call reads aloud, ending with the key to press."""
    category = text(f"intake.category.{case.category.value}", language)
    return text(
        "oncall.phone.spoken",
        language,
        provider=provider,
        number=" ".join(str(case.number)),  # read digit by digit, as a case number is said on the phone
        category=category,
        customer=case.customer.name,
    )
