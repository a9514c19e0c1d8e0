"""The Twilio gateway's settings, from the environment only (the auth token is a secret)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

API_URL = "https://api.twilio.com"
REQUIRED = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM", "SUPPORTBOT_PUBLIC_URL")


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    from_number: str  # the Twilio number texts and calls come from, E.164
    public_url: str  # where Twilio reaches the bot; the callbacks' signatures are made over it
    api_url: str = API_URL  # TWILIO_API_URL: only the tests point it elsewhere (the fake Twilio)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TwilioSettings:
        return cls(
            account_sid=environ.get("TWILIO_ACCOUNT_SID", "").strip(),
            auth_token=environ.get("TWILIO_AUTH_TOKEN", "").strip(),
            from_number=environ.get("TWILIO_FROM", "").strip().replace(" ", ""),
            public_url=environ.get("SUPPORTBOT_PUBLIC_URL", "").strip().rstrip("/"),
            api_url=(environ.get("TWILIO_API_URL", "").strip() or API_URL).rstrip("/"),
        )

    def disabled_reason(self, environ: Mapping[str, str]) -> str | None:
        """Why SMS and calls stay off (None: they are on)."""
        missing = [name for name in REQUIRED if not environ.get(name, "").strip()]
        if missing:
            return f"{', '.join(missing)} not set"
        return None

    def __repr__(self) -> str:  # never show the token in a log or a traceback
        return f"TwilioSettings(account_sid={self.account_sid!r}, from_number={self.from_number!r})"
