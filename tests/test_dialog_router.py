"""SupportBot.handle: one turn at a time per conversation, durable state, no double cases, bad input.

Real TinyDB files in tmp_path, real triage, hours, case store and on-call service; the local
technicians' and reporters' messages are recorded by a messenger registered for "local".
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from adapters.storage.embedded.cases import CaseStore
from adapters.storage.embedded.documents import EmbeddedConversations
from bot.cases import CaseStatus, CustomerRef, NewCase
from bot.categories import Category, Scope
from bot.delivery import Address
from dialogs.records import ConversationMemory, Record
from dialogs.state import Intake, Step
from tests.transcripts.harness import Bench, Employee, local

SATURDAY_NIGHT = "2026-11-28T22:30"
WEDNESDAY = "2026-11-25T10:00"


async def until_cost_question(employee: Employee) -> None:
    await employee.say("ingen internet, alle er ramt")
    assert "Ja, tilkald vagten" in employee.text


async def until_phone_question(employee: Employee) -> None:
    await until_cost_question(employee)
    await employee.press("Ja, tilkald vagten")
    assert "Hvilket telefonnummer kan vagten ringe til dig på?" in employee.text


async def test_a_restart_mid_conversation_continues_where_it_was(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    employee = Employee(bench)
    await until_phone_question(employee)
    await bench.close()

    restarted = Bench.start(tmp_path, SATURDAY_NIGHT)
    employee.bench = restarted
    try:
        await employee.say("22 33 44 55")
        assert "Sag 10001" in employee.text and "Jeg tilkalder vagten nu" in employee.text
        await restarted.services.oncall.settled()
        assert len(restarted.local.to("vagt")) == 1
        [case] = await restarted.cases()
        assert case.callback_phone == "22 33 44 55" and case.cost.accepted is True
        assert case.cost.answer.endswith(":page")  # the accepted price, recorded before the restart
    finally:
        await restarted.close()


async def test_a_repeated_delivery_is_answered_from_memory_even_after_a_restart(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    employee = Employee(bench)
    await until_phone_question(employee)
    turn = employee.turn(choice=employee.choice_id("Spring over"), delivery_id="Ev-skip")
    first = await employee.send(turn)
    again = await employee.send(turn)
    assert again == first and "Sag 10001" in first[0].title
    await bench.services.oncall.settled()
    assert len(bench.local.to("vagt")) == 1 and len(bench.local.to("anna")) == 1  # one page, one update
    await bench.close()
    restarted = Bench.start(tmp_path, SATURDAY_NIGHT)
    try:
        employee.bench = restarted
        assert await employee.send(turn) == first
        assert len(await restarted.cases()) == 1
        assert len(restarted.local.to("vagt")) == 0  # nothing ran again, so nobody was paged again
    finally:
        await restarted.close()


async def test_a_double_click_creates_one_case_and_the_second_click_is_told_so(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    employee = Employee(bench)
    try:
        await until_phone_question(employee)
        skip = employee.choice_id("Spring over")
        results = await asyncio.gather(*(employee.send(employee.turn(choice=skip)) for _ in range(2)))
        texts = sorted(r[0].text for r in results)
        assert len(await bench.cases()) == 1
        assert any("Jeg tilkalder vagten nu" in t for t in texts)
        assert any(t.startswith("Din sag er allerede oprettet med nummer 10001.") for t in texts)
        await bench.services.oncall.settled()
        assert len(bench.local.to("vagt")) == 1
        assert [m.text for m in bench.local.to("anna")] == [
            "Vagten er nu tilkaldt om din sag 10001. Du får besked her, så snart der er nyt."
        ]
    finally:
        await bench.close()


async def test_a_reply_to_a_finished_conversation_gets_a_clear_answer(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, WEDNESDAY)
    employee = Employee(bench)
    try:
        await employee.say("printeren virker ikke")
        everyone = employee.choice_id("Alle")
        await employee.press("Alle")
        assert "Sag 10001" in employee.text
        await employee.send(employee.turn(choice=everyone))
        assert "allerede oprettet" in employee.text and "10001" in employee.text
        await employee.send(employee.turn(choice="intake:1:scope:all"))
        assert "allerede oprettet" in employee.text
        # the next message starts a new conversation
        await employee.say("printeren virker ikke")
        assert "Er det kun dig, eller er flere ramt?" in employee.text
        assert len(await bench.cases()) == 1
    finally:
        await bench.close()


async def test_a_button_from_an_unknown_conversation_is_answered(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, WEDNESDAY)
    employee = Employee(bench)
    try:
        await employee.send(employee.turn(choice="intake:4:page"))
        assert employee.text.startswith("Den samtale er afsluttet")
        await employee.send(employee.turn(choice="something-else-entirely"))
        assert employee.text.startswith("Den samtale er afsluttet")
    finally:
        await bench.close()


async def test_after_thirty_minutes_the_conversation_starts_over_politely(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, WEDNESDAY)
    employee = Employee(bench)
    try:
        await employee.say("printeren virker ikke")
        bench.clock.advance(timedelta(minutes=30))
        await employee.press("Alle")
        assert employee.text.startswith("Det er et stykke tid siden, vi skrev sammen, så jeg starter forfra.")
        assert "Hvad er der galt?" in employee.text
        await employee.say("printeren virker ikke")
        await employee.press("Alle")
        assert "Sag 10001" in employee.text
    finally:
        await bench.close()


async def test_cancel_help_and_status_work_at_any_step(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, WEDNESDAY)
    employee = Employee(bench)
    try:
        await employee.say("status")
        assert employee.text == "Du har ingen åbne sager og ingen fra de seneste 14 dage."
        await employee.say("min konto er låst")
        await employee.say("printeren virker ikke")
        await employee.say("Hjælp")
        assert "Jeg hjælper dig med at melde et IT-problem" in employee.text
        assert "Er det kun dig, eller er flere ramt?" in employee.text  # and the question is asked again
        await employee.say("status")
        assert "Dine sager fra de seneste 14 dage:\n10001 – Kontoen er låst – Åben" in employee.text
        assert "Er det kun dig, eller er flere ramt?" in employee.text
        await employee.say("status 10001")
        assert "Sagsnummer: 10001" in employee.text
        await employee.say("anuller")
        assert "Der er ikke oprettet nogen sag" in employee.text
        assert len(await bench.cases()) == 1
    finally:
        await bench.close()


async def test_status_refuses_another_customers_case_like_a_missing_one(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, WEDNESDAY)
    stranger = Employee(bench, user="U1", platform="slack", workspace="T-OTHER", conversation="D1")
    anna = Employee(bench)
    try:
        await stranger.say("min konto er låst")
        assert "Sag 10001" in stranger.text
        await anna.say("status 10001")
        refused = anna.text
        await anna.say("status 10999")
        assert refused == anna.text.replace("10999", "10001")
        assert "Kontoen er låst" not in refused
        await anna.say("status")
        assert anna.text == "Du har ingen åbne sager og ingen fra de seneste 14 dage."
        await stranger.say("status 10001")
        assert "Sagsnummer: 10001" in stranger.text
    finally:
        await bench.close()


async def test_english_when_the_platform_says_the_locale_is_english(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    employee = Employee(bench, lang="en-US")
    try:
        await employee.say("Help")
        assert "What's wrong?" in employee.text
        await employee.say("no internet, everyone is affected")
        assert "I understand that there's no internet connection" in employee.text
        assert "Is it just you" not in employee.text, "the text says everyone: not asked again"
        await employee.press("Yes, call")
        assert "Which phone number" in employee.text
        await employee.press("Skip")
        assert "Case 10001" in employee.text
    finally:
        await bench.close()


async def test_when_the_person_switches_language_mid_conversation_the_bot_follows(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    employee = Employee(bench)
    try:
        await employee.say("printeren virker ikke")
        assert "Er det kun dig, eller er flere ramt?" in employee.text
        employee.reporter = replace(employee.reporter, locale="en")
        await employee.press("Alle")  # the button of the Danish question still counts
        assert "surcharge" in employee.text and "tillæg" not in employee.text
    finally:
        await bench.close()


async def test_long_text_markup_and_control_characters(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, WEDNESDAY)
    try:
        exact = Employee(bench, user="a", conversation="a")
        description = "min konto er låst " + "<b>x</b> & " * 900
        description = description[:10_000]
        await exact.say(description)
        if "Hvad passer bedst?" in exact.text:  # 900 tags dilute the words: the model may only offer it
            await exact.press("Kontoen er låst")
        longer = Employee(bench, user="b", conversation="b")
        await longer.say("min konto er låst\x00\x1b " + "y" * 12_000)
        assert "gemt de første 10.000 tegn" in longer.text
        first, second = sorted(await bench.cases(), key=lambda c: c.number)
        assert first.description == description.strip()  # in full, markup as typed
        assert len(second.description) == 10_000 and "\x00" not in second.description
        assert "\x1b" not in second.description
    finally:
        await bench.close()


async def test_a_burst_of_fifty_messages_gets_fifty_answers_and_one_case_at_most(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    employee = Employee(bench)
    try:
        await until_cost_question(employee)
        accept = employee.choice_id(1)
        turns = [
            employee.turn(choice=accept) if i % 3 == 0 else employee.turn(text=f"hallo? {i} <i>hurtigt</i>")
            for i in range(50)
        ]
        answers = await asyncio.gather(*(bench.services.bot.handle(t) for t in turns))
        assert all(a and all(m.text for m in a) for a in answers)
        await bench.services.oncall.settled()
        cases = await bench.cases()
        assert len(cases) == 1 and len(bench.local.to("vagt")) == 1
        assert bench.services.bot.locks_held == 0 and bench.services.oncall.locks_held == 0
    finally:
        await bench.close()


async def test_the_update_that_on_call_has_it_waits_until_the_front_end_has_delivered_the_answer(
    tmp_path: Path,
) -> None:
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    employee = Employee(bench)
    try:
        await until_phone_question(employee)
        delivered = asyncio.get_running_loop().create_future()
        turn = employee.turn(choice=employee.choice_id("Spring over"))
        [answer] = await bench.services.bot.handle(turn, delivered=delivered)
        assert answer.title == "Sag 10001" and answer.text.startswith("Jeg tilkalder vagten nu")
        for _ in range(500):  # the page itself goes out at once...
            if bench.local.to("vagt"):
                break
            await asyncio.sleep(0.01)
        assert len(bench.local.to("vagt")) == 1
        assert bench.local.to("anna") == []  # ...the update to the employee waits for the answer to be sent
        delivered.set_result(None)
        await bench.services.oncall.settled()
        [update] = bench.local.to("anna")
        assert update.text == "Vagten er nu tilkaldt om din sag 10001. Du får besked her, så snart der er nyt."
    finally:
        await bench.close()


async def test_a_technicians_button_goes_to_on_call(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    employee = Employee(bench)
    technician = Employee(bench, user="vagt", conversation="vagt")
    try:
        await until_phone_question(employee)
        await employee.press(1)
        await bench.services.oncall.settled()
        page = bench.local.to("vagt")[0]
        ack = next(c.id for c in page.choices if c.id.startswith("oncall:ack:"))
        replies = await technician.send(technician.turn(choice=ack))
        assert len(replies) == 1 and replies[0].text
        case = (await bench.cases())[0]
        assert case.status is CaseStatus.ACKNOWLEDGED
        assert any("10001" in m.text or "10001" in m.title for m in bench.local.to("anna"))
    finally:
        await bench.close()


def memory(tmp_path: Path, **limits: int) -> ConversationMemory:
    return ConversationMemory(EmbeddedConversations(tmp_path / "conversations"), **limits)


async def test_the_conversation_file_stays_bounded(tmp_path: Path) -> None:
    store = memory(tmp_path, max_records=10)
    start = local(WEDNESDAY)
    for i in range(30):
        state = Intake(step=Step.DESCRIBE, language="da", updated_at=start)
        record = Record(key=f"k{i}", updated_at=start + timedelta(seconds=i), state=state)
        for d in range(100):
            record.remember(f"d{d}", [])
        await store.save(record)
    await store.prune(start + timedelta(seconds=30))
    assert await store.port.count() == 10
    assert (await store.load("k29", now=start)).state == Intake(step=Step.DESCRIBE, language="da", updated_at=start)
    assert (await store.load("k0", now=start)).state is None
    await store.prune(start + timedelta(days=2))
    assert await store.port.count() == 0
    shards = sorted((tmp_path / "conversations").glob("*.json"))
    assert shards and all(json.loads(path.read_text()) == {"conversations": {}} for path in shards)


async def test_a_finished_conversation_keeps_only_its_last_delivery_and_only_for_an_hour(tmp_path: Path) -> None:
    store = memory(tmp_path)
    start = local(WEDNESDAY)
    record = Record(key="k", updated_at=start, state=Intake(step=Step.DESCRIBE, language="da", updated_at=start))
    for d in range(3):
        record.remember(f"d{d}", [])
    record.state, record.finished_case = None, 10001
    record.remember("final", [])
    await store.save(record)
    kept = await store.load("k", now=start)
    assert kept.finished_case == 10001 and [d for d, _ in kept.deliveries] == ["final"]
    await store.prune(start + timedelta(minutes=59))
    assert await store.port.count() == 1
    await store.prune(start + timedelta(minutes=61))
    assert await store.port.count() == 0


async def test_a_crash_during_case_creation_never_leads_to_a_second_case(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    employee = Employee(bench)
    await until_cost_question(employee)
    accept = employee.choice_id(1)
    await bench.close()
    # What a crash right after the case was written leaves behind: the record marked DONE, the case stored.
    conversations = memory(tmp_path)
    record = await conversations.load(employee.key.as_id(), now=local(SATURDAY_NIGHT))
    record.state = replace(record.state, step=Step.DONE)
    await conversations.save(record)
    store = CaseStore(tmp_path / "cases")
    new = NewCase(
        employee.reporter,
        CustomerRef("Demo A/S"),
        "ingen internet",
        Category.INTERNET_DOWN,
        90,
        Scope.ALL,
        critical=True,
        after_hours=True,
        page_requested=True,
    )
    store.create(new, now=local(SATURDAY_NIGHT))
    store.close()

    restarted = Bench.start(tmp_path, SATURDAY_NIGHT)
    employee.bench = restarted
    try:
        await employee.send(employee.turn(choice=accept))
        assert employee.text.startswith("Din sag er allerede oprettet med nummer 10001.")
        assert len(await restarted.cases()) == 1
    finally:
        await restarted.close()


async def test_beyond_the_cap_finished_conversations_go_before_open_ones(tmp_path: Path) -> None:
    store = memory(tmp_path, max_records=2)
    start = local(WEDNESDAY)
    opened = Intake(step=Step.DESCRIBE, language="da", updated_at=start)
    await store.save(Record(key="open", updated_at=start, state=opened))
    await store.save(Record(key="done-1", updated_at=start + timedelta(minutes=1), finished_case=10001))
    await store.save(Record(key="done-2", updated_at=start + timedelta(minutes=2), finished_case=10002))
    await store.prune(start + timedelta(minutes=3))
    assert (await store.load("open", now=start)).state is not None
    assert (await store.load("done-1", now=start)).finished_case is None
    assert (await store.load("done-2", now=start)).finished_case == 10002


async def test_a_conversation_saved_before_the_storage_ports_continues(tmp_path: Path) -> None:
    start = local(WEDNESDAY)
    old = Record(key="k", updated_at=start, state=Intake(step=Step.DESCRIBE, language="da", updated_at=start))
    old.remember("d1", [])
    port = EmbeddedConversations(tmp_path / "conversations")
    port.store.put("k", {"key": "k", "updated_at": start.isoformat(), **old.to_doc()})  # the earlier layout
    store = ConversationMemory(port)
    loaded = await store.load("k", now=start)
    assert loaded.state == old.state and loaded.replies_for("d1") == [] and loaded.e_tag == "0"
    await store.save(loaded)
    assert (await store.load("k", now=start)).e_tag == "1"


async def test_status_lists_the_recent_cases_with_their_real_state_in_words(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)  # Saturday 28 November, 22.30
    anna, ole = Employee(bench), Employee(bench, user="ole", conversation="ole")
    vagt = Address("local", "local", "vagt", "da")
    try:
        await anna.say("printeren virker ikke, kun for mig")
        await anna.press(1)
        await anna.press("Opret sag til")  # the free case for the next opening
        assert "Sag 10001" in anna.text
        await until_phone_question(anna)
        await anna.press("Spring over")
        await bench.services.oncall.settled()
        await anna.say("status")
        assert anna.text == (
            "Dine sager fra de seneste 14 dage:\n"
            "10002 – Intet internet på kontoret – Vagten tilkaldt kl. 22.30\n"
            "10001 – Kan ikke printe – Behandles mandag kl. 8.00"
        )
        bench.clock.advance(timedelta(minutes=11))
        await bench.services.oncall.press("oncall:ack:10002", vagt)
        await anna.say("status")
        assert "10002 – Intet internet på kontoret – Kontaktet af vagten kl. 22.41" in anna.text
        bench.clock.advance(timedelta(minutes=29))
        await bench.services.oncall.press("oncall:confirm_resolve:10002", vagt)
        bench.clock.advance(timedelta(minutes=4))
        await anna.say("status")  # resolved minutes ago: still there, and says when
        assert "10002 – Intet internet på kontoret – Løst kl. 23.10" in anna.text
        await anna.say("status 10002")
        assert "Status: Løst kl. 23.10" in anna.text
        await ole.say("status")  # a colleague sees only his own
        assert ole.text == "Du har ingen åbne sager og ingen fra de seneste 14 dage."

        bench.clock.advance(timedelta(days=2, hours=10))  # Tuesday morning: the opening has passed
        await anna.say("status")
        assert anna.text == (
            "Dine sager fra de seneste 14 dage:\n"
            "10002 – Intet internet på kontoret – Løst lørdag den 28. november kl. 23.10\n"
            "10001 – Kan ikke printe – Åben"
        )
        bench.clock.advance(timedelta(days=13))  # the resolved case is too old; the open one stays
        await anna.say("status")
        assert anna.text == "Dine sager fra de seneste 14 dage:\n10001 – Kan ikke printe – Åben"
    finally:
        await bench.close()


async def test_status_in_english_says_when(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    employee = Employee(bench, lang="en-US")
    try:
        await employee.say("the printer doesn't work, only for me")
        await employee.press(1)
        await employee.press("Create case")
        bench.clock.advance(timedelta(days=1))  # Sunday: the opening is tomorrow
        await employee.say("status")
        assert (
            employee.text == "Your cases from the last 14 days:\n10001 – Can't print – To be handled tomorrow at 8:00"
        )
    finally:
        await bench.close()
