"""The webhook signature: HMAC-SHA256 over "<unix time>.<body>", sent as `X-Supportbot-Signature: t=…,v1=…`.

The same scheme as Stripe's and Slack's: the timestamp is signed with the body, so a receiver that
refuses old timestamps also refuses a recorded call played back later.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Supportbot-Signature"
TOLERANCE_SECONDS = 300  # what the README's receiver accepts


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver checks: a v1 signature of this body at a timestamp within `tolerance` seconds of `now`."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).rpartition("v1=")[2]
    return hmac.compare_digest(expected, parts.get("v1", ""))
