"""Load-generation helpers: server subprocesses, signed Slack requests, latency percentiles.

The load runs in this process; every server under test runs in its own process, so the two
never share an event loop or a core's time slice unknowingly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parent.parent
SIGNING_SECRET = "bench-signing-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server_process(
    args: list[str], *, port: int, env: Mapping[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `python -m <args>` and wait until its /healthz answers; stop it afterwards."""
    full_env = {**os.environ, **(env or {}), "PORT": str(port)}
    out = log.open("wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=full_env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{' '.join(args)} exited with {proc.returncode}; see {log}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(args)} did not start within 30 s") from None
                time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            out.close()  # type: ignore[union-attr]


def slack_headers(body: str, *, secret: str = SIGNING_SECRET) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature or "",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash_command_body(*, team: str, user: str, text: str, response_url: str, trigger: str) -> str:
    return urlencode(
        {
            "token": "legacy",
            "team_id": team,
            "team_domain": "bench",
            "channel_id": f"C{user}",
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/support",
            "text": text,
            "api_app_id": "ABENCH",
            "response_url": response_url,
            "trigger_id": trigger,
        }
    )


@dataclass(frozen=True)
class LoadResult:
    scenario: str
    target: str
    concurrency: int
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    rps: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(share * (len(sorted_values) - 1))))
    return sorted_values[index]


async def run_load(
    scenario: str,
    target: str,
    one: Callable[[aiohttp.ClientSession, int], Awaitable[bool]],
    *,
    concurrency: int,
    requests: int,
) -> LoadResult:
    """Run `requests` calls of `one(session, i)` with `concurrency` users; `one` returns success."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def user() -> None:
            nonlocal errors
            for i in counter:
                start = time.perf_counter()
                try:
                    ok = await one(session, i)
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += 0 if ok else 1

        began = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return LoadResult(
        scenario=scenario,
        target=target,
        concurrency=concurrency,
        requests=requests,
        errors=errors,
        p50_ms=round(percentile(ms, 0.50), 2),
        p95_ms=round(percentile(ms, 0.95), 2),
        p99_ms=round(percentile(ms, 0.99), 2),
        max_ms=round(ms[-1], 2) if ms else float("nan"),
        rps=round(requests / elapsed, 1),
    )
