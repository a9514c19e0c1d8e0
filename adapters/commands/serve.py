"""`supportbot serve`: run the aiohttp server until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from dataclasses import replace

from aiohttp import web

from adapters.server import create_app
from bot.config import Settings, parse_moment

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", help="start the bot's clock at this ISO-8601 moment, running on from there")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.now:
        settings = replace(settings, start_at=parse_moment(args.now, settings.hours.timezone, what="--now"))
    asyncio.run(_serve(settings))
    return 0


async def _serve(settings: Settings) -> None:
    app = create_app(settings)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    logger.info("listening on http://%s:%d", settings.host, settings.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logger.info("stopping")
    await runner.cleanup()
