"""`supportbot serve`: run the aiohttp server until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from dataclasses import replace

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from adapters.calendar_feed import PATH_PREFIX as CALENDAR_PREFIX
from adapters.local.passes import inbox_links
from adapters.net import is_loopback_host, local_base_url
from adapters.server import FRONT_END_STATUS, create_app
from adapters.signed_links import SIGNED_LINKS
from bot.config import Settings, parse_moment
from bot.errors import BotError

logger = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# Polled every 2 s by each open chat or inbox tab, and by health checks: not worth a log line each.
QUIET_PATHS = frozenset({"/healthz", "/local/api/messages", "/local/api/inbox"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", help="start the bot's clock at this ISO-8601 moment, running on from there")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.now:
        settings = replace(settings, start_at=parse_moment(args.now, settings.hours.timezone, what="--now"))
    asyncio.run(_serve(settings))
    return 0


async def _serve(settings: Settings) -> None:
    await serve_app(create_app(settings), settings)


async def serve_app(app: web.Application, settings: Settings) -> None:
    """Run `app` on settings.host and settings.port until SIGTERM or SIGINT, then shut it down cleanly.

    The signals are taken before the port opens, so a stop that comes as soon as the bot answers (a
    deploy, a test) still ends in a clean shutdown rather than the default kill.

    Raises:
        BotError: when the address cannot be listened on, saying what to change.
    """
    runner = web.AppRunner(app, handle_signals=False, access_log_class=AccessLog)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        port = await _listen(runner, settings)
        _announce(app, settings, port)
        await stop.wait()
        logger.info("stopping")
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        await runner.cleanup()


async def _listen(runner: web.AppRunner, settings: Settings) -> int:
    """Open the port; the port listened on (PORT=0 picks a free one)."""
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:
        raise BotError(
            f"cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc}); set PORT or HOST to another one"
        ) from exc
    return runner.addresses[0][1] if runner.addresses else settings.port


def _announce(app: web.Application, settings: Settings, port: int) -> None:
    """Where the bot listens, in the log; on this machine, the local pages and each inbox link on the screen."""
    logger.info("listening on http://%s:%d", _url_host(settings.host), port)
    if settings.start_at is not None:
        logger.info("the bot's clock started at %s and runs on from there", settings.start_at.isoformat())
    if app.get(FRONT_END_STATUS, {}).get("local") == "enabled":
        base = local_base_url(settings.host, port)
        logger.info("chat as an employee: %s/", base)
        if is_loopback_host(settings.host):
            # Running locally: each technician's inbox link, on the screen and never in the log (it is a secret).
            links = inbox_links(app[SIGNED_LINKS], settings.oncall.technicians, base)
            for tech, link in links.items():
                print(f"on-call inbox for {tech}: {link}", flush=True)


class AccessLog(AbstractAccessLogger):
    """One line per request, without the query string, secrets in the path, and the routine polls.

    A query can carry a secret (the single-use `code` of /slack/oauth_redirect), a calendar feed's
    path is its secret token, and every open chat or inbox tab polls every 2 seconds, which would
    bury everything else in the log. A poll that fails is still logged.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if request.method == "GET" and request.path in QUIET_PATHS and response.status < 400:
            return
        self.logger.info(
            '%s "%s %s" %d %s %.3fs',
            request.remote,
            request.method,
            loggable_path(request.path),
            response.status,
            response.body_length,
            time,
        )


def loggable_path(path: str) -> str:
    """The path as logged: a calendar feed's token is replaced by "…"."""
    return CALENDAR_PREFIX + "…" if path.startswith(CALENDAR_PREFIX) else path


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
