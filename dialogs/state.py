"""Where an intake conversation stands: a typed step plus what has been collected so far.

The state is a frozen value that the router persists after every turn, so a restart continues
where the conversation was.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.categories import Category, Scope


class Step(StrEnum):
    """The question the bot is waiting for an answer to."""

    DESCRIBE = "describe"  # what is wrong?
    DESCRIBE_AGAIN = "describe_again"  # nothing matched: one more try
    CONFIRM_CATEGORY = "confirm_category"  # a follow-up: "Skal jeg oprette en ny sag om det samme problem ...?"
    CHOOSE_CATEGORY = "choose_category"  # the likeliest categories (or all) plus "Noget andet"
    ASK_SCOPE = "ask_scope"  # "Er det kun dig, eller er flere ramt?": only me / several / everyone
    OFFER_ONCALL = "offer_oncall"  # closed, critical: accept the surcharge?
    OFFER_NEXT_OPENING = "offer_next_opening"  # closed, not critical: free case first, paid on-call second
    CONFIRM_FEE = "confirm_fee"  # closed, not critical, asked for on-call: confirm the fee
    ASK_PHONE = "ask_phone"  # on-call accepted: where can the technician ring back? (then page)
    CONFIRM_WITHDRAW = "confirm_withdraw"  # "Vil du annullere sag 10001?": the reporter withdraws a case
    DONE = "done"  # a case was created, or the employee cancelled


@dataclass(frozen=True)
class Intake:
    """One employee's intake conversation."""

    step: Step
    language: str
    updated_at: datetime
    platform_language: str = ""  # what the platform said when `language` was chosen: a change there is followed
    seq: int = 1  # number of the current question; its buttons carry it, so old buttons are recognised
    description: str = ""
    misses: int = 0  # descriptions triage could not place
    category: Category | None = None
    confidence: int = 0
    triaged_as: Category | None = None  # the first category triage offered; kept on the case
    # The category is what triage was sure of, not yet confirmed: questions say so and offer "Det er noget andet".
    assumed: bool = False
    scope: Scope = Scope.UNKNOWN
    suggestions: tuple[Category, ...] = ()  # the categories offered in CHOOSE_CATEGORY
    cost_text: str = ""  # every cost text shown so far, exactly as shown
    cost_shown_at: datetime | None = None
    cost_answer: str = ""  # the accepted answer to the cost question, kept while the phone number is asked
    cost_answered_at: datetime | None = None
    phone_tries: int = 0  # phone numbers typed that did not look like one
    withdraw: int = 0  # CONFIRM_WITHDRAW: the case to cancel
    withdraw_text: str = ""  # CONFIRM_WITHDRAW: the question as asked (it names the case and what it costs)

    def ask(self, step: Step, now: datetime, **changes: Any) -> Intake:
        """The state after asking a new question: old buttons stop working."""
        return replace(self, step=step, seq=self.seq + 1, updated_at=now, **changes)

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["updated_at"] = self.updated_at.isoformat()
        raw["cost_shown_at"] = self.cost_shown_at.isoformat() if self.cost_shown_at else None
        raw["cost_answered_at"] = self.cost_answered_at.isoformat() if self.cost_answered_at else None
        raw["suggestions"] = list(self.suggestions)
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Intake:
        shown, answered = raw.get("cost_shown_at"), raw.get("cost_answered_at")
        return cls(
            step=Step(raw["step"]),
            language=raw["language"],
            platform_language=raw.get("platform_language", ""),
            updated_at=datetime.fromisoformat(raw["updated_at"]),
            seq=int(raw["seq"]),
            description=raw.get("description", ""),
            misses=int(raw.get("misses", 0)),
            category=Category(raw["category"]) if raw.get("category") else None,
            confidence=int(raw.get("confidence", 0)),
            triaged_as=Category(raw["triaged_as"]) if raw.get("triaged_as") else None,
            assumed=bool(raw.get("assumed", False)),
            scope=Scope(raw.get("scope", Scope.UNKNOWN)),
            suggestions=tuple(Category(c) for c in raw.get("suggestions", ())),
            cost_text=raw.get("cost_text", ""),
            cost_shown_at=datetime.fromisoformat(shown) if shown else None,
            cost_answer=raw.get("cost_answer", ""),
            cost_answered_at=datetime.fromisoformat(answered) if answered else None,
            phone_tries=int(raw.get("phone_tries", 0)),
            withdraw=int(raw.get("withdraw", 0)),
            withdraw_text=raw.get("withdraw_text", ""),
        )
