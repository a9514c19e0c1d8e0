"""The floor for Slack: a bolt AsyncApp on aiohttp that only acks. Run with --port and --api."""

from __future__ import annotations

import argparse
import os
import re

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from benchmarks.loop_monitors import watch


def create_app(api_url: str) -> web.Application:
    bolt = AsyncApp(
        client=AsyncWebClient(token="xoxb-bench", base_url=api_url),
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    )

    @bolt.command("/support")
    async def support(ack) -> None:
        await ack()

    # The same matcher as the real app's (adapters/slack/listeners.py): any action id starting "sb:".
    @bolt.action(re.compile(r"^sb:"))
    async def press(ack) -> None:
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", lambda request: web.json_response({"status": "ok"}))
    watch(app)  # the same monitors as our server's, so neither side is slowed by them alone
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api", required=True, help="Slack Web API base URL, ending in /api/")
    args = parser.parse_args()
    web.run_app(create_app(args.api), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
