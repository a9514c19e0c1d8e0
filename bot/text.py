"""The one text normaliser: the form in which triage, its learned model and the dialog's answer matching
compare what people type (`tidy` is its first step, for matching that still needs the punctuation).

Employees type on phones in a hurry, in Danish or English or both: "PRINTEREN VIRKERRR IKK!!!",
"pc'en won't start", "Ja tak." Whatever reads such text first turns it into lower-case ASCII words with
single spaces, so "æ" and "ae", "won't" and "wont", "JA!" and "ja" are the same.
"""

from __future__ import annotations

import re
import unicodedata

_DANISH = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_APOSTROPHES = re.compile(r"['’`´‘]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_STRETCHED = re.compile(r"(.)\1{2,}")


_SPACES = re.compile(r"\s+")
_SURROUNDING = " .,;:!¡'\"()[]-–—_*"


def tidy(text: str) -> str:
    """Lower case, single spaces, no surrounding punctuation; letters and inner punctuation as typed
    ("status #10042?", "hvad er status på min sag")."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", text).strip(_SURROUNDING)


def normalize(text: str) -> str:
    """Lower-case ASCII words separated by single spaces; letters stretched past two are cut to two."""
    text = _APOSTROPHES.sub("", tidy(text))
    text = _STRETCHED.sub(r"\1\1", text).translate(_DANISH)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = _NOT_WORD.sub(" ", text)
    return _STRETCHED.sub(r"\1\1", text).strip()
