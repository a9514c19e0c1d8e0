"""Triage by keyword rules: which policy category a typed problem reads as, and who the text says is affected.

Employees type short, sloppy, misspelt Danish or English on a phone. Matching works on words, not
whole sentences, so one typo or an extra clause does not hide the problem:

1. normalise the text (case, æ/ø/å -> ae/oe/aa, punctuation, emoji, stretched letters);
2. map every word to a vocabulary word: exactly, by inflection ("printeren"), by compound
   ("internetforbindelse"), by two swapped letters ("virekr") or by fuzzy spelling with rapidfuzz
   ("intenet", "pasword");
3. collect the concepts those words and phrases signal (internet, printer, broken, cant, ...); an
   all-clear or an order that is negated ("nu virker det stadig ikke") signals nothing;
4. score each category by the best pattern of concepts it matches (bot/vocabulary.toml), then damp
   the critical scores when the text reads as a question, an order or a minor nuisance, because a
   request that merely mentions a printer must not wake anyone at night. When the text also states
   a problem, only the strongest such cue counts, so incidental words in a long report do not add up.

Any subject named together with any "broken" cue scores that category, so a new way of saying
"does not work" needs one word in the vocabulary, not a new pattern; the weaker combinations (an
account that "does not work", a device that is "broken") score lower than a named outage.

The vocabulary is data; this module only knows how to apply it. bot/triage.py puts its reading together
with the learned model's (bot/triage_model.py): where the rules are near-certain, they may override it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from bot.categories import Category, Scope
from bot.errors import ConfigError
from bot.text import normalize

VOCABULARY_FILE = Path(__file__).with_name("vocabulary.toml")

# People put the problem first; beyond this many words the rest is pasted logs or signatures.
MAX_WORDS = 300
# Below this score a category is not plausible enough to lead with: a lone "outlook" is no outage report.
MATCHED_AT = 40

# Concepts that are "negated" when a negation word stands within this many words of them:
# "virker overhovedet ikke", but only "printer ikke" / "doesnt print" right next to each other.
NEGATABLE = {"works": 3, "start": 3, "printer": 1, "find": 1}
# Negation words that mean "there is no ..." before a subject ("ingen internet", "no printer").
ABSENCE_WORDS = frozenset({"ingen", "intet", "no", "uden", "without", "none", "nothing"})
ABSENCE_WINDOW = 5  # "ingen af os på kontoret har internet"
# Concepts a word keeps even inside a phrase: sentence structure, not topic.
STRUCTURAL = frozenset({"negation", "able"})
# Request cues that mean the opposite when negated just before ("kan ikke få det løst") ...
NEGATED_CUES_VOID = frozenset({"other:request", "other:new", "other:resolved"})
# ... and "it works" cues that mean the opposite when negated just after ("nu virker det stadig ikke").
NEGATED_AFTER_VOID = frozenset({"other:resolved"})
VOID_BEFORE, VOID_AFTER = 2, 2
# Concepts computed from word order in Triage._derive, usable in patterns beside the vocabulary's own.
DERIVED = frozenset({"broken", "cant", "subject", "no_subject", "error_code", *(f"{c}_not" for c in NEGATABLE)})
# An empty text: `other` first, nothing scored.
_NOTHING = tuple((c, 0) for c in sorted(Category, key=lambda c: c is not Category.OTHER))
# Negations that already contain "can" ("can't", "won't").
CANT_WORDS = frozenset({"cant", "cannot", "couldnt", "unable", "wont", "kanikke"})

_DOUBLED = re.compile(r"(.)\1")
# A Windows/Office error code as typed: "0x80070005", "0xc000021a".
_ERROR_CODE = re.compile(r"0x[0-9a-f]{4,8}")
# Danish and English endings, longest first, tried when a word is not in the vocabulary as typed.
_ENDINGS = ("erne", "ene", "ens", "ets", "ede", "ing", "er", "en", "et", "ed", "es", "ne", "e", "s", "n", "t")


def _words(text: str) -> list[str]:
    return normalize(text).split()[:MAX_WORDS]


def _phrase(term: str) -> tuple[str, ...]:
    return tuple(normalize(term).split())


@dataclass(frozen=True)
class RuleReading:
    """What the rules make of a text: every category's score (0-100), best first, and the scope it states."""

    ranked: tuple[tuple[Category, int], ...]
    scope: Scope
    # "alle er ramt", "everyone is affected": said in so many words, as the answer to "who is affected?" is.
    says_everyone: bool = False

    @property
    def category(self) -> Category:
        return self.ranked[0][0]

    @property
    def confidence(self) -> int:
        return self.ranked[0][1]

    @property
    def says_not_a_problem(self) -> bool:
        """A question, an order or a nuisance cue gives `other` a real score ("hvordan printer jeg ...")."""
        return dict(self.ranked)[Category.OTHER] >= MATCHED_AT

    @property
    def empty(self) -> bool:
        """Nothing but punctuation, emoji or spaces: every score is zero."""
        return self.confidence == 0


@dataclass(frozen=True)
class _Pattern:
    concepts: frozenset[str]
    score: int
    absent: frozenset[str] = frozenset()  # concepts that must not be present ("ingen signal" on a screen)

    def matches(self, f: _Features) -> bool:
        return all(f.has(c) for c in self.concepts) and not any(f.has(c) for c in self.absent)


@dataclass(frozen=True)
class _Rules:
    patterns: tuple[_Pattern, ...]
    damped_by: frozenset[str]


@dataclass(frozen=True)
class _DampGroup:
    name: str
    damp: float
    damp_if_broken: float


class _Lexicon:
    """Words and phrases to concepts, and the mapping of typed words onto vocabulary words."""

    def __init__(self, concepts: Mapping[str, Iterable[str]], settings: Mapping[str, Any]) -> None:
        self.word_concepts: dict[str, set[str]] = {}
        self._phrase_words: set[str] = set()  # words of concept phrases, which must be matched as typed
        self.phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for concept, terms in concepts.items():
            for term in terms:
                self.add(term, concept)
        self.fuzzy_min = int(settings["fuzzy_min_length"])
        self.cutoff_short = int(settings["fuzzy_cutoff_short"])
        self.cutoff_long = int(settings["fuzzy_cutoff_long"])
        self._cache: dict[str, tuple[str, ...]] = {}

    def add(self, term: str, concept: str | None) -> None:
        words = _phrase(term)
        if not words:
            return
        for word in words:
            self.word_concepts.setdefault(word, set())
        if len(words) == 1:
            if concept:
                self.word_concepts[words[0]].add(concept)
        else:
            self.phrases.setdefault(words[0], []).append((words, concept or ""))
            if concept:
                self._phrase_words.update(words)

    def freeze(self) -> None:
        """Prepare the fuzzy and compound look-ups once every word is known."""
        # Fuzzy candidates by first letter: typos rarely hit the first letter, and a prefix is often
        # the opposite meaning ("aktiveret" is not "deaktiveret").
        self._fuzzy_choices: dict[str, list[str]] = {}
        for word in self.word_concepts:
            if len(word) >= self.fuzzy_min - 1:
                self._fuzzy_choices.setdefault(word[0], []).append(word)
        # Sentence words are no compound parts: "opdateringen" does not end in the negation "ingen".
        self._compound_heads = sorted(
            (w for w, concepts in self.word_concepts.items() if len(w) >= 4 and concepts - STRUCTURAL),
            key=len,
            reverse=True,
        )

    def canonical(self, word: str) -> tuple[str, ...]:
        """The vocabulary word(s) a typed word stands for; the word itself when nothing fits."""
        hit = self._cache.get(word)
        if hit is None:
            if len(self._cache) > 50_000:
                self._cache.clear()
            hit = self._canonical(word)
            self._cache[word] = hit
        return hit

    def _simple(self, word: str) -> str | None:
        known = self.word_concepts
        if known.get(word) or word in self._phrase_words:
            return word
        single = _DOUBLED.sub(r"\1", word)  # "virkerr", "neede"; short words are too easily another word
        if len(word) >= 5 and single != word and single in known:
            return single
        # A word known only from the scope lists ("computerne" in "nogen af computerne") keeps its stem's meaning.
        only_scope = word in known
        for ending in _ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                stem = word[: -len(ending)]
                if len(stem) > 3 and stem[-1] == stem[-2] and stem not in known:  # "internett" -> "internet"
                    stem = stem[:-1]
                if stem in known and (known[stem] or not only_scope):
                    return stem
        if only_scope:
            return word
        if len(word) >= 4:  # two letters swapped, the commonest phone typo: "virekr", "lgoge", "ikek"
            for i in range(len(word) - 1):
                swapped = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
                if swapped in known:
                    return swapped
        if len(word) >= self.fuzzy_min:
            cutoff = self.cutoff_short if len(word) <= 6 else self.cutoff_long
            choices = self._fuzzy_choices.get(word[0], [])
            best = process.extractOne(word, choices, scorer=fuzz.ratio, score_cutoff=cutoff)
            if best is not None:
                return str(best[0])
        return None

    def _canonical(self, word: str) -> tuple[str, ...]:
        simple = self._simple(word)
        if simple is not None:
            return (simple,)
        if len(word) >= 8:  # compounds: "printerpapir" -> printer + papir, "netvaerksdrevet" -> netvaerk + drev
            for head in self._compound_heads:
                if word.startswith(head) and len(word) - len(head) >= 3:
                    tail = word[len(head) :]
                    rest = self._simple(tail) or (self._simple(tail[1:]) if tail[0] in "se" else None)
                    return (head, rest) if rest else (head,)
            for tail in self._compound_heads:
                if len(tail) >= 5 and word.endswith(tail):
                    return (tail,)
        return (word,)


class _Features:
    """The concepts found in one text, with the word positions they were found at."""

    def __init__(self, lexicon: _Lexicon, words: list[str]) -> None:
        tokens = [c for w in words for c in lexicon.canonical(w)]
        self.tokens = tokens
        self.at: dict[str, list[int]] = {}
        negations = [i for i, token in enumerate(tokens) if "negation" in lexicon.word_concepts.get(token, ())]
        # A phrase speaks for its words: "oprette forbindelse" is reach, not the order "oprette";
        # "virker igen" is solved, not "virker"; "the whole office" is a place, not Office 365.
        # A negated cue says nothing, and leaves its words their own meaning: "kan ikke få det løst",
        # "nu virker det stadig ikke" (the "works" in it is then negated: broken). A question or order cue
        # yields to a longer phrase at the same word ("hvad er der galt" is no question "hvad er"), and a phrase
        # inside an earlier one is part of it ("skal jeg" in "hvad skal jeg gøre").
        covered: set[int] = set()
        for i, token in enumerate(tokens):
            if i in covered and i - 1 in covered:
                continue
            found = [
                (len(phrase), concept)
                for phrase, concept in lexicon.phrases.get(token, ())
                if concept
                and tuple(tokens[i : i + len(phrase)]) == phrase
                and not self._voided(concept, i, i + len(phrase) - 1, negations)
            ]
            longest = max((n for n, _ in found), default=0)
            for n, concept in found:
                if n == longest or not concept.startswith("other:"):
                    self.at.setdefault(concept, []).append(i)
                    covered.update(range(i, i + n))
        for i, token in enumerate(tokens):
            for concept in lexicon.word_concepts.get(token, ()):
                if (concept in STRUCTURAL or i not in covered) and not self._voided(concept, i, i, negations):
                    self.at.setdefault(concept, []).append(i)
        if any(_ERROR_CODE.fullmatch(w) for w in words):
            self.add("error_code")

    @staticmethod
    def _voided(concept: str, start: int, end: int, negations: list[int]) -> bool:
        before = concept in NEGATED_CUES_VOID and any(0 < start - n <= VOID_BEFORE for n in negations)
        after = concept in NEGATED_AFTER_VOID and any(0 < n - end <= VOID_AFTER for n in negations)
        return before or after

    def has(self, concept: str) -> bool:
        return concept in self.at

    def positions(self, concept: str) -> list[int]:
        return self.at.get(concept, [])

    def add(self, concept: str) -> None:
        self.at.setdefault(concept, [])


class RuleTriage:
    """Scores a problem description against every policy category; loads bot/vocabulary.toml once."""

    def __init__(self, vocabulary: Path = VOCABULARY_FILE) -> None:
        try:
            with vocabulary.open("rb") as fh:
                self._load(tomllib.load(fh))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{vocabulary}: cannot read the triage vocabulary: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{vocabulary}: the triage vocabulary is incomplete or wrong: {exc!r}") from None

    def _load(self, data: Mapping[str, Any]) -> None:
        settings = data["settings"]
        self._subjects: tuple[str, ...] = tuple(settings["subjects"])
        self._lexicon = _Lexicon(data["concepts"], settings)
        other = data["other"]
        self._rules: dict[Category, _Rules] = {
            Category(name): _Rules(
                tuple(
                    _Pattern(frozenset(p["all"]), int(p["score"]), frozenset(p.get("none", ())))
                    for p in table["patterns"]
                ),
                frozenset(table.get("damped_by", other["groups"])),
            )
            for name, table in data["categories"].items()
        }
        self._max_damp = float(other["max_damp"])
        self._problem_cues = frozenset(other["problem_cues"])
        self._other_base = int(other["base"])
        self._other_per_damp = int(other["per_damp"])
        self._critical_wins = int(other["critical_wins"])
        self._groups: list[_DampGroup] = []
        for name, group in other["groups"].items():
            self._groups.append(_DampGroup(name, float(group["damp"]), float(group["damp_if_broken"])))
            for term in group["terms"]:
                self._lexicon.add(term, f"other:{name}")
        self._scope = _ScopeRules(data["scope"], self._lexicon)
        self._lexicon.freeze()
        known = set(data["concepts"]) | DERIVED
        if not self._problem_cues <= known:
            raise ValueError(f"other.problem_cues names undefined concepts {sorted(self._problem_cues - known)}")
        for category, rules in self._rules.items():
            unknown = {c for p in rules.patterns for c in p.concepts | p.absent} - known
            if unknown:  # a misspelt concept would silently never match
                raise ValueError(f"categories.{category.value} uses undefined concepts {sorted(unknown)}")
            if not rules.damped_by <= set(other["groups"]):
                raise ValueError(f"categories.{category.value}.damped_by names unknown groups")

    def classify(self, text: str) -> RuleReading:
        """Every category's score, best first, and the scope the text states."""
        words = _words(text)
        if not words:
            return RuleReading(_NOTHING, Scope.UNKNOWN)
        features = _Features(self._lexicon, words)
        recognised = bool(features.at)
        self._derive(features)
        scores = {
            cat: round(self._score(rules, features) * (1 - self._damping(features, rules.damped_by)))
            for cat, rules in self._rules.items()
        }
        damp = self._damping(features, None)
        if damp > 0:
            scores[Category.OTHER] = min(95, round(self._other_base + self._other_per_damp * damp))
        else:  # nothing says "not a problem": `other` only by default, never offered as an alternative
            scores[Category.OTHER] = 25 if recognised else 10
        # Ties go to the critical category: a missed outage costs more than a question too many.
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0] is Category.OTHER))
        if ranked[0][0] is Category.OTHER and len(ranked) > 1 and ranked[1][1] >= self._critical_wins:
            ranked[0], ranked[1] = ranked[1], ranked[0]
        if ranked[0][1] < MATCHED_AT and ranked[0][0] is not Category.OTHER:
            # Nothing is plausible enough to lead with: a lone "outlook" is not an outage report.
            ranked.sort(key=lambda item: item[0] is not Category.OTHER)
        return RuleReading(tuple(ranked), self._scope.detect(words), self._scope.says_everyone(words))

    def detect_scope(self, text: str) -> Scope:
        return self._scope.detect(_words(text))

    def _derive(self, f: _Features) -> None:
        """Concepts that depend on word order: negated verbs, "can't", "no <subject>", any subject."""
        negations = f.positions("negation")
        for concept, window in NEGATABLE.items():
            if any(0 < abs(p - n) <= window for p in f.positions(concept) for n in negations):
                f.add(f"{concept}_not")
        absent = any(
            f.tokens[n] in ABSENCE_WORDS
            and any(0 < p - n <= ABSENCE_WINDOW for s in self._subjects for p in f.positions(s))
            for n in negations
        )
        if f.has("works_not") or f.has("start_not") or f.has("printer_not") or f.has("offline") or absent:
            f.add("broken")
        if self._cant(f):
            f.add("cant")
        f.add("subject" if any(f.has(s) for s in self._subjects) else "no_subject")

    @staticmethod
    def _cant(f: _Features) -> bool:
        finds = set(f.positions("find"))  # "kan ikke finde" is find_not, not an outage by itself
        for n in f.positions("negation"):
            after = {n + 1, n + 2} - set(f.positions("negation"))
            if after & finds:
                continue
            if f.tokens[n] in CANT_WORDS or any(0 < n - p <= 2 for p in f.positions("able")):
                return True
            if f.tokens[n] in ABSENCE_WORDS | {"nobody", "noone"} and any(
                0 < p - n <= ABSENCE_WINDOW for p in f.positions("able")
            ):
                return True  # "ingen kan", "ingen af os kan", "nobody can"
        return False

    @staticmethod
    def _score(rules: _Rules, f: _Features) -> int:
        return max((p.score for p in rules.patterns if p.matches(f)), default=0)

    def _damping(self, f: _Features, only: frozenset[str] | None) -> float:
        """How much the question/order/nuisance cues in the text weigh (0-max_damp).

        Without a stated problem the cues add up. With one, only the strongest counts: a long report
        ("den nye printer som I satte op ... siger fejl, kan I hjælpe") has incidental cues that must not
        add up to talking the outage away.
        """
        broken = any(f.has(c) for c in self._problem_cues)
        weights = [
            g.damp_if_broken if broken else g.damp
            for g in self._groups
            if f.has(f"other:{g.name}") and (only is None or g.name in only)
        ]
        total = max(weights, default=0.0) if broken else sum(weights)
        return min(self._max_damp, total)


class _ScopeRules:
    """Who is affected, from the words the employee used; see [scope] in the vocabulary."""

    def __init__(self, data: Mapping[str, Any], lexicon: _Lexicon) -> None:
        # key -> first word -> phrases starting with it, so a text is scanned once per key.
        self._lists: dict[str, dict[str, list[tuple[str, ...]]]] = {}
        for key in ("only_me", "not_all", "all", "some", "group", "me", "place", "stated_all"):
            index: dict[str, list[tuple[str, ...]]] = {}
            for term in data[key]:
                phrase = _phrase(term)
                index.setdefault(phrase[0], []).append(phrase)
                lexicon.add(term, None)
            self._lists[key] = index
        self._things_after = {_phrase(t)[0] for t in data["things_after"]}
        self._english_i_before = {_phrase(t)[0] for t in data["english_i_before"]}
        self._english_i_after = {_phrase(t)[0] for t in data["english_i_after"]}

    def _found(self, key: str, words: list[str]) -> bool:
        index = self._lists[key]
        for i, word in enumerate(words):
            for phrase in index.get(word, ()):
                if tuple(words[i : i + len(phrase)]) != phrase:
                    continue
                if key in ("all", "some") and len(phrase) == 1 and self._about_things(words, i):
                    continue
                return True
        return False

    def detect(self, words: list[str]) -> Scope:
        if self._found("only_me", words):
            return Scope.ME
        if self._found("not_all", words):
            return Scope.SOME
        if self._found("all", words):
            return Scope.ALL
        if self._found("some", words):
            return Scope.SOME
        if self._found("group", words):
            return Scope.ALL
        if self._found("me", words) or any(w == "i" and self._english_i(words, i) for i, w in enumerate(words)):
            return Scope.ME
        if self._found("place", words):
            return Scope.ALL
        return Scope.UNKNOWN

    def says_everyone(self, words: list[str]) -> bool:
        """The text states that everyone is affected in so many words, and nothing says "not everyone"."""
        return self._found("stated_all", words) and not self._found("not_all", words)

    def _about_things(self, words: list[str], i: int) -> bool:
        """ "alle mine filer", "flere gange": the quantity word is about things or times, not people."""
        return i + 1 < len(words) and words[i + 1] in self._things_after

    def _english_i(self, words: list[str], i: int) -> bool:
        """English "I" ("I can't", "how do I"), not Danish "i" ("i går", "kan I installere")."""
        after = i > 0 and words[i - 1] in self._english_i_after
        before = i + 1 < len(words) and words[i + 1] in self._english_i_before
        return after or before


@cache
def _shared_rules() -> RuleTriage:
    return RuleTriage()


def detect_scope(text: str) -> Scope:
    """Who the text says is affected: `all`, `some`, `me` or `unknown` (e.g. for the answer to "who is affected?")."""
    return _shared_rules().detect_scope(text)
