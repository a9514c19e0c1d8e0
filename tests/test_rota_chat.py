"""The rota in chat: "hvem har vagten?", swaps with "Jeg tager den", taking a period, test pages.

Real services on a real data folder, the real local messenger, a manual clock; turns go through
`SupportBot.handle` exactly as the local chat, Slack (`/support vagt` arrives as the text "vagt")
and Teams hand them over.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.local.messenger import LocalMessenger
from adapters.wiring import Services, build_services
from bot.audit import AuditAction
from bot.cases import Reporter
from bot.clock import ManualClock
from bot.config import load_settings
from bot.messages import Message
from dialogs.turns import ConversationKey, Turn
from tests.commands import bot_command
from tests.rota_config import technician

ZONE = ZoneInfo("Europe/Copenhagen")
WEDNESDAY = datetime(2026, 12, 9, 14, 0, tzinfo=ZONE)  # rota week of Morten (primary) and Sara (backup)
MORTEN = Reporter("local", "local", "vagt", "Morten", "da")
SARA = Reporter("local", "local", "vagt2", "Sara", "da")
JENS = Reporter("local", "local", "vagt3", "Jens", "da")
ANNA = Reporter("local", "local", "emp:anna", "Anna", "da")
CONFIG = f"""
[oncall]
rotation_start = "2026-12-07"
rotation = [{{ primary = "vagt", backup = "vagt2" }}, {{ primary = "vagt2", backup = "vagt3" }}]
{{extra}}
{technician("vagt", "Morten", local=True)}
{technician("vagt2", "Sara", local=True)}
{technician("vagt3", "Jens", local=True)}
"""


async def start(tmp_path: Path, *, extra: str = "") -> tuple[Services, LocalMessenger, ManualClock]:
    config = tmp_path / "supportbot.toml"
    config.write_text(CONFIG.replace("{extra}", extra), encoding="utf-8")
    settings = load_settings({"SUPPORTBOT_DATA": str(tmp_path / "data"), "SUPPORTBOT_CONFIG": str(config)})
    clock = ManualClock(WEDNESDAY)
    services = build_services(settings, clock=clock)
    local = LocalMessenger(services.storage.records, clock=clock)
    services.messengers.register("local", local)
    return services, local, clock


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[tuple[Services, LocalMessenger, ManualClock]]:
    services = await start(tmp_path)
    yield services
    await services[0].close()


async def say(services: Services, who: Reporter, *, text: str = "", choice: str = "") -> list[Message]:
    key = ConversationKey(who.platform, who.workspace, who.user_id, who.user_id)
    return await services.bot.handle(Turn(key, who, text=text, choice=choice))


def feed(local: LocalMessenger, user: str) -> list[dict[str, Any]]:
    return [e["message"] for e in local.feed("local", user)]


def facts(message: Message) -> dict[str, str]:
    return {f.label: f.value for f in message.facts}


async def test_a_technician_asks_who_is_on_call_and_gets_names_until_when_who_is_next_and_open_cases(bot) -> None:
    services, _, _ = bot
    [answer] = await say(services, SARA, text="Hvem har vagten?")
    assert answer.title == "Hvem har vagten?"
    assert facts(answer) == {
        "Primær": "Morten",
        "Backup": "Sara",
        "Til": "mandag den 14. december kl. 8.00",
        "Derefter": "Sara (backup Jens)",
    }
    assert answer.text == "Der er ingen åbne vagtsager."
    assert [c.label for c in answer.choices] == ["Hvem har vagten?", "Send en testside"]
    [again] = await say(services, SARA, text="vagt")  # what Slack's `/support vagt` hands over
    assert again == answer
    [pressed] = await say(services, SARA, choice="rota:who")
    assert pressed == answer


async def test_open_on_call_cases_are_listed_with_who_acknowledged_them(bot) -> None:
    services, _, clock = bot
    clock.set(datetime(2026, 12, 12, 22, 0, tzinfo=ZONE))  # Saturday night
    reports = [("emp:anna", "Min konto er låst"), ("emp:ole", "Internettet virker ikke for nogen på kontoret")]
    for who, problem in reports:
        person = Reporter("local", "local", who, who[4:].title(), "da")
        replies = await say(services, person, text=problem)
        page = next(c.id for m in replies for c in m.choices if c.id.endswith(":page"))
        await say(services, person, choice=page)
        await say(services, person, text="")
    await services.oncall.settled()
    await say(services, MORTEN, choice="oncall:ack:10001")
    [answer] = await say(services, MORTEN, text="hvem har vagten")
    assert answer.text == (
        "2 sager er åbne:\n"
        "• 10001 (Demo A/S: Kontoen er låst) – kvitteret af Morten\n"
        "• 10002 (Demo A/S: Intet internet på kontoret) – venter på svar"
    )


async def test_an_employee_hears_that_someone_is_on_call_but_no_names(bot) -> None:
    services, _, _ = bot
    [answer] = await say(services, ANNA, text="Hvem har vagten?")
    assert answer.text == (
        "Der er en tekniker på vagt nu og frem til mandag den 14. december kl. 8.00. Vagten er til driftskritiske "
        "problemer uden for åbningstiden. Skriv, hvad der er galt, så hjælper jeg dig videre."
    )
    assert "Morten" not in answer.text and not answer.facts and not answer.choices
    [refused] = await say(services, ANNA, choice="rota:test")
    assert refused.text == "Kun teknikere på vagtlisten kan bytte vagter og sende testsider."
    # In the middle of a report the words are an answer, not a rota question.
    await say(services, ANNA, text="Printeren virker ikke")
    replies = await say(services, ANNA, text="vagt")
    assert all("tekniker på vagt" not in m.text for m in replies)


async def test_with_names_to_employees_an_employee_hears_the_name(tmp_path: Path) -> None:
    services, _, _ = await start(tmp_path, extra="names_to_employees = true")
    try:
        [answer] = await say(services, ANNA, text="who is on call?")
        assert answer.text.startswith("Morten har vagten nu og frem til mandag den 14. december kl. 8.00.")
    finally:
        await services.close()


async def test_a_swap_offered_to_two_technicians_pressing_at_once_goes_to_one(bot) -> None:
    services, local, _ = bot
    [answer] = await say(services, MORTEN, text="Kan nogen tage min vagt lørdag 8.00 til søndag 8.00?")
    assert answer.text == (
        "Jeg har spurgt Sara og Jens, om de kan tage din vagt fra lørdag den 12. december kl. 8.00 til "
        "søndag den 13. december kl. 8.00. Du får besked her, når en af dem har sagt ja."
    )
    [offer] = feed(local, "vagt2")
    assert offer["title"] == "Vil du tage en vagt?"
    assert offer["text"] == (
        "Morten spørger, om nogen kan tage vagten fra lørdag den 12. december kl. 8.00 "
        "til søndag den 13. december kl. 8.00."
    )
    [take] = offer["choices"]
    assert take["label"] == "Jeg tager den" and feed(local, "vagt3")[0]["choices"] == [take]

    sara, jens = await asyncio.gather(say(services, SARA, choice=take["id"]), say(services, JENS, choice=take["id"]))
    answers = sorted([sara[0].text, jens[0].text])
    assert answers[0].startswith("Jens har allerede taget vagten") or answers[0].startswith("Sara har allerede taget")
    assert answers[1].startswith("Tak! Du har vagten fra lørdag den 12. december kl. 8.00 til søndag den 13. december")
    winner = "Sara" if sara[0].text.startswith("Tak!") else "Jens"
    loser_feed = feed(local, "vagt3" if winner == "Sara" else "vagt2")
    assert loser_feed[-1]["choices"] == [] and loser_feed[-1]["text"].endswith(f"{winner} har taget vagten.")
    assert feed(local, "vagt")[-1]["text"].startswith(f"{winner} har taget din vagt fra lørdag den 12. december")

    # The rota follows at once: on Saturday at noon the winner is primary.
    rota = await services.oncall.current_rota(WEDNESDAY)
    assert rota.on_call(datetime(2026, 12, 12, 12, 0, tzinfo=ZONE)).primary.name == winner
    [who] = await say(services, MORTEN, text="hvem har vagten")
    assert facts(who)["Til"] == "lørdag den 12. december kl. 8.00" and facts(who)["Derefter"].startswith(winner)
    [late] = await say(services, MORTEN, choice=take["id"])
    assert late.text.startswith(f"{winner} har allerede taget vagten")
    # The audit log records the swap once, by who took it (the offer alone changed nothing).
    [swapped] = await services.storage.audit.read()
    assert (swapped.action, swapped.actor) == (AuditAction.OVERRIDE, "vagt2" if winner == "Sara" else "vagt3")
    assert swapped.data["change"] == "swapped" and swapped.data["requester"] == "vagt"
    assert swapped.data["start"] == "2026-12-12T08:00:00+01:00" and swapped.data["end"] == "2026-12-13T08:00:00+01:00"


async def test_a_technician_takes_a_period_directly_and_pages_go_to_them_at_once(bot) -> None:
    services, local, clock = bot
    [answer] = await say(services, JENS, text="Jeg tager vagten fredag 15.00 til mandag 8.00")
    assert answer.text.startswith(
        "Du har nu vagten fra fredag den 11. december kl. 15.00 til mandag den 14. december kl. 8.00 (vagtbytte "
    )
    clock.set(datetime(2026, 12, 12, 22, 0, tzinfo=ZONE))
    replies = await say(services, ANNA, text="Min konto er låst")
    await say(services, ANNA, choice=next(c.id for m in replies for c in m.choices if c.id.endswith(":page")))
    await say(services, ANNA, text="")
    await services.oncall.settled()
    assert [m["key"] for m in feed(local, "vagt3")] == ["page:10001"]
    assert feed(local, "vagt") == []
    taken = [e for e in await services.storage.audit.read() if e.action is AuditAction.OVERRIDE]
    assert [(e.actor, e.data["change"], e.data["primary"], e.at) for e in taken] == [
        ("vagt3", "taken", "vagt3", WEDNESDAY)
    ]


async def test_a_period_that_cannot_be_read_or_is_over_is_refused_with_an_example(bot) -> None:
    services, _, _ = bot
    [unread] = await say(services, MORTEN, text="kan nogen tage min vagt?")
    assert unread.text.startswith("Jeg kan ikke læse perioden. Skriv fx")
    [past] = await say(services, MORTEN, text="jeg tager vagten i dag 8.00 til 9.00")
    assert past.text == "Perioden er allerede slut. Skriv en periode, der ligger frem i tiden."
    assert await services.storage.overrides.all(ending_after=WEDNESDAY - timedelta(days=1)) == []


async def test_a_test_page_reaches_the_technician_marked_as_a_test_and_makes_no_case(bot) -> None:
    services, local, _ = bot
    [answer] = await say(services, SARA, text="Send en testside")
    assert answer.text == "Testsiden er sendt via den lokale chat. Kig efter den nu."
    [page] = feed(local, "vagt2")
    assert page["title"] == "TESTSIDE – ikke en rigtig sag"
    assert page["text"].startswith("Det her er en testside, som du selv har bestilt kl. 14.00.")
    [button] = page["choices"]
    [pressed] = await say(services, SARA, choice=button["id"])
    assert pressed.text == "Testen virker: dit tryk nåede frem kl. 14.00. Der er ikke oprettet nogen sag."
    assert await services.store.find() == []


async def test_a_handover_is_announced_once_across_ticks_and_a_restart(tmp_path: Path) -> None:
    services, local, clock = await start(tmp_path)
    try:
        clock.set(datetime(2026, 12, 13, 22, 0, tzinfo=ZONE))  # Sunday night: an open page for the notices
        replies = await say(services, ANNA, text="Min konto er låst")
        await say(services, ANNA, choice=next(c.id for m in replies for c in m.choices if c.id.endswith(":page")))
        await say(services, ANNA, text="")
        await services.oncall.settled()
        clock.set(datetime(2026, 12, 14, 7, 59, tzinfo=ZONE))
        await services.oncall.tick()
        assert [m.get("title") for m in feed(local, "vagt2")] == []
        clock.set(datetime(2026, 12, 14, 8, 0, 5, tzinfo=ZONE))  # Monday 8.00: Sara takes over, Jens backs her up
        await services.oncall.tick()
        await services.oncall.tick()
        [incoming] = feed(local, "vagt2")
        assert incoming["title"] == "Du har vagten"
        assert incoming["text"] == (
            "Du har vagten fra nu til mandag den 21. december kl. 8.00. Jens er backup.\n"
            "1 sag er åben:\n• 10001 (Demo A/S: Kontoen er låst) – venter på svar"
        )
        outgoing = feed(local, "vagt")[-1]
        assert outgoing["title"] == "Din vagt er slut"
        assert outgoing["text"].startswith(
            "Tak for vagten. Sara har den nu til mandag den 21. december kl. 8.00.\n1 sag"
        )
        [line] = [m["text"] for m in feed(local, "team") if m["text"].startswith("Vagtskifte")]
        assert line == "Vagtskifte: Sara har vagten nu til mandag den 21. december kl. 8.00, med Jens som backup."
    finally:
        await services.close()

    services, local, clock = await start(tmp_path)  # a restart on the same data folder
    try:
        clock.set(datetime(2026, 12, 14, 8, 1, tzinfo=ZONE))
        await services.oncall.tick()
        assert len(feed(local, "vagt2")) == 1, "not announced again after the restart"
    finally:
        await services.close()


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"SUPPORTBOT_CONFIG": str(tmp_path / "supportbot.toml"), "SUPPORTBOT_DATA": str(tmp_path / "data")}
    return bot_command("oncall", "--at", "2026-12-12T12:00", *args, env=env, cwd=tmp_path)


async def test_chat_overrides_are_shown_listed_and_cancelled_from_the_cli_beside_the_running_bot(
    tmp_path: Path,
) -> None:
    cover = 'overrides = [{ start = "2026-12-12T00:00", end = "2026-12-13T00:00", primary = "vagt2" }]'
    services, _, _ = await start(tmp_path, extra=cover)
    try:
        [took] = await say(services, JENS, text="Jeg tager vagten lørdag 8.00 til søndag 8.00")
        swap = (await services.storage.overrides.all(ending_after=WEDNESDAY))[0].id
        assert f"(vagtbytte {swap})" in took.text
        shown = await asyncio.to_thread(cli, tmp_path, "--language", "da")
        assert (
            f"Vagtbytte {swap} fra chatten: vagt3 dækker lørdag 12. dec. kl. 8.00 – søndag 13. dec. kl. 8.00"
            in shown.stdout
        )
        assert (
            f"Vagtbyttet {swap} i chatten (vagt3) overlapper afløsning 1 (vagt2 fra 2026-12-12 00:00)" in shown.stdout
        )
        listed = await asyncio.to_thread(cli, tmp_path, "--language", "da", "overrides")
        assert listed.stdout.strip() == f"{swap}  lørdag 12. dec. kl. 8.00 – søndag 13. dec. kl. 8.00  taget af Jens"
        cancelled = await asyncio.to_thread(cli, tmp_path, "--language", "da", "cancel", swap)
        assert cancelled.returncode == 0, cancelled.stderr
        assert cancelled.stdout.startswith(f"Vagtbytte {swap} er annulleret.")
        rota = await services.oncall.current_rota(WEDNESDAY)  # the running bot pages by the config again at once
        assert rota.on_call(datetime(2026, 12, 12, 12, 0, tzinfo=ZONE)).primary.id == "vagt2"
        recorded = [(e.actor, e.data["change"], e.data["id"]) for e in await services.storage.audit.read()]
        assert recorded == [("vagt3", "taken", swap), ("cli", "cancelled", swap)], "the CLI records beside the bot"
        again = await asyncio.to_thread(cli, tmp_path, "cancel", swap)
        assert again.returncode != 0 and "already cancelled" in again.stderr
        unknown = await asyncio.to_thread(cli, tmp_path, "cancel", "nothere")
        assert unknown.returncode != 0 and "no override made in chat has the id 'nothere'" in unknown.stderr
    finally:
        await services.close()
