"""Acronyms and their long forms, mined from the corpus itself ("Countering Terrorist Travel Programme
(CT Travel)"), so a question may use either and still meet a paragraph that uses the other.

Long forms are found with the Schwartz–Hearst algorithm (Schwartz & Hearst, PSB 2003): the characters of the
short form must appear in order in the words before the parenthesis, the first one opening a word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.text import STOPWORDS, fold, terms

_PARENTHESIS = re.compile(r"\(([^()]{2,24})\)")


def _valid_short(short: str) -> bool:
    words = short.split()
    return (
        1 <= len(words) <= 3
        and sum(c.isupper() for c in short) >= 2
        and short[0].isalnum()
        and not any(c.isdigit() for c in short)
        and all(w[0].isupper() for w in words)
    )


def _long_form(short: str, before: str) -> str | None:
    s, i = len(short) - 1, len(before) - 1
    while s >= 0:
        c = short[s].lower()
        if not c.isalnum():
            s -= 1
            continue
        while i >= 0 and (before[i].lower() != c or (s == 0 and i > 0 and before[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        i -= 1
        s -= 1
    start = before.rfind(" ", 0, i + 1) + 1
    long = before[start:].strip(" ,;:-")
    if not long or fold(long) == fold(short) or long.split()[0].lower() in STOPWORDS:
        return None
    return long


def mine(texts) -> dict[str, str]:
    """short form -> long form, for every "Long Form (SF)" pair in `texts` (the first long form found wins)."""
    found: dict[str, str] = {}
    for text in texts:
        for match in _PARENTHESIS.finditer(text):
            short = match.group(1).strip()
            if short in found or not _valid_short(short):
                continue
            letters = sum(c.isalnum() for c in short)
            window = text[: match.start()].split()[-min(letters + 5, letters * 2) :]
            long = _long_form(short, " ".join(window))
            if long and len(long.split()) <= min(letters + 5, letters * 2):
                found[short] = long
    return found


@dataclass(frozen=True)
class Alias:
    short: str
    long: str
    short_terms: tuple[str, ...]
    long_terms: tuple[str, ...]

    def matches(self, present: set[str]) -> bool:
        """Whether a text whose terms are `present` mentions this entity under either name."""
        return set(self.short_terms) <= present or set(self.long_terms) <= present


class Aliases:
    def __init__(self, pairs: dict[str, str]):
        self.entries = [
            Alias(short, long, tuple(terms(short, keep_stopwords=True)), tuple(terms(long)))
            for short, long in pairs.items()
            if terms(long)
        ]

    def found_in(self, question: str) -> list[Alias]:
        """The entities `question` names, by short or long form."""
        present = set(terms(question))
        short_hits = [a for a in self.entries if _mentions(question, a.short)]
        long_hits = [a for a in self.entries if a not in short_hits and set(a.long_terms) <= present]
        return short_hits + long_hits

    def expand(self, question: str) -> str:
        """The question with the other name of every entity it names added, for search."""
        extra = [alias.long if _mentions(question, alias.short) else alias.short for alias in self.found_in(question)]
        return f"{question} ({'; '.join(extra)})" if extra else question


def _mentions(text: str, short: str) -> bool:
    """Whether `text` uses the short form; in any case ("ct travel"), unless that would make a common word an
    acronym ("who" is not WHO)."""
    flags = re.I if short.lower() not in STOPWORDS else 0
    return re.search(rf"(?<!\w){re.escape(short)}(?!\w)", text, flags) is not None
