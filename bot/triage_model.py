"""The learned half of triage, as the bot holds it: category and scope probabilities from n-grams.

The keyword rules (bot/triage_rules.py) know the words they were written from; people keep finding
others (synonyms, Danish-English mixes, a symptom instead of the problem's name). A linear model over
character n-grams (2-5 letters, within words, so "printeren", "prnter" and "printerkø" share most of
theirs) and word n-grams learns those from the corpus (bot/corpus/).

This module reads texts with a trained model in plain Python: the n-grams, their tf-idf weights and a
few dot products. Training needs scikit-learn (bot/triage_train.py), whose import alone costs some
100 MB of resident memory with NumPy and SciPy, so the bot trains in a short-lived child process and
keeps only what this module needs (about 6 MB). The model is trained when the bot starts (about 4 s
for 7,000 texts) or read from a cache file in the data folder, named by a key over the corpus, the
vocabulary and the settings. A cache that is missing, stale or damaged is ignored and written
again; no model is kept in git.
"""

from __future__ import annotations

import hashlib
import logging
import math
import operator
import os
import pickle
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.categories import Category, Scope
from bot.text import normalize

log = logging.getLogger(__name__)

# Bump when the features or the model change, so an old cache is not read as a new model.
MODEL_VERSION = "5"
CACHE_NAME = "triage-model.pickle"


@dataclass(frozen=True)
class ModelSettings:
    """What the model is made of; the values in DEFAULT_SETTINGS were chosen by leave-one-batch-out
    cross-validation over the independent training batches (benchmarks/bench_triage_accuracy.py)."""

    char_ngrams: tuple[int, int] = (2, 5)  # within words, padded by a space at each end
    word_ngrams: tuple[int, int] = (1, 2)
    min_df: int = 2  # an n-gram in a single text teaches nothing: half the features, no less right
    max_words: int = 300  # as the rules: beyond this the rest is pasted logs or signatures
    # Logistic regression fitted by stochastic gradient descent: on cross-validation as good as the exact
    # solver (lbfgs, C=10) and some 30 times faster to train, which is what start-up costs.
    alpha: float = 1e-5  # regularisation
    # Stop when an epoch improves the loss by less: on CV 1e-3 reads as well as 1e-4 (one harmless text
    # more marked critical of 1,502, "all" 97.8 % right against 96.8 %) and fits the scope in 23 epochs, not 58.
    tol: float = 1e-3
    # Sigmoid calibration on three folds: chosen for the scope, not for the category (there the thresholds
    # in bot/triage.py, tuned on the same cross-validation, do better with the plain probabilities). One
    # model on all texts, its sigmoids fitted on the three folds' held-out scores: as right on CV as the
    # mean of three models (scope "all" right 95.7 % against 95.4 %), a third of the work per message.
    calibrate_category: bool = False
    calibrate_scope: bool = True


DEFAULT_SETTINGS = ModelSettings()


@dataclass(frozen=True)
class Prediction:
    categories: dict[Category, float]  # probabilities, summing to 1
    scopes: dict[Scope, float]


def ngrams(text: str, settings: ModelSettings) -> tuple[list[str], list[str]]:
    """The character n-grams (each word padded by a space at both ends) and the word n-grams of a text.

    A word shorter than an n-gram gives itself once, as in scikit-learn's `char_wb` analyser.
    """
    words = normalize(text).split()[: settings.max_words]
    chars: list[str] = []
    low, high = settings.char_ngrams
    for word in words:
        padded = f" {word} "
        for n in range(low, high + 1):
            if len(padded) <= n:
                chars.append(padded)
                break
            chars.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    tokens: list[str] = []
    low, high = settings.word_ngrams
    for n in range(low, high + 1):
        tokens.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return chars, tokens


@dataclass(frozen=True)
class TfIdf:
    """One block of features: each known n-gram's column and inverse document frequency."""

    columns: dict[str, int]
    idf: array  # array("f"), by column
    offset: int  # where this block's columns start among all features

    def weights(self, grams: Sequence[str]) -> list[tuple[int, float]]:
        """(feature, weight) for the known n-grams: 1 + ln(count) times the idf, scaled to length 1."""
        column_of, idf = self.columns.get, self.idf
        raw = []
        for gram, count in Counter(grams).items():
            column = column_of(gram)
            if column is not None:
                raw.append((column, idf[column] * (1 + math.log(count)) if count > 1 else idf[column]))
        norm = math.sqrt(sum(w * w for _, w in raw))
        return [(self.offset + column, w / norm) for column, w in raw] if norm else []


@dataclass(frozen=True)
class Features:
    """A text as (feature, weight) pairs: its character n-grams' block, then its word n-grams' block."""

    chars: TfIdf
    words: TfIdf
    settings: ModelSettings

    def __call__(self, text: str) -> list[tuple[int, float]]:
        chars, words = ngrams(text, self.settings)
        return self.chars.weights(chars) + self.words.weights(words)


@dataclass(frozen=True)
class Linear:
    """One linear model and the sigmoid that turns each class's score into a probability:
    p = 1 / (1 + exp(-(slope * score + shift))); a plain logistic regression has slope 1 and shift 0."""

    weights: tuple[array, ...]  # per class, an array("f") of one weight per feature
    intercepts: tuple[float, ...]
    slopes: tuple[float, ...]
    shifts: tuple[float, ...]

    def probabilities(self, features: Sequence[tuple[int, float]]) -> list[float]:
        columns = [f for f, _ in features]
        values = [v for _, v in features]
        scores = [
            b + sum(map(operator.mul, values, map(w.__getitem__, columns)))
            for w, b in zip(self.weights, self.intercepts, strict=True)
        ]
        sigmoid = [_expit(a * s + b) for s, a, b in zip(scores, self.slopes, self.shifts, strict=True)]
        total = sum(sigmoid)
        return [p / total for p in sigmoid] if total else [1 / len(sigmoid)] * len(sigmoid)  # one against the rest


@dataclass(frozen=True)
class Head:
    """Probabilities of one label (category or scope), class by class."""

    classes: tuple[str, ...]
    model: Linear

    def probabilities(self, features: Sequence[tuple[int, float]]) -> dict[str, float]:
        return dict(zip(self.classes, self.model.probabilities(features), strict=True))


@dataclass(frozen=True)
class TriageModel:
    """Two heads over the same features: one for the category, one for the scope."""

    features: Features
    category: Head
    scope: Head

    def predict(self, text: str) -> Prediction:
        """Probabilities for one text."""
        features = self.features(text)
        categories = self.category.probabilities(features)
        scopes = self.scope.probabilities(features)
        return Prediction(
            categories={Category(c): p for c, p in categories.items()},
            scopes={Scope(s): p for s, p in scopes.items()},
        )

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        return [self.predict(t) for t in texts]


def _expit(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def model_key(corpus_digest: str, vocabulary: bytes, settings: ModelSettings) -> str:
    """What a trained model depends on: the corpus, the rules' vocabulary and the settings."""
    digest = hashlib.sha256()
    for part in (MODEL_VERSION, corpus_digest, repr(settings)):
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
