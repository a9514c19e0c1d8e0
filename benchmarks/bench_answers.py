"""Slack answers under sustained load: signed `/support` commands at a fixed rate (open loop).

Closed-loop users (`bench_http.py`) send the next request only after the last was acked, so a slow
server slows its own load. Here the requests leave on a timetable, `rate` a second for `seconds`,
whatever the server does, each from a new employee (an outage: everyone writes once). Every latency
is counted from the moment the timetable said the request should leave, so a late load generator
shows up as latency too (`late` says how late it sent at worst).

- `ack`: until Slack's 3-second ack came back (target: p99 < 100 ms).
- `answer`: until the reply reached the employee's DM (the first chat.postMessage in that channel, as
  the fake Slack API recorded it; target: p99 < 2 s).
- `queued`: until the work after the ack began (the first users.info about the employee), and `turn`:
  from the pointer to the DM (the response_url post) to the answer: the dialog turn and its durable save.
- `backlog`: requests not answered yet when the last one was acked; `drain s`: until the last answer.
- `busy`: requests whose ack said the answer is late (past capacity; Slack shows the ack's text to the
  employee at once), `away`: those of them turned away (no answer: "try again in a few minutes"),
  `lost`: requests with a plain ack and no answer (must be 0).
- `cpu`: share of one core used during the timetable by our server, the fake Slack API and this load
  generator; all three share the machine's 2 cores.

After 10, 100 and 1,000 a second it searches for the highest rate at which every request is answered
with answer p99 < 2 s and ack p99 < 100 ms. `--latency-ms` makes the fake Slack answer each call that
late (real Slack: 100-300 ms from Europe). Run: `python -m benchmarks.bench_answers [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from subprocess import Popen

import aiohttp

from benchmarks.bench_case_store import write_earlier_cases
from benchmarks.bench_http import CONFIG, NOW, PROBLEM, TEAM, get_json, settle
from benchmarks.load import SIGNING_SECRET, free_port, percentile, server_process, slack_headers, slash_command_body

RATES = (10, 100, 1000)
SECONDS = 10.0  # per rate; --quick: QUICK_SECONDS
QUICK_SECONDS = 4.0
EARLIER_CASES = 10_000
SEARCH_STEPS = 5  # bisections after the first failing rate: about 3 % apart at the end
HIGHEST = 8000  # the search stops doubling here
ACK_TARGET_MS = 100.0
ANSWER_TARGET_MS = 2000.0
DRAIN_TIMEOUT = 120.0
CLIENT_CONNECTIONS = 500


@dataclass(frozen=True)
class Sent:
    """One request: when the timetable sent it, when its ack came, what the ack said."""

    user: str
    due: float
    left: float
    acked: float
    status: int
    busy: bool


@dataclass(frozen=True)
class RateResult:
    rate: float
    seconds: float
    requests: int
    errors: int
    late_ms_p99: float
    ack_ms_p50: float
    ack_ms_p99: float
    answered: int
    busy: int
    turned_away: int
    lost: int
    answer_ms_p50: float
    answer_ms_p99: float
    answer_ms_max: float
    queued_ms_p99: float
    turn_ms_p50: float
    turn_ms_p99: float
    backlog: int
    drain_s: float
    cpu_server: float
    cpu_fake: float
    cpu_load: float

    def meets_targets(self) -> bool:
        return (
            self.errors == 0
            and self.busy == 0
            and self.turned_away == 0
            and self.lost == 0
            and self.ack_ms_p99 < ACK_TARGET_MS
            and self.answer_ms_p99 < ANSWER_TARGET_MS
        )


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def requests_for(run: int, rate: float, seconds: float, fake: str) -> list[tuple[str, str, dict[str, str]]]:
    """Signed bodies made before the clock starts, so the generator only sends during the run."""
    made = []
    for i in range(int(rate * seconds)):
        user = f"U{run:02d}{i:06d}"
        body = slash_command_body(
            team=TEAM, user=user, text=PROBLEM, response_url=f"{fake}/response/{user}", trigger=f"{run}.{i}.bench"
        )
        made.append((user, body, slack_headers(body)))
    return made


async def send_on_timetable(
    url: str, planned: list[tuple[str, str, dict[str, str]]], rate: float
) -> tuple[list[Sent], int]:
    """Send `planned` at `rate` a second, each when due whether or not earlier ones were acked."""
    sent: list[Sent] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=CLIENT_CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:

        async def one(user: str, body: str, headers: dict[str, str], due: float) -> None:
            nonlocal errors
            left = time.monotonic()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    said = await response.read()
                    sent.append(Sent(user, due, left, time.monotonic(), response.status, bool(said.strip())))
                    errors += response.status != 200
            except (aiohttp.ClientError, TimeoutError):
                errors += 1

        start = time.monotonic() + 0.05
        tasks = []
        for i, (user, body, headers) in enumerate(planned):
            due = start + i / rate
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(user, body, headers, due)))
        await asyncio.gather(*tasks)
    return sent, errors


async def run_rate(
    run: int, rate: float, seconds: float, *, ours: str, fake: str, pids: dict[str, int], idle: int
) -> RateResult:
    planned = requests_for(run, rate, seconds, fake)
    async with aiohttp.ClientSession() as session:
        await get_json(session, f"{fake}/stats/reset", post=True)
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        began = time.monotonic()
        sent, errors = await send_on_timetable(f"{ours}/slack/events", planned, rate)
        elapsed = time.monotonic() - began
        cpu = {name: round((cpu_seconds(pid) - cpu_before[name]) / elapsed, 2) for name, pid in pids.items()}
        at_end = await get_json(session, f"{fake}/answers")
        backlog = sum(f"D{s.user}" not in at_end for s in sent if not s.busy)
        await settle(session, ours, idle)
        answers = await get_json(session, f"{fake}/answers")
    last = max(answers.values(), default=began)
    answer_ms = sorted((answers[f"D{s.user}"] - s.due) * 1000 for s in sent if f"D{s.user}" in answers)
    ack_ms = sorted((s.acked - s.due) * 1000 for s in sent)
    late_ms = sorted((s.left - s.due) * 1000 for s in sent)
    queued_ms = sorted((answers[f"users.info/{s.user}"] - s.due) * 1000 for s in sent if f"D{s.user}" in answers)
    turn_ms = sorted(
        (answers[f"D{s.user}"] - answers[f"response/{s.user}"]) * 1000 for s in sent if f"D{s.user}" in answers
    )
    busy = sum(s.busy for s in sent)
    return RateResult(
        rate=rate,
        seconds=seconds,
        requests=len(planned),
        errors=errors,
        late_ms_p99=round(percentile(late_ms, 0.99), 1),
        ack_ms_p50=round(percentile(ack_ms, 0.50), 1),
        ack_ms_p99=round(percentile(ack_ms, 0.99), 1),
        answered=len(answer_ms),
        busy=busy,
        turned_away=sum(s.busy and f"D{s.user}" not in answers for s in sent),
        lost=sum(not s.busy and f"D{s.user}" not in answers for s in sent),
        answer_ms_p50=round(percentile(answer_ms, 0.50), 1),
        answer_ms_p99=round(percentile(answer_ms, 0.99), 1),
        answer_ms_max=round(answer_ms[-1], 1) if answer_ms else float("nan"),
        queued_ms_p99=round(percentile(queued_ms, 0.99), 1),
        turn_ms_p50=round(percentile(turn_ms, 0.50), 1),
        turn_ms_p99=round(percentile(turn_ms, 0.99), 1),
        backlog=backlog,
        drain_s=round(max(0.0, last - (began + elapsed)), 2),
        cpu_server=cpu["server"],
        cpu_fake=cpu["fake"],
        cpu_load=cpu["load"],
    )


HEAD = (
    f"{'rate/s':>8}{'sent':>7}{'err':>5}{'late99':>8}{'ack p50':>9}{'ack p99':>9}{'answered':>9}{'busy':>6}"
    f"{'away':>5}{'lost':>5}{'ans p50':>9}{'ans p99':>9}{'ans max':>9}{'queued99':>9}{'turn50':>8}{'turn99':>8}"
    f"{'backlog':>8}{'drain s':>8}"
    f"{'cpu ours':>9}{'fake':>6}{'load':>6}  ok"
)


def line(r: RateResult) -> str:
    return (
        f"{r.rate:>8.0f}{r.requests:>7}{r.errors:>5}{r.late_ms_p99:>8.1f}{r.ack_ms_p50:>9.1f}{r.ack_ms_p99:>9.1f}"
        f"{r.answered:>9}{r.busy:>6}{r.turned_away:>5}{r.lost:>5}{r.answer_ms_p50:>9.0f}{r.answer_ms_p99:>9.0f}"
        f"{r.answer_ms_max:>9.0f}{r.queued_ms_p99:>9.0f}{r.turn_ms_p50:>8.0f}{r.turn_ms_p99:>8.0f}{r.backlog:>8}{r.drain_s:>8.1f}{r.cpu_server:>9.2f}{r.cpu_fake:>6.2f}"
        f"{r.cpu_load:>6.2f}  {'yes' if r.meets_targets() else 'no'}"
    )


async def measure(
    *, ours: str, fake: str, pids: dict[str, int], seconds: float, rates: list[float] | None = None
) -> list[RateResult]:
    """The fixed rates, then doubling from the best of them until a rate fails, then bisection."""
    async with aiohttp.ClientSession() as session:
        idle = (await get_json(session, f"{ours}/bench/probe?reset=1"))["busy_tasks"]
    results: list[RateResult] = []
    runs = iter(range(100))

    async def at(rate: float) -> RateResult:
        result = await run_rate(next(runs), rate, seconds, ours=ours, fake=fake, pids=pids, idle=idle)
        results.append(result)
        print(line(result), flush=True)
        return result

    for rate in rates or RATES:
        await at(rate)
    if rates:
        return results
    passed = [r.rate for r in results if r.meets_targets()]
    good, bad = (max(passed) if passed else 1.0), None
    failed = [r.rate for r in results if not r.meets_targets() and r.rate > good]
    bad = min(failed) if failed else None
    while bad is None and good < HIGHEST:
        rate = min(HIGHEST, good * 2)
        if (await at(rate)).meets_targets():
            good = rate
        else:
            bad = rate
    for _ in range(SEARCH_STEPS if bad is not None else 0):
        rate = round((good + bad) / 2)
        if (await at(rate)).meets_targets():
            good = rate
        else:
            bad = rate
    print(f"highest rate with every request answered, answer p99 < 2 s and ack p99 < 100 ms: {good:.0f}/s")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_answers")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SECONDS:.0f} s per rate")
    parser.add_argument("--seconds", type=float, help=f"seconds per rate (default {SECONDS:.0f})")
    parser.add_argument("--rate", type=float, action="append", help="only this rate (repeat for more); no search")
    parser.add_argument("--cases", type=int, default=EARLIER_CASES, help="earlier cases on file")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="the fake Slack answers each call this late")
    args = parser.parse_args(argv or [])  # `python -m benchmarks` calls main() with no options
    seconds = args.seconds or (QUICK_SECONDS if args.quick else SECONDS)
    root = Path(tempfile.mkdtemp(prefix="bench-answers-"))
    try:
        data = root / "data"
        write_earlier_cases(data / "cases", args.cases)
        (root / "supportbot.toml").write_text(CONFIG, encoding="utf-8")
        print(
            f"{args.cases:,} earlier cases; {seconds:.0f} s per rate; fake Slack latency {args.latency_ms:.0f} ms; "
            f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            flush=True,
        )
        ports = {name: free_port() for name in ("fake", "ours")}
        fake, ours = (f"http://127.0.0.1:{ports[name]}" for name in ("fake", "ours"))
        env = {
            "SUPPORTBOT_DATA": str(data),
            "SUPPORTBOT_CONFIG": str(root / "supportbot.toml"),
            "SUPPORTBOT_NOW": NOW,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_API_URL": f"{fake}/api/",
        }
        with ExitStack() as stack:
            fake_args = ["benchmarks.fake_platforms", "--port", str(ports["fake"])]
            fake_args += ["--latency-ms", str(args.latency_ms)]
            processes: dict[str, Popen[bytes]] = {
                "fake": stack.enter_context(server_process(fake_args, port=ports["fake"], log=root / "fake.log")),
                "server": stack.enter_context(
                    server_process(["benchmarks.watched_server"], port=ports["ours"], env=env, log=root / "server.log")
                ),
            }
            pids = {name: proc.pid for name, proc in processes.items()} | {"load": os.getpid()}
            print(HEAD, flush=True)
            results = asyncio.run(measure(ours=ours, fake=fake, pids=pids, seconds=seconds, rates=args.rate))
        print(json.dumps({"benchmark": "answers", "latency_ms": args.latency_ms, "rows": [asdict(r) for r in results]}))
        errors = (root / "server.log").read_text(errors="replace").count("Traceback")
        if errors:
            print(f"the server log has {errors} tracebacks; kept in {root}", file=sys.stderr)
            root = Path()
    finally:
        if root != Path():
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
