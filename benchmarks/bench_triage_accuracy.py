"""Triage accuracy, rules alone (before) and rules with the learned model (after), and what it costs.

    .venv/bin/python -m benchmarks.bench_triage_accuracy [--tune] [--errors] [--no-test]

(`make bench` runs it without options.)

1. Leave-one-batch-out cross-validation on the training batches: for each batch, the model is trained
   on the other training batches and reads that one. This is what thresholds are chosen on (`--tune`
   searches them and prints the values to put into bot/triage.py THRESHOLDS).
2. The test split (bot/corpus/splits.toml): the model trained on all training batches reads the test
   batches once. Nothing is tuned on these figures. `--no-test` leaves them out while developing.
3. Latency per message (p50, p99) and what the model adds to start-up time and resident memory.

The rules were written from the legacy batches (bot/corpus/legacy-*), so on those their figures are
optimistic: thresholds are tuned, and the headline cross-validation is reported, on the independent
batches (the model is still trained on the legacy ones too).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.categories import Category
from bot.corpus import Corpus, Example, load_corpus
from bot.triage import THRESHOLDS, Thresholds, Triage, TriageResult, decide
from bot.triage_eval import Figures, measure
from bot.triage_model import DEFAULT_SETTINGS, ModelSettings, Prediction
from bot.triage_rules import RuleReading, RuleTriage
from bot.triage_train import train

RULES_WRITTEN_FROM = "legacy-"


@dataclass(frozen=True)
class HeldOut:
    """What the model said about texts it was not trained on."""

    examples: list[Example]
    predictions: list[Prediction]
    readings: list[RuleReading]

    def only(self, keep: Callable[[Example], bool]) -> HeldOut:
        chosen = [i for i, e in enumerate(self.examples) if keep(e)]
        return HeldOut(
            [self.examples[i] for i in chosen],
            [self.predictions[i] for i in chosen],
            [self.readings[i] for i in chosen],
        )

    def results(self, thresholds: Thresholds) -> list[TriageResult]:
        return [decide(p, r, thresholds) for p, r in zip(self.predictions, self.readings, strict=True)]


def held_out_predictions(
    corpus: Corpus, batches: Sequence[str], excluded: frozenset[str], settings: ModelSettings = DEFAULT_SETTINGS
) -> HeldOut:
    """For each batch: train without it (and without `excluded`), read it."""
    examples: list[Example] = []
    predictions: list[Prediction] = []
    readings: list[RuleReading] = []
    rules = RuleTriage()
    for batch in batches:
        # `train` in this process: what Triage does in a child process, without importing scikit-learn each time.
        model = train([e for e in corpus.examples if e.batch not in excluded | {batch}], settings)
        part = [e for e in corpus.examples if e.batch == batch]
        examples += part
        readings += [rules.classify(e.text) for e in part]
        predictions += model.predict_many([e.text for e in part])
    return HeldOut(examples, predictions, readings)


def tune(held: HeldOut) -> Thresholds:
    """Thresholds that cost least on cross-validation: a missed critical text weighs 10 wrong answers, a
    harmless one marked critical 3. Then `sure` where at most 2 % of sure answers are wrong, and `offer`
    where the true problem is among the offered categories for 99 % of texts with a problem."""
    best: tuple[float, Thresholds] | None = None
    # `doubt_all_at` is left as it is: since "me" is asked too, it only decides about "some" (no difference).
    for other_at, margin, all_at, rules_win_at, rules_floor, rules_weight in itertools.product(
        (0.5, 0.6, 0.7), (-0.2, -0.1, 0.0, 0.1), (0.7, 0.8), (88, 90, 93, 101), (0.05, 0.1, 0.15), (0, 0.15, 0.25, 0.35)
    ):
        thresholds = replace(
            THRESHOLDS,
            other_at=other_at,
            margin=margin,
            all_at=all_at,
            rules_win_at=rules_win_at,
            rules_floor=rules_floor,
            rules_weight=rules_weight,
        )
        f = measure(held.examples, held.results(thresholds))
        cost = (
            10 * f.critical_missed * f.critical
            + 3 * f.harmless_marked_critical * f.harmless
            + (1 - f.accuracy) * f.total
        )
        if best is None or cost < best[0]:
            best = (cost, thresholds)
    assert best is not None
    chosen = best[1]
    for sure_at in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99):
        results = held.results(replace(chosen, sure_at=sure_at))
        sure = [(e, r) for e, r in zip(held.examples, results, strict=True) if r.sure]
        wrong = sum(not e.accepts(r.category) for e, r in sure)
        if sure and wrong / len(sure) <= 0.02:
            chosen = replace(chosen, sure_at=sure_at)
            break
    for offer_at in (0.2, 0.15, 0.1, 0.08, 0.05, 0.03, 0.02, 0.01):
        results = held.results(replace(chosen, offer_at=offer_at))
        problems = [(e, r) for e, r in zip(held.examples, results, strict=True) if e.category is not Category.OTHER]
        offered = sum(e.category in {r.category, *(a.category for a in r.alternatives)} for e, r in problems)
        if offered / len(problems) >= 0.99:
            chosen = replace(chosen, offer_at=offer_at)
            break
    return chosen


def sureness(held: HeldOut, thresholds: Thresholds) -> str:
    results = held.results(thresholds)
    sure = [(e, r) for e, r in zip(held.examples, results, strict=True) if r.sure]
    wrong = sum(not e.accepts(r.category) for e, r in sure)
    problems = [(e, r) for e, r in zip(held.examples, results, strict=True) if e.category is not Category.OTHER]
    offered = sum(e.category in {r.category, *(a.category for a in r.alternatives)} for e, r in problems)
    many = sum(len(r.alternatives) >= 3 for r in results)
    return (
        f"sure for {len(sure) / len(results):.1%} of texts, wrong in {wrong / max(1, len(sure)):.1%} of those; "
        f"true problem offered for {offered / max(1, len(problems)):.1%} of texts with one; "
        f"3 alternatives for {many / len(results):.1%}"
    )


def report(name: str, examples: list[Example], rules: list[RuleReading], after: list[TriageResult], errors: bool):
    before_f, after_f = measure(examples, rules), measure(examples, after)
    print(before_f.line(f"{name} rules (before)"))
    print(after_f.line(f"{name} combined (after)"))
    if errors:
        _print_errors(after_f)
    return after_f


def _print_errors(figures: Figures) -> None:
    for e, r in figures.errors:
        print(f"    {e.category.value:>22}/{e.scope.value:<7} -> {r.category.value:<22}/{r.scope.value:<7} {e.text}")


def latency(triage: Triage, texts: list[str], rounds: int = 3) -> tuple[float, float]:
    """Median and 99th percentile milliseconds per message, as the dialog calls it (one text at a time)."""
    for text in texts[:200]:
        triage.classify(text)
    samples = []
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            triage.classify(text)
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), statistics.quantiles(samples, n=100)[98]


_STARTUP = """
import resource, time
def rss_kb():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
start = time.perf_counter()
import bot.triage_rules
bot.triage_rules.RuleTriage()
rules_s, rules_kb = time.perf_counter() - start, rss_kb()
import bot.triage
bot.triage.Triage()
child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(rules_s, time.perf_counter() - start, rules_kb, rss_kb(), child_kb)
"""


def startup_cost() -> str:
    """A fresh process: rules alone, then rules with the model trained from the corpus (no cache)."""
    out = subprocess.run([sys.executable, "-c", _STARTUP], capture_output=True, text=True, check=True).stdout.split()
    rules_s, total_s = float(out[0]), float(out[1])
    rules_kb, total_kb, child_kb = int(out[2]), int(out[3]), int(out[4])
    return (
        f"start-up: rules {rules_s * 1000:.0f} ms, with the model {total_s:.2f} s (+{total_s - rules_s:.2f} s: "
        f"training in a child process); resident memory {rules_kb / 1024:.0f} MB -> {total_kb / 1024:.0f} MB "
        f"(+{(total_kb - rules_kb) / 1024:.0f} MB); the training child's peak {child_kb / 1024:.0f} MB"
    )


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", action="store_true", help="search the thresholds on cross-validation")
    parser.add_argument("--errors", action="store_true", help="list every text read wrongly (not the test split)")
    parser.add_argument("--no-test", action="store_true", help="leave the test split out")
    args = parser.parse_args(argv)
    corpus = load_corpus()
    rules = RuleTriage()
    train_batches = corpus.training_batches
    print(
        f"corpus: {len(corpus.examples)} texts in {len(corpus.batches)} batches; test split: "
        f"{', '.join(sorted(corpus.test_batches)) or 'none yet'} ({len(corpus.test)} texts)"
    )
    held = held_out_predictions(corpus, train_batches, corpus.test_batches)
    independent = held.only(lambda e: not e.batch.startswith(RULES_WRITTEN_FROM))
    thresholds = tune(independent) if args.tune else THRESHOLDS
    if args.tune:
        print(f"tuned on cross-validation: {thresholds}")
    print("leave-one-batch-out cross-validation on the training batches:")
    for batch in train_batches:
        idx = [i for i, e in enumerate(held.examples) if e.batch == batch]
        part = [held.examples[i] for i in idx]
        after = [decide(held.predictions[i], held.readings[i], thresholds) for i in idx]
        print(measure(part, after).line(batch))
    report("CV all", held.examples, held.readings, held.results(thresholds), False)
    report("CV independent", independent.examples, independent.readings, independent.results(thresholds), args.errors)
    print(f"CV independent: {sureness(independent, thresholds)}")
    if corpus.test_batches and not args.no_test:
        triage = Triage(corpus=corpus, held_out=corpus.test_batches, thresholds=thresholds)
        test = list(corpus.test)
        report(
            "test split",
            test,
            [rules.classify(e.text) for e in test],
            triage.classify_many([e.text for e in test]),
            False,
        )
    triage = Triage(thresholds=thresholds)
    texts = [e.text for e in corpus.training]  # the test split is only read once, above
    p50, p99 = latency(triage, texts)
    print(f"latency per message: p50 {p50:.2f} ms, p99 {p99:.2f} ms ({len(texts) * 3} messages)")
    print(startup_cost())


if __name__ == "__main__":
    main(sys.argv[1:])
