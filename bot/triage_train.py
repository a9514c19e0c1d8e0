"""Training the triage model with scikit-learn, in a child process of its own when the bot starts.

Importing scikit-learn (with NumPy and SciPy) costs some 100 MB of resident memory, which a process
never gives back; the trained model needs about 5 MB. So `train_isolated` runs `python -m
bot.triage_train` with the training texts on its stdin and reads the model (bot/triage_model.py, plain
Python) from its stdout: the bot's own process never imports scikit-learn. The benchmark, which trains
one model per cross-validation fold, calls `train` in its own process.

scikit-learn's TfidfVectorizer makes the training features; the bot reads texts with its own n-grams
(`TriageModel.features`), which tests/test_triage.py checks give the vectorizer's weights.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.corpus import Example, load_corpus
from bot.errors import ConfigError
from bot.text import normalize
from bot.triage_model import DEFAULT_SETTINGS, Features, Head, Linear, ModelSettings, TfIdf, TriageModel

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def train(examples: Sequence[Example], settings: ModelSettings = DEFAULT_SETTINGS) -> TriageModel:
    """Fit the tf-idf blocks and the category and scope models on `examples`, in this process."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    # The texts as `ngrams` sees them; scikit-learn's analysers then cut the same n-grams from them.
    clipped = [" ".join(normalize(e.text).split()[: settings.max_words]) for e in examples]
    common = {"sublinear_tf": True, "min_df": settings.min_df, "dtype": np.float64}
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=settings.char_ngrams, **common)
    words = TfidfVectorizer(analyzer="word", ngram_range=settings.word_ngrams, token_pattern=r"\S+", **common)
    features = sp.hstack([chars.fit_transform(clipped), words.fit_transform(clipped)], format="csr")
    weigh = Features(_tfidf(chars, offset=0), _tfidf(words, offset=len(chars.vocabulary_)), settings)
    category = _fit_head(features, [e.category.value for e in examples], settings, settings.calibrate_category)
    scope = _fit_head(features, [e.scope.value for e in examples], settings, settings.calibrate_scope)
    return TriageModel(weigh, category, scope)


def _tfidf(fitted: Any, offset: int) -> TfIdf:
    """A fitted TfidfVectorizer as the plain block the bot reads with; the idf in 32 bits (4 bytes a
    column) changes a weight by less than 1e-6."""
    import numpy as np

    columns = {str(gram): int(column) for gram, column in fitted.vocabulary_.items()}
    return TfIdf(columns=columns, idf=array("f", fitted.idf_.astype(np.float32).tobytes()), offset=offset)


def _fit_head(features: Any, labels: list[str], settings: ModelSettings, calibrate: bool) -> Head:
    """A logistic regression by SGD; with `calibrate`, one sigmoid per class on top, fitted on the scores of
    three models for the third of the texts each did not see (scikit-learn's CalibratedClassifierCV)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import SGDClassifier

    # Both cores: the classes are fitted one against the rest, in threads (scikit-learn releases the GIL).
    linear = SGDClassifier(
        loss="log_loss", alpha=settings.alpha, max_iter=100, tol=settings.tol, random_state=0, n_jobs=-1
    )
    if not calibrate:
        linear.fit(features, labels)
        k = len(linear.classes_)
        return Head(_labels(linear.classes_), _linear(linear, (1.0,) * k, (0.0,) * k))
    calibrated = CalibratedClassifierCV(linear, method="sigmoid", cv=3, ensemble=False).fit(features, labels)
    (fitted,) = calibrated.calibrated_classifiers_
    slopes = tuple(-float(c.a_) for c in fitted.calibrators)  # scikit-learn: p = expit(-(a * score + b))
    shifts = tuple(-float(c.b_) for c in fitted.calibrators)
    return Head(_labels(calibrated.classes_), _linear(fitted.estimator, slopes, shifts))


def _labels(classes: Any) -> tuple[str, ...]:
    """Plain strings: NumPy's would need NumPy to read the model back."""
    return tuple(str(c) for c in classes)


def _linear(fitted: Any, slopes: tuple[float, ...], shifts: tuple[float, ...]) -> Linear:
    """A fitted scikit-learn linear classifier as plain arrays."""
    import numpy as np

    return Linear(
        weights=tuple(array("f", row.astype(np.float32).tobytes()) for row in fitted.coef_),
        intercepts=tuple(float(b) for b in fitted.intercept_),
        slopes=slopes,
        shifts=shifts,
    )


def train_isolated(
    source: Path | Sequence[Example], held_out: frozenset[str] = frozenset(), settings: ModelSettings = DEFAULT_SETTINGS
) -> TriageModel:
    """`train` on the texts of `source` (a corpus folder, which only the child reads, or examples) but not
    of the `held_out` batches, in a child process, so that scikit-learn never enters this one."""
    request = (source if isinstance(source, Path) else list(source), held_out, settings)
    paths = [str(PACKAGE_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    done = subprocess.run(
        [sys.executable, "-m", "bot.triage_train"],
        input=pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL),
        capture_output=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
        check=False,
    )
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise ConfigError(f"training the triage model failed: {reason[0]}")
    model = pickle.loads(done.stdout)
    if not isinstance(model, TriageModel):
        raise ConfigError("training the triage model failed: the trainer returned no model")
    return model


def _main() -> None:
    """The child's side of `train_isolated`: the request on stdin, the model on stdout."""
    source, held_out, settings = pickle.load(sys.stdin.buffer)
    examples = load_corpus(source).examples if isinstance(source, Path) else source
    examples = [e for e in examples if e.batch not in held_out]
    if not examples:
        sys.exit("the triage corpus has no texts to learn from")
    sys.stdout.buffer.write(pickle.dumps(train(examples, settings), protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    _main()
