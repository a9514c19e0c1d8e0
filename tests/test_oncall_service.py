"""On-call paging end to end: the real case store on disk, a manual clock, and a recording Messenger.

The Messenger is the boundary: it records what would reach Slack, Teams or the local inbox, and can
be told to fail like a platform that is down. Everything behind it is the real code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.storage import open_storage
from bot.audit import AuditAction
from bot.cases import Case, CaseEvent, CaseStatus, CostAnswer, CustomerRef, EventKind, NewCase, Reporter
from bot.categories import Category, Scope
from bot.clock import ManualClock
from bot.config import Settings, load_settings
from bot.delivery import Address, DeliveryError, MessageRef, Messengers
from bot.messages import Message
from bot.oncall.service import OncallService
from bot.ports import Cases, Storage

CPH = ZoneInfo("Europe/Copenhagen")
# Saturday night; the week of Monday 2026-11-23 has morten as primary and sara as backup.
SATURDAY_NIGHT = datetime(2026, 11, 28, 22, 0, tzinfo=CPH)

CONFIG = """
[oncall]
ack_timeout_minutes = 10
escalate_all_minutes = 10
reminder_minutes = 120
duplicate_window_minutes = 30
handover_day = "monday"
handover_time = "08:00"
rotation_start = "2026-01-05"
rotation = [{ primary = "morten", backup = "sara" }, { primary = "sara", backup = "ib" }]

[[oncall.technicians]]
id = "morten"
name = "Morten"
local = true
slack = { team = "T-OO", user = "U-morten" }

[[oncall.technicians]]
id = "sara"
name = "Sara"
language = "en"
teams = { tenant = "tenant-oo", user = "aad-sara" }

[[oncall.technicians]]
id = "ib"
name = "Ib"
local = true

[team_channel]
slack_channel = "C-TEAM"
slack_team = "T-OO"
teams_conversation = ""
teams_service_url = ""
"""

MORTEN = Address("slack", "T-OO", "U-morten")
MORTEN_LOCAL = Address("local", "local", "morten")
SARA = Address("teams", "tenant-oo", "aad-sara")
IB = Address("local", "local", "ib")


def who(address: Address) -> tuple[str, str, str]:
    return (address.platform, address.workspace, address.user_id)


@dataclass
class Recorder:
    """A Messenger for every platform that records instead of delivering, and fails on demand."""

    sent: list[tuple[Address, Message, MessageRef]] = field(default_factory=list)
    updates: list[tuple[MessageRef, Message]] = field(default_factory=list)
    down: set[tuple[str, str]] = field(default_factory=set)  # (platform, user id) that cannot be reached

    async def send(self, to: Address, message: Message) -> MessageRef:
        if (to.platform, to.user_id) in self.down or (to.platform, "*") in self.down:
            raise DeliveryError(f"{to.platform} is down")
        ref = MessageRef(to.platform, to.workspace, to.user_id, f"m{len(self.sent) + 1}")
        self.sent.append((to, message, ref))
        return ref

    async def update(self, ref: MessageRef, message: Message) -> None:
        self.updates.append((ref, message))

    def pages(self, number: int) -> list[tuple[Address, Message]]:
        return [(to, m) for to, m, _ in self.sent if m.key == f"page:{number}"]

    def to(self, address: Address) -> list[Message]:
        return [m for to, m, _ in self.sent if who(to) == who(address)]

    def latest_update(self, ref: MessageRef) -> Message:
        return [m for r, m in self.updates if r == ref][-1]


@dataclass
class Harness:
    settings: Settings
    clock: ManualClock
    recorder: Recorder
    messengers: Messengers
    storage: Storage
    service: OncallService

    @property
    def store(self) -> Cases:
        return self.storage.cases

    def service_with(self, messengers: Messengers) -> OncallService:
        return OncallService.on_storage(self.storage, settings=self.settings, messengers=messengers, clock=self.clock)

    async def close(self) -> None:
        await self.service.stop()
        await self.storage.close()

    async def report(
        self,
        *,
        after_hours: bool = True,
        user: str = "U-anna",
        name: str = "Anna Jensen",
        category: Category = Category.INTERNET_DOWN,
        scope: Scope = Scope.ALL,
        description: str = "Internettet er helt væk på kontoret, ingen kan komme på",
        locale: str = "da",
        critical: bool = True,
        page_requested: bool | None = None,
    ) -> Case:
        now = self.clock.now()
        cost = CostAnswer(("surcharge",), "tillæg 100 %", "page", True, now, now)
        new = NewCase(
            reporter=Reporter("slack", "T-CUST", user, name, locale),
            customer=CustomerRef("Demo A/S", known=True, agreement=True),
            description=description,
            category=category,
            confidence=95,
            scope=scope,
            critical=critical,
            after_hours=after_hours,
            cost=cost if after_hours else None,
            page_requested=after_hours if page_requested is None else page_requested,
        )
        return await self.store.create(new, now=now)

    async def page(self, case: Case) -> Case:
        """Page as the reporter's turn does, then wait for the page to go out (it is sent in the background)."""
        answered = asyncio.get_running_loop().create_future()
        await self.service.page(case, answered=answered)
        answered.set_result(None)  # the turn has answered its reporter
        await self.service.settled()
        return await self.case(case.number)

    async def case(self, number: int) -> Case:
        case = await self.store.get(number)
        assert case is not None
        return case

    async def kinds(self, number: int) -> list[tuple[EventKind, dict[str, object]]]:
        return [(e.kind, e.data) for e in (await self.case(number)).history]

    async def later(self, minutes: float) -> None:
        """Time passes: the timers fire, and what they started (pages of the sweep) has been sent."""
        self.clock.advance(timedelta(minutes=minutes))
        await self.service.tick()
        await self.service.settled()

    async def restart(self) -> None:
        """A new process on the same data folder: new store, new service, the same platforms."""
        await self.close()
        self.storage = open_storage(self.settings)
        self.service = self.service_with(self.messengers)


def settings_for(tmp_path: Path, config: str = CONFIG) -> Settings:
    path = tmp_path / "supportbot.toml"
    path.write_text(config, encoding="utf-8")
    return load_settings({"SUPPORTBOT_CONFIG": str(path), "SUPPORTBOT_DATA": str(tmp_path / "data")})


def make_harness(tmp_path: Path, config: str = CONFIG, recorder: Recorder | None = None) -> Harness:
    settings = settings_for(tmp_path, config)
    clock = ManualClock(SATURDAY_NIGHT)
    recorder = recorder or Recorder()
    messengers = Messengers()
    for platform in ("slack", "teams", "local"):
        messengers.register(platform, recorder)
    storage = open_storage(settings)
    service = OncallService.on_storage(storage, settings=settings, messengers=messengers, clock=clock)
    return Harness(settings, clock, recorder, messengers, storage, service)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = make_harness(tmp_path)
    yield harness
    await harness.close()


def facts(message: Message) -> dict[str, str]:
    return {f.label: f.value for f in message.facts}


def choice_ids(message: Message) -> list[str]:
    return [c.id for c in message.choices]


async def test_a_page_is_one_direct_message_with_everything_and_two_buttons(h: Harness) -> None:
    case = await h.report()
    paged = await h.page(case)

    [(to, page)] = h.recorder.pages(case.number)
    assert to == Address("slack", "T-OO", "U-morten", "da")  # Slack preferred over morten's local inbox
    assert page.title == f"Vagtopkald: kritisk sag {case.number}"
    assert page.text == "Demo A/S: Intet internet på kontoret. Alle er ramt."
    assert facts(page) == {
        "Sag": str(case.number),
        "Kunde": "Demo A/S (driftsaftale)",
        "Problem": "Intet internet på kontoret",
        "Hvem er ramt": "Alle er ramt",
        "Beskrivelse": "Internettet er helt væk på kontoret, ingen kan komme på",
        "Meldt af": "Anna Jensen via Slack",
        "Meldt": "lørdag 28. nov. kl. 22.00",
        "Pris": "100 % tillæg på timeprisen (accepteret kl. 22.00)",
    }
    assert choice_ids(page) == [f"oncall:ack:{case.number}"]  # "Løst" comes once someone has acknowledged
    assert [c.label for c in page.choices] == ["Kvittér"]
    assert paged.status is CaseStatus.OPEN
    assert (EventKind.PAGED, {"technician": "morten", "platform": "slack", "step": "primary"}) in [
        (e.kind, e.data) for e in paged.history
    ]
    # Paging the same case again pages nobody.
    await h.page(paged)
    assert len(h.recorder.pages(case.number)) == 1


async def test_the_whole_escalation_ladder(h: Harness) -> None:
    case = await h.report()
    await h.page(case)
    assert len(h.recorder.pages(case.number)) == 1

    await h.later(9.9)
    assert len(h.recorder.pages(case.number)) == 1

    await h.later(0.1)  # 10 minutes: morten again, and the backup
    second = h.recorder.pages(case.number)[1:]
    assert [who(to) for to, _ in second] == [who(MORTEN), who(SARA)]
    assert second[0][1].text.endswith("Ikke kvitteret inden for 10 min. Backup er også tilkaldt.")
    assert second[1][1].text.endswith("Morten has not acknowledged within 10 min. You are the backup. Can you take it?")
    assert second[1][1].facts[0].label == "Case"  # Sara reads English

    await h.later(9)
    assert len(h.recorder.pages(case.number)) == 3
    await h.later(1)  # a further 10 minutes: everyone on the rota
    everyone = h.recorder.pages(case.number)[3:]
    assert sorted(to.user_id for to, _ in everyone) == ["U-morten", "aad-sara", "ib"]
    assert all("Kan du tage den?" in m.text or "Can you take it?" in m.text for _, m in everyone)

    reporter = Address("slack", "T-CUST", "U-anna")
    # Told that on-call has it, then once when the backup was called, not again when everyone was.
    [paged, escalated] = h.recorder.to(reporter)
    assert paged.text == f"Vagten er nu tilkaldt om din sag {case.number}. Du får besked her, så snart der er nyt."
    assert escalated.text == (
        f"Vagten har ikke svaret endnu, så jeg har også tilkaldt en anden tekniker til din sag {case.number}."
    )
    await h.later(10)  # still nobody: the reporter is told to phone
    [_, _, told] = h.recorder.to(reporter)
    assert "+45 7021 1813" in told.text and "tryk 2" in told.text

    steps = [d["step"] for k, d in await h.kinds(case.number) if k is EventKind.ESCALATED]
    assert steps == ["backup", "everyone", "gave_up"]
    await h.later(120)
    assert len(h.recorder.pages(case.number)) == 6  # the ladder has ended


async def test_two_ticks_at_once_send_a_step_once(h: Harness) -> None:
    case = await h.report()
    await h.page(case)
    h.clock.advance(timedelta(minutes=10))
    await asyncio.gather(h.service.tick(), h.service.tick(), h.service.tick())
    assert len(h.recorder.pages(case.number)) == 3
    assert [k for k, _ in await h.kinds(case.number)].count(EventKind.ESCALATED) == 1


async def test_a_restart_in_the_middle_sends_what_fell_due_once(h: Harness) -> None:
    case = await h.report()
    await h.page(case)
    await h.restart()
    h.clock.advance(timedelta(minutes=12))  # the bot was down when the backup was due
    await h.service.tick()
    await h.service.tick()
    assert len(h.recorder.pages(case.number)) == 3
    await h.restart()
    await h.service.tick()
    assert len(h.recorder.pages(case.number)) == 3
    await h.later(10)
    assert len(h.recorder.pages(case.number)) == 6

    # The new process knows every message sent before the restarts and updates them all.
    await h.service.press(f"oncall:ack:{case.number}", SARA)
    updated = {ref.message_id for ref, _ in h.recorder.updates}
    assert updated == {ref.message_id for _, m, ref in h.recorder.sent if m.key == f"page:{case.number}"}


async def test_after_a_long_outage_the_latest_step_is_sent_not_every_missed_one(h: Harness) -> None:
    case = await h.report()
    await h.page(case)
    await h.restart()
    h.clock.advance(timedelta(minutes=25))
    await h.service.tick()
    assert sorted(to.user_id for to, _ in h.recorder.pages(case.number)[1:]) == ["U-morten", "aad-sara", "ib"]
    escalated = [d for k, d in await h.kinds(case.number) if k is EventKind.ESCALATED]
    assert escalated == [{"step": "everyone", "reason": "timeout", "late": True}]
    # The pages say they are late, each in its reader's language; the backup fell due at 22.10.
    late = {to.user_id: m.text for to, m in h.recorder.pages(case.number)[1:]}
    assert late["U-morten"].endswith("Sendt forsinket: Botten var nede, da beskeden skulle være sendt kl. 22.10.")
    assert late["aad-sara"].endswith("Sent late: the bot was down when this should have gone out at 22:10.")


async def test_a_step_sent_on_time_does_not_say_it_is_late(h: Harness) -> None:
    case = await h.report()
    await h.page(case)
    await h.later(10)
    assert not any("forsinket" in m.text or "late" in m.text for _, m in h.recorder.pages(case.number))


async def test_acknowledge_and_resolve_update_every_copy_and_tell_the_reporter(h: Harness) -> None:
    case = await h.report()
    await h.page(case)
    await h.later(10)  # morten twice, sara once
    h.clock.advance(timedelta(minutes=2))

    reply = await h.service.press(f"oncall:ack:{case.number}", MORTEN)
    assert reply.text == f"Du har kvitteret for sag {case.number}. Anna Jensen har fået besked om, at du er i gang."
    assert (await h.case(case.number)).status is CaseStatus.ACKNOWLEDGED
    page_refs = [ref for _, m, ref in h.recorder.sent if m.key == f"page:{case.number}"]
    assert len(page_refs) == 3
    for ref in page_refs:
        shown = h.recorder.latest_update(ref)
        assert choice_ids(shown) == [f"oncall:resolve:{case.number}"]
        assert ("Kvitteret af Morten kl. 22.12" in shown.text) or ("Acknowledged by Morten at 22:12" in shown.text)
    [_paged, _escalated, told] = h.recorder.to(Address("slack", "T-CUST", "U-anna"))
    assert told.text == f"Nyt om sag {case.number}: Morten fra vagten har set din sag og går i gang."

    await h.later(30)
    assert len(h.recorder.pages(case.number)) == 3  # the escalation stopped

    question = await h.service.press(f"oncall:resolve:{case.number}", SARA)  # asks once before it acts
    assert question.text == f"Is case {case.number} resolved? Then I'll close the case and tell Anna Jensen."
    assert [(c.id, c.label) for c in question.choices] == [
        (f"oncall:confirm_resolve:{case.number}", "Yes, it's resolved")
    ]
    assert (await h.case(case.number)).status is CaseStatus.ACKNOWLEDGED
    assert len(h.recorder.to(Address("slack", "T-CUST", "U-anna"))) == 3  # not told anything yet
    reply = await h.service.press(f"oncall:confirm_resolve:{case.number}", SARA)
    assert reply.text == f"Case {case.number} is marked as resolved. Anna Jensen has been told."
    assert reply.key == question.key  # the answer replaces the question where the platform can
    for ref in page_refs:
        shown = h.recorder.latest_update(ref)
        assert shown.choices == ()
        assert "Løst af Sara kl. 22.42" in shown.text or "Resolved by Sara at 22:42" in shown.text
    assert (await h.case(case.number)).status is CaseStatus.RESOLVED
    audited = await h.storage.audit.read(case=case.number)
    assert [(e.action, e.actor, e.data["name"]) for e in audited] == [
        (AuditAction.ACKNOWLEDGED, "morten", "Morten"),
        (AuditAction.RESOLVED, "sara", "Sara"),
    ]
    resolved = h.recorder.to(Address("slack", "T-CUST", "U-anna"))[-1]
    assert resolved.text.startswith(f"Sag {case.number} er løst af Sara")
    assert "så opretter jeg en ny sag" in resolved.text  # the promise the dialog keeps (tests/test_dialog_intake.py)
    assert [(c.id, c.label) for c in resolved.choices] == [(f"intake:followup:{case.number}", "Det virker stadig ikke")]
    await h.later(600)
    # three pages, four reporter updates (paged, backup called, acknowledged, resolved): no reminders after resolving
    assert len(h.recorder.sent) == 7


async def test_a_press_from_anyone_off_the_rota_is_refused_and_logged(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    case = await h.report()
    await h.page(case)
    with caplog.at_level(logging.WARNING, logger="bot.oncall.service"):
        reply = await h.service.press(f"oncall:ack:{case.number}", Address("slack", "T-CUST", "U-anna", "da"))
    assert reply.text.startswith("Kun teknikere på vagtlisten kan kvittere")
    assert (await h.case(case.number)).status is CaseStatus.OPEN
    assert h.recorder.updates == []
    [record] = [r for r in caplog.records if "refused" in r.getMessage()]
    assert "U-anna" in record.getMessage() and "T-CUST" in record.getMessage()
    # A Slack user id of a technician, but from the customer's workspace, is not the technician.
    reply = await h.service.press(f"oncall:ack:{case.number}", Address("slack", "T-CUST", "U-morten", "en"))
    assert reply.text.startswith("Only technicians on the on-call rota")


async def test_the_same_press_twice_counts_once(h: Harness) -> None:
    case = await h.report()
    await h.page(case)
    first, again = await asyncio.gather(
        h.service.press(f"oncall:ack:{case.number}", MORTEN), h.service.press(f"oncall:ack:{case.number}", MORTEN)
    )
    assert first.text.startswith("Du har kvitteret for sag")
    assert again.text == f"Du har allerede kvitteret for sag {case.number} kl. 22.00."
    other = await h.service.press(f"oncall:ack:{case.number}", SARA)
    assert other.text == f"Case {case.number} has already been acknowledged by Morten at 22:00."
    acks = [k for k, _ in await h.kinds(case.number) if k is EventKind.ACKNOWLEDGED]
    assert len(acks) == 1
    told = [m.text for m in h.recorder.to(Address("slack", "T-CUST", "U-anna"))]
    assert told == [
        f"Vagten er nu tilkaldt om din sag {case.number}. Du får besked her, så snart der er nyt.",
        f"Nyt om sag {case.number}: Morten fra vagten har set din sag og går i gang.",
    ]

    await h.service.press(f"oncall:confirm_resolve:{case.number}", MORTEN_LOCAL)  # the same man from his inbox
    twice = await h.service.press(f"oncall:confirm_resolve:{case.number}", MORTEN)
    assert twice.text == f"Sag {case.number} er allerede løst af Morten kl. 22.00."
    asked_late = await h.service.press(f"oncall:resolve:{case.number}", MORTEN)  # an old page's "Løst"
    assert asked_late.text == twice.text and asked_late.choices == ()
    late_ack = await h.service.press(f"oncall:ack:{case.number}", IB)
    assert late_ack.text == f"Sag {case.number} er allerede løst af Morten kl. 22.00."
    assert len(h.recorder.to(Address("slack", "T-CUST", "U-anna"))) == 3  # paged, acknowledged, resolved


async def test_odd_presses_get_a_clear_answer(h: Harness) -> None:
    assert (await h.service.press("oncall:ack:99999", MORTEN)).text == "Sag 99999 findes ikke."
    assert (await h.service.press("oncall:snooze:1", MORTEN)).text.startswith("Den knap kender jeg ikke")
    assert (await h.service.press("oncall:ack:", MORTEN)).text.startswith("Den knap kender jeg ikke")


async def test_two_reporters_of_one_outage_get_one_page(h: Harness) -> None:
    first = await h.report()
    await h.page(first)
    h.clock.advance(timedelta(minutes=5))
    second = await h.report(user="U-bo", name="Bo Hansen", description="Intet net her")
    linked = await h.page(second)

    assert h.recorder.pages(second.number) == []
    assert len(h.recorder.pages(first.number)) == 1
    assert linked.linked_to == first.number
    assert (EventKind.LINKED, {"to": first.number}) in await h.kinds(second.number)
    linked_event = {"case": second.number, "reporter": "Bo Hansen", "user": "U-bo"}
    assert (EventKind.LINKED, linked_event) in await h.kinds(first.number)
    # The turn that reported it answers Bo (dialogs.replies.outcome); nothing is sent to him besides.
    assert h.recorder.to(Address("slack", "T-CUST", "U-bo")) == []
    # The page shows the second report in place.
    page_ref = next(ref for _, m, ref in h.recorder.sent if m.key == f"page:{first.number}")
    assert facts(h.recorder.latest_update(page_ref))["Også meldt af"] == f"Bo Hansen (sag {second.number})"

    await h.service.press(f"oncall:ack:{second.number}", MORTEN)  # a press on the linked case acts on the first
    assert (await h.case(first.number)).status is CaseStatus.ACKNOWLEDGED
    assert (await h.case(second.number)).status is CaseStatus.ACKNOWLEDGED
    assert h.recorder.to(Address("slack", "T-CUST", "U-bo"))[-1].text.startswith(f"Nyt om sag {second.number}: Morten")
    await h.service.press(f"oncall:confirm_resolve:{first.number}", MORTEN)
    assert (await h.case(second.number)).status is CaseStatus.RESOLVED
    assert h.recorder.to(Address("slack", "T-CUST", "U-bo"))[-1].text.startswith(f"Sag {second.number} er løst")
    assert h.recorder.to(Address("slack", "T-CUST", "U-anna"))[-1].text.startswith(f"Sag {first.number} er løst")


async def test_a_report_after_acknowledgement_is_told_who_is_on_it(h: Harness) -> None:
    first = await h.report()
    await h.page(first)
    await h.service.press(f"oncall:ack:{first.number}", MORTEN)
    second = await h.report(user="U-bo", name="Bo Hansen")
    linked = await h.page(second)
    assert linked.status is CaseStatus.ACKNOWLEDGED
    assert h.recorder.to(Address("slack", "T-CUST", "U-bo")) == []  # the turn's own answer says who is on it
    reply = await h.service.press(f"oncall:confirm_resolve:{first.number}", MORTEN)
    assert reply.text == f"Sag {first.number} er markeret som løst. Anna Jensen og Bo Hansen har fået besked."


@pytest.mark.parametrize(
    ("minutes", "category", "scope_critical"),
    [(31, Category.INTERNET_DOWN, True), (5, Category.PRINTING_DOWN, True), (5, Category.INTERNET_DOWN, False)],
    ids=["outside the window", "another category", "not critical"],
)
async def test_other_reports_get_their_own_page(
    h: Harness, minutes: int, category: Category, scope_critical: bool
) -> None:
    first = await h.report()
    await h.page(first)
    h.clock.advance(timedelta(minutes=minutes))
    second = await h.report(user="U-bo", category=category, critical=scope_critical)
    paged = await h.page(second)
    assert paged.linked_to is None
    assert len(h.recorder.pages(second.number)) == 1


async def test_an_unreachable_primary_pages_the_backup_at_once(h: Harness) -> None:
    h.recorder.down |= {("slack", "U-morten"), ("local", "morten")}
    case = await h.report()
    paged = await h.page(case)

    assert [to.user_id for to, _ in h.recorder.pages(case.number)] == ["aad-sara"]
    kinds = [(k, d) for k, d in await h.kinds(case.number)]
    failed = [d for k, d in kinds if k is EventKind.PAGE_FAILED]
    assert [(d["technician"], d["platform"]) for d in failed] == [("morten", "slack"), ("morten", "local")]
    assert (EventKind.ESCALATED, {"step": "backup", "reason": "unreachable"}) in kinds
    assert any(e.kind is EventKind.PAGED for e in paged.history)
    [(_, page)] = h.recorder.pages(case.number)
    assert page.text.endswith("Morten could not be reached. You are the backup. Can you take it?")
    # The timer goes on from here: after 10 minutes everyone (morten still down) is paged, once.
    await h.later(10)
    await h.later(0)
    assert sorted(to.user_id for to, _ in h.recorder.pages(case.number)) == ["aad-sara", "aad-sara", "ib"]


async def test_when_nobody_can_be_reached_the_reporter_is_told_to_phone(h: Harness) -> None:
    case = await h.report()
    await h.page(case)  # morten got the first page
    h.recorder.down |= {("slack", "U-morten"), ("local", "morten"), ("teams", "aad-sara"), ("local", "ib")}
    await h.later(10)
    steps = [(d["step"], d["reason"]) for k, d in await h.kinds(case.number) if k is EventKind.ESCALATED]
    assert steps == [("backup", "timeout"), ("everyone", "unreachable"), ("gave_up", "unreachable")]
    [_paged, told] = h.recorder.to(Address("slack", "T-CUST", "U-anna"))
    assert told.text == (
        f"Vagten har endnu ikke svaret på sag {case.number}. Ring på +45 7021 1813 og tryk 2, så hjælper vi dig videre."
    )
    await h.later(60)
    assert len(h.recorder.pages(case.number)) == 1  # never paged twice for one step, nothing more after giving up
    failed = [(d["technician"], d["step"]) for k, d in await h.kinds(case.number) if k is EventKind.PAGE_FAILED]
    assert sorted(failed) == sorted(
        [("morten", "backup"), ("morten", "backup"), ("sara", "backup"), ("ib", "everyone")]
    )


async def test_when_nobody_can_be_reached_at_once_the_reporter_is_told_to_phone_after_their_answer(
    h: Harness,
) -> None:
    h.recorder.down |= {("slack", "U-morten"), ("local", "*"), ("teams", "*")}
    case = await h.report()
    answered = asyncio.get_running_loop().create_future()
    claimed = await h.service.page(case, answered=answered)
    assert claimed.linked_to is None and not claimed.history[1:]  # only claimed: nothing is sent in the turn
    await asyncio.sleep(0)  # the page job runs on: morten, sara, ib and everyone are unreachable...
    for _ in range(50):
        if (await h.case(case.number)).history[-1].data.get("step") == "gave_up":
            break
        await asyncio.sleep(0.01)
    assert h.recorder.sent == []  # ...but the reporter's update waits for the turn's answer
    answered.set_result(None)
    await h.service.settled()
    paged = await h.case(case.number)
    assert not any(e.kind in (EventKind.PAGED, EventKind.LINKED) for e in paged.history)
    [told] = h.recorder.to(Address("slack", "T-CUST", "U-anna"))
    assert told.text == (
        "Vi kan ikke få fat i vagten lige nu. Ring på +45 7021 1813 og tryk 2, "
        f"så hjælper vi dig med sag {case.number}."
    )
    assert paged.history[-1].kind is EventKind.REPORTER_NOTIFIED and paged.history[-1].data["about"] == "unreachable"


async def test_the_acknowledger_is_reminded_every_two_hours_a_bounded_number_of_times(h: Harness) -> None:
    case = await h.report()
    await h.page(case)
    await h.service.press(f"oncall:ack:{case.number}", MORTEN)
    await h.later(119)
    assert len(h.recorder.to(MORTEN)) == 1
    await h.later(1)
    reminder = h.recorder.to(MORTEN)[-1]
    assert reminder.key == f"page:{case.number}"
    assert "Sagen er stadig åben. Du kvitterede kl. 22.00." in reminder.text
    assert choice_ids(reminder) == [f"oncall:resolve:{case.number}"]
    await h.later(1)
    assert len(h.recorder.to(MORTEN)) == 2
    for _ in range(20):
        await h.later(120)
    assert h.settings.oncall.max_reminders == 6  # the default: 6 x 2 hours covers a night
    pages = [m for m in h.recorder.to(MORTEN) if m.key == f"page:{case.number}"]  # not the handover notice
    assert len(pages) == 1 + 6
    reminded = [d for k, d in await h.kinds(case.number) if k is EventKind.REMINDED]
    assert len(reminded) == 6


async def test_a_technician_on_teams_is_paged_for_a_slack_reporter(h: Harness) -> None:
    h.clock.set(datetime(2026, 12, 5, 23, 0, tzinfo=CPH))  # sara's week; she is only on Teams
    case = await h.report()
    await h.page(case)
    [(to, page)] = h.recorder.pages(case.number)
    assert to == Address("teams", "tenant-oo", "aad-sara", "en")
    assert facts(page)["Reported by"] == "Anna Jensen via Slack"
    reply = await h.service.press(f"oncall:ack:{case.number}", SARA)
    assert reply.text.startswith("You have acknowledged")


async def test_open_hours_cases_go_to_the_team_channels_not_a_pager(h: Harness) -> None:
    h.clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=CPH))
    case = await h.report(category=Category.PRINTING_DOWN, scope=Scope.ME, after_hours=False)
    await h.service.post_to_team(case)
    await h.service.post_to_team(case)  # once only
    await h.service.settled()  # posted after the reporter's answer
    posts = [(to, m) for to, m, _ in h.recorder.sent]
    assert [to for to, _ in posts] == [Address("slack", "T-OO", "C-TEAM"), Address("local", "local", "team")]
    assert posts[0][1].key == f"team:{case.number}"
    assert posts[0][1].title == f"Ny sag {case.number}"
    posted = [d["platform"] for k, d in await h.kinds(case.number) if k is EventKind.POSTED_TO_TEAM]
    assert posted == ["slack", "local"]
    await h.later(60)
    assert len(h.recorder.sent) == 2  # no escalation in opening hours

    reply = await h.service.press(f"oncall:ack:{case.number}", IB)
    assert reply.text == f"Du har kvitteret for sag {case.number}. Anna Jensen har fået besked om, at du er i gang."
    told = h.recorder.to(Address("slack", "T-CUST", "U-anna"))[-1]
    assert told.text == f"Nyt om sag {case.number}: Ib fra supporten har set din sag og går i gang."
    assert {ref.channel for ref, _ in h.recorder.updates} == {"C-TEAM", "team"}
    assert all("Kvitteret af Ib kl. 11.00" in m.text for _, m in h.recorder.updates)


async def test_a_case_cancelled_meanwhile_stops_the_ladder(h: Harness) -> None:
    case = await h.report()
    await h.page(case)
    await h.store.update(
        case.number, CaseEvent(h.clock.now(), EventKind.CANCELLED, "U-anna", {}), status=CaseStatus.CANCELLED
    )
    await h.later(10)
    assert len(h.recorder.pages(case.number)) == 1
    [(_, shown)] = h.recorder.updates
    assert shown.choices == () and "Annulleret kl. 22.00 af den, der meldte sagen" in shown.text
    reply = await h.service.press(f"oncall:ack:{case.number}", MORTEN)
    assert reply.text == f"Sag {case.number} er annulleret af den, der meldte den. Der er ikke mere at gøre."


async def test_start_up_reports_rota_problems(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    only_slack = Messengers()
    only_slack.register("slack", h.recorder)
    service = h.service_with(only_slack)
    with caplog.at_level(logging.WARNING, logger="bot.oncall.service"):
        problems = service.report_problems()
    assert problems == [
        "Technician sara can only be reached on teams, which is not enabled.",
        "Technician ib can only be reached on local, which is not enabled.",
    ]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


async def test_with_an_empty_rotation_every_technician_is_paged_at_once(tmp_path: Path) -> None:
    rotation = 'rotation = [{ primary = "morten", backup = "sara" }, { primary = "sara", backup = "ib" }]'
    h = make_harness(tmp_path, CONFIG.replace(rotation, "rotation = []"))
    try:
        case = await h.report()
        paged = await h.page(case)
        pages = h.recorder.pages(case.number)
        assert sorted(to.user_id for to, _ in pages) == ["U-morten", "aad-sara", "ib"]
        assert pages[0][1].text.endswith(
            "Ingen er på vagt ifølge vagtplanen, så alle teknikere er tilkaldt. Kan du tage den?"
        )
        assert [e.data["step"] for e in paged.history if e.kind is EventKind.ESCALATED] == ["backup", "everyone"]
    finally:
        await h.close()


async def test_the_background_loop_fires_the_timers(h: Harness) -> None:
    case = await h.report()
    await h.page(case)
    h.clock.advance(timedelta(minutes=10))
    loop = asyncio.create_task(h.service.run(interval=0.001))
    try:
        for _ in range(1000):
            if len(h.recorder.pages(case.number)) == 3:
                break
            await asyncio.sleep(0.001)
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    assert len(h.recorder.pages(case.number)) == 3
