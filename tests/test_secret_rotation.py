"""A webhook's signing secret replaced between starts of the real server (`python -m bot serve`) is recorded in
the audit log once, by its keyed fingerprint; the secret itself is in no audit entry and no log line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from adapters.storage.embedded import EmbeddedStorage
from adapters.storage.postgres import PostgresStorage
from bot.audit import AuditAction, AuditEntry, secret_fingerprint
from bot.ports import Storage
from tests.test_faults_kill import ROOT, SATURDAY_NIGHT, Server
from tests.test_replicas import Replica, stop_all

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SECRET_ENV = "TEST_WEBHOOK_SECRET"
HOOK = "http://127.0.0.1:9/ticket-hook"  # nothing listens: no case is made, nothing is sent
CONFIG = f'[[webhooks]]\nurl = "{HOOK}"\nsecret_env = "{SECRET_ENV}"\n'
FIRST = "whsec-first-4f1c2a9be0d74c55a1d3"
SECOND = "whsec-second-9b7e61d0c2a84f3e8d05"


def ready(server: Server) -> None:
    """Wait until the server has said where it listens: it then stops cleanly on SIGTERM."""
    deadline = time.monotonic() + 30
    while "listening on" not in server.logs[-1].read_text(errors="replace"):
        assert time.monotonic() < deadline, "the server did not say that it listens"
        time.sleep(0.05)


async def secret_entries(storage: Storage) -> list[AuditEntry]:
    try:
        return [e for e in await storage.audit.read() if e.action is AuditAction.SECRET_ROTATED]
    finally:
        await storage.close()


def test_a_replaced_secret_is_recorded_once_by_its_fingerprint_never_itself(tmp_path: Path) -> None:
    server = Server(tmp_path, SATURDAY_NIGHT, config=CONFIG)
    for secret in (FIRST, FIRST, SECOND, SECOND):  # started four times; the secret replaced once
        server.env = {SECRET_ENV: secret}
        server.launch()
        ready(server)
        server.stop()
    entries = asyncio.run(secret_entries(EmbeddedStorage(server.data, read_only=True)))
    assert [e.data for e in entries] == [
        {"webhook": HOOK, "fingerprint": secret_fingerprint(FIRST), "previous": None},
        {"webhook": HOOK, "fingerprint": secret_fingerprint(SECOND), "previous": secret_fingerprint(FIRST)},
    ]
    assert all(e.actor == "system" and e.case is None for e in entries)

    env = {"SUPPORTBOT_DATA": str(server.data), "SUPPORTBOT_CONFIG": str(server.config), "PATH": os.environ["PATH"]}
    shown = subprocess.run(
        [sys.executable, "-m", "bot", "audit"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
    replaced = f"(fingeraftryk {secret_fingerprint(FIRST)} → {secret_fingerprint(SECOND)})"
    assert shown.returncode == 0 and f"udskiftede signeringsnøglen for webhook {HOOK} {replaced}" in shown.stdout

    written = [p.read_text(errors="replace") for p in (server.data / "audit").rglob("*") if p.is_file()]
    written += [log.read_text(errors="replace") for log in server.logs] + [shown.stdout, shown.stderr]
    assert written and not [text for text in written if FIRST in text or SECOND in text]
    assert any(secret_fingerprint(SECOND) in log.read_text() for log in server.logs), "the change is logged"


def test_replicas_starting_together_record_a_replaced_secret_once(tmp_path: Path, postgres_url: str) -> None:
    for secret in (FIRST, SECOND):
        replicas = [Replica(tmp_path / f"{secret[:12]}-{n}", postgres_url, config=CONFIG, env={SECRET_ENV: secret})
                    for n in range(2)]  # fmt: skip
        with ThreadPoolExecutor(max_workers=2) as pool:  # both start (and read the audit log) at once
            list(pool.map(Replica.launch, replicas))
        for replica in replicas:
            ready(replica)
        stop_all(replicas)
    entries = asyncio.run(secret_entries(PostgresStorage(postgres_url, first_number=10001)))
    assert [(e.data["previous"], e.data["fingerprint"]) for e in entries] == [
        (None, secret_fingerprint(FIRST)),
        (secret_fingerprint(FIRST), secret_fingerprint(SECOND)),
    ]
