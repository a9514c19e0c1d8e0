"""A stand-in for Slack's Web API and the Bot Connector, fast and always OK, for load runs.

The tests have recording fakes that check every payload; this one only answers, so that the
figures measure the bot and not the fake. Run: `python -m benchmarks.fake_platforms --port N
[--latency-ms M]`; with a latency, every Slack call and response_url post is answered M ms late, as
real Slack answers 100-300 ms after a call from Europe (a sleep: it costs the fake no CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections import Counter

from aiohttp import web

_ids = itertools.count(1)
# Calls received per kind ("chat.postMessage", "response", "connector"), so a load run can wait for
# the work a server does after its ack; GET /stats reads it, POST /stats/reset clears it.
calls: Counter[str] = Counter()
# When the first chat.postMessage reached each channel, the first users.info asked about each user
# ("users.info/<user>") and the first post to each response_url ("response/<tail>"), by
# time.monotonic() (one clock for every process on the machine): the answers a load run waits for,
# and the steps on the way, keyed to its requests. GET /answers reads it; /stats/reset clears it.
answers: dict[str, float] = {}
LATENCY = web.AppKey("latency", float)  # seconds every Slack call waits before it is answered


async def slack_api(request: web.Request) -> web.Response:
    method = request.match_info["method"]
    calls[method] += 1
    n = next(_ids)
    if method == "chat.postMessage":
        answers.setdefault(await _param(request, "channel"), time.monotonic())
    elif method == "users.info":
        answers.setdefault(f"users.info/{request.query.get('user')}", time.monotonic())
    await _slack_latency(request)
    body: dict[str, object] = {"ok": True}
    if method == "auth.test":
        body |= {"user_id": "UBOT", "bot_id": "BBOT", "team_id": "TBENCH", "team": "Bench", "url": "https://bench/"}
    elif method == "users.info":
        body |= {"user": {"id": request.query.get("user", "U1"), "locale": "da-DK", "real_name": "Bench User"}}
    elif method == "conversations.open":
        body |= {"channel": {"id": f"D{await _param(request, 'users')}"}}
    elif method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
        body |= {"channel": "D1", "ts": f"{n}.000100", "message_ts": f"{n}.000100"}
    elif method == "views.open":
        body |= {"view": {"id": f"V{n}"}}
    return web.json_response(body)


async def _param(request: web.Request, name: str) -> str:
    """A parameter of a Web API call, sent as JSON, a form or the query string."""
    if request.content_type == "application/json":
        return str((await request.json()).get(name, ""))
    if request.can_read_body:
        return str((await request.post()).get(name, ""))
    return request.query.get(name, "")


async def response_url(request: web.Request) -> web.Response:
    calls["response"] += 1
    await request.read()
    answers.setdefault(f"response/{request.match_info['tail']}", time.monotonic())
    await _slack_latency(request)
    return web.json_response({"ok": True})


async def _slack_latency(request: web.Request) -> None:
    if latency := request.app[LATENCY]:
        await asyncio.sleep(latency)


async def connector(request: web.Request) -> web.Response:
    calls["connector"] += 1
    await request.read()
    n = next(_ids)
    if request.path.rstrip("/") == "/v3/conversations" and request.method == "POST":
        return web.json_response({"id": f"a:{n}", "activityId": f"{n}", "serviceUrl": ""})
    return web.json_response({"id": f"{n}"})


async def token(request: web.Request) -> web.Response:
    return web.json_response({"token_type": "Bearer", "expires_in": 3600, "access_token": "bench"})


async def stats(request: web.Request) -> web.Response:
    if request.method == "POST":
        calls.clear()
        answers.clear()
    return web.json_response(dict(calls))


async def answered(request: web.Request) -> web.Response:
    return web.json_response(answers)


def create_app(*, latency: float = 0.0) -> web.Application:
    app = web.Application()
    app[LATENCY] = latency
    app.router.add_route("*", "/api/{method}", slack_api)
    app.router.add_route("*", "/response/{tail:.*}", response_url)
    app.router.add_route("*", "/v3/{tail:.*}", connector)
    app.router.add_post("/token", token)
    app.router.add_get("/stats", stats)
    app.router.add_post("/stats/reset", stats)
    app.router.add_get("/answers", answered)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="answer every Slack call this late")
    args = parser.parse_args()
    app = create_app(latency=args.latency_ms / 1000)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
