"""The TwiML documents the bot answers Twilio with: what to text back, say, or ask for in a call."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

# Twilio's text-to-speech voices by our catalog language.
VOICE_LANGUAGES = {"da": "da-DK", "en": "en-GB"}
GATHER_SECONDS = 10  # how long the call waits for a key


def document(*verbs: str) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?><Response>' + "".join(verbs) + "</Response>"


def message(text: str) -> str:
    return f"<Message>{escape(text)}</Message>"


def say(text: str, language: str) -> str:
    return f"<Say language={quoteattr(VOICE_LANGUAGES.get(language, 'da-DK'))}>{escape(text)}</Say>"


def gather(spoken: str, language: str, *, action: str, otherwise: str) -> str:
    """Read `spoken` and wait for one key, posted to `action`; no key: say `otherwise` and hang up."""
    asked = f'<Gather numDigits="1" timeout="{GATHER_SECONDS}" method="POST" action={quoteattr(action)}>'
    return document(asked + say(spoken, language) + "</Gather>", say(otherwise, language))
