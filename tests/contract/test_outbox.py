"""The `Outbox` port: deliveries kept until sent, in order per queue, claimed once, and enqueued with the case."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.cases import Case, CaseEvent, CaseStatus, EventKind
from bot.ports import DeliveryState, Outgoing
from tests.contract.conftest import FIRST, Engine
from tests.contract.test_cases import new_case

NOW = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)
LEASE = timedelta(minutes=2)
HOOK = "http://127.0.0.1:9/hook"


def message(case: int, event: str = "case.created", *, target: str = HOOK, channel: str = "webhook") -> Outgoing:
    return Outgoing(channel, target, case, event, f"{case}-{event}", {"case": {"number": case}, "type": event})


async def test_deliveries_are_claimed_in_order_per_case_and_target(engine: Engine) -> None:
    async with engine.opened() as storage:
        outbox = storage.outbox
        made = await outbox.enqueue(
            [message(10001), message(10001, "case.acknowledged"), message(10002), message(10001, target="x@oo.dk")],
            now=NOW,
        )
        assert [d.id for d in made] == sorted(d.id for d in made) and len({d.id for d in made}) == 4
        assert all(d.state is DeliveryState.PENDING and d.next_attempt == NOW for d in made)
        claimed = await outbox.claim(NOW, limit=10, lease=LEASE)
        assert [d.id for d in claimed] == [made[0].id, made[2].id, made[3].id], "the acknowledgement waits"
        assert all(d.state is DeliveryState.SENDING for d in claimed)
        assert await outbox.claim(NOW, limit=10, lease=LEASE) == [], "claimed ones are not handed out twice"
        await outbox.sent(made[0].id, now=NOW)
        (second,) = await outbox.claim(NOW, limit=10, lease=LEASE)
        assert second.id == made[1].id and second.message.event == "case.acknowledged"
        sent = await outbox.get(made[0].id)
        assert sent is not None and sent.state is DeliveryState.SENT and sent.sent_at == NOW and sent.attempts == 1
        assert [d.id for d in await outbox.unsent()] == [d.id for d in made[1:]]


async def test_a_failed_attempt_waits_for_its_retry_and_holds_up_its_queue(engine: Engine) -> None:
    async with engine.opened() as storage:
        outbox = storage.outbox
        first, later = await outbox.enqueue([message(10001), message(10001, "case.resolved")], now=NOW)
        await outbox.claim(NOW, limit=10, lease=LEASE)
        retry = NOW + timedelta(seconds=30)
        await outbox.failed(first.id, error="HTTP 500", retry_at=retry, now=NOW)
        stored = await outbox.get(first.id)
        assert stored is not None and stored.state is DeliveryState.PENDING and stored.attempts == 1
        assert stored.last_error == "HTTP 500" and stored.next_attempt == retry
        assert await outbox.claim(retry - timedelta(seconds=1), limit=10, lease=LEASE) == []
        assert [d.id for d in await outbox.claim(retry, limit=10, lease=LEASE)] == [first.id]
        await outbox.failed(first.id, error="timeout", retry_at=None, now=retry)
        gave_up = await outbox.get(first.id)
        assert gave_up is not None and gave_up.state is DeliveryState.FAILED and gave_up.attempts == 2
        assert [d.id for d in await outbox.claim(retry, limit=10, lease=LEASE)] == [later.id], "failed: the rest go on"
        again = await outbox.resend(first.id, now=retry + timedelta(hours=1))
        assert (
            again is not None
            and again.state is DeliveryState.PENDING
            and again.retry_since == retry + timedelta(hours=1)
        )
        assert await outbox.resend(99999, now=NOW) is None


async def test_a_lapsed_claim_is_due_again(engine: Engine) -> None:
    async with engine.opened() as storage:
        (made,) = await storage.outbox.enqueue([message(10001)], now=NOW)
        await storage.outbox.claim(NOW, limit=1, lease=LEASE)
        assert await storage.outbox.claim(NOW + LEASE - timedelta(seconds=1), limit=1, lease=LEASE) == []
        assert [d.id for d in await storage.outbox.claim(NOW + LEASE, limit=1, lease=LEASE)] == [made.id]


async def test_each_delivery_is_claimed_once_under_concurrent_claims(engine: Engine) -> None:
    async with engine.opened() as storage:
        await storage.outbox.enqueue([message(n) for n in range(10001, 10031)], now=NOW)
        rounds = await asyncio.gather(*(storage.outbox.claim(NOW, limit=4, lease=LEASE) for _ in range(12)))
        ids = [d.id for claimed in rounds for d in claimed]
        assert len(ids) == len(set(ids)) == 30


async def test_unsent_deliveries_survive_a_restart_and_ids_are_never_reused(engine: Engine) -> None:
    async with engine.opened() as storage:
        first, second = await storage.outbox.enqueue([message(10001), message(10002)], now=NOW)
        await storage.outbox.claim(NOW, limit=10, lease=LEASE)
        await storage.outbox.sent(first.id, now=NOW)
        await storage.outbox.sent(second.id, now=NOW)
        (third,) = await storage.outbox.enqueue([message(10003)], now=NOW)
        await storage.outbox.claim(NOW, limit=10, lease=LEASE)  # the bot stops while sending it
    async with engine.opened() as storage:
        assert [d.id for d in await storage.outbox.unsent()] == [third.id]
        # Due again once its claim lapses at the latest: a shared database cannot tell a sender that
        # died from one still sending on another replica (the embedded engine hands it out at once).
        assert [d.id for d in await storage.outbox.claim(NOW + LEASE, limit=10, lease=LEASE)] == [third.id]
        await storage.outbox.sent(third.id, now=NOW)
        assert await storage.outbox.forget_sent(before=NOW + timedelta(days=8)) == 2, "the newest is kept"
        assert await storage.outbox.get(first.id) is None
    async with engine.opened() as storage:
        (fourth,) = await storage.outbox.enqueue([message(10004)], now=NOW)
        assert fourth.id > third.id


async def test_a_change_of_a_case_enqueues_what_the_announcer_says_before_it_returns(engine: Engine) -> None:
    def announce(before: Case | None, after: Case) -> Sequence[Outgoing]:
        if before is None:
            return [message(after.number)]
        if before.status is not after.status:
            return [message(after.number, f"case.{after.status.value}")]
        return []

    async with engine.opened(announce=announce) as storage:
        case = await storage.cases.create(new_case(), now=NOW)
        assert [(d.message.case, d.message.event) for d in await storage.outbox.unsent()] == [(FIRST, "case.created")]
        await storage.cases.update(case.number, CaseEvent(NOW, EventKind.PAGED, "system"))
        assert len(await storage.outbox.unsent()) == 1, "no change of status, nothing to send"
        ack = CaseEvent(NOW + timedelta(minutes=3), EventKind.ACKNOWLEDGED, "morten")
        await storage.cases.update(case.number, ack, status=CaseStatus.ACKNOWLEDGED)
        queued = await storage.outbox.unsent()
        assert [d.message.event for d in queued] == ["case.created", "case.acknowledged"]
        assert queued[1].created_at == ack.at, "enqueued at the moment of the change"
