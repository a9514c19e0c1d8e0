"""Network facts every front end decides on the same way."""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def is_loopback_host(host: str) -> bool:
    """True for addresses only this machine can reach: 127.0.0.0/8, ::1 and the localhost names.

    False for 0.0.0.0 and :: (every interface), a LAN address or any other name. Names under
    `.localhost` count too: RFC 6761 reserves them for loopback, and browsers resolve them there.
    """
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def local_base_url(host: str, port: int) -> str:
    """The address a browser on this machine opens: the loopback HOST itself, else 127.0.0.1."""
    name = host if is_loopback_host(host) else "127.0.0.1"
    return f"http://[{name}]:{port}" if ":" in name else f"http://{name}:{port}"
