"""Cases built by hand for the report's tests: a small set whose figures are worked out in the tests, and a
generated few hundred over several weeks for the page's charts."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.cases import Case, CaseEvent, CaseStatus, CostAnswer, CustomerRef, EventKind, NewCase, Reporter
from bot.categories import Category, Scope
from bot.ports import Storage

ZONE = ZoneInfo("Europe/Copenhagen")
STATUSES = {s.value for s in CaseStatus}
ACME = CustomerRef("Acme A/S", agreement=True)
BIOKUBE = CustomerRef("Biokube A/S")


def local(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=ZONE)


def case(
    number: int,
    created: str,
    category: Category,
    *,
    customer: CustomerRef = ACME,
    critical: bool = False,
    after_hours: bool = False,
    terms: tuple[str, ...] = (),
    accepted: bool = False,
    events: tuple[tuple[int, EventKind, str, dict[str, object]], ...] = (),
    triaged_as: Category | None = None,
    linked_to: int | None = None,
) -> Case:
    """A case made at `created` (office time); `events` are (minutes after creation, kind, actor, data)."""
    at = local(created)
    cost = None
    if after_hours:
        cost = CostAnswer(terms, "Vagten koster …", "intake:2:page" if accepted else "intake:2:next", accepted, at, at)
    history = (
        CaseEvent(at, EventKind.CREATED, "u"),
        *(CaseEvent(at + timedelta(minutes=m), kind, actor, data) for m, kind, actor, data in events),
    )
    status = CaseStatus.OPEN
    for _, kind, _, _ in events:
        if kind in (EventKind.ACKNOWLEDGED, EventKind.RESOLVED):
            status = CaseStatus(kind.value)
    return Case(
        number=number,
        created_at=at,
        reporter=Reporter("local", "local", f"user{number}", "Mette"),
        customer=customer,
        description="beskrivelse",
        category=category,
        confidence=90,
        scope=Scope.ALL,
        critical=critical,
        after_hours=after_hours,
        status=status,
        cost=cost,
        page_requested=accepted,
        triaged_as=triaged_as if triaged_as is not None else category,
        linked_to=linked_to,
        history=history,
    )


def ack(minutes: int, tech: str) -> tuple[int, EventKind, str, dict[str, object]]:
    return (minutes, EventKind.ACKNOWLEDGED, tech, {"name": tech.title()})


def resolve(minutes: int, tech: str) -> tuple[int, EventKind, str, dict[str, object]]:
    return (minutes, EventKind.RESOLVED, tech, {"name": tech.title()})


def escalated(minutes: int, step: str) -> tuple[int, EventKind, str, dict[str, object]]:
    return (minutes, EventKind.ESCALATED, "system", {"step": step, "reason": "timeout"})


def paged(tech: str) -> tuple[int, EventKind, str, dict[str, object]]:
    return (0, EventKind.PAGED, "system", {"technician": tech, "platform": "local", "step": "primary"})


def hand_built() -> list[Case]:
    """Seven cases; the figures the tests expect are worked out beside each."""
    night = dict(critical=True, after_hours=True, terms=("surcharge",), accepted=True)
    return [
        # Monday in hours: a printer for one person, no page.
        case(10001, "2026-11-23T10:00", Category.PRINTING_DOWN),
        # Saturday night: internet down, acknowledged by Morten after 6 min, resolved after 40.
        case(
            10002,
            "2026-11-28T22:30",
            Category.INTERNET_DOWN,
            **night,
            events=(paged("morten"), ack(6, "morten"), resolve(40, "morten")),
        ),
        # Sunday 2:00, Biokube: escalated to the backup, Sara acknowledges after 14 min, resolves after 60.
        case(
            10003,
            "2026-11-29T02:00",
            Category.PASSWORD_NOT_WORKING,
            customer=BIOKUBE,
            **night,
            events=(paged("morten"), escalated(10, "backup"), ack(14, "sara"), resolve(60, "sara")),
        ),
        # Sunday 3:00, Biokube, not critical: the fee accepted; escalated to everyone, Morten after 25 min.
        # Triage said a printer; the employee chose "something else".
        case(
            10004,
            "2026-11-29T03:00",
            Category.OTHER,
            customer=BIOKUBE,
            after_hours=True,
            terms=("oncall_fee", "surcharge"),
            accepted=True,
            triaged_as=Category.PRINTING_DOWN,
            events=(paged("morten"), escalated(10, "backup"), escalated(20, "everyone"), ack(25, "morten")),
        ),
        # Tuesday evening: the free case for the next opening taken; triage said system error.
        case(
            10005,
            "2026-12-01T20:00",
            Category.OTHER,
            after_hours=True,
            terms=("oncall_fee", "surcharge"),
            triaged_as=Category.SYSTEM_ERROR,
        ),
        # A colleague's report of the Saturday outage, linked to 10002: not a page of its own.
        case(
            10006,
            "2026-11-28T22:35",
            Category.INTERNET_DOWN,
            **night,
            linked_to=10002,
            events=((1, EventKind.ACKNOWLEDGED, "morten", {"name": "Morten", "via": 10002}),),
        ),
        # After the period the tests ask for.
        case(10007, "2026-12-10T09:00", Category.ACCOUNT_LOCKED, critical=True),
    ]


def generated(count: int, *, seed: int = 17) -> list[Case]:
    """`count` cases over about ten weeks from 2026-09-07: every category, nights paged and acknowledged."""
    rng = random.Random(seed)
    start = local("2026-09-07T08:00")
    techs = ("morten", "sara", "jonas")
    made = []
    moments = sorted(start + timedelta(minutes=rng.randrange(0, 70 * 24 * 60)) for _ in range(count))
    for i, created in enumerate(moments):
        category = rng.choice(list(Category))
        night = created.hour < 8 or created.hour >= 16 or created.weekday() >= 5
        tech = rng.choice(techs)
        events: tuple[tuple[int, EventKind, str, dict[str, object]], ...] = ()
        if night:
            took = rng.randrange(2, 40)
            events = (paged(tech), ack(took, tech), resolve(took + rng.randrange(10, 180), tech))
        fee = category is Category.OTHER
        made.append(
            case(
                10001 + i,
                created.isoformat(timespec="minutes")[:16],
                category,
                customer=rng.choice((ACME, BIOKUBE, CustomerRef("Roskilde Tandklinik"))),
                critical=category is not Category.OTHER,
                after_hours=night,
                terms=("oncall_fee", "surcharge") if fee else ("surcharge",),
                accepted=night,
                events=events,
                triaged_as=rng.choice(list(Category)) if rng.random() < 0.1 else category,
            )
        )
    return made


async def store(storage: Storage, cases: list[Case]) -> None:
    """Keep `cases` through the `Cases` port, numbered from its first number in order, with their histories."""
    fields = NewCase.__dataclass_fields__
    for made in cases:
        stored = await storage.cases.create(NewCase(**{f: getattr(made, f) for f in fields}), now=made.created_at)
        assert stored.number == made.number, "the cases must be numbered from the engine's first number"
        for event in made.history[1:]:
            status = CaseStatus(event.kind.value) if event.kind.value in STATUSES else stored.status
            stored = await storage.cases.update(made.number, event, status=status)
        if made.linked_to is not None:
            await storage.cases.update(
                made.number, CaseEvent(made.created_at, EventKind.LINKED, "system", {"to": made.linked_to}),
                linked_to=made.linked_to,
            )  # fmt: skip
