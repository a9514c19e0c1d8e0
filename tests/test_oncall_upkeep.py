"""What no timer covers: cases a crash left unpaged or unposted, and records that can no longer act.

The real case store and page book on disk, a manual clock and the recording Messenger of
test_oncall_service (the platform boundary).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from adapters.storage import open_storage
from adapters.storage.embedded.files import FolderLock
from bot.cases import Case, CaseEvent, CaseStatus, EventKind
from bot.categories import Category, Scope
from bot.delivery import Address, MessageRef
from bot.errors import StorageError
from bot.locks import KeyedLocks
from bot.messages import Message
from tests.test_oncall_service import CONFIG, CPH, IB, MORTEN, Harness, Recorder, make_harness

ANNA = Address("slack", "T-CUST", "U-anna")
MONDAY_MORNING = datetime(2026, 11, 30, 10, 0, tzinfo=CPH)


@dataclass
class GatedRecorder(Recorder):
    """Holds every page until `gate` opens (only where a test closes it), so a second caller overlaps."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    holding: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, to: Address, message: Message) -> MessageRef:
        if message.key.startswith("page:"):
            self.holding.set()
            await self.gate.wait()
        return await super().send(to, message)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    recorder = GatedRecorder()
    recorder.gate.set()
    harness = make_harness(tmp_path, recorder=recorder)
    yield harness
    await harness.close()


def on_disk(h: Harness) -> set[int]:
    """The case numbers the page book holds on disk."""
    found: set[int] = set()
    for path in (h.settings.data_dir / "oncall").glob("*.json"):
        found |= {int(n) for n in json.loads(path.read_text())["pages"]}
    return found


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the condition never became true")


async def kinds(h: Harness, number: int) -> list[EventKind]:
    return [e.kind for e in (await h.case(number)).history]


async def test_a_case_a_crash_left_unpaged_is_paged_once_at_start_up_and_its_reporter_told(h: Harness) -> None:
    case = await h.report()  # made durable; the process died before page()
    h.clock.advance(timedelta(minutes=3))
    await h.restart()
    loop = asyncio.create_task(h.service.run(interval=3600))
    try:
        await until(lambda: len(h.recorder.to(ANNA)) == 1)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    [(to, page)] = h.recorder.pages(case.number)
    assert to.user_id == "U-morten" and page.title == f"Vagtopkald: kritisk sag {case.number}"
    assert h.recorder.to(ANNA)[0].text == (
        f"Vagten er nu tilkaldt om din sag {case.number}. Du får besked her, så snart der er nyt."
    )
    assert (await kinds(h, case.number)).count(EventKind.PAGED) == 1

    await h.restart()
    await h.service.sweep()
    await h.later(5)
    assert len(h.recorder.pages(case.number)) == 1, "a second start-up paged it again"
    await h.later(5)  # and its ladder runs like any page's
    assert {to.user_id for to, _ in h.recorder.pages(case.number)[1:]} == {"U-morten", "aad-sara"}


async def test_a_young_case_is_left_to_its_own_turn_and_paged_by_a_later_sweep(h: Harness) -> None:
    case = await h.report()
    await h.later(0.5)  # the first tick sweeps; the turn that made the case may be paging it right now
    assert h.recorder.sent == []
    await h.later(1)
    assert len(h.recorder.pages(case.number)) == 1
    await h.later(1)
    assert len(h.recorder.pages(case.number)) == 1


async def test_a_sweep_after_start_up_reads_only_the_cases_it_has_not_looked_at(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    backlog = []
    for i in range(3):  # open and posted, but without a record: nothing for the sweep to do
        case = await h.report(after_hours=False, user=f"U-{i}")
        posted = CaseEvent(h.clock.now(), EventKind.POSTED_TO_TEAM, "system", {"platform": "local"})
        backlog.append((await h.store.update(case.number, posted)).number)
    read: list[int] = []
    get_many = h.store.get_many

    async def reading(numbers: list[int]) -> list[Case]:
        read.extend(numbers)
        return await get_many(numbers)

    monkeypatch.setattr(h.store, "get_many", reading)
    await h.later(2)  # the start-up sweep reads every recent open case
    assert sorted(read) == backlog and h.recorder.sent == []

    read.clear()
    h.clock.advance(timedelta(seconds=50))
    crashed = await h.report()  # accepted after hours; the process that made it died before paging
    await h.later(1 / 6)  # the next sweep: too young, left to its turn, and looked at again later
    assert read == [crashed.number] and h.recorder.sent == []
    await h.later(1)
    assert read == [crashed.number, crashed.number], "the backlog is not read again"
    assert len(h.recorder.pages(crashed.number)) == 1

    read.clear()
    await h.later(1)
    assert read == [] and len(h.recorder.pages(crashed.number)) == 1


async def test_a_case_the_sweep_failed_to_page_is_tried_again_by_the_next_sweep(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = await h.report()
    page = h.service.page
    calls: list[int] = []

    async def failing_once(case: Case, **kwargs: object) -> Case:
        calls.append(case.number)
        if len(calls) == 1:
            raise StorageError("the disk is full")
        return await page(case)

    monkeypatch.setattr(h.service, "page", failing_once)
    await h.later(2)
    assert calls == [case.number] and h.recorder.pages(case.number) == []
    await h.later(1)
    assert calls == [case.number] * 2 and len(h.recorder.pages(case.number)) == 1


async def test_a_page_stuck_at_shutdown_is_cancelled_and_sent_once_after_the_restart(h: Harness) -> None:
    recorder = h.recorder
    assert isinstance(recorder, GatedRecorder)
    case = await h.report()
    recorder.gate.clear()
    await h.service.page(case)  # the turn claims the page and answers; the job hangs on the platform
    await recorder.holding.wait()
    await h.service.stop(grace=0)  # shutdown: the page is cancelled, not left running
    assert h.service.locks_held == 0
    assert h.recorder.pages(case.number) == [] and EventKind.PAGED not in await kinds(h, case.number)

    recorder.gate.set()
    await h.restart()
    await h.later(1)  # the claim's lease has lapsed: the first page goes out now, once
    assert [to.user_id for to, _ in h.recorder.pages(case.number)] == ["U-morten"]
    paged = [e for e in (await h.store.get(case.number)).history if e.kind is EventKind.PAGED]
    assert [e.data.get("resent") for e in paged] == [True]
    await h.later(9)  # nobody acknowledged in 10 minutes: the next step, Morten again and the backup
    assert sorted(to.user_id for to, _ in h.recorder.pages(case.number)) == ["U-morten", "U-morten", "aad-sara"]
    assert [m.text for m in h.recorder.to(ANNA)] == [
        f"Vagten er nu tilkaldt om din sag {case.number}. Du får besked her, så snart der er nyt.",
        f"Vagten har ikke svaret endnu, så jeg har også tilkaldt en anden tekniker til din sag {case.number}.",
    ]


@pytest.mark.parametrize("first", ["turn", "sweep"])
async def test_a_turn_and_the_sweep_paging_one_case_at_once_page_it_once(h: Harness, first: str) -> None:
    recorder = h.recorder
    assert isinstance(recorder, GatedRecorder)
    case = await h.report()
    h.clock.advance(timedelta(minutes=2))  # old enough for the sweep (a slow turn)
    recorder.gate.clear()
    calls = [lambda: h.service.page(case), h.service.sweep]
    if first == "sweep":
        calls.reverse()
    earlier = asyncio.create_task(calls[0]())
    await recorder.holding.wait()  # the first caller is sending the page right now
    later = asyncio.create_task(calls[1]())
    for _ in range(20):
        await asyncio.sleep(0)
    recorder.gate.set()
    results = await asyncio.gather(earlier, later)
    await h.service.settled()

    assert len(h.recorder.pages(case.number)) == 1
    assert (await kinds(h, case.number)).count(EventKind.PAGED) == 1
    turn_saw = results[0] if first == "turn" else results[1]
    assert turn_saw.linked_to is None, "the turn answers that on-call is being paged"
    assert [m.text for m in h.recorder.to(ANNA)] == [
        f"Vagten er nu tilkaldt om din sag {case.number}. Du får besked her, så snart der er nyt."
    ], "the reporter hears the outcome once"
    assert h.service.locks_held == 0


async def test_an_opening_hours_case_never_posted_is_posted_once(h: Harness) -> None:
    h.clock.set(MONDAY_MORNING)
    case = await h.report(after_hours=False, category=Category.PRINTING_DOWN, scope=Scope.ME, critical=False)
    await h.later(2)
    assert [to.user_id for to, _, _ in h.recorder.sent] == ["C-TEAM", "team"]
    await h.later(2)
    assert len(h.recorder.sent) == 2
    assert (await kinds(h, case.number)).count(EventKind.POSTED_TO_TEAM) == 2
    assert h.recorder.to(ANNA) == []


async def test_the_book_keeps_only_what_can_still_act(h: Harness) -> None:
    h.clock.set(MONDAY_MORNING)
    closed_elsewhere = await h.report(after_hours=False)
    still_open = await h.report(after_hours=False)
    for case in (closed_elsewhere, still_open):
        await h.service.post_to_team(case)
    await h.service.settled()
    h.clock.set(datetime(2026, 12, 5, 23, 0, tzinfo=CPH))  # Saturday night, sara's week
    h.recorder.down.add(("teams", "*"))
    given_up = await h.report(category=Category.ACCOUNT_LOCKED, scope=Scope.ME)
    await h.page(given_up)  # sara on Teams is down: backup ib, then everyone; nobody answers
    acknowledged = await h.report(category=Category.SUSPECTED_HACK, scope=Scope.ALL, user="U-bo")
    await h.page(acknowledged)
    await h.service.press(f"oncall:ack:{acknowledged.number}", IB)
    numbers = {c.number for c in (closed_elsewhere, still_open, given_up, acknowledged)}
    assert on_disk(h) == numbers

    # Resolved in the helpdesk, not with the bot's button: the posts show it, and the record goes.
    event = CaseEvent(h.clock.now(), EventKind.RESOLVED, "helpdesk", {"name": "Lene"})
    await h.store.update(closed_elsewhere.number, event, status=CaseStatus.RESOLVED)
    await h.later(30)
    assert on_disk(h) == numbers - {closed_elsewhere.number}
    updated = [m for ref, m in h.recorder.updates if m.key == f"team:{closed_elsewhere.number}"]
    assert len(updated) == 2 and all("Løst af Lene" in m.text and m.choices == () for m in updated)

    # A week after the last of them: the open ones without timers are forgotten, without touching their messages;
    # the acknowledged one is kept while its reminders run.
    sent, updates = len(h.recorder.sent), len(h.recorder.updates)
    h.clock.set(given_up.created_at + timedelta(days=7, minutes=1))
    await h.service.tick()
    assert on_disk(h) == {acknowledged.number}
    forgotten = {f"team:{still_open.number}", f"page:{given_up.number}"}
    assert not [m for _, m in h.recorder.updates[updates:] if m.key in forgotten]
    assert [to for to, _, _ in h.recorder.sent[sent:]] == [IB]  # a reminder, nothing else


async def test_a_damaged_book_file_is_named_and_left_alone(tmp_path: Path) -> None:
    h = make_harness(tmp_path)
    try:
        case = await h.report()
        await h.page(case)
    finally:
        await h.close()
    [path] = (h.settings.data_dir / "oncall").glob("*.json")
    path.write_text('{"pages": {"10001": {"kind": "page"}}}', encoding="utf-8")
    with pytest.raises(StorageError, match=re.escape(str(path))):
        open_storage(h.settings)
    assert path.read_text(encoding="utf-8") == '{"pages": {"10001": {"kind": "page"}}}'
    FolderLock(h.settings.data_dir).release()  # the failed start let the folder go


async def test_no_lock_outlives_its_use(h: Harness) -> None:
    for user in ("U-1", "U-2", "U-3"):
        case = await h.report(user=user, category=Category.SYSTEM_ERROR, scope=Scope.ME)
        await asyncio.gather(h.service.page(case), h.service.page(case))
        await h.service.press(f"oncall:ack:{case.number}", MORTEN)
    await h.later(10)
    await h.later(120)
    assert h.service.locks_held == 0


async def test_keyed_locks_serialize_one_key_and_forget_it_when_free() -> None:
    locks = KeyedLocks()
    order: list[str] = []
    inside = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with locks.hold(1):
            inside.set()
            await release.wait()
            order.append("first")

    async def second() -> None:
        async with locks.hold(1):
            order.append("second")

    tasks = [asyncio.create_task(first())]
    await inside.wait()
    tasks.append(asyncio.create_task(second()))
    async with locks.hold(2):  # another key is not held up
        assert len(locks) == 2
    await asyncio.sleep(0)
    assert len(locks) == 1
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["first", "second"] and len(locks) == 0


@pytest.mark.parametrize("most", [0, 2])
async def test_the_number_of_reminders_is_configured(tmp_path: Path, most: int) -> None:
    h = make_harness(
        tmp_path, CONFIG.replace("reminder_minutes = 120\n", f"reminder_minutes = 120\nmax_reminders = {most}\n")
    )
    try:
        case = await h.report()
        await h.page(case)
        await h.service.press(f"oncall:ack:{case.number}", MORTEN)
        for _ in range(10):
            await h.later(120)
        assert (await kinds(h, case.number)).count(EventKind.REMINDED) == most
        assert len(h.recorder.to(MORTEN)) == 1 + most
    finally:
        await h.close()


async def test_a_slack_team_channel_without_its_workspace_is_reported_at_start_up(tmp_path: Path) -> None:
    h = make_harness(tmp_path, CONFIG.replace('slack_team = "T-OO"\n', ""))
    try:
        assert h.settings.team_channel.slack_team == ""
        assert (
            "[team_channel] slack_channel (C-TEAM) is set but slack_team is empty. With the Slack app installed in "
            "several workspaces, cases cannot be posted to the channel. Set slack_team to the team id (T…) of the "
            "channel's workspace." in h.service.report_problems()
        )
    finally:
        await h.close()


async def test_with_its_workspace_the_slack_team_channel_is_addressed_in_it(h: Harness) -> None:
    assert not any("slack_team" in p for p in h.service.report_problems())
    h.clock.set(MONDAY_MORNING)
    case = await h.report(after_hours=False)
    await h.service.post_to_team(case)
    await h.service.settled()
    assert h.recorder.sent[0][0] == Address("slack", "T-OO", "C-TEAM")
