"""The learned half of triage: category and scope probabilities from character and word n-grams.

The keyword rules (bot/triage_rules.py) know the words they were written from; people keep finding
others (synonyms, Danish-English mixes, a symptom instead of the problem's name). A linear model over
character n-grams (2-5 letters, within words, so "printeren", "prnter" and "printerkø" share most of
theirs) and word n-grams learns those from the corpus (bot/corpus/), and takes the rules' scores as
features of its own, so it learns how far to trust them.

The model is trained from the corpus when the bot starts (about a second for 4,000 texts) or read from
a cache file in the data folder, named by a key over the corpus, the vocabulary and the scikit-learn
version. A cache that is missing, stale or damaged is ignored and written again; no model is kept in git.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier

from bot.categories import Category, Scope
from bot.corpus import Example
from bot.text import normalize
from bot.triage_rules import RuleReading, RuleTriage

log = logging.getLogger(__name__)

CATEGORIES: tuple[Category, ...] = tuple(Category)
SCOPES: tuple[Scope, ...] = tuple(Scope)
# Bump when the features or the model change, so an old cache is not read as a new model.
MODEL_VERSION = "2"
CACHE_NAME = "triage-model.pickle"


@dataclass(frozen=True)
class ModelSettings:
    """What the model is made of; the values in DEFAULT_SETTINGS were chosen by leave-one-batch-out
    cross-validation over the independent training batches (benchmarks/bench_triage_accuracy.py)."""

    # How strongly the rules' scores count beside the n-grams. On cross-validation they did not help
    # (weight 1: 92.0 % right, 1.6 % critical missed, 9.0 % harmless marked critical; weight 0: 93.4 %,
    # 1.2 %, 6.2 %), so the model reads the text alone and the rules may override it (bot/triage.py).
    rule_weight: float = 0.0
    # Logistic regression fitted by stochastic gradient descent: on cross-validation as good as the exact
    # solver (lbfgs, C=10) and some 30 times faster to train, which is what start-up costs.
    alpha: float = 1e-5  # regularisation
    # Sigmoid calibration on three folds: chosen for the scope, not for the category (there the thresholds
    # in bot/triage.py, tuned on the same cross-validation, do better with the plain probabilities).
    calibrate_category: bool = False
    calibrate_scope: bool = True
    min_df: int = 2  # an n-gram in a single text teaches nothing: half the features, no less right
    max_words: int = 300  # as the rules: beyond this the rest is pasted logs or signatures
    # The rules were written from these batches, so there their scores are too good to learn trust from.
    rules_written_from: str = "legacy-"


DEFAULT_SETTINGS = ModelSettings()


@dataclass(frozen=True)
class Prediction:
    categories: dict[Category, float]  # calibrated probabilities, summing to 1
    scopes: dict[Scope, float]


class TriageModel:
    """Two logistic regressions over the same features: one for the category, one for the scope."""

    def __init__(
        self,
        chars: TfidfVectorizer,
        words: TfidfVectorizer,
        category: ClassifierMixin,
        scope: ClassifierMixin,
        settings: ModelSettings,
    ) -> None:
        self._chars, self._words = chars, words
        self._category, self._scope = category, scope
        self._settings = settings
        self._category_order = [Category(c) for c in category.classes_]
        self._scope_order = [Scope(s) for s in scope.classes_]

    @classmethod
    def train(
        cls, examples: Sequence[Example], rules: RuleTriage, settings: ModelSettings = DEFAULT_SETTINGS
    ) -> TriageModel:
        texts = [_clip(normalize(e.text), settings) for e in examples]
        common = {"sublinear_tf": True, "dtype": np.float32, "min_df": settings.min_df}
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), **common)
        words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"\S+", **common)
        readings = [rules.classify(e.text) for e in examples]
        written_from = np.array([e.batch.startswith(settings.rules_written_from) for e in examples])
        rule_features = _rule_matrix(readings, settings).toarray()
        rule_features[written_from] = 0
        features = sp.hstack(
            [chars.fit_transform(texts), words.fit_transform(texts), sp.csr_matrix(rule_features)]
        ).tocsr()
        category = _classifier(settings, settings.calibrate_category)
        category.fit(features, [e.category.value for e in examples])
        scope = _classifier(settings, settings.calibrate_scope).fit(features, [e.scope.value for e in examples])
        return cls(chars, words, category, scope, settings)

    def predict(self, text: str, reading: RuleReading) -> Prediction:
        """Probabilities for one text, given what the rules made of it."""
        return self.predict_many([text], [reading])[0]

    def predict_many(self, texts: Sequence[str], readings: Sequence[RuleReading]) -> list[Prediction]:
        clipped = [_clip(normalize(t), self._settings) for t in texts]
        features = sp.hstack(
            [
                self._chars.transform(clipped),
                self._words.transform(clipped),
                _rule_matrix(readings, self._settings),
            ]
        ).tocsr()
        categories = self._category.predict_proba(features)
        scopes = self._scope.predict_proba(features)
        return [
            Prediction(
                categories={c: float(p) for c, p in zip(self._category_order, cat_row, strict=True)},
                scopes={s: float(p) for s, p in zip(self._scope_order, scope_row, strict=True)},
            )
            for cat_row, scope_row in zip(categories, scopes, strict=True)
        ]


def _classifier(settings: ModelSettings, calibrate: bool) -> ClassifierMixin:
    """A linear model with probabilities: log loss by stochastic gradient descent, calibrated if asked."""
    linear = SGDClassifier(loss="log_loss", alpha=settings.alpha, max_iter=100, tol=1e-4, random_state=0)
    return CalibratedClassifierCV(linear, method="sigmoid", cv=3) if calibrate else linear


def _clip(text: str, settings: ModelSettings) -> str:
    return " ".join(text.split()[: settings.max_words])


def _rule_matrix(readings: Sequence[RuleReading], settings: ModelSettings) -> sp.csr_matrix:
    """Per text: every category's rule score (0-1), the rules' best category and their scope, one-hot."""
    rows = []
    for reading in readings:
        scores = dict(reading.ranked)
        rows.append(
            [scores[c] / 100 for c in CATEGORIES]
            + [float(reading.category is c) for c in CATEGORIES]
            + [float(reading.scope is s) for s in SCOPES]
        )
    return sp.csr_matrix(np.asarray(rows, dtype=np.float32) * settings.rule_weight)


def model_key(corpus_digest: str, vocabulary: bytes, settings: ModelSettings) -> str:
    """What a trained model depends on: the corpus, the rules, the settings and the library that trained it."""
    digest = hashlib.sha256()
    for part in (MODEL_VERSION, sklearn.__version__, corpus_digest, repr(settings)):
        digest.update(part.encode() + b"\0")
    digest.update(vocabulary)
    return digest.hexdigest()


def load_cached(path: Path, key: str) -> TriageModel | None:
    """The model cached under `key`, or None when there is none, it is for another key or it is damaged."""
    try:
        with path.open("rb") as fh:
            stored_key, model = pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a damaged or foreign file: retrain rather than fail to start
        log.warning("Ignoring the triage model cache %s (%s); training the model again", path, type(exc).__name__)
        return None
    if stored_key != key or not isinstance(model, TriageModel):
        return None
    return model


def save_cached(path: Path, key: str, model: TriageModel) -> None:
    """Write the cache atomically; a data folder we cannot write only costs the next start a retraining."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("wb") as fh:
            pickle.dump((key, model), fh, protocol=pickle.HIGHEST_PROTOCOL)
        temporary.replace(path)
    except OSError as exc:
        log.warning("Could not write the triage model cache %s: %s", path, exc.strerror)
        temporary.unlink(missing_ok=True)
