"""Reading what the employee typed: cleaning, the commands that work at any step, and typed answers.

People type on phones, in a hurry: "anuller", "Cancel.", "JA!". Matching is tolerant (rapidfuzz on
normalised text) but only for short messages, so a description that happens to start with "hjælp"
stays a description.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process

MAX_DESCRIPTION = 10_000
_KEEP_CONTROLS = {"\n", "\t"}
_SLASH_PREFIX = re.compile(r"^/\w+(?:\s+|$)")  # "/support printeren ..." but not "/home/anna ..."
_STATUS = re.compile(r"^(?:status|sag|case)\s*(?:på|for|of|nr\.?|no\.?|#)?\s*#?(\d{1,9})$")


class Command(StrEnum):
    CANCEL = "cancel"
    HELP = "help"
    STATUS = "status"


# Words the employee may type, in either language (a Dane often types "cancel" and vice versa).
COMMAND_WORDS: Mapping[Command, tuple[str, ...]] = {
    Command.CANCEL: ("annuller", "annullér", "afbryd", "stop", "glem det", "fortryd", "cancel", "abort", "quit"),
    Command.HELP: ("hjælp", "hjaelp", "help", "?"),
    Command.STATUS: ("status", "mine sager", "my cases"),
}
GREETINGS = ("hej", "hejsa", "hallo", "goddag", "hi", "hello", "hey", "support", "start")
_CUTOFF = 80


@dataclass(frozen=True)
class Cleaned:
    """The text kept for the case (control characters removed, at most MAX_DESCRIPTION characters)."""

    text: str
    shortened: bool


def clean(raw: str) -> Cleaned:
    """Drop control characters (but keep line breaks) and cut at MAX_DESCRIPTION; markup stays as typed."""
    text = "".join(c for c in raw if c in _KEEP_CONTROLS or unicodedata.category(c)[0] != "C")
    text = text.replace("\r\n", "\n").strip()
    if text.startswith("/"):
        text = _SLASH_PREFIX.sub("", text, count=1)
    return Cleaned(text[:MAX_DESCRIPTION], len(text) > MAX_DESCRIPTION)


def normalise(text: str) -> str:
    """Lower case, no surrounding punctuation, single spaces: the form words are compared in."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[\s]+", " ", text)
    return text.strip(" .,;:!¡'\"()[]-–—_*")


def _close(text: str, words: Iterable[str]) -> bool:
    match = process.extractOne(text, list(words), scorer=fuzz.ratio, score_cutoff=_CUTOFF)
    return match is not None


def command_of(text: str) -> tuple[Command, int | None] | None:
    """The command a short message is, with the case number for "status 10042"; None for anything else."""
    norm = normalise(text)
    if not norm or len(norm) > 30:
        return None
    number = _STATUS.match(norm)
    if number:
        return Command.STATUS, int(number.group(1))
    if norm.isdigit() and len(norm) >= 5:
        return None  # a bare number is an answer (or a description), not a command
    for command, words in COMMAND_WORDS.items():
        if _close(norm, words):
            return command, None
    return None


def is_greeting(text: str) -> bool:
    """A message that only says hello: the bot asks what is wrong instead of triaging it."""
    norm = normalise(text)
    return bool(norm) and len(norm) <= 12 and _close(norm, GREETINGS)


def pick(text: str, options: Mapping[str, Iterable[str]]) -> str | None:
    """The option whose words the typed text matches best (labels, synonyms), or None when unsure."""
    norm = normalise(text)
    if not norm or len(norm) > 60:
        return None
    best: tuple[float, str] | None = None
    for option, words in options.items():
        candidates = [normalise(w) for w in words]
        if norm in candidates:
            return option
        match = process.extractOne(norm, candidates, scorer=fuzz.ratio, score_cutoff=_CUTOFF)
        if match and (best is None or match[1] > best[0]):
            best = (match[1], option)
    return best[1] if best else None
