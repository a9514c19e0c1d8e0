"""CaseStore and EmbeddedCases on real TinyDB files: numbering, durability, lookups and bad input."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tinydb import TinyDB
from tinydb.operations import delete

from adapters.storage.embedded import cases as case_store
from adapters.storage.embedded.case_index import Summaries as _Summaries
from adapters.storage.embedded.cases import SHARD_SIZE, CaseStore, EmbeddedCases
from adapters.storage.embedded.files import AtomicJSONStorage
from bot.cases import Case, CaseEvent, CaseStatus, CostAnswer, CustomerRef, EventKind, NewCase, Reporter
from bot.categories import Category, Scope
from bot.errors import CaseNotFoundError, StorageError

NOW = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)


def new_case(
    description: str = "internettet er nede for alle",
    *,
    user: str = "U1",
    customer: str = "Acme A/S",
    category: Category = Category.INTERNET_DOWN,
) -> NewCase:
    return NewCase(
        reporter=Reporter("slack", "T1", user, "Mette", "da"),
        customer=CustomerRef(customer),
        description=description,
        category=category,
        confidence=90,
        scope=Scope.ALL,
        critical=True,
        after_hours=True,
        cost=CostAnswer(("surcharge",), "100 % tillæg", "accept", True, NOW, NOW),
        page_requested=True,
    )


@pytest.fixture
def store(tmp_path: Path):
    store = CaseStore(tmp_path / "cases")
    yield store
    store.close()


def event(kind: EventKind = EventKind.ACKNOWLEDGED) -> CaseEvent:
    return CaseEvent(at=NOW, kind=kind, actor="vagt", data={"note": "på vej"})


# -- numbers ------------------------------------------------------------------------------------


def test_numbers_start_at_first_number_and_increase(store: CaseStore) -> None:
    numbers = [store.create(new_case(), now=NOW).number for _ in range(3)]
    assert numbers == [10001, 10002, 10003]


def test_first_number_is_configurable(tmp_path: Path) -> None:
    store = CaseStore(tmp_path, first_number=500)
    assert store.create(new_case(), now=NOW).number == 500
    store.close()


def test_numbers_continue_after_a_restart(tmp_path: Path) -> None:
    store = CaseStore(tmp_path)
    store.create(new_case(), now=NOW)
    store.close()
    store = CaseStore(tmp_path)
    assert store.create(new_case(), now=NOW).number == 10002
    store.close()


def test_number_of_a_deleted_case_is_never_reused(tmp_path: Path) -> None:
    store = CaseStore(tmp_path)
    last = [store.create(new_case(), now=NOW).number for _ in range(3)][-1]
    store.close()
    with TinyDB(tmp_path / "00010000.json", storage=AtomicJSONStorage) as db:  # an operator deletes a case
        db.table("cases").remove(doc_ids=[last])
    store = CaseStore(tmp_path)
    assert store.create(new_case(), now=NOW).number == last + 1
    store.close()


def test_numbers_cross_shard_boundaries(tmp_path: Path) -> None:
    store = CaseStore(tmp_path, first_number=SHARD_SIZE * 3 - 2)
    numbers = [store.create(new_case(), now=NOW).number for _ in range(5)]
    assert numbers == list(range(SHARD_SIZE * 3 - 2, SHARD_SIZE * 3 + 3))
    assert all(store.get(n) is not None for n in numbers)
    store.close()
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["00000200.json", "00000300.json"]


def test_raising_first_number_jumps_lowering_it_does_not_reuse(tmp_path: Path) -> None:
    store = CaseStore(tmp_path)
    store.create(new_case(), now=NOW)
    store.close()
    store = CaseStore(tmp_path, first_number=20001)
    assert store.create(new_case(), now=NOW).number == 20001
    store.close()
    store = CaseStore(tmp_path, first_number=1)
    assert store.create(new_case(), now=NOW).number == 20002
    store.close()


def test_many_threads_get_unique_consecutive_numbers(store: CaseStore) -> None:
    numbers: list[int] = []

    def work() -> None:
        for _ in range(20):
            numbers.append(store.create(new_case(), now=NOW).number)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == list(range(10001, 10001 + 160))
    assert all(store.get(n) is not None for n in numbers)


# -- durability and reading back -------------------------------------------------------------------


def test_created_case_is_on_disk_and_reads_back_equal(tmp_path: Path, store: CaseStore) -> None:
    case = store.create(new_case(), now=NOW)
    assert case.history[0].kind is EventKind.CREATED
    on_disk = json.loads((tmp_path / "cases" / "00010000.json").read_text())
    assert on_disk["cases"]["10001"]["description"] == "internettet er nede for alle"
    reopened = CaseStore(tmp_path / "cases")
    assert reopened.get(case.number) == case
    reopened.close()


def test_callback_phone_is_kept_and_cases_written_before_it_existed_still_load(tmp_path: Path) -> None:
    store = CaseStore(tmp_path)
    with_phone = store.create(replace(new_case(), callback_phone="+45 12 34 56 78"), now=NOW)
    without = store.create(new_case(), now=NOW)
    store.close()
    with TinyDB(tmp_path / "00010000.json", storage=AtomicJSONStorage) as db:  # written by an older version
        db.table("cases").update(delete("callback_phone"), doc_ids=[without.number])
    store = CaseStore(tmp_path)
    assert store.get(with_phone.number).callback_phone == "+45 12 34 56 78"
    assert store.get(without.number).callback_phone == ""
    store.close()


def test_get_of_a_number_that_does_not_exist_is_none(store: CaseStore) -> None:
    store.create(new_case(), now=NOW)
    for number in (10002, 99999999, 0, -5):
        assert store.get(number) is None
    assert store.get(True) is None  # type: ignore[arg-type]


def test_update_appends_the_event_and_changes_fields(store: CaseStore) -> None:
    case = store.create(new_case(), now=NOW)
    updated = store.update(case.number, event(), status=CaseStatus.ACKNOWLEDGED)
    assert updated.status is CaseStatus.ACKNOWLEDGED
    assert [e.kind for e in updated.history] == [EventKind.CREATED, EventKind.ACKNOWLEDGED]
    assert store.get(case.number) == updated
    again = store.update(case.number, event(EventKind.RESOLVED), status="resolved")
    assert again.status is CaseStatus.RESOLVED
    assert len(again.history) == 3


def test_update_of_a_missing_case_raises_case_not_found(store: CaseStore) -> None:
    with pytest.raises(CaseNotFoundError, match="99999"):
        store.update(99999, event(), status=CaseStatus.RESOLVED)


def test_update_refuses_to_change_created_at_or_history(store: CaseStore) -> None:
    case = store.create(new_case(), now=NOW)
    with pytest.raises(ValueError, match="created_at"):
        store.update(case.number, event(), created_at=NOW)
    with pytest.raises(ValueError, match="history"):
        store.update(case.number, event(), history=())
    assert store.get(case.number) == case


# -- find ------------------------------------------------------------------------------------------


def test_find_filters_and_orders_newest_first(store: CaseStore) -> None:
    a = store.create(new_case(user="U1", customer="Acme A/S"), now=NOW)
    b = store.create(new_case(user="U2", customer="Byg ApS", category=Category.PRINTING_DOWN), now=NOW)
    c = store.create(new_case(user="U1", customer="Acme A/S"), now=NOW + timedelta(hours=1))
    store.update(a.number, event(EventKind.RESOLVED), status=CaseStatus.RESOLVED)

    def numbers(**filters: object) -> list[int]:
        return [case.number for case in store.find(**filters)]

    assert numbers() == [c.number, b.number, a.number]
    assert numbers(open_only=True) == [c.number, b.number]
    assert numbers(status=CaseStatus.RESOLVED) == [a.number]
    assert numbers(customer="Acme A/S") == [c.number, a.number]
    assert numbers(reporter=("slack", "T1", "U1"), open_only=True) == [c.number]
    assert numbers(reporter=("teams", "T1", "U1")) == []
    assert numbers(category=Category.PRINTING_DOWN) == [b.number]
    assert numbers(since=NOW + timedelta(minutes=30)) == [c.number]


def test_find_numbers_gives_the_numbers_of_find_without_reading_a_case(
    monkeypatch: pytest.MonkeyPatch, store: CaseStore
) -> None:
    a = store.create(new_case(user="U1"), now=NOW)
    b = store.create(new_case(user="U2"), now=NOW + timedelta(hours=1))
    store.update(a.number, event(EventKind.RESOLVED), status=CaseStatus.RESOLVED)
    store.warm_up()
    filters: list[dict[str, object]] = [
        {},
        {"open_only": True},
        {"reporter": ("slack", "T1", "U1")},
        {"since": NOW + timedelta(minutes=30)},
    ]
    expected = [[case.number for case in store.find(**f)] for f in filters]
    monkeypatch.setattr(Case, "from_dict", None)  # parsing a case now fails
    assert expected == [[b.number, a.number], [b.number], [a.number], [b.number]]
    assert [store.find_numbers(**f) for f in filters] == expected


def test_get_many_gives_the_cases_in_order_and_leaves_out_missing_and_damaged(tmp_path: Path) -> None:
    store = CaseStore(tmp_path)
    a = store.create(new_case(), now=NOW)
    b = store.create(new_case(), now=NOW)
    assert [c.number for c in store.get_many([b.number, 99, -1, a.number])] == [b.number, a.number]
    store.close()
    (tmp_path / "00010000.json").write_bytes(b"{half")
    store = CaseStore(tmp_path)
    assert store.get_many([a.number, b.number]) == []
    store.close()


def test_find_index_follows_creates_and_updates(store: CaseStore) -> None:
    assert store.find(open_only=True) == []
    case = store.create(new_case(), now=NOW)
    assert store.find(open_only=True) == [case]
    closed = store.update(case.number, event(EventKind.CANCELLED), status=CaseStatus.CANCELLED)
    assert store.find(open_only=True) == []
    assert store.find() == [closed]


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\t "], ids=["empty", "blank"])
def test_empty_description_is_refused_and_nothing_is_used(store: CaseStore, text: str) -> None:
    kept = store.create(new_case(), now=NOW)
    with pytest.raises(ValueError, match="description"):
        store.create(new_case(text), now=NOW)
    assert store.find() == [kept]
    assert store.create(new_case(), now=NOW).number == kept.number + 1


@pytest.mark.parametrize(
    "text",
    [
        "x" * 10_000,
        "printer\x00 virker\x07 ikke\x1b[31m\r\n\u202e",
        "🔥💻 nettet er nede 👨‍👩‍👧 🇩🇰",
        "halv emoji \ud83d",
    ],
    ids=["10000-chars", "control-chars", "emoji", "lone-surrogate"],
)
def test_any_text_is_stored_exactly_as_typed(tmp_path: Path, store: CaseStore, text: str) -> None:
    case = store.create(new_case(text), now=NOW)
    reopened = CaseStore(tmp_path / "cases")
    assert reopened.get(case.number).description == text
    reopened.close()


def test_naive_time_is_refused(store: CaseStore) -> None:
    with pytest.raises(ValueError, match="timezone"):
        store.create(new_case(), now=datetime(2026, 1, 1, 12, 0))


def test_damaged_shard_is_reported_kept_and_skipped(tmp_path: Path) -> None:
    store = CaseStore(tmp_path)
    kept = store.create(new_case(), now=NOW)
    old = store.create(new_case(), now=NOW)
    store.close()
    shard = tmp_path / "00010000.json"
    damaged = shard.read_bytes()[: len(shard.read_bytes()) // 2]  # half-written
    shard.write_bytes(damaged)

    store = CaseStore(tmp_path)
    with pytest.raises(StorageError, match=r"00010000\.json.*move it aside"):
        store.get(old.number)
    fresh = store.create(new_case(), now=NOW)
    assert fresh.number == 10100  # the damaged block may hold handed-out numbers: carry on after it
    assert store.find() == [fresh]
    assert any("00010000.json" in problem for problem in store.problems())
    store.close()
    assert shard.read_bytes() == damaged

    shard.write_bytes(b"")  # restoring from backup brings every case back
    store = CaseStore(tmp_path)
    with pytest.raises(StorageError, match="empty"):
        store.get(kept.number)
    store.close()


def test_case_with_missing_fields_is_reported_not_a_crash(tmp_path: Path) -> None:
    store = CaseStore(tmp_path)
    case = store.create(new_case(), now=NOW)
    store.close()
    with TinyDB(tmp_path / "00010000.json", storage=AtomicJSONStorage) as db:  # edited by hand
        db.table("cases").update({"reporter": "Mette"}, doc_ids=[case.number])
    store = CaseStore(tmp_path)
    with pytest.raises(StorageError, match=r"case 10001 in it is incomplete"):
        store.get(case.number)
    with pytest.raises(StorageError, match=r"incomplete"):
        store.update(case.number, event(), status=CaseStatus.RESOLVED)
    assert store.find() == []
    assert "incomplete" in store.problems()[0]
    store.close()


def test_closed_store_refuses_calls(store: CaseStore) -> None:
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.get(10001)
    store.close()  # twice is fine


# -- EmbeddedCases --------------------------------------------------------------------------------


class ThreadRecordingStore(CaseStore):
    """Records which thread each call ran on."""

    threads: set[int]

    def create(self, new: NewCase, *, now: datetime):  # type: ignore[override]
        self.threads.add(threading.get_ident())
        return super().create(new, now=now)


async def test_async_store_runs_every_call_on_one_worker_thread(tmp_path: Path) -> None:
    inner = ThreadRecordingStore(tmp_path)
    inner.threads = set()
    store = EmbeddedCases(inner)
    cases = await asyncio.gather(*(store.create(new_case(), now=NOW) for _ in range(30)))
    assert sorted(c.number for c in cases) == list(range(10001, 10031))
    assert len(inner.threads) == 1
    assert threading.get_ident() not in inner.threads
    updated = await store.update(10001, event(), status=CaseStatus.ACKNOWLEDGED)
    assert await store.get(10001) == updated
    assert [c.number for c in await store.find(reporter=("slack", "T1", "U1"), open_only=True)][:2] == [10030, 10029]
    assert await store.problems() == []
    await store.close()
    await store.close()
    with pytest.raises(StorageError):
        inner.get(10001)
    with pytest.raises(StorageError, match="closed"):
        await store.get(10001)


# -- the in-memory summary and the cache of open cases ---------------------------------------------


def test_since_finds_cases_made_while_the_clock_was_behind(store: CaseStore) -> None:
    late = store.create(new_case(), now=NOW + timedelta(hours=2))
    early = store.create(new_case(), now=NOW)  # the clock was set back between the two
    later = store.create(new_case(), now=NOW + timedelta(hours=3))
    assert [c.number for c in store.find(since=NOW + timedelta(hours=1))] == [later.number, late.number]
    assert [c.number for c in store.find(since=NOW)] == [later.number, early.number, late.number]
    assert store.find(since=NOW + timedelta(hours=3, microseconds=1)) == []
    with pytest.raises(ValueError, match="time zone"):
        store.find(since=datetime(2026, 11, 28, 22, 0))


def test_duplicate_lookup_matches_customer_category_and_window(store: CaseStore) -> None:
    first = store.create(new_case(customer="Acme A/S"), now=NOW)
    store.create(new_case(customer="Byg ApS"), now=NOW + timedelta(minutes=5))
    store.create(new_case(customer="Acme A/S", category=Category.PRINTING_DOWN), now=NOW + timedelta(minutes=6))
    second = store.create(new_case(customer="Acme A/S"), now=NOW + timedelta(minutes=10))
    window = {"open_only": True, "customer": "Acme A/S", "category": Category.INTERNET_DOWN}
    assert [c.number for c in store.find(**window, since=NOW - timedelta(minutes=20))] == [second.number, first.number]
    assert [c.number for c in store.find(**window, since=NOW + timedelta(minutes=1))] == [second.number]
    store.update(second.number, event(EventKind.RESOLVED), status=CaseStatus.RESOLVED)
    assert store.find(**window, since=NOW + timedelta(minutes=1)) == []
    assert store.find(customer="Nobody ApS") == []


def test_a_case_given_to_another_reporter_or_customer_moves_in_the_summary(tmp_path: Path, store: CaseStore) -> None:
    case = store.create(new_case(user="U1"), now=NOW)
    store.find()  # the summary exists, so the update below must keep it right
    moved = store.update(
        case.number,
        event(EventKind.LINKED),
        reporter=Reporter("slack", "T1", "U2", "Jens", "da"),
        customer=CustomerRef("Byg ApS"),
    )
    assert store.find(reporter=("slack", "T1", "U1")) == []
    assert store.find(reporter=("slack", "T1", "U2"), open_only=True) == [moved]
    assert store.find(customer="Acme A/S") == [] and store.find(customer="Byg ApS") == [moved]
    reopened = CaseStore(tmp_path / "cases")  # and a summary built from the files agrees
    assert reopened.find(reporter=("slack", "T1", "U2")) == [moved]
    reopened.close()


def test_parsed_open_cases_are_a_bounded_cache(monkeypatch: pytest.MonkeyPatch, store: CaseStore) -> None:
    monkeypatch.setattr(case_store, "HOT_CASES", 4)
    made = [store.create(new_case(user=f"U{i}"), now=NOW + timedelta(minutes=i)) for i in range(10)]
    assert len(store._hot) == 4
    assert store.find(open_only=True) == made[::-1]  # misses read their shard
    assert len(store._hot) == 4
    assert store.find(reporter=("slack", "T1", "U0")) == [made[0]]
    assert made[0].number in store._hot  # the one used last stays
    closed = store.update(made[0].number, event(EventKind.RESOLVED), status=CaseStatus.RESOLVED)
    assert made[0].number not in store._hot
    assert store.find(reporter=("slack", "T1", "U0")) == [closed]


def test_the_summary_of_many_cases_gives_the_garbage_collector_nothing_per_case(tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    for block in range(100, 130):  # 3,000 cases written as the store writes them, without fsync
        docs = {}
        for number in range(block * SHARD_SIZE, (block + 1) * SHARD_SIZE):
            made = Case.from_new(new_case(user=f"U{number % 50}"), number=number, created_at=NOW)
            docs[str(number)] = made.to_dict()
        AtomicJSONStorage(folder / f"{block * SHARD_SIZE:08d}.json", durable=False).write({"cases": docs})
    store = CaseStore(folder)
    gc.collect()
    tracked = len(gc.get_objects())
    store.warm_up()
    gc.collect()
    assert len(gc.get_objects()) - tracked < 200  # ~50 reporter tuples and their arrays; 3,000 cases
    assert len(store.find(reporter=("slack", "T1", "U7"), open_only=True)) == 60
    store.close()


def test_summary_keeps_cases_found_out_of_order_in_order() -> None:
    # A case moved by hand into another shard can reach the summary after higher numbers.
    summaries = _Summaries()
    at = int(NOW.timestamp() * 1_000_000)
    for number, created in ((10, at), (30, at + 30), (20, at + 20), (5, at + 50)):
        summaries.put(number, created, 0, "Acme A/S", ("slack", "T1", "U1"), 0)
    assert list(summaries.numbers) == [5, 10, 20, 30]
    assert list(summaries.newest_so_far) == [at + 50] * 4
    everything = {"status": None, "customer": None, "category": None, "reporter": None}
    assert summaries.select(**everything, open_only=True, since=None) == [30, 20, 10, 5]
    assert summaries.select(**everything, open_only=False, since=NOW + timedelta(microseconds=25)) == [30, 5]
    assert list(summaries.by_reporter[0]) == [5, 10, 20, 30]


async def test_async_warm_up_returns_once_the_summary_is_built(tmp_path: Path) -> None:
    inner = CaseStore(tmp_path)
    inner.create(new_case(), now=NOW)
    store = EmbeddedCases(inner)
    await store.warm_up()
    assert inner._summaries is not None
    await store.close()
    with pytest.raises(StorageError, match="closed"):
        await store.warm_up()
