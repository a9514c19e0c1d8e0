"""Several replicas on PostgreSQL beside the embedded engine: case creation, acknowledgement, and paging delay.

Each replica is a process of its own with the on-call service on its engine, as `bot serve` has it
(only the chat platform is a sink that takes every message at once, so the figures are the bot's
and the database's). In one run, for the embedded engine (one process: it owns its folder) and for
one and three replicas on one PostgreSQL database:

- case creation: every replica creates `CASES` cases through the `Cases` port, `CONCURRENCY` at a
  time, all replicas at once; throughput is all cases over the wall time from the first start to
  the last end (a create takes the locked counter row, so replicas queue on it);
- acknowledgement: each replica pages its cases, then presses Ack on each of them, `CONCURRENCY` at
  a time, as a technician's button press does (`OncallService.press`): p50 and p99 of one press;
- paging delay: `DUE` pages whose next step falls due spread over `DUE_SPREAD`, with every replica's
  timer loop running (`OncallService.run`): from the due moment to the escalated page's send, p50
  and p99. A replica looks every `POLL_INTERVAL` seconds, so one waits up to that long; with three
  replicas looking at different moments, the wait shrinks.

The PostgreSQL cluster is our own throwaway one (`tests/pg_cluster.py`) with fsync on, like the
embedded engine's writes. Without PostgreSQL's binaries on the machine the PostgreSQL rows are skipped.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.cases import Case, CaseStatus, Category, CustomerRef, NewCase, Reporter, Scope
from bot.clock import SystemClock
from bot.config import load_settings
from bot.delivery import Address, MessageRef, Messengers
from bot.messages import Message
from bot.oncall.pages import ACK, choice_id
from bot.oncall.service import POLL_INTERVAL, OncallService

ROOT = Path(__file__).resolve().parent.parent
CASES = 150  # created by each replica
CONCURRENCY = 8  # creates or presses in flight in one replica
DUE = 40  # pages whose next step falls due while the timers run
DUE_SPREAD = 20.0  # seconds over which they fall due
TECHNICIAN = Address("local", "local", "vagt", "da")  # the primary of the default rota


class Sink:
    """The chat platform: takes every message at once and notes when each page for a case went out."""

    def __init__(self) -> None:
        self.first_sent: dict[int, float] = {}  # case number -> wall time of its first escalated page

    async def send(self, to: Address, message: Message) -> MessageRef:
        number = int(message.metadata.get("case", 0)) if message.metadata else 0
        self.first_sent.setdefault(number, time.time())
        return MessageRef(to.platform, to.workspace, to.user_id, f"{number}.{time.time()}")

    async def update(self, ref: MessageRef, message: Message) -> None:
        return None


def new_case(replica: int, n: int) -> NewCase:
    return NewCase(
        reporter=Reporter("local", "local", f"emp-{replica}-{n}", "Mette", "da"),
        customer=CustomerRef(f"Kunde {replica}-{n} A/S"),  # no two alike, so no page is linked to another
        description="internettet er nede for alle på kontoret",
        category=Category.INTERNET_DOWN,
        confidence=90,
        scope=Scope.ALL,
        critical=True,
        after_hours=True,
    )


def open_storage(spec: dict[str, Any], data: Path) -> Any:
    if spec["engine"] == "postgresql":
        from adapters.storage.postgres import PostgresStorage

        return PostgresStorage(spec["url"])
    from adapters.storage.embedded import EmbeddedStorage

    return EmbeddedStorage(data)


async def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One replica: its storage and on-call service, then the phase `spec` names, timed from the go file."""
    folder = Path(spec["folder"])
    config = folder / f"supportbot-{spec['index']}.toml"
    config.write_text("", encoding="utf-8")
    settings = load_settings({"SUPPORTBOT_CONFIG": str(config), "SUPPORTBOT_DATA": str(folder / "data")})
    storage = open_storage(spec, settings.data_dir)
    sink = Sink()
    messengers = Messengers()
    messengers.register("local", sink)
    service = OncallService.on_storage(storage, settings=settings, messengers=messengers, clock=SystemClock())
    limit = asyncio.Semaphore(CONCURRENCY)

    async def limited(work: Any) -> Any:
        async with limit:
            return await work

    go = Path(spec["go"])
    result: dict[str, Any] = {}
    try:
        if spec["phase"] == "create_ack":
            await asyncio.to_thread(wait_for, go)
            began = time.time()
            made = await asyncio.gather(
                *(
                    limited(storage.cases.create(new_case(spec["index"], n), now=datetime.now(UTC)))
                    for n in range(CASES)
                )
            )
            result["create"] = (began, time.time())
            for case in made:
                await service.page(case)
            await service.settled()

            async def press(case: Case) -> float:
                started = time.perf_counter()
                await service.press(choice_id(ACK, case.number), TECHNICIAN)
                return time.perf_counter() - started

            result["press"] = await asyncio.gather(*(limited(press(c)) for c in made))
            stored = await storage.cases.get_many([c.number for c in made])
            result["acknowledged"] = sum(c.status is CaseStatus.ACKNOWLEDGED for c in stored)
        else:
            if spec["index"] == 0:
                result["due"] = await due_pages(storage, service, float(spec["first_due"]))
                await asyncio.to_thread(go.touch)
            await asyncio.to_thread(wait_for, go)
            sink.first_sent.clear()  # the first pages of the setup are not what is measured
            timers = asyncio.create_task(service.run())
            await asyncio.sleep(max(0.0, float(spec["first_due"]) + DUE_SPREAD + 2 * POLL_INTERVAL - time.time()))
            timers.cancel()
            await service.stop(grace=5)
            result["sent"] = sink.first_sent
    finally:
        await storage.close()
    return result


def wait_for(go: Path) -> None:
    """Until the go file exists: every replica starts the measured work at the same moment."""
    while not go.exists():
        time.sleep(0.005)


async def due_pages(storage: Any, service: OncallService, first_due: float) -> dict[int, float]:
    """`DUE` paged cases whose next step falls due one after the other from `first_due` (wall time)."""
    due: dict[int, float] = {}
    for n in range(DUE):
        case = await storage.cases.create(new_case(99, n), now=datetime.now(UTC))
        await service.page(case)
        await service.settled()
        record = await storage.pages.get(case.number)
        due[case.number] = first_due + n * DUE_SPREAD / DUE
        await storage.pages.put(replace(record, due=datetime.fromtimestamp(due[case.number], UTC)))
    return due


def run_replicas(spec: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """`count` worker processes on the same storage, started at once through the go file."""
    spec = {**spec, "go": str(Path(spec["folder"]) / f"go-{spec['phase']}-{count}")}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_replicas", json.dumps({**spec, "index": i})],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    if spec["phase"] == "create_ack":
        time.sleep(3)  # every process has connected and waits
        Path(spec["go"]).touch()
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=600)
        if process.returncode != 0:
            raise RuntimeError(f"a replica failed (exit {process.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(spec: dict[str, Any], count: int) -> dict[str, float]:
    created = run_replicas({**spec, "phase": "create_ack"}, count)
    began = min(r["create"][0] for r in created)
    ended = max(r["create"][1] for r in created)
    presses = [p * 1000 for r in created for p in r["press"]]
    first_due = time.time() + 8  # after the setup of the due pages
    timed = run_replicas({**spec, "phase": "due", "first_due": first_due}, count)
    sent: dict[int, float] = {}
    for r in timed:
        for number, at in r["sent"].items():
            sent[int(number)] = min(at, sent.get(int(number), at))
    due_at = {int(number): at for number, at in timed[0]["due"].items()}
    delays = [(sent[n] - at) * 1000 for n, at in due_at.items() if n in sent]
    return {
        "replicas": count,
        "creates_per_s": count * CASES / (ended - began),
        "ack_p50_ms": statistics.median(presses),
        "ack_p99_ms": percentile(presses, 99),
        "acknowledged": sum(r["acknowledged"] for r in created) / (count * CASES),
        "due_to_sent_p50_ms": statistics.median(delays),
        "due_to_sent_p99_ms": percentile(delays, 99),
        "due_pages_sent": len(delays),
    }


def main() -> None:
    from tests.pg_cluster import HOW_TO_ENABLE, Cluster, find_binaries, free_port

    rows: list[tuple[str, dict[str, float]]] = []
    root = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    try:
        embedded = root / "embedded"
        embedded.mkdir()
        rows.append(("embedded", measure({"engine": "embedded", "folder": str(embedded)}, 1)))
        if find_binaries() is None:
            print(f"PostgreSQL skipped: {HOW_TO_ENABLE}")
        else:
            cluster = Cluster(Path(tempfile.mkdtemp(prefix="bench-replicas-pg-")), free_port())  # postgres's own
            cluster.start()
            try:
                for count in (1, 3):
                    url = cluster.create_database(f"bench{count}")
                    folder = root / f"pg{count}"
                    folder.mkdir()
                    rows.append(
                        ("postgresql", measure({"engine": "postgresql", "url": url, "folder": str(folder)}, count))
                    )
            finally:
                cluster.remove()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{CASES} cases created per replica ({CONCURRENCY} at a time), each acknowledged; {DUE} steps falling due")
    header = ("engine", "replicas", "creates/s", "ack p50 ms", "ack p99 ms", "due->sent p50 ms", "p99 ms")
    print("  ".join(f"{h:>{len(h) if i == 0 else 9}}" for i, h in enumerate(header)))
    for engine, r in rows:
        figures = (r["ack_p50_ms"], r["ack_p99_ms"], r["due_to_sent_p50_ms"], r["due_to_sent_p99_ms"])
        print(
            f"{engine:<10} {r['replicas']:>8.0f}  {r['creates_per_s']:>9.0f}  "
            + "  ".join(f"{f:>{w}.1f}" for f, w in zip(figures, (10, 10, 16, 6), strict=True))
        )
    print(
        json.dumps(
            {
                "benchmark": "replicas",
                "rows": [{"engine": e, **{k: round(v, 3) for k, v in r.items()}} for e, r in rows],
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1].startswith("{"):
        print(json.dumps(asyncio.run(worker(json.loads(sys.argv[1])))))
    else:
        main()
