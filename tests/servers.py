"""The real server on 127.0.0.1, for the end-to-end tests of every front end."""

from __future__ import annotations

from aiohttp import web

from adapters.local.passes import CHAT, CHAT_COOKIE, INBOX, INBOX_COOKIE
from adapters.signed_links import SignedLinks
from bot.clock import Clock
from bot.config import load_settings


async def start_server(env: dict[str, str], clock: Clock) -> tuple[web.AppRunner, str]:
    """`adapters.server.create_app` with `env` as both settings and credentials, on a free port; returns its URL."""
    from adapters.server import create_app

    app = create_app(load_settings(env), environ=env, clock=clock)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def local_cookies(links: SignedLinks, *, user: str = "", tech: str = "") -> dict[str, str]:
    """The Cookie header of a browser of employee `user` and/or technician `tech` (opened through their link)."""
    cookies = [f"{CHAT_COOKIE}={links.issue(CHAT, user)}"] if user else []
    cookies += [f"{INBOX_COOKIE}={links.issue(INBOX, tech)}"] if tech else []
    return {"Cookie": "; ".join(cookies)}
