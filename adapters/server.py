"""The composition root: one aiohttp application for every front end."""

from __future__ import annotations

from aiohttp import web

from bot.config import Settings


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_get("/healthz", health)
    return app
