"""How well triage reads a labelled set: the figures the benchmark, the tests and `triage eval` print.

What matters is criticality. A text is critical when the policy says so for its category and scope
(internet, IT system and printing only when everyone is affected); harmless when it is not critical and
nothing is left to ask. Triage *misses* a critical text when it would handle it as non-critical without
asking who is affected; it *marks a harmless text critical* when it would treat it as critical without
asking. Asking "Er det kun dig, eller er flere ramt?" is neither: it costs a question, not an on-call fee
or a night without internet. A text counts as right when its category is right (or one of its `also`)
and it is neither missed nor marked critical by mistake.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.categories import Category, Scope, is_critical, needs_scope
from bot.corpus import Example


class Reading(Protocol):
    """What is measured: the rules' reading or the combined result alike."""

    @property
    def category(self) -> Category: ...

    @property
    def scope(self) -> Scope: ...


def missed(example: Example, reading: Reading) -> bool:
    treated_critical = is_critical(reading.category, reading.scope) or needs_scope(reading.category, reading.scope)
    return example.critical and not treated_critical


def marked_critical(example: Example, reading: Reading) -> bool:
    return example.harmless and is_critical(reading.category, reading.scope)


def right(example: Example, reading: Reading) -> bool:
    return example.accepts(reading.category) and not missed(example, reading) and not marked_critical(example, reading)


@dataclass(frozen=True)
class Figures:
    total: int
    accuracy: float
    critical: int
    critical_missed: float
    harmless: int
    harmless_marked_critical: float
    said_all: int
    all_precision: float  # of the texts read as "everyone is affected", the share that say so
    asked_scope: float  # share of texts for which the bot would ask who is affected
    confusion: Counter[tuple[Category, Category]]
    errors: tuple[tuple[Example, Reading], ...]

    def line(self, name: str) -> str:
        return (
            f"{name:>22}: n={self.total:5d}  right {self.accuracy:6.1%}  critical missed {self.critical_missed:5.1%}"
            f" (of {self.critical})  harmless marked critical {self.harmless_marked_critical:5.1%} (of {self.harmless})"
            f"  'all' precision {self.all_precision:6.1%} (of {self.said_all})  asked who {self.asked_scope:5.1%}"
        )

    def confusion_table(self) -> str:
        """Rows: the label; columns: what triage said (abbreviated category names)."""
        names = [c.value[:8] for c in Category]
        header = "label \\ triage"
        lines = [f"{header:>22} " + " ".join(f"{n:>8}" for n in names)]
        for label in Category:
            counts = [self.confusion[(label, said)] for said in Category]
            lines.append(f"{label.value:>22} " + " ".join(f"{n:8d}" for n in counts))
        return "\n".join(lines)


def measure(examples: Sequence[Example], readings: Sequence[Reading]) -> Figures:
    pairs = list(zip(examples, readings, strict=True))
    critical = [p for p in pairs if p[0].critical]
    harmless = [p for p in pairs if p[0].harmless]
    said_all = [e for e, r in pairs if r.scope is Scope.ALL]
    return Figures(
        total=len(pairs),
        accuracy=_share(sum(right(e, r) for e, r in pairs), len(pairs)),
        critical=len(critical),
        critical_missed=_share(sum(missed(e, r) for e, r in critical), len(critical)),
        harmless=len(harmless),
        harmless_marked_critical=_share(sum(marked_critical(e, r) for e, r in harmless), len(harmless)),
        said_all=len(said_all),
        all_precision=_share(sum(e.scope is Scope.ALL for e in said_all), len(said_all)),
        asked_scope=_share(sum(needs_scope(r.category, r.scope) for _, r in pairs), len(pairs)),
        confusion=Counter((e.category, r.category) for e, r in pairs),
        errors=tuple((e, r) for e, r in pairs if not right(e, r)),
    )


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
