"""Property-based: any sequence of typed text and button presses through `SupportBot.handle`.

Real services (triage, hours, case store, on-call) on tmp files; hypothesis picks what the person
types (phrases, unicode, huge text, commands), which button they press (offered now, offered
earlier, made up), how much time passes, and whether a delivery is repeated. Whatever happens:
every turn answers with non-empty messages, never the apology (nothing raised), a turn makes at most
one case and says its number, one round of the conversation makes at most one case, and old
buttons and repeated deliveries never make another.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adapters.wiring import Services, build_services
from bot.cases import Reporter
from bot.clock import ManualClock
from bot.config import load_settings
from bot.messages import Message
from dialogs import replies
from dialogs.turns import ConversationKey, Turn

pytestmark = pytest.mark.timeout(240)

ZONE = ZoneInfo("Europe/Copenhagen")
MOMENTS = (
    datetime(2026, 11, 28, 23, 0, tzinfo=ZONE),  # Saturday night
    datetime(2026, 11, 25, 10, 0, tzinfo=ZONE),  # Wednesday morning
    datetime(2026, 11, 27, 14, 55, tzinfo=ZONE),  # Friday, five minutes before closing
    datetime(2026, 12, 24, 12, 0, tzinfo=ZONE),  # Christmas Eve (closed)
)
PHRASES = (
    "internettet virker ikke for nogen",
    "printeren virker ikke",
    "min konto er låst",
    "jeg tror vi er hacket",
    "mit password virker ikke",
    "hej",
    "ja",
    "nej",
    "alle",
    "kun mig",
    "annuller",
    "status",
    "status 10001",
    "hjælp",
    "tilkald vagten",
    "1",
    "2",
    "",
    "   ",
)
texts = st.one_of(
    st.sampled_from(PHRASES),
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=50),
    st.integers(2_000, 200_000).map(lambda n: "internet nede " * (n // 14)),  # far over the description limit
)
HAPPY = (":yes", ":page", ":accept", ":scope:all", ":next", ":cat:internet_down", ":skip")
made_up = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["intake:", "intake:1:yes", "intake:99:page", "intake:2:cat:nonsense", "oncall:ack:10001"]),
)
# One action: ("text", s) | ("press", index into the buttons seen so far) | ("choice", made-up id),
# plus minutes that pass first and whether the delivery repeats the previous one.
actions = st.tuples(
    st.one_of(
        st.tuples(st.just("text"), texts),
        st.tuples(st.just("press"), st.integers(0, 1_000)),
        st.tuples(st.just("press_latest"), st.integers(0, 10)),
        st.tuples(st.just("happy"), st.integers(0, 4)),
        st.tuples(st.just("happy"), st.integers(0, 4)),
        st.tuples(st.just("choice"), made_up),
    ),
    st.sampled_from([0, 0, 0, 1, 5, 31, 600]),
    st.booleans(),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Services, ManualClock, asyncio.AbstractEventLoop]:
    folder = tmp_path_factory.mktemp("dialog-properties")
    settings_ = load_settings({"SUPPORTBOT_DATA": str(folder / "data")})
    clock = ManualClock(MOMENTS[0])
    loop = asyncio.new_event_loop()

    async def build() -> Services:
        return build_services(settings_, clock=clock)

    services = loop.run_until_complete(build())
    yield services, clock, loop
    loop.run_until_complete(services.close())
    loop.close()


_users = itertools.count(1)


def apology_texts(services: Services) -> set[str]:
    return {replies.note("error", language, services.settings).text for language in ("da", "en")}


def test_any_sequence_of_turns_answers_and_makes_at_most_one_case_per_round(
    world: tuple[Services, ManualClock, asyncio.AbstractEventLoop], caplog: pytest.LogCaptureFixture
) -> None:
    services, clock, loop = world
    apologies = apology_texts(services)

    @settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(
        moment=st.sampled_from(MOMENTS),
        locale=st.sampled_from(["da", "en-US", "de-DE", ""]),
        opening=st.sampled_from(PHRASES[:5]),
        steps=st.lists(actions, max_size=12),
    )
    def run(moment: datetime, locale: str, opening: str, steps: list[tuple[tuple[str, object], int, bool]]) -> None:
        clock.set(moment)
        user = f"prop-{next(_users)}"
        reporter = Reporter("local", "local", user, "Prop", locale)
        key = ConversationKey("local", "local", user, user)
        seen: list[str] = []  # every button offered so far, oldest first
        latest: list[str] = []
        previous: Turn | None = None
        made: list[int] = []
        steps = [(("text", opening), 0, False), *steps]  # most people start by saying what is wrong
        for n, ((kind, value), minutes, repeat) in enumerate(steps):
            clock.advance(timedelta(minutes=minutes))
            if repeat and previous is not None:
                turn = previous
            elif kind == "text":
                turn = Turn(key, reporter, text=str(value), delivery_id=f"{user}-{n}")
            elif kind == "press" and seen:
                turn = Turn(key, reporter, choice=seen[int(value) % len(seen)], delivery_id=f"{user}-{n}")
            elif kind == "happy" and latest:
                # The answer most people give: yes, call on-call, accept; `value` skips that many preferences.
                ranked = [c for suffix in HAPPY for c in latest if c.endswith(suffix)] + latest
                turn = Turn(key, reporter, choice=ranked[min(int(value), len(ranked) - 1)], delivery_id=f"{user}-{n}")
            elif kind == "press_latest" and latest:
                turn = Turn(key, reporter, choice=latest[int(value) % len(latest)], delivery_id=f"{user}-{n}")
            else:
                turn = Turn(key, reporter, choice=str(value) or "x", delivery_id=f"{user}-{n}")
            before = cases_of(services, loop, user)
            answer: list[Message] = loop.run_until_complete(services.bot.handle(turn))
            after = cases_of(services, loop, user)

            assert answer, f"no reply to {turn}"
            for message in answer:
                assert message.text.strip() or message.title.strip(), f"an empty message answers {turn}"
                assert message.text not in apologies, f"the bot failed on {turn}: {message.text}"
            new = sorted(after - before)
            assert len(new) <= 1, f"one turn made {len(new)} cases"
            if new and turn is not previous:
                shown = " ".join(m.text + m.title + " ".join(f.value for f in m.facts) for m in answer)
                assert str(new[0]) in shown, f"case {new[0]} was made but its number not shown"
            if turn is previous:
                assert not new, "a repeated delivery made a case"
            made += new
            latest = [c.id for m in answer for c in m.choices] or latest
            seen += [c.id for m in answer for c in m.choices]
            previous = turn
        event(f"cases made: {min(len(made), 2)}")
        # A round ends at a case and a new one needs something typed: cases <= turns with text.
        typed = sum(1 for (kind, _), _, repeat in steps if kind == "text")
        assert len(made) <= typed, f"{len(made)} cases from {typed} typed turns"
        # Right after a case, every old button pressed again (a late double tap, a new delivery) makes no case.
        if made and made[-1] in cases_of(services, loop, user) and not latest_open(services, loop, key):
            before = cases_of(services, loop, user)
            for n, choice in enumerate(dict.fromkeys(seen)):
                old = Turn(key, reporter, choice=choice, delivery_id=f"{user}-old-{n}")
                assert loop.run_until_complete(services.bot.handle(old))
            assert cases_of(services, loop, user) == before, "an old button made a second case"

    with caplog.at_level(logging.ERROR):
        run()
    made = loop.run_until_complete(services.store.find())
    assert len(made) >= 10, f"only {len(made)} cases in all examples: the strategy hardly reaches the end of a round"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert services.bot.locks_held == 0


def latest_open(services: Services, loop: asyncio.AbstractEventLoop, key: ConversationKey) -> bool:
    """Whether a conversation is going on (a question is waiting for its answer)."""
    conversations = services.bot._conversations
    record = loop.run_until_complete(asyncio.to_thread(conversations.load, key.as_id(), now=datetime.now(ZONE)))
    return record.state is not None


def cases_of(services: Services, loop: asyncio.AbstractEventLoop, user: str) -> set[int]:
    found = loop.run_until_complete(services.store.find(reporter=("local", "local", user)))
    return {case.number for case in found}
