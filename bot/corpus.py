"""The labelled corpus triage learns from, and labelled files a provider evaluates triage on.

The corpus is data in the package: `bot/corpus/<batch>.jsonl`, one JSON object a line with `text`,
`category`, `scope`, `lang` ("da"/"en"), `batch` (the file's name) and an optional `also` (another
category, or a list of them, that a genuinely ambiguous text may fairly be given). Each batch was
written by one writer from one brief (see bot/corpus/README.md), so evaluation splits by batch, never by
line: `splits.toml` names the batches that are the test split, which nothing may be tuned on.

A corpus that cannot be read stops whoever reads it with one line naming the file, the line and what is
wrong: a model quietly trained on half a corpus would be worse than none.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bot.categories import Category, Scope, is_critical, needs_scope
from bot.errors import BotError

CORPUS_DIR = Path(__file__).with_name("corpus")
SPLITS_FILE = "splits.toml"
LANGUAGES = ("da", "en")
_FIELDS = {"text", "category", "scope", "lang", "batch", "also"}
_BATCH_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words that give a short text's language away; a text with æ, ø or å is Danish.
_DANISH_WORDS = _word_set(
    "ikke ik jeg vi er og det den på paa kan har min mit mine vores af til med som der hvad hvordan hvorfor skal "
    "virker ingen nogen alle hele noget mere får faar være blevet siger eller men også ogsaa lige nu igen tak hej "
    "hjælp hjaelp kontoret printeren nettet koden adgangskode skærm skaerm fejl ned nede en et glemt langsom dag "
    "idag siger installere lyst kode virkr vil op ud hos os jer mig dig bare godt hun han konto lukke"
)
_ENGLISH_WORDS = _word_set(
    "not no the is are my our we i you it can cant cannot doesnt dont wont isnt and or with for to of on in "
    "what how why please help anyone everyone nobody works working down office password screen error "
    "again still get got has have been this that there"
)


_E = TypeVar("_E", Category, Scope)


class CorpusError(BotError):
    """A corpus or labelled file cannot be used; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class Example:
    text: str
    category: Category
    scope: Scope
    lang: str
    batch: str
    also: tuple[Category, ...] = ()

    @property
    def critical(self) -> bool:
        """The policy calls it critical (for internet, IT system and printing: everyone is affected)."""
        return is_critical(self.category, self.scope)

    @property
    def harmless(self) -> bool:
        """Not critical, and nothing left to ask: no on-call for this one."""
        return not self.critical and not needs_scope(self.category, self.scope)

    def accepts(self, category: Category) -> bool:
        return category is self.category or category in self.also

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "text": self.text,
            "category": self.category.value,
            "scope": self.scope.value,
            "lang": self.lang,
            "batch": self.batch,
        }
        if self.also:
            row["also"] = [c.value for c in self.also]
        return row


@dataclass(frozen=True)
class Corpus:
    examples: tuple[Example, ...]
    batches: tuple[str, ...]  # in file-name order
    test_batches: frozenset[str]
    digest: str  # sha256 of the batches and the split: what a trained model is keyed by

    @property
    def training(self) -> tuple[Example, ...]:
        return tuple(e for e in self.examples if e.batch not in self.test_batches)

    @property
    def test(self) -> tuple[Example, ...]:
        return tuple(e for e in self.examples if e.batch in self.test_batches)

    @property
    def training_batches(self) -> tuple[str, ...]:
        return tuple(b for b in self.batches if b not in self.test_batches)


def load_corpus(directory: Path = CORPUS_DIR) -> Corpus:
    """Every batch in `directory`, validated, with the test split from `splits.toml`."""
    by_batch = {
        path.stem: tuple(_parse(path, _read_bytes(path).decode("utf-8", errors="strict"), strict=True))
        for path in _batch_files(directory)
    }
    splits_path = directory / SPLITS_FILE
    return Corpus(
        examples=tuple(e for batch in by_batch.values() for e in batch),
        batches=tuple(by_batch),
        test_batches=_read_splits(splits_path) if splits_path.exists() else frozenset(),
        digest=corpus_digest(directory),
    )


def corpus_digest(directory: Path = CORPUS_DIR) -> str:
    """The sha256 of the batches and the split, without parsing them: enough to find a cached model."""
    digest = hashlib.sha256()
    for path in _batch_files(directory):
        raw = _read_bytes(path)
        digest.update(f"{path.name}\0{len(raw)}\0".encode())
        digest.update(raw)
    splits_path = directory / SPLITS_FILE
    if splits_path.exists():
        digest.update(b"splits\0" + _read_bytes(splits_path))
    return digest.hexdigest()


def _batch_files(directory: Path) -> list[Path]:
    files = sorted(directory.glob("*.jsonl"))
    if not files:
        raise CorpusError(f"{directory}: no corpus batches (*.jsonl) found")
    return files


def read_examples(path: Path) -> list[Example]:
    """A labelled file a provider wants triage measured on: `text` and `category` are needed; a missing
    `scope` is "unknown", a missing `lang` is guessed, a missing `batch` is the file's name."""
    raw = _read_bytes(path)
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    examples = _parse(path, content, strict=False)
    if not examples:
        raise CorpusError(f"{path}: no labelled texts in the file")
    return examples


def write_examples(examples: Iterable[Example], out: Any) -> int:
    """Write examples as corpus lines to a text stream; returns how many."""
    count = 0
    for example in examples:
        out.write(json.dumps(example.to_dict(), ensure_ascii=False) + "\n")
        count += 1
    return count


def guess_language(text: str) -> str:
    """ "da" or "en" for a short support request: Danish letters or more Danish than English words.

    Ties go to Danish, which most requests are.
    """
    lowered = text.casefold()
    if any(c in lowered for c in "æøå"):
        return "da"
    words = re.findall(r"[a-z]+", lowered.replace("'", "").replace("’", ""))
    danish = sum(w in _DANISH_WORDS for w in words)
    english = sum(w in _ENGLISH_WORDS for w in words)
    return "en" if english > danish else "da"


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path}: cannot be read ({exc.strerror})") from None


def _read_splits(path: Path) -> frozenset[str]:
    try:
        data = tomllib.loads(_read_bytes(path).decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CorpusError(f"{path}: not valid TOML ({exc})") from None
    test = data.get("test", [])
    if not isinstance(test, list) or not all(isinstance(b, str) for b in test):
        raise CorpusError(f'{path}: "test" must be a list of batch names')
    return frozenset(test)  # a batch may be named before it is delivered


def _parse(path: Path, content: str, *, strict: bool) -> list[Example]:
    examples = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            examples.append(_example(json.loads(line), path.stem, strict=strict))
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path}, line {number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        except ValueError as exc:
            raise CorpusError(f"{path}, line {number}: {exc}") from None
    return examples


def _example(row: Any, batch_name: str, *, strict: bool) -> Example:
    if not isinstance(row, dict):
        raise ValueError('expected a JSON object like {"text": ..., "category": ...}')
    unknown = sorted(set(row) - _FIELDS)
    if unknown and strict:
        raise ValueError(f"unknown fields {', '.join(unknown)}")
    required = ("text", "category", "scope", "lang", "batch") if strict else ("text", "category")
    missing = [key for key in required if key not in row]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    text = row["text"]
    if not isinstance(text, str) or not text.strip():
        raise ValueError('"text" must be a non-empty string')
    lang = row.get("lang") or guess_language(text)
    if lang not in LANGUAGES:
        raise ValueError(f'"lang" must be one of {", ".join(LANGUAGES)}, not {lang!r}')
    batch = row.get("batch", batch_name)
    if strict and batch != batch_name:
        raise ValueError(f'"batch" is {batch!r} but the file is {batch_name}.jsonl')
    if not isinstance(batch, str) or not _BATCH_NAME.fullmatch(batch):
        raise ValueError(f'"batch" must be a lower-case name, not {batch!r}')
    also = row.get("also", [])
    also = [also] if isinstance(also, str) else also
    if not isinstance(also, list):
        raise ValueError('"also" must be a category or a list of categories')
    category = _enum(Category, row["category"], "category")
    return Example(
        text=text,
        category=category,
        scope=_enum(Scope, row.get("scope", "unknown"), "scope"),
        lang=lang,
        batch=batch,
        also=tuple(c for c in (_enum(Category, a, "also") for a in also) if c is not category),
    )


def _enum(kind: type[_E], value: Any, name: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise ValueError(f'"{name}" is {value!r}; expected one of {choices}') from None
