"""Per-operation cost of the conversation store and the Teams store with 100, 1,000 and 5,000 records.

Both stores run on a worker thread, but JSON parsing and dumping hold the GIL, so whatever they
cost stalls the event loop too (issue 7: nothing may block it for more than 20 ms). The records
are realistic: a conversation record as the router leaves it (90 % finished with their last
delivery, 10 % open with a state and five deliveries), a Teams reply card with three buttons.
The earlier records are written straight into the engine's shard files (not fsynced, to be quick).

Measured on the shared 2-core development machine, every write fsynced (medians of 40, ms):

    before: one TinyDB file per store, no cache (commit 94b504b)
    store          records  first use     load     save  save max
    conversations      100        1.7     1.26     2.11     24.8
    conversations    1,000      110.0    62.25    31.97    135.4
    conversations    5,000      677.2   495.50   245.44    409.1
    teams cards        100        0.6     0.47     4.49     48.5
    teams cards      1,000        4.0     4.75    31.89     78.2
    teams cards      5,000       57.3    53.56   482.63   1053.0     (card(): 124 ms)

    after: KeyedStore (now adapters/storage/embedded/keyed.py), 32 cached shards, one shard rewritten per write
    store          records  first use  restart     load     save  save max
    conversations      100       31.7      0.3     0.02     0.95      1.8
    conversations    1,000      129.9      0.5     0.02     1.22      2.3
    conversations    5,000      698.9      3.4     0.02     3.41      6.8
    teams cards        100       41.8      4.5     0.01     0.67      0.9
    teams cards      1,000      103.4     14.9     0.04     0.90      1.9
    teams cards      5,000      330.6     99.6     0.11     1.85     97.1     (card(): 0.01 ms)

"first use" was then the one-time import of the old file; since the storage ports (issue 14) there
is no import, and "first use" and "restart" both open the sharded files (a conversation load reads
one shard, the Teams store reads all at start-up). The Teams "save max" at 5,000 is the batch that drops the
oldest tenth beyond `MAX_CARDS`: 32 shard writes, ~74 ms of CPU in ~2 ms pieces, once per 500
saves. Conversations are capped at 500 records in the product, so 5,000 is a stress figure.

"load" is `ConversationMemory.load` of an existing key (through the `Conversations` port) /
`TeamsStore.live_replies` of a conversation (what every turn reads); "save" is
`ConversationMemory.save` of that record with one more delivery / `TeamsStore.save_card` of a new
reply card (what every turn writes). Conversation calls include the hop to the engine's worker thread.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.storage.embedded.documents import EmbeddedConversations, EmbeddedRecords
from adapters.storage.embedded.files import write_json
from adapters.storage.embedded.keyed import KeyedStore
from adapters.teams.store import CARDS, REFERENCES, TeamsStore, _card_id
from bot.categories import Category, Scope
from bot.messages import Choice, Fact, Message
from dialogs.records import ConversationMemory, Record, message_to_dict
from dialogs.state import Intake, Step

SIZES = (100, 1_000, 5_000)
REPEATS = 40
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def reply(number: int) -> Message:
    return Message(
        text="Tak. Vi har oprettet sagen, og en tekniker kontakter dig i morgen mellem kl. 8 og 9.",
        title=f"Sag {number}",
        facts=(Fact("Kategori", "Internettet er nede"), Fact("Hvem", "Alle på kontoret")),
        choices=(
            Choice("intake:1:yes", "Ja", "primary"),
            Choice("intake:1:no", "Nej", ""),
            Choice("x", "Annullér", ""),
        ),
        key=f"case:{number}",
    )


def conversation_doc(index: int) -> dict[str, Any]:
    at = NOW - timedelta(minutes=50) + timedelta(seconds=index % 3000)
    record = Record(key=f"teams|{TENANT}|a:conversation-{index}|29:user-{index}", updated_at=at)
    if index % 10 == 0:
        record.state = Intake(
            step=Step.ASK_SCOPE,
            language="da",
            updated_at=at,
            seq=3,
            description="Internettet virker ikke for nogen på kontoret, routeren blinker rødt.",
            category=Category.INTERNET_DOWN,
            confidence=91,
            scope=Scope.UNKNOWN,
        )
        for d in range(5):
            record.remember(f"delivery-{index}-{d}", [reply(index)])
    else:
        record.finished_case = 10001 + index
        record.remember(f"delivery-{index}", [reply(index), reply(index)])
    return {
        "key": record.key,
        "state": record.to_doc(),
        "updated_at": at.isoformat(),
        "open": record.state is not None,
        "e_tag": "1",
    }


def card_doc(index: int) -> dict[str, Any]:
    return {
        "conversation": f"a:conversation-{index % 400}",
        "activity": f"1:activity-{index}",
        "key": f"case:{10001 + index}",
        "message": message_to_dict(reply(index)),
        "language": "da",
        "proactive": index % 3 == 0,
        "live": index % 3 != 0,
        "chosen": "",
        "sent_at": (NOW - timedelta(hours=48) + timedelta(seconds=20 * index)).isoformat(),
    }


def reference_doc(index: int) -> dict[str, Any]:
    conversation = f"a:conversation-{index}"
    return {
        "conversation": conversation,
        "tenant": TENANT,
        "users": [f"29:user-{index}", f"aad-{index}"],
        "personal": True,
        "reference": {
            "activityId": None,
            "user": {"id": f"29:user-{index}", "name": "Mette Sørensen", "aadObjectId": f"aad-{index}"},
            "bot": {"id": "28:supportbot", "name": "Support"},
            "conversation": {"id": conversation, "conversationType": "personal", "tenantId": TENANT},
            "channelId": "msteams",
            "locale": "da-DK",
            "serviceUrl": "https://smba.trafficmanager.net/emea/",
        },
        "updated_at": (NOW - timedelta(days=3)).isoformat(),
        "welcomed": True,
    }


def fill(store: KeyedStore, docs: dict[str, dict[str, Any]]) -> None:
    """Write `docs` straight into the store's shard files, as the engine would have left them."""
    shards: dict[Path, dict[str, dict[str, Any]]] = {}
    for key, doc in docs.items():
        shards.setdefault(store.path_of(key), {})[key] = doc
    for path, held in shards.items():
        write_json(path, {store.table: held}, durable=False)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


async def measure_conversations(root: Path, count: int) -> dict[str, Any]:
    docs = [conversation_doc(i) for i in range(count)]
    fill(EmbeddedConversations(root).store, {doc["key"]: doc for doc in docs})
    keys = [doc["key"] for doc in docs]
    picks = random.Random(count).sample(keys, min(REPEATS, count))
    port = EmbeddedConversations(root)
    store = ConversationMemory(port, max_records=count * 2)
    first = await timed_async(lambda: store.load(picks[0], now=NOW))
    loads = [await timed_async(lambda key=key: store.load(key, now=NOW)) for key in picks]
    saves = []
    for n, key in enumerate(picks):
        record = await store.load(key, now=NOW)
        record.updated_at = NOW
        record.remember(f"new-{n}", [reply(n)])
        saves.append(await timed_async(lambda record=record: store.save(record)))
    assert await port.count() == count
    port.close()
    again = EmbeddedConversations(root)
    restart = await timed_async(lambda: ConversationMemory(again).load(picks[-1], now=NOW))
    again.close()
    return {
        "store": "conversations",
        "records": count,
        "first_use_ms": first,
        "restart_ms": restart,
        **medians(loads, saves),
    }


async def timed_async(action: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await action()
    return (time.perf_counter() - started) * 1000


def measure_teams(root: Path, count: int) -> dict[str, Any]:
    records = EmbeddedRecords(root)
    references = [reference_doc(i) for i in range(max(count // 5, 1))]
    fill(records.store(REFERENCES), {doc["conversation"]: doc for doc in references})
    cards = [card_doc(i) for i in range(count)]
    fill(records.store(CARDS), {_card_id(doc["conversation"], doc["activity"]): doc for doc in cards})
    store = TeamsStore(EmbeddedRecords(root))
    first = timed(store.check)
    conversations = [f"a:conversation-{i}" for i in random.Random(count).sample(range(min(count, 400)), 20)]
    loads = [timed(lambda c=c: store.live_replies(c)) for c in conversations * 2]
    saves = []
    for n in range(REPEATS):
        message = message_to_dict(reply(n))
        conversation = conversations[n % len(conversations)]
        saves.append(
            timed(
                lambda m=message, c=conversation, n=n: store.save_card(
                    c, f"1:new-{n}", message=m, language="da", proactive=False, now=NOW
                )
            )
        )
    reference = statistics.median(timed(lambda: store.reference_for(TENANT, "aad-0")) for _ in range(REPEATS))
    card = statistics.median(timed(lambda: store.card("a:conversation-1", "1:activity-1")) for _ in range(REPEATS))
    again = TeamsStore(EmbeddedRecords(root))
    restart = timed(again.check)
    return {
        "store": "teams cards",
        "records": count,
        "first_use_ms": first,
        "restart_ms": restart,
        **medians(loads, saves),
        "card_ms": card,
        "reference_for_ms": reference,
    }


def medians(loads: list[float], saves: list[float]) -> dict[str, float]:
    return {
        "load_ms": statistics.median(loads),
        "save_ms": statistics.median(saves),
        "save_max_ms": max(saves),
    }


def main() -> None:
    results = []
    for measure in (measure_conversations, measure_teams):
        for count in SIZES:
            root = Path(tempfile.mkdtemp(prefix="bench-state-"))
            try:
                result = measure(root, count)
                results.append(asyncio.run(result) if asyncio.iscoroutine(result) else result)
            finally:
                shutil.rmtree(root, ignore_errors=True)
    print(f"State stores, medians of {REPEATS} operations, every write fsynced (file and folder)")
    heads = ("store", "records", "first use ms", "restart ms", "load ms", "save ms", "save max ms")
    print(f"{heads[0]:<14}" + "".join(f"{head:>13}" for head in heads[1:]))
    for r in results:
        print(
            f"{r['store']:<14}{r['records']:>13,}{r['first_use_ms']:>13.1f}{r['restart_ms']:>13.1f}"
            f"{r['load_ms']:>13.2f}{r['save_ms']:>13.2f}{r['save_max_ms']:>13.2f}"
        )
    extra = [
        f"{r['records']:,}: card {r['card_ms']:.2f} ms, reference_for {r['reference_for_ms']:.2f} ms"
        for r in results
        if "card_ms" in r
    ]
    print("teams lookups  " + "; ".join(extra))
    print(
        json.dumps(
            {
                "benchmark": "state_stores",
                "results": [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in results],
            }
        )
    )


if __name__ == "__main__":
    main()
