"""Triage: which policy category a typed problem belongs to, how sure we are, and who is affected.

Two readers decide together. The keyword rules (bot/triage_rules.py, bot/vocabulary.toml) are exact about
the words they know; the learned model (bot/triage_model.py, trained on the corpus in bot/corpus/ by
bot/triage_train.py) generalises to words they do not. `decide` turns the model's probabilities into
what the dialog acts on: the category, the scope, whether the bot is sure enough not to ask "Passer
det?", and the alternatives to offer when it is not.

A missed critical request costs a company its on-call technician; a harmless one taken for critical costs
a question. So `other` wins only when the model gives it a clear lead, and every critical category the
model gives a real chance is offered. The thresholds in THRESHOLDS were chosen by leave-one-batch-out
cross-validation on the training batches (`python -m benchmarks.bench_triage_accuracy --tune`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.categories import SCOPE_DEPENDENT, Category, Scope
from bot.corpus import CORPUS_DIR, Corpus, corpus_digest
from bot.observe import NO_OBSERVER, Observer
from bot.triage_model import (
    CACHE_NAME,
    DEFAULT_SETTINGS,
    ModelSettings,
    Prediction,
    TriageModel,
    load_cached,
    model_key,
    save_cached,
)
from bot.triage_rules import VOCABULARY_FILE, RuleReading, RuleTriage, detect_scope
from bot.triage_train import train_isolated

__all__ = ["Alternative", "Thresholds", "Triage", "TriageResult", "decide", "detect_scope"]

MAX_ALTERNATIVES = 3


@dataclass(frozen=True)
class Thresholds:
    """Where the probabilities turn into decisions; chosen on cross-validation, never on the test split."""

    other_at: float  # `other` leads with at least this probability, else the likeliest problem may
    margin: float  # the likeliest problem leads only when at least this much more probable than `other`
    sure_at: float  # at least this probable: the bot says what it understood and moves on
    offer_at: float  # a category at least this probable is offered as an alternative
    all_at: float  # "everyone is affected" only with at least this probability; else ask when it matters
    doubt_all_at: float  # internet/IT/printing for "me" or "some" while "all" has this chance: ask who
    rules_win_at: int  # the rules' score (0-100) at which their problem replaces the model's `other` ...
    rules_floor: float  # ... if the model gives that problem at least this probability
    rules_weight: float  # how much the rules' score for every category shifts the model's probabilities


THRESHOLDS = Thresholds(
    other_at=0.5,
    margin=-0.2,
    sure_at=0.7,
    offer_at=0.05,
    all_at=0.8,
    doubt_all_at=0.1,
    rules_win_at=90,
    rules_floor=0.15,
    rules_weight=0.15,
)


@dataclass(frozen=True)
class Alternative:
    category: Category
    confidence: int  # percent


@dataclass(frozen=True)
class TriageResult:
    category: Category
    confidence: int  # the probability of `category`, in percent
    scope: Scope
    alternatives: tuple[Alternative, ...] = ()  # most likely first; every critical category with a real chance
    sure: bool = False  # sure enough to say what was understood and move on without asking
    probabilities: tuple[tuple[Category, float], ...] = ()  # every category, most likely first
    scope_probabilities: tuple[tuple[Scope, float], ...] = ()

    @property
    def matched(self) -> bool:
        """Whether anything plausible was recognised at all (else the bot asks once more)."""
        return self.sure or bool(self.alternatives) or self.category is not Category.OTHER

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "confidence": self.confidence,
            "scope": self.scope.value,
            "sure": self.sure,
            "alternatives": [{"category": a.category.value, "confidence": a.confidence} for a in self.alternatives],
            "probabilities": {c.value: round(p, 4) for c, p in self.probabilities},
            "scope_probabilities": {s.value: round(p, 4) for s, p in self.scope_probabilities},
        }


def decide(prediction: Prediction, reading: RuleReading, thresholds: Thresholds = THRESHOLDS) -> TriageResult:
    """The category, scope, sureness and alternatives the dialog acts on, from the model's probabilities.

    `other` is sure only when the rules also hear a question, an order or a nuisance in the text: a vague
    "det virker ikke" is not an ordinary request to file away but a reason to ask once more.
    """
    categories = _with_rules(prediction.categories, reading, thresholds.rules_weight)
    probabilities = sorted(categories.items(), key=lambda item: -item[1])
    problems = [(c, p) for c, p in probabilities if c is not Category.OTHER]
    other = categories.get(Category.OTHER, 0.0)
    if not problems or other >= thresholds.other_at or problems[0][1] < other + thresholds.margin:
        category, probability = Category.OTHER, other
        if _rules_know_better(categories, reading, thresholds):
            category, probability = reading.category, categories[reading.category]
    else:
        category, probability = problems[0]
    alternatives = tuple(
        Alternative(c, round(100 * p)) for c, p in problems if c is not category and p >= thresholds.offer_at
    )[:MAX_ALTERNATIVES]
    sure = probability >= thresholds.sure_at and (category is not Category.OTHER or reading.says_not_a_problem)
    return TriageResult(
        category=category,
        confidence=round(100 * probability),
        scope=Scope.ALL if reading.says_everyone else _scope(prediction.scopes, category, thresholds),
        alternatives=alternatives,
        sure=sure,
        probabilities=tuple(probabilities),
        scope_probabilities=tuple(sorted(prediction.scopes.items(), key=lambda item: -item[1])),
    )


def _with_rules(categories: dict[Category, float], reading: RuleReading, weight: float) -> dict[Category, float]:
    """The model's probabilities, each times exp(weight x the rules' score for it, 0-1), summing to 1 again:
    a little of what the rules know about every category, beyond their near-certain overrides."""
    scores = dict(reading.ranked)
    weighted = {c: p * math.exp(weight * scores.get(c, 0) / 100) for c, p in categories.items()}
    total = sum(weighted.values())
    return {c: p / total for c, p in weighted.items()} if total else categories


def _rules_know_better(categories: dict[Category, float], reading: RuleReading, thresholds: Thresholds) -> bool:
    """The rules are near-certain of a problem ("wifien er i stykker") the model gives a real chance but
    not the lead: the rules know those words, the model has seen few texts like it."""
    return (
        reading.category is not Category.OTHER
        and reading.confidence >= thresholds.rules_win_at
        and categories.get(reading.category, 0.0) >= thresholds.rules_floor
    )


def _scope(scopes: dict[Scope, float], category: Category, thresholds: Thresholds) -> Scope:
    """The likeliest scope; "all" needs `all_at`, and where scope decides criticality a doubt is a question."""
    best = max(scopes, key=lambda s: scopes[s])
    if best is Scope.ALL:
        return Scope.ALL if scopes[Scope.ALL] >= thresholds.all_at else Scope.UNKNOWN
    doubt = scopes.get(Scope.ALL, 0.0) >= thresholds.doubt_all_at
    if category in SCOPE_DEPENDENT and best in (Scope.ME, Scope.SOME) and doubt:
        return Scope.UNKNOWN
    return best


class Triage:
    """Rules and model together; the model is trained once per process (or read from the cache)."""

    def __init__(
        self,
        vocabulary: Path = VOCABULARY_FILE,
        *,
        corpus: Path | Corpus = CORPUS_DIR,
        cache_dir: Path | None = None,
        held_out: frozenset[str] = frozenset(),
        settings: ModelSettings = DEFAULT_SETTINGS,
        thresholds: Thresholds = THRESHOLDS,
        observer: Observer = NO_OBSERVER,
    ) -> None:
        self._observer = observer
        self.rules = RuleTriage(vocabulary)
        self.thresholds = thresholds
        # A folder is only parsed when the model must be trained: a cached model needs just its hash.
        digest = corpus.digest if isinstance(corpus, Corpus) else corpus_digest(corpus)
        key = model_key(f"{digest}/{sorted(held_out)}", vocabulary.read_bytes(), settings)
        self.model = _trained(key, corpus, held_out, settings, cache_dir)

    def classify(self, text: str) -> TriageResult:
        """Best category with its probability, the scope, sureness and the alternatives worth offering."""
        result = self.classify_many([text])[0]
        self._observer.triaged(result.category, result.confidence)
        return result

    def classify_many(self, texts: Sequence[str]) -> list[TriageResult]:
        """The same as `classify` for each text (without counting them as triaged)."""
        readings = [self.rules.classify(t) for t in texts]
        predictions = self.model.predict_many(texts)
        # A text of nothing but punctuation, emoji or spaces says nothing at all.
        return [
            TriageResult(Category.OTHER, 0, Scope.UNKNOWN) if r.empty else decide(p, r, self.thresholds)
            for p, r in zip(predictions, readings, strict=True)
        ]


# Every Triage in a process shares its model: tests and the command line build several.
_models: dict[str, TriageModel] = {}
_MODELS_KEPT = 2
_training = threading.Lock()


def _trained(
    key: str,
    corpus: Path | Corpus,
    held_out: frozenset[str],
    settings: ModelSettings,
    cache_dir: Path | None,
) -> TriageModel:
    """The model for `key`: from this process, from the cache file, or trained now."""
    with _training:
        model = _models.get(key)
        cache = cache_dir / CACHE_NAME if cache_dir is not None else None
        if model is None and cache is not None:
            model = load_cached(cache, key)
        if model is None:
            model = train_isolated(corpus if isinstance(corpus, Path) else corpus.examples, held_out, settings)
            if cache is not None:
                save_cached(cache, key, model)
        _models[key] = model
        while len(_models) > _MODELS_KEPT:  # cross-validation trains one per batch: keep the newest
            del _models[next(iter(_models))]
        return model
