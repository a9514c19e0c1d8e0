"""On-call through the dialog API and the local inbox: the way `make run` works out of the box.

An employee reports in the local chat on a Saturday night and accepts the surcharge; the example
technician "vagt" finds the page in the local inbox's feed, acknowledges and resolves it through
`SupportBot.handle`, and the employee's chat gets the news. Real services, real files, real local messenger.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.local.messenger import LocalMessenger
from adapters.wiring import Services, build_services
from bot.cases import CaseStatus, Reporter
from bot.clock import ManualClock
from bot.config import load_settings
from bot.delivery import Address
from bot.messages import Message
from dialogs.turns import ConversationKey, Turn

NIGHT = datetime(2026, 11, 28, 22, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))
ANNA = Reporter("local", "local", "anna", "Anna", "da")
VAGT = Reporter("local", "local", "vagt", "Morten", "da")


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[tuple[Services, LocalMessenger, ManualClock]]:
    settings = load_settings({"SUPPORTBOT_DATA": str(tmp_path)})
    clock = ManualClock(NIGHT)
    services = build_services(settings, clock=clock)
    local = LocalMessenger(services.storage.records, clock=clock)
    services.messengers.register("local", local)
    yield services, local, clock
    await services.close()


async def say(services: Services, who: Reporter, *, text: str = "", choice: str = "") -> list[Message]:
    key = ConversationKey(who.platform, who.workspace, who.user_id, who.user_id)
    return await services.bot.handle(Turn(key, who, text=text, choice=choice))


def pick(replies: list[Message], ending: str) -> str:
    return next(c.id for m in replies for c in m.choices if c.id.endswith(ending))


def feed(local: LocalMessenger, user: str) -> list[dict[str, Any]]:
    return [e["message"] for e in local.feed("local", user)]


async def test_report_page_acknowledge_and_resolve_from_the_local_inbox(
    services: tuple[Services, LocalMessenger, ManualClock],
) -> None:
    bot, local, clock = services
    replies = await say(bot, ANNA, text="Internettet virker ikke for nogen på kontoret")
    replies = await say(bot, ANNA, choice=pick(replies, ":page"))
    replies = await say(bot, ANNA, text="20 30 40 50")  # the number on-call can ring back on
    assert replies[0].title == "Sag 10001"
    assert replies[0].text.startswith("Jeg tilkalder vagten nu og skriver her, så snart vagten har fået besked.")
    assert (await bot.store.get(10001)).callback_phone == "20 30 40 50"
    await bot.oncall.settled()  # the page is sent after the answer; then Anna hears that it went out
    assert feed(local, "anna")[-1]["text"] == (
        "Vagten er nu tilkaldt om din sag 10001 og ringer til dig på 20 30 40 50 eller skriver her, "
        "så snart sagen er læst."
    )

    [page] = feed(local, "vagt")
    assert page["key"] == "page:10001"
    assert [c["id"] for c in page["choices"]] == ["oncall:ack:10001"]

    clock.advance(timedelta(minutes=3))
    [reply] = await say(bot, VAGT, choice="oncall:ack:10001")
    assert reply.text == "Du har kvitteret for sag 10001. Anna har fået besked om, at du er i gang."
    [page] = feed(local, "vagt")  # the same entry, updated in place
    assert page["text"].endswith("Kvitteret af Morten kl. 22.03")
    assert [c["id"] for c in page["choices"]] == ["oncall:resolve:10001"]
    assert feed(local, "anna")[-1]["text"] == "Nyt om sag 10001: Morten fra vagten har set din sag og går i gang."

    clock.advance(timedelta(minutes=10))
    await bot.oncall.tick()
    assert len(feed(local, "vagt2")) == 0  # acknowledged in time: the backup was never woken

    [question] = await say(bot, VAGT, choice="oncall:resolve:10001")
    assert question.text == "Er sag 10001 løst? Så lukker jeg sagen, og Anna får besked."
    assert (await bot.store.get(10001)).status is CaseStatus.ACKNOWLEDGED  # nothing happens without the yes
    [reply] = await say(bot, VAGT, choice=question.choices[0].id)
    assert reply.text == "Sag 10001 er markeret som løst. Anna har fået besked."
    [page] = feed(local, "vagt")
    assert page["choices"] == [] and page["text"].endswith("Løst af Morten kl. 22.13")
    assert feed(local, "anna")[-1]["text"].startswith("Sag 10001 er løst af Morten fra vagten.")
    case = await bot.store.get(10001)
    assert case is not None and case.status is CaseStatus.RESOLVED

    # The employee pressing a page button (e.g. a forged id) is refused, through the same API.
    [refused] = await say(bot, ANNA, choice="oncall:resolve:10001")
    assert refused.text.startswith("Kun teknikere på vagtlisten")


OLE = Reporter("local", "local", "ole", "Ole", "da")
BO = Reporter("local", "local", "bo", "Bo", "da")


async def report_outage(bot: Services, who: Reporter) -> list[Message]:
    replies = await say(bot, who, text="Internettet virker ikke for nogen på kontoret")
    replies = await say(bot, who, choice=pick(replies, ":page"))
    return await say(bot, who, text="20 30 40 50")


async def test_a_colleague_of_a_paged_outage_gets_one_answer_that_says_so(
    services: tuple[Services, LocalMessenger, ManualClock],
) -> None:
    bot, local, clock = services
    await report_outage(bot, ANNA)
    clock.advance(timedelta(minutes=2))
    [answer] = await report_outage(bot, OLE)
    assert answer.title == "Sag 10002"
    assert answer.text.startswith(
        "En kollega har allerede meldt det samme problem, og vagten er tilkaldt. "
        "Din sag er knyttet til kollegaens sag 10001"
    )
    assert "Vagten er tilkaldt og" not in answer.text
    assert feed(local, "ole") == []  # nothing besides the turn's own answer

    await say(bot, VAGT, choice="oncall:ack:10001")
    [late] = await report_outage(bot, BO)
    assert "og Morten fra vagten er i gang. Din sag er knyttet til kollegaens sag 10001" in late.text
    [reply] = await say(bot, VAGT, choice="oncall:confirm_resolve:10001")
    assert reply.text == "Sag 10001 er markeret som løst. Anna, Ole og Bo har fået besked."
    assert feed(local, "ole")[-1]["text"].startswith("Sag 10002 er løst af Morten")  # later news reach both


async def resolved_outage(bot: Services, clock: ManualClock) -> None:
    await report_outage(bot, ANNA)
    clock.advance(timedelta(minutes=5))
    await say(bot, VAGT, choice="oncall:confirm_resolve:10001")


async def test_it_still_does_not_work_after_a_fix_offers_a_new_case_about_the_same_problem(
    services: tuple[Services, LocalMessenger, ManualClock],
) -> None:
    bot, local, clock = services
    await resolved_outage(bot, clock)
    update = feed(local, "anna")[-1]
    assert "så opretter jeg en ny sag" in update["text"]
    clock.advance(timedelta(hours=20))
    [offer] = await say(bot, ANNA, choice=update["choices"][0]["id"])  # "Det virker stadig ikke"
    assert offer.text == (
        "Beklager, at sag 10001 (Intet internet på kontoret) ikke er løst alligevel.\n\n"
        "Skal jeg oprette en ny sag om det samme problem, som følger op på sag 10001?"
    )
    replies = await say(bot, ANNA, text="ja")
    assert "tilkalde vagten" in replies[0].text  # still after hours: the cost question, as for any report
    [done] = await say(bot, ANNA, choice=pick(replies, ":next"))
    assert done.title == "Sag 10002"
    case = await bot.store.get(10002)
    assert case is not None and case.description == "Følger op på sag 10001: Det virker stadig ikke"
    assert case.category.value == "internet_down" and not case.page_requested
    assert (await bot.store.get(10001)).status is CaseStatus.RESOLVED  # the old case stays as it was


async def test_typing_it_still_does_not_work_is_understood(
    services: tuple[Services, LocalMessenger, ManualClock],
) -> None:
    bot, _, clock = services
    await report_outage(bot, ANNA)
    clock.advance(timedelta(minutes=2))
    await report_outage(bot, OLE)  # the same outage: Ole's case 10002 is linked to Anna's 10001
    clock.advance(timedelta(minutes=3))
    await say(bot, VAGT, choice="oncall:confirm_resolve:10001")
    # Right after the fix the conversation knows its case.
    [offer] = await say(bot, ANNA, text="det virker stadig ikke!")
    assert offer.text.startswith("Beklager, at sag 10001 (Intet internet på kontoret) ikke er løst alligevel.")
    assert [c.label for c in offer.choices] == ["Ja", "Nej, noget andet"]
    # Ole, whose report was linked to it, may name the case he was told about, and is offered the same.
    [offer] = await say(bot, OLE, text="Det virker stadig ikke med sag 10001")
    assert offer.text.endswith("Skal jeg oprette en ny sag om det samme problem, som følger op på sag 10001?")
    # Someone whose chat knows no case is asked which; another person's case is not theirs to follow up.
    [which] = await say(bot, BO, text="Det virker stadig ikke")
    assert which.text.startswith("Beklager, at det stadig ikke virker. Skriv nummeret på sagen")
    assert "forstod jeg ikke" not in which.text
    [refused, *_] = await say(bot, BO, text="10001")
    assert refused.text.startswith("Jeg kan ikke finde sag 10001")


async def test_a_follow_up_long_after_the_fix_or_on_an_open_case_starts_over(
    services: tuple[Services, LocalMessenger, ManualClock],
) -> None:
    bot, local, clock = services
    await report_outage(bot, ANNA)
    [status, note] = await say(bot, ANNA, text="det virker stadig ikke")
    assert status.title == "Sag 10001" and note.text.startswith("Sagen er ikke lukket")
    clock.advance(timedelta(minutes=5))
    await say(bot, VAGT, choice="oncall:confirm_resolve:10001")
    clock.advance(timedelta(days=4))
    [reply] = await say(bot, ANNA, choice=feed(local, "anna")[-1]["choices"][0]["id"])
    assert (
        reply.text
        == "Sag 10001 blev løst for mere end 3 dage siden. Skriv, hvad der er galt, så opretter jeg en ny sag."
    )


async def test_a_reporter_without_a_phone_number_is_reached_through_the_bot_and_answers_in_the_chat(
    services: tuple[Services, LocalMessenger, ManualClock],
) -> None:
    bot, local, clock = services
    replies = await say(bot, ANNA, text="Internettet virker ikke for nogen på kontoret")
    replies = await say(bot, ANNA, choice=pick(replies, ":page"))
    await say(bot, ANNA, choice=pick(replies, ":skip"))  # no phone number: the chat is the only way to her
    await bot.oncall.settled()
    await say(bot, VAGT, choice="oncall:ack:10001")
    clock.advance(timedelta(minutes=1))

    by = Address("local", "local", "vagt", "da")
    answer, sent = await bot.oncall.write(10001, "Hej Anna <b>Er routeren tændt?</b>", by)
    assert sent and answer.text == "Sendt til Anna. Svarer vedkommende i chatten, kommer svaret her."
    words = feed(local, "anna")[-1]
    assert words["title"] == "Morten fra vagten skriver om sag 10001"
    # The technician's words as typed (each front end escapes them), and how to answer, in Anna's language.
    assert words["text"] == "Hej Anna <b>Er routeren tændt?</b>\n\nSvar her i chatten, så får Morten dit svar."

    # Her next message in the chat is the answer, and reaches the technician who wrote.
    [relayed] = await say(bot, ANNA, text="Ja, den blinker rødt")
    assert relayed.text == "Sendt til Morten."
    reply = feed(local, "vagt")[-1]
    assert (reply["title"], reply["text"]) == ("Svar fra Anna om sag 10001", "Ja, den blinker rødt")
    assert reply["metadata"] == {"case": "10001", "thread": "reporter"}
    # Commands stay the bot's.
    [status] = await say(bot, ANNA, text="status")
    assert status.text.startswith(
        "Dine sager fra de seneste 14 dage:\n10001 – Intet internet på kontoret – Kontaktet af vagten kl. 22."
    )
    said = [
        (e.actor, e.data["from"], e.data["text"])
        for e in (await bot.store.get(10001)).history
        if e.kind.value == "message"
    ]
    assert said == [
        ("vagt", "technician", "Hej Anna <b>Er routeren tændt?</b>"),
        ("anna", "reporter", "Ja, den blinker rødt"),
    ]

    # Once the case is resolved, what she writes is a new report again, and the technician cannot write.
    await say(bot, VAGT, choice="oncall:confirm_resolve:10001")
    [new] = await say(bot, ANNA, text="Printeren virker heller ikke")
    assert "Sendt til" not in new.text
    answer, sent = await bot.oncall.write(10001, "Virker det nu?", by)
    assert not sent and answer.text == "Sag 10001 er lukket, så beskeden er ikke sendt."
    # Anyone off the rota cannot write to a reporter.
    answer, sent = await bot.oncall.write(10001, "Hej", Address("local", "local", "anna", "da"))
    assert not sent and answer.text.startswith("Kun teknikere på vagtlisten")


async def test_someone_no_technician_has_written_to_reports_as_usual(
    services: tuple[Services, LocalMessenger, ManualClock],
) -> None:
    bot, local, _ = services
    await report_outage(bot, ANNA)
    await say(bot, VAGT, choice="oncall:ack:10001")
    [asked] = await say(bot, ANNA, text="Min skærm er også gået i sort")
    assert "Sendt til" not in asked.text and len(feed(local, "vagt")) == 1
