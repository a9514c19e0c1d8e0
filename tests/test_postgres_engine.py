"""Promises of the PostgreSQL engine beyond the contract suite: a change of a case and what it announces
commit together, and the audit log cannot be changed even by a direct statement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from adapters.storage.postgres import PostgresStorage
from bot.audit import AuditAction, AuditEntry
from bot.cases import Case, CaseEvent, CaseStatus, EventKind
from bot.ports import Outgoing
from tests.contract.test_cases import new_case

NOW = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)


class ReceiverGone(Exception):
    pass


def announce(before: Case | None, after: Case) -> Sequence[Outgoing]:
    """Announces a new case; fails for an acknowledgement, as a bug in an announcer could."""
    if after.status is CaseStatus.ACKNOWLEDGED:
        raise ReceiverGone("announcer failed")
    event = "case.created" if before is None else "case.changed"
    return [Outgoing("webhook", "http://127.0.0.1:9/hook", after.number, event, f"{after.number}-{event}", {})]


async def test_a_change_whose_announcement_fails_is_not_made(postgres_url: str) -> None:
    storage = PostgresStorage(postgres_url, announce=announce)
    try:
        case = await storage.cases.create(new_case(), now=NOW)
        ack = CaseEvent(NOW + timedelta(minutes=3), EventKind.ACKNOWLEDGED, "morten")
        with pytest.raises(ReceiverGone):
            await storage.cases.update(case.number, ack, status=CaseStatus.ACKNOWLEDGED)
        stored = await storage.cases.get(case.number)
        assert stored is not None and stored.status is CaseStatus.OPEN and stored.version == case.version
        assert [d.message.event for d in await storage.outbox.unsent()] == ["case.created"]
    finally:
        await storage.close()


async def test_the_audit_log_refuses_changes_and_removals(postgres_url: str) -> None:
    storage = PostgresStorage(postgres_url)
    try:
        await storage.audit.append(AuditEntry(NOW, AuditAction.ACKNOWLEDGED, "morten", 10001))
    finally:
        await storage.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for statement in ("UPDATE audit SET case_number = 1", "DELETE FROM audit", "TRUNCATE audit"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
        assert conn.execute("SELECT count(*), min(case_number) FROM audit").fetchone() == (1, 10001)
