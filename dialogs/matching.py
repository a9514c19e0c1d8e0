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

from bot.text import normalize, tidy

MAX_DESCRIPTION = 10_000
_KEEP_CONTROLS = {"\n", "\t"}
_SLASH_PREFIX = re.compile(r"^/\w+(?:\s+|$)")  # "/support printeren ..." but not "/home/anna ..."
_STATUS = re.compile(r"^(?:status|sag|case)\s*(?:på|for|of|nr\.?|no\.?|#)?\s*#?(\d{1,9})$")
_CASE_NUMBER = re.compile(r"(?<!\d)(\d{5,9})(?!\d)")
# Natural status questions. Each names the case (or asks how far along "you" are), so a problem that
# merely mentions a status ("statusfeltet i outlook er tomt") stays a description.
_CASE_WORD = r"(?:sag|sagen|sager|sagerne|case|cases|ticket|tickets)"
_NEWS_WORD = r"(?:status|statussen|nyt|news|update|updates|opdatering)"
_WHOSE = r"(?:min|mine|vores|jeres|my|our|the)"
_STATUS_QUESTIONS = (
    # "hvad er status på min sag", "er der nyt i sagen", "any news on my case", "status of case 10003"
    re.compile(rf"\b{_NEWS_WORD} (?:på|om|i|med|fra|on|of|for|about|with) (?:{_WHOSE} )?{_CASE_WORD}\b"),
    re.compile(rf"^(?:(?:min|mine|my|our) )?{_CASE_WORD}(?: #?\d+)?\W*{_NEWS_WORD}$"),  # "min sag - status"
    re.compile(r"^(?:og |and )?hvor langt er (?:i|du|jer|vi)\b"),  # "hvor langt er I med min sag"
    re.compile(rf"\bhvordan går det med (?:min|mine|vores|sag|sagen)\b|\bhow(?:'s| is| are) (?:my|our) {_CASE_WORD}\b"),
)
_MAX_QUESTION = 60
# "annuller sag 10001", "det virker igen, luk sagen", "close my case": the reporter withdraws a case of theirs.
_WITHDRAW = re.compile(
    r"(?:^|[,.;:!]\s*|\b(?:så|og|gerne|bare|and|so|please|just)\s+)"
    r"(?:annull?[eé]r|annuler|luk|lukke|afslut|træk|cancel|close|withdraw)\s+"
    r"(?:(?:min|mine|den|denne|the|my|this)\s+)?(?:sag|sagen|case|ticket)\b(?:\s*(?:nr\.?|no\.?))?\s*#?(\d{5,9})?"
    r"(?:\s+(?:tilbage|igen|again))?(?:\s*,?\s*(?:tak|please|thanks))?$"
)
_MAX_WITHDRAW = 80
# "Det virker stadig ikke" after a fix: the employee follows up on a case rather than reporting something new.
_FOLLOW_UP = re.compile(
    r"\b(?:(?:virker|fungerer|kører|duer) (?:stadig|fortsat|stadigvæk|stadigvaek|stadig væk) ikke"
    r"|(?:virker|fungerer|duer) (?:ikke|ik) (?:stadig|endnu|igen|alligevel)"
    r"|(?:det )?samme (?:problem|fejl) (?:igen|stadig)|(?:er|blev) (?:stadig )?(?:ikke|ik) løst"
    r"|still (?:doesn't|does not|isn't|is not|won't|not) (?:work|working|fixed|solved)|still broken"
    r"|(?:doesn't|does not|isn't) (?:work|working|fixed) (?:yet|again|either)|same problem again"
    r"|not (?:fixed|solved))\b"
)
_PHONE = re.compile(r"[+(]{0,2}\d[\d\s().-]*\d")
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 8, 15


class Command(StrEnum):
    CANCEL = "cancel"  # the conversation going on
    WITHDRAW = "withdraw"  # a case of the reporter's, by number or their only open one
    HELP = "help"
    STATUS = "status"


# Words the employee may type, in either language (a Dane often types "cancel" and vice versa).
COMMAND_WORDS: Mapping[Command, tuple[str, ...]] = {
    Command.CANCEL: ("annuller", "annullér", "afbryd", "stop", "glem det", "fortryd", "cancel", "abort", "quit"),
    Command.HELP: ("hjælp", "hjaelp", "help", "?"),
    Command.STATUS: ("status", "mine sager", "my cases"),
}
# "Det er akut" at any step: the employee says it cannot wait, whatever the bot made of the problem.
URGENT_WORDS = (
    "akut", "det er akut", "det haster", "haster", "det haster meget", "det er meget akut", "det er vigtigt",
    "urgent", "its urgent", "it is urgent", "this is urgent", "emergency", "asap",
)  # fmt: skip
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


def _close(text: str, words: Iterable[str]) -> bool:
    match = process.extractOne(text, list(words), scorer=fuzz.ratio, score_cutoff=_CUTOFF)
    return match is not None


def command_of(text: str) -> tuple[Command, int | None] | None:
    """The command a short message is, with the case number for "status 10042"; None for anything else."""
    norm = tidy(text)
    if not norm or len(norm) > _MAX_WITHDRAW:
        return None
    withdraw = _WITHDRAW.search(norm.rstrip(".!? "))
    if withdraw is not None:
        return Command.WITHDRAW, int(withdraw.group(1)) if withdraw.group(1) else None
    if len(norm) > _MAX_QUESTION:
        return None
    question = norm.rstrip("? ")
    number = _STATUS.match(question)
    if number:
        return Command.STATUS, int(number.group(1))
    if any(pattern.search(question) for pattern in _STATUS_QUESTIONS):
        found = _CASE_NUMBER.search(question)
        return Command.STATUS, int(found.group(1)) if found else None
    if len(norm) > 30:
        return None
    if norm.isdigit() and len(norm) >= 5:
        return None  # a bare number is an answer (or a description), not a command
    for command, words in COMMAND_WORDS.items():
        if _close(norm, words):
            return command, None
    return None


def is_follow_up(text: str) -> bool:
    """A short message saying that a problem is still there ("det virker stadig ikke", "still not working")."""
    norm = tidy(text)
    return 0 < len(norm) <= _MAX_QUESTION and _FOLLOW_UP.search(norm.replace("’", "'")) is not None


def case_number_in(text: str) -> int | None:
    """The first case number mentioned anywhere in a message ("sag 10001 virker stadig ikke"), or None."""
    found = _CASE_NUMBER.search(text)
    return int(found.group(1)) if found else None


def case_number(text: str) -> int | None:
    """The case number a message consists of ("10003", "#10003"), or None."""
    norm = tidy(text).lstrip("#").rstrip("?")
    return int(norm) if norm.isdigit() and _CASE_NUMBER.fullmatch(norm) else None


def phone_number(text: str) -> str | None:
    """The (first) phone number in a message ("+45 12 34 56 78", "mit nummer er 12345678"), spaces tidied;
    None when there is none (8 to 15 digits)."""
    found = [" ".join(m.group().split()) for m in _PHONE.finditer(text)]
    numbers = [f for f in found if MIN_PHONE_DIGITS <= sum(c.isdigit() for c in f) <= MAX_PHONE_DIGITS]
    return numbers[0] if numbers else None


def is_urgent(text: str) -> bool:
    """A short message that only says the problem is urgent ("det er akut!!", "it's urgent")."""
    norm = tidy(text).replace("'", "").replace("’", "")
    return bool(norm) and len(norm) <= 30 and _close(norm, URGENT_WORDS)


# Short words that only one of the two languages uses: a first message full of one set and none of the other
# is clearly in that language, whatever the platform says (a Dane on an English Teams, an expat on a Danish one).
# Words of one language only: "for", "i", "de" and "hej" are Danish too ("virker ikke for nogen").
_ENGLISH_WORDS = """the is isnt are arent my our we im it its not cant cannot doesnt dont wont can does do of on in
with have has from this that there working work works anyone everyone nobody please help"""
_DANISH_WORDS = """jeg vi ikke ik er det den min mit mine vores kan har og på til af med der som hos ingen nogen alle
virker virke nede hjælp hjaelp mig os skal vil kun"""
_LANGUAGE_WORDS: Mapping[str, frozenset[str]] = {
    "en": frozenset(_ENGLISH_WORDS.split()),
    "da": frozenset(_DANISH_WORDS.split()),
}
MIN_LANGUAGE_WORDS = 2
DOMINANCE = 3  # a text is in one language when it has this many times the other's words (a loan word is no switch)


def typed_language(text: str) -> str | None:
    """ "en" or "da" when the text is clearly in that language (two of its words and `DOMINANCE` times as
    many as the other's), else None."""
    words = re.findall(r"[a-zæøå]+", tidy(text).replace("'", "").replace("’", ""))
    hits = {language: sum(w in vocabulary for w in words) for language, vocabulary in _LANGUAGE_WORDS.items()}
    clear = [
        lang
        for lang, n in hits.items()
        if n >= MIN_LANGUAGE_WORDS and all(m * DOMINANCE <= n for o, m in hits.items() if o != lang)
    ]
    return clear[0] if clear else None


def is_greeting(text: str) -> bool:
    """A message that only says hello: the bot asks what is wrong instead of triaging it."""
    norm = tidy(text)
    return bool(norm) and len(norm) <= 12 and _close(norm, GREETINGS)


def pick(text: str, options: Mapping[str, Iterable[str]], *, exact: Iterable[str] = ()) -> str | None:
    """The option whose words the typed text matches best (labels, synonyms), or None when unsure.

    Options in `exact` (those that commit the employee to a cost) match only their own words, never a
    near miss: "ja tilkald ikke vagten" is close to "Ja, tilkald vagten" but is no yes.
    """
    norm = normalize(text)
    if not norm or len(norm) > 60:
        return None
    strict = set(exact)
    best: tuple[float, str] | None = None
    for option, words in options.items():
        candidates = [normalize(w) for w in words]
        if norm in candidates:
            return option
        if option in strict:
            continue
        match = process.extractOne(norm, candidates, scorer=fuzz.ratio, score_cutoff=_CUTOFF)
        if match and (best is None or match[1] > best[0]):
            best = (match[1], option)
    return best[1] if best else None


# A typed yes or no with a few extra words: "ja ring til vagten", "yes call them", "nej tak". The whole
# message must be the answer word plus words that only repeat it (`also`), so "ja men kun hvis det er
# gratis" or "nej ring til vagten" is neither, and the question is asked again.
AFFIRMATIVE = frozenset({"ja", "jo", "jep", "jeps", "yes", "yep", "yeah", "ok", "okay"})
NEGATIVE = frozenset({"nej", "no", "nope", "nah"})
_POLITE = frozenset({"tak", "gerne", "bare", "please", "thanks", "thank", "you", "så", "do", "it", "det", "er"})


def yes_or_no(text: str, *, also_yes: Iterable[str] = (), also_no: Iterable[str] = ()) -> bool | None:
    """True for a clear yes, False for a clear no, None for anything else."""
    words = re.findall(r"[\w'-]+", tidy(text))
    if len(words) < 2 or len(words) > 8:
        return None  # a bare "ja"/"nej" is matched as an option's own word
    first, rest = words[0], set(words[1:])
    if first in AFFIRMATIVE and rest <= _POLITE | set(also_yes):
        return True
    if first in NEGATIVE and rest <= _POLITE | set(also_no):
        return False
    return None
