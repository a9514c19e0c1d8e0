"""`X-Twilio-Signature`: how Twilio signs every callback, so a forged one is refused.

Twilio takes the full URL it called (as configured, so the bot's public URL), appends each POST
parameter's name and value sorted by name, signs that with HMAC-SHA1 keyed by the auth token and
sends it base64-encoded. A name given more than once counts each distinct value once, in order,
as Twilio's own SDKs compute it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    payload = url + "".join(name + value for name, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def is_valid(url: str, params: Iterable[tuple[str, str]], auth_token: str, given: str) -> bool:
    return bool(given) and hmac.compare_digest(signature(url, params, auth_token), given)
