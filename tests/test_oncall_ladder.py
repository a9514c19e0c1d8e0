"""The escalation ladder as a pure function, driven over a simulated week: no I/O, no sleeping.

`Week` plays the runner: every `tick` it asks `ladder.decide` what is due, keeps the record it
returns (the claim), writes down the action and gives up the claim's lease once "sent", as the
on-call service does with real platforms; at a moment in `dies` the runner dies before that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.cases import CaseStatus
from bot.config import Settings
from bot.oncall import ladder
from bot.oncall.records import PageRecord, Step
from bot.oncall.rota import Rota
from tests.test_oncall_service import CONFIG, CPH, SATURDAY_NIGHT, settings_for

MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
EVERYONE = ("morten", "sara", "ib")


@dataclass
class Week:
    """One page from `start`, looked at every `tick` for a week (or until `down` hides some of it)."""

    settings: Settings
    start: datetime
    tick: timedelta = MINUTE
    status: CaseStatus = CaseStatus.OPEN
    acknowledged_at: datetime | None = None
    record: PageRecord = field(init=False)
    actions: list[tuple[datetime, ladder.Action]] = field(default_factory=list)
    dies: tuple[datetime, ...] = ()  # the runner dies after claiming what it decided at these moments
    runners: int = 1  # runners so far: each death hands the ladder to a new one

    def __post_init__(self) -> None:
        on_call = Rota(self.settings.oncall, CPH).on_call(self.start)
        self.record = self.sent(ladder.start(10001, on_call, self.start, self.settings.oncall, self.runner), self.start)

    @property
    def runner(self) -> str:
        return f"runner-{self.runners}"

    def sent(self, claimed: PageRecord, now: datetime) -> PageRecord:
        """The record once the runner has sent what it claimed at `now`, or as it left it when it died."""
        if claimed.sending is None:
            return claimed
        if now in self.dies:
            self.runners += 1
            return claimed
        return ladder.finished(claimed)

    def run(
        self,
        *,
        until: datetime | None = None,
        acknowledge: datetime | None = None,
        resolve: datetime | None = None,
        down: tuple[datetime, datetime] | None = None,
    ) -> list[tuple[timedelta, ladder.Action]]:
        """What happened, as (time since the page started, action); acknowledging and resolving come first
        in their tick, as a button press that arrives before the timer looks."""
        now, end = self.start, until or self.start + timedelta(days=7)
        while now <= end:
            if acknowledge is not None and now >= acknowledge and self.acknowledged_at is None:
                self.status, self.acknowledged_at = CaseStatus.ACKNOWLEDGED, acknowledge
            if resolve is not None and now >= resolve:
                self.status = CaseStatus.RESOLVED
            if down is None or not down[0] <= now < down[1]:
                decision = ladder.decide(
                    self.record, self.status, self.acknowledged_at, self.settings.oncall, now, self.runner
                )
                self.record = decision.record
                if decision.action is not None:
                    self.record = self.sent(decision.record, now)
                    self.actions.append((now, decision.action))
                if isinstance(decision.action, ladder.Forget):
                    break
            now += self.tick
        return [(at - self.start, action) for at, action in self.actions]

    def targets(self, step: Step) -> list[str]:
        return ladder.targets(self.record, step, EVERYONE)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


def test_nobody_answers_backup_then_everyone_then_the_reporter_is_told_to_phone(settings: Settings) -> None:
    week = Week(settings, SATURDAY_NIGHT)
    assert week.record.primary == "morten" and week.record.backup == "sara"
    assert week.targets(Step.PRIMARY) == ["morten"]
    assert week.run() == [
        (timedelta(minutes=10), ladder.Escalate(Step.BACKUP, late=False)),
        (timedelta(minutes=20), ladder.Escalate(Step.EVERYONE, late=False)),
        (timedelta(minutes=30), ladder.Escalate(Step.GAVE_UP, late=False)),
    ], "and nothing more for the rest of the week"
    assert week.targets(Step.BACKUP) == ["morten", "sara"]
    assert week.targets(Step.EVERYONE) == list(EVERYONE) and week.targets(Step.GAVE_UP) == []
    assert week.record.due is None


def test_an_acknowledgement_in_the_last_second_stops_the_ladder_and_reminders_follow(settings: Settings) -> None:
    week = Week(settings, SATURDAY_NIGHT, tick=SECOND)
    acknowledged = SATURDAY_NIGHT + timedelta(minutes=10) - SECOND
    happened = week.run(until=SATURDAY_NIGHT + timedelta(hours=14), acknowledge=acknowledged)
    ack = acknowledged - SATURDAY_NIGHT
    assert happened == [(ack + timedelta(hours=2 * n), ladder.Remind(n)) for n in range(1, 7)], "six, two hours apart"
    assert week.record.remind_at is None and week.record.due is None


def test_an_acknowledgement_a_second_late_comes_after_the_backup_was_paged(settings: Settings) -> None:
    week = Week(settings, SATURDAY_NIGHT, tick=SECOND)
    happened = week.run(until=SATURDAY_NIGHT + timedelta(hours=1), acknowledge=SATURDAY_NIGHT + 10 * MINUTE + SECOND)
    assert happened == [(10 * MINUTE, ladder.Escalate(Step.BACKUP, late=False))]


def test_resolving_ends_the_page_and_reminders(settings: Settings) -> None:
    week = Week(settings, SATURDAY_NIGHT)
    happened = week.run(acknowledge=SATURDAY_NIGHT + 5 * MINUTE, resolve=SATURDAY_NIGHT + timedelta(hours=3))
    assert happened == [
        (timedelta(hours=2, minutes=5), ladder.Remind(1)),
        (timedelta(hours=3), ladder.Forget()),
    ]


def test_a_handover_during_a_page_does_not_change_whom_it_escalates_to(settings: Settings) -> None:
    monday = datetime(2026, 11, 30, 7, 55, tzinfo=CPH)  # sara and ib take over at 8.00
    rota = Rota(settings.oncall, CPH)
    assert rota.on_call(monday + 10 * MINUTE).primary.id == "sara"
    week = Week(settings, monday)
    assert week.run(until=monday + 15 * MINUTE) == [(10 * MINUTE, ladder.Escalate(Step.BACKUP, late=False))]
    assert week.targets(Step.BACKUP) == ["morten", "sara"]


def test_an_override_decides_who_is_paged_while_it_lasts(tmp_path: Path) -> None:
    override = '\n[[oncall.overrides]]\nstart = "2026-11-28T20:00"\nend = "2026-11-29T08:00"\nprimary = "ib"\n'
    config = CONFIG.replace("\n[[oncall.technicians]]", override + "\n[[oncall.technicians]]", 1)
    settings = settings_for(tmp_path, config)
    week = Week(settings, SATURDAY_NIGHT)
    assert week.targets(Step.PRIMARY) == ["ib"]
    later = Week(settings, datetime(2026, 11, 29, 9, 0, tzinfo=CPH))
    assert later.targets(Step.PRIMARY) == ["morten"]


def test_steps_that_fell_due_while_the_bot_was_down_fire_at_once_and_say_they_are_late(settings: Settings) -> None:
    week = Week(settings, SATURDAY_NIGHT)
    happened = week.run(down=(SATURDAY_NIGHT + 5 * MINUTE, SATURDAY_NIGHT + 15 * MINUTE))
    assert happened[0] == (15 * MINUTE, ladder.Escalate(Step.BACKUP, late=True))
    assert happened[1] == (25 * MINUTE, ladder.Escalate(Step.EVERYONE, late=False)), "the next step counts from now"

    long_down = Week(settings, SATURDAY_NIGHT)
    happened = long_down.run(down=(SATURDAY_NIGHT + MINUTE, SATURDAY_NIGHT + timedelta(hours=3)))
    assert happened == [(timedelta(hours=3), ladder.Escalate(Step.GAVE_UP, late=True))], "only the latest step"


def test_a_step_that_reaches_nobody_is_followed_by_the_next_at_once(settings: Settings) -> None:
    week = Week(settings, SATURDAY_NIGHT)
    now = SATURDAY_NIGHT + MINUTE
    after = ladder.unreached(week.record, Step.PRIMARY, ("morten",), now, settings.oncall, "runner-1")
    assert after.step is Step.BACKUP and after.due == now + settings.oncall.escalate_all_after
    assert after.sending is not None and after.sending.step is Step.BACKUP and not after.sending.overdue, "claimed"
    assert ladder.targets(after, Step.BACKUP, EVERYONE) == ["sara"], "not the one who could not be reached"


def test_an_acknowledged_page_whose_timer_was_left_running_gets_its_reminders_instead(settings: Settings) -> None:
    week = Week(settings, SATURDAY_NIGHT)
    acknowledged = SATURDAY_NIGHT + 2 * MINUTE
    decision = ladder.decide(
        week.record, CaseStatus.ACKNOWLEDGED, acknowledged, settings.oncall, acknowledged, "runner-1"
    )
    assert decision.action is None
    assert decision.record.due is None and decision.record.remind_at == acknowledged + timedelta(hours=2)


PHONE_CONFIG = CONFIG.replace(
    "reminder_minutes = 120", "reminder_minutes = 120\nsms_after_minutes = 4\ncall_after_minutes = 7"
)


def phone_settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path, PHONE_CONFIG)


def test_phone_escalation_is_off_by_default(settings: Settings) -> None:
    assert settings.oncall.sms_after is None and settings.oncall.call_after is None
    week = Week(settings, SATURDAY_NIGHT)
    assert not any(isinstance(a, ladder.Phone) for _, a in week.run())


def test_each_step_not_acknowledged_is_texted_then_called_once(tmp_path: Path) -> None:
    week = Week(phone_settings(tmp_path), SATURDAY_NIGHT)
    happened = week.run(until=SATURDAY_NIGHT + timedelta(minutes=25))
    assert happened == [
        (4 * MINUTE, ladder.Phone(Step.PRIMARY, sms=True, call=False, late=False)),
        (7 * MINUTE, ladder.Phone(Step.PRIMARY, sms=False, call=True, late=False)),
        (10 * MINUTE, ladder.Escalate(Step.BACKUP, late=False)),
        (14 * MINUTE, ladder.Phone(Step.BACKUP, sms=True, call=False, late=False)),
        (17 * MINUTE, ladder.Phone(Step.BACKUP, sms=False, call=True, late=False)),
        (20 * MINUTE, ladder.Escalate(Step.EVERYONE, late=False)),
        (24 * MINUTE, ladder.Phone(Step.EVERYONE, sms=True, call=False, late=False)),
    ]


def test_acknowledged_before_the_sms_nothing_goes_by_phone(tmp_path: Path) -> None:
    week = Week(phone_settings(tmp_path), SATURDAY_NIGHT)
    happened = week.run(until=SATURDAY_NIGHT + timedelta(hours=1), acknowledge=SATURDAY_NIGHT + 4 * MINUTE - SECOND)
    assert happened == []
    assert week.record.sms_at is None and week.record.call_at is None


def test_acknowledged_after_the_sms_no_call_follows(tmp_path: Path) -> None:
    week = Week(phone_settings(tmp_path), SATURDAY_NIGHT)
    happened = week.run(until=SATURDAY_NIGHT + timedelta(hours=1), acknowledge=SATURDAY_NIGHT + 5 * MINUTE)
    assert happened == [(4 * MINUTE, ladder.Phone(Step.PRIMARY, sms=True, call=False, late=False))]


def test_sms_and_call_that_fell_due_while_down_go_together_and_late(tmp_path: Path) -> None:
    week = Week(phone_settings(tmp_path), SATURDAY_NIGHT)
    down = (SATURDAY_NIGHT + MINUTE, SATURDAY_NIGHT + 9 * MINUTE)
    happened = week.run(until=SATURDAY_NIGHT + 9 * MINUTE, down=down)
    assert happened == [(9 * MINUTE, ladder.Phone(Step.PRIMARY, sms=True, call=True, late=True))]


def test_a_step_that_fell_due_while_down_escalates_and_its_phone_times_start_then(tmp_path: Path) -> None:
    week = Week(phone_settings(tmp_path), SATURDAY_NIGHT)
    down = (SATURDAY_NIGHT + MINUTE, SATURDAY_NIGHT + 12 * MINUTE)
    happened = week.run(until=SATURDAY_NIGHT + 16 * MINUTE, down=down)
    assert happened == [
        (12 * MINUTE, ladder.Escalate(Step.BACKUP, late=True)),
        (16 * MINUTE, ladder.Phone(Step.BACKUP, sms=True, call=False, late=False)),
    ]


def test_the_phone_claim_is_made_once(tmp_path: Path) -> None:
    settings = phone_settings(tmp_path)
    record = Week(settings, SATURDAY_NIGHT).record
    now = SATURDAY_NIGHT + 5 * MINUTE
    first = ladder.decide(record, CaseStatus.OPEN, None, settings.oncall, now, "runner-1")
    again = ladder.decide(first.record, CaseStatus.OPEN, None, settings.oncall, now, "runner-2")
    assert isinstance(first.action, ladder.Phone) and again.action is None
    assert first.record.sending is not None and first.record.sending.via == ("sms",)
    assert first.record.next_due == now + ladder.LEASE, "the lease, then the call"
    assert ladder.finished(first.record).next_due == SATURDAY_NIGHT + 7 * MINUTE


# -- a runner that dies between claiming a step and recording it sent ----------------------------


def test_a_step_whose_runner_died_is_sent_again_once_its_lease_lapsed_then_the_ladder_goes_on(
    settings: Settings,
) -> None:
    died = SATURDAY_NIGHT + 10 * MINUTE
    week = Week(settings, SATURDAY_NIGHT, tick=SECOND, dies=(died,))
    happened = week.run(until=SATURDAY_NIGHT + 21 * MINUTE)
    assert happened == [
        (10 * MINUTE, ladder.Escalate(Step.BACKUP, late=False)),
        (10 * MINUTE + ladder.LEASE, ladder.Resend(Step.BACKUP, ("chat",))),
        (20 * MINUTE, ladder.Escalate(Step.EVERYONE, late=False)),
    ], "the same step again, once, not the next one; the next one still counts from the first claim"


def test_a_first_page_whose_runner_died_is_sent_again(settings: Settings) -> None:
    week = Week(settings, SATURDAY_NIGHT, tick=SECOND, dies=(SATURDAY_NIGHT,))
    happened = week.run(until=SATURDAY_NIGHT + MINUTE)
    assert happened == [(ladder.LEASE, ladder.Resend(Step.PRIMARY, ("chat",)))]


def test_a_lapsed_lease_is_taken_over_by_one_runner_and_keeps_who_was_already_sent_to(settings: Settings) -> None:
    on_call = Rota(settings.oncall, CPH).on_call(SATURDAY_NIGHT)
    claimed = ladder.start(10001, on_call, SATURDAY_NIGHT, settings.oncall, "a#1")
    claimed = ladder.recorded(ladder.renewed(claimed, SATURDAY_NIGHT + 5 * SECOND), "chat:morten")
    assert claimed.next_due == SATURDAY_NIGHT + 5 * SECOND + ladder.LEASE
    still = ladder.decide(claimed, CaseStatus.OPEN, None, settings.oncall, SATURDAY_NIGHT + 14 * SECOND, "b#1")
    assert still.action is None and still.record == claimed, "renewed: the first runner is still sending"
    lapsed = SATURDAY_NIGHT + 15 * SECOND
    taken = ladder.decide(claimed, CaseStatus.OPEN, None, settings.oncall, lapsed, "b#1")
    assert taken.action == ladder.Resend(Step.PRIMARY, ("chat",))
    assert taken.record.sending is not None
    assert (taken.record.sending.by, taken.record.sending.until) == ("b#1", lapsed + ladder.LEASE)
    assert taken.record.sending.done == ("chat:morten",) and taken.record.sending.resends == 1
    again = ladder.decide(taken.record, CaseStatus.OPEN, None, settings.oncall, lapsed, "c#1")
    assert again.action is None, "once taken over, the others leave it"


def test_while_a_step_is_being_sent_nothing_else_fires_and_an_acknowledgement_ends_the_lease(
    settings: Settings,
) -> None:
    on_call = Rota(settings.oncall, CPH).on_call(SATURDAY_NIGHT)
    claimed = ladder.start(10001, on_call, SATURDAY_NIGHT, settings.oncall, "a#1")
    claimed = ladder.renewed(claimed, SATURDAY_NIGHT + 11 * MINUTE)  # a very slow platform, renewed all along
    busy = ladder.decide(claimed, CaseStatus.OPEN, None, settings.oncall, SATURDAY_NIGHT + 11 * MINUTE, "b#1")
    assert busy.action is None, "the next step waits for the step being sent"
    now = SATURDAY_NIGHT + 11 * MINUTE
    acked = ladder.decide(claimed, CaseStatus.ACKNOWLEDGED, now, settings.oncall, now, "b#1")
    assert acked.action is None and acked.record.sending is None
    closed = ladder.decide(claimed, CaseStatus.RESOLVED, now, settings.oncall, now, "b#1")
    assert isinstance(closed.action, ladder.Forget)


def test_a_record_with_a_step_being_sent_is_stored_and_read_back_unchanged(settings: Settings) -> None:
    on_call = Rota(settings.oncall, CPH).on_call(SATURDAY_NIGHT)
    claimed = ladder.recorded(ladder.start(10001, on_call, SATURDAY_NIGHT, settings.oncall, "a#1"), "chat:morten")
    assert PageRecord.from_dict(claimed.to_dict()) == claimed
