"""Who may use the local channel: only a browser on this machine.

The chat and the inbox have no accounts, so they must not be reachable from elsewhere. Besides the
peer address this refuses what a web page on another site could make a local browser send: a
request for a foreign host name (DNS rebinding), from a foreign origin, or through a proxy.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from adapters.net import is_loopback_host


def refusal(request: web.BaseRequest) -> str | None:
    """Why this request may not use the local channel, or None when it may."""
    if not request.remote or not is_loopback_host(request.remote):
        return "the local chat and on-call inbox only answer requests from this machine"
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return "the local chat and on-call inbox are not served through a proxy"
    if not is_loopback_host(_host_name(request.host)):
        return "the local chat and on-call inbox answer only to localhost or 127.0.0.1"
    origin = request.headers.get("Origin")  # browsers send one on every POST; an empty or "null" one is refused
    if origin is not None and not is_loopback_host(urlsplit(origin).hostname or ""):
        return "requests from other web sites are not accepted"
    return None


def _host_name(host: str) -> str:
    """The name part of a Host header ("127.0.0.1:3978", "[::1]:3978", "localhost")."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
