"""Acronyms and their long forms, mined from the corpus itself ("Countering Terrorist Travel Programme
(CT Travel)"), so a question may use either and still meet a paragraph that uses the other.

Long forms are found with the Schwartz–Hearst algorithm (Schwartz & Hearst, PSB 2003): the characters of the
short form must appear in order in the words before the parenthesis, the first one opening a word.

Bulletins also use acronyms they never define ("UNOCT"), while users type the long name ("the Office of
Counter-Terrorism"). A name a text writes whose initials spell such an acronym, or its end after an acronym the
corpus writes on its own ("UN" + "OCT"), counts as that acronym (see `Aliases.spelled`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.text import CONNECTORS, STOPWORDS, fold, name_spans, terms

_PARENTHESIS = re.compile(r"\(([^()]{2,24})\)")
_CAPITALS = re.compile(r"(?<![^\W\d_])[A-Z]{2,}(?![^\W\d_])")  # an all-caps word: "UN", "UNOCT" of "UNOCT/UNCCT"
# initials a name must give: with two, most SQuAD questions it fired on met a name by chance ("Oxford and
# Cambridge" is not OC, "Apple Talk" not AT); with three, each of the few it fires on is right
SPELLED_MIN = 3


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


def acronyms(texts) -> frozenset[str]:
    """The all-caps words `texts` use ("UN", "UNOCT"), defined or not."""
    return frozenset(word for text in texts for word in _CAPITALS.findall(text))


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
    def __init__(self, pairs: dict[str, str], used: frozenset[str] = frozenset()):
        """`pairs` as `mine` finds them; `used`, the corpus's `acronyms`: those `pairs` leave undefined may be
        spelled by a name a text writes, and the others may open one ("UN" of "UNOCT")."""
        self.entries = [
            Alias(short, long, tuple(terms(short, keep_stopwords=True)), tuple(terms(long)))
            for short, long in pairs.items()
            if terms(long)
        ]
        # the initials that spell each undefined acronym, whole or after a prefix the corpus writes on its own
        self._spellings: dict[str, set[str]] = {}
        for acronym in used - set(pairs):
            for start in range(len(acronym) - SPELLED_MIN + 1):
                if start == 0 or acronym[:start] in used:
                    self._spellings.setdefault(acronym[start:], set()).add(acronym)

    def found_in(self, question: str) -> list[Alias]:
        """The entities `question` names, by short or long form."""
        present = set(terms(question))
        short_hits = [a for a in self.entries if _mentions(question, a.short)]
        long_hits = [a for a in self.entries if a not in short_hits and set(a.long_terms) <= present]
        return short_hits + long_hits

    def spelled(self, text: str) -> dict[str, str]:
        """acronym -> name, for the undefined acronyms that names of `text` spell and `text` does not use itself:
        "Office of Counter-Terrorism" spells "UNOCT" when the corpus writes "UNOCT" and "UN", never "(UNOCT)"."""
        found: dict[str, str] = {}
        for start, end in name_spans(text):
            names = [w for w in text[start:end].split() if w.lower() not in CONNECTORS]
            parts = [p for w in names for p in w.split("-") if p]  # "Counter-Terrorism" gives C and T
            if len(names) < 2 or len(parts) < SPELLED_MIN:  # one word is no name spelled out
                continue
            # an acronym in the name gives all its letters: "UN Office of Counter-Terrorism" spells UNOCT too
            initials = "".join(p if p.isupper() and p.isalpha() else p[0].upper() for p in parts)
            for acronym in sorted(self._spellings.get(initials, ())):
                if not _mentions(text, acronym):
                    found.setdefault(acronym, text[start:end])
        return found

    def expand(self, question: str) -> str:
        """The question with the other name of every entity it names added (an undefined acronym it spells out
        among them), for search."""
        extra = [alias.long if _mentions(question, alias.short) else alias.short for alias in self.found_in(question)]
        extra += list(self.spelled(question))
        return f"{question} ({'; '.join(extra)})" if extra else question


def _mentions(text: str, short: str) -> bool:
    """Whether `text` uses the short form; in any case ("ct travel"), unless that would make a common word an
    acronym ("who" is not WHO)."""
    flags = re.I if short.lower() not in STOPWORDS else 0
    return re.search(rf"(?<!\w){re.escape(short)}(?!\w)", text, flags) is not None
