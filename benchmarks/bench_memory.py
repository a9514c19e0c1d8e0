"""Resident memory of the real server after 1,000, 5,000 and 10,000 finished conversations.

Each conversation is a whole Slack intake on a Wednesday morning: `/support internettet virker ikke
for nogen på kontoret` (the bot asks "Passer det?" in the DM), then the "Ja" button (the case is
created and posted to the team). Conversations run in batches of `BATCH` employees at once; after
each half of a batch the run waits until the server has finished the work it started after its
acks. The employees are a pool of `USERS` people who report again and again, so what is measured is
what finished conversations leave behind, not how many people there are.
Targets (issue 7): under 150 MB, and no growth with the number of finished conversations, judged
between the last two checkpoints (the caches bounded by count are full by then) as under 2 MB per 1,000.
Run: `python -m benchmarks.bench_memory [--quick]`; the run stops at `--budget` seconds and says how far it got.
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
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.bench_http import CONFIG, CONFIRM, NOW, PROBLEM, USERS, button, count_cases, get_json, settle, slash
from benchmarks.load import SIGNING_SECRET, free_port, server_process

CHECKPOINTS = (1_000, 5_000, 10_000)
QUICK_CHECKPOINTS = (100, 500, 1_000)
BATCH = 50
LIMIT_MB = 150.0


async def drive(ours: str, fake: str, checkpoints: tuple[int, ...], budget: float) -> dict[str, Any]:
    """Run conversations up to the last checkpoint (or the time budget); RSS after a full GC at each."""
    start_slash = slash(ours, fake)
    press_yes = button(ours, fake)
    rows: list[dict[str, Any]] = []
    done = 0
    began = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=BATCH * 2)) as session:
        idle = (await get_json(session, f"{ours}/bench/probe?reset=1"))["busy_tasks"]
        baseline = await get_json(session, f"{ours}/bench/probe?gc=1")
        rows.append({"conversations": 0, "rss_mb": baseline["rss_mb"], "seconds": 0.0})
        for checkpoint in checkpoints:
            while done < checkpoint and time.perf_counter() - began < budget:
                users = [(done + k) % USERS for k in range(min(BATCH, checkpoint - done))]
                # The same user number in both requests: `slash` and `button` pick user i % USERS.
                ok = await asyncio.gather(*(start_slash(session, u) for u in users))
                await settle(session, ours, idle)
                ok += await asyncio.gather(*(press_yes(session, u) for u in users))
                await settle(session, ours, idle)
                if not all(ok):
                    raise RuntimeError(f"{ok.count(False)} requests failed around conversation {done}")
                done += len(users)
            probe = await get_json(session, f"{ours}/bench/probe?gc=1&reset=1")
            rows.append(
                {
                    "conversations": done,
                    "rss_mb": probe["rss_mb"],
                    "seconds": round(time.perf_counter() - began, 1),
                    "lag_max_ms": round(probe["max_ms"], 1),
                    "lag_over_20ms": probe["over_20ms"],
                    "dialog_locks": probe["dialog_locks"],
                }
            )
            print(
                f"{done:>8,} conversations  {probe['rss_mb']:>7.1f} MB  {rows[-1]['seconds']:>7.1f} s"
                f"  lag max {probe['max_ms']:>6.1f} ms ({probe['over_20ms']} > 20 ms)",
                flush=True,
            )
            if os.environ.get("BENCH_TRACEMALLOC"):
                top = await get_json(session, f"{ours}/bench/probe?top=15")
                print("\n".join(f"    {line}" for line in top.get("top", [])), flush=True)
            if done < checkpoint:
                print(f"stopped: the {budget:.0f} s budget ran out at {done:,} conversations", flush=True)
                break
    return {"rows": rows, "finished": done}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_memory")
    parser.add_argument("--quick", action="store_true", help="100, 500 and 1,000 conversations")
    parser.add_argument("--budget", type=float, default=900.0, help="seconds before the run stops early")
    args = parser.parse_args(argv or [])  # `python -m benchmarks` calls main() with no options
    checkpoints = QUICK_CHECKPOINTS if args.quick else CHECKPOINTS
    root = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        (root / "supportbot.toml").write_text(CONFIG, encoding="utf-8")
        ports = {"fake": free_port(), "ours": free_port()}
        fake, ours = (f"http://127.0.0.1:{ports[name]}" for name in ("fake", "ours"))
        env = {
            "SUPPORTBOT_DATA": str(root / "data"),
            "SUPPORTBOT_CONFIG": str(root / "supportbot.toml"),
            "SUPPORTBOT_NOW": NOW,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_API_URL": f"{fake}/api/",
            **({"BENCH_TRACEMALLOC": "1"} if os.environ.get("BENCH_TRACEMALLOC") else {}),
        }
        print(
            f"Slack intake conversations ({PROBLEM!r}, then {CONFIRM}) by a pool of {USERS} employees, {BATCH} at once;"
            f" {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            flush=True,
        )
        with (
            server_process(["benchmarks.fake_platforms", "--port", str(ports["fake"])], port=ports["fake"]),
            server_process(["benchmarks.watched_server"], port=ports["ours"], env=env, log=root / "server.log"),
        ):
            result = asyncio.run(drive(ours, fake, checkpoints, args.budget))
        rows = result["rows"]
        cases = count_cases(root / "data")
        # Growth between the last two checkpoints: by then the bounded caches (recent cases, DM channels,
        # replies with buttons, ...) are full, so what is left is what each finished conversation keeps.
        measured = [r for r in rows if r["conversations"]]
        first, last = measured[-2] if len(measured) > 1 else measured[0], measured[-1]
        growth = last["rss_mb"] - first["rss_mb"]
        per_thousand = growth / max(1, (last["conversations"] - first["conversations"]) / 1000)
        overall = (last["rss_mb"] - measured[0]["rss_mb"]) / max(
            1, (last["conversations"] - measured[0]["conversations"]) / 1000
        )
        verdicts = {
            "under_150_mb": all(r["rss_mb"] < LIMIT_MB for r in rows),
            "reached_last_checkpoint": result["finished"] >= checkpoints[-1],
            "no_growth_over_2mb_per_1000": per_thousand < 2.0,
            "every_conversation_made_a_case": cases == result["finished"],
        }
        print(f"cases created: {cases:,} for {result['finished']:,} conversations")
        print(
            f"growth from {first['conversations']:,} to {last['conversations']:,}: {growth:+.1f} MB"
            f" ({per_thousand:+.2f} MB per 1,000 conversations; {overall:+.2f} from {measured[0]['conversations']:,})"
        )
        print("targets: " + ", ".join(f"{k}={'PASS' if v else 'FAIL'}" for k, v in verdicts.items()))
        print(
            json.dumps(
                {
                    "benchmark": "memory",
                    "quick": args.quick,
                    "cases": cases,
                    "mb_per_1000": round(per_thousand, 2),
                    "verdicts": verdicts,
                    "rows": rows,
                }
            )
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
