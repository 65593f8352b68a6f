"""What kind of fact a question asks for, read from its form, and what facts a text states.

Both sides are general: a question's kind comes from its interrogative (who / when / where / which / what / why /
how many / how much / how …), never from its topic words; a text's facts are its numbers, currency amounts, dates,
capitalised names and countries (pycountry). The scorer learns how much each pairing matters ("how much" against a
sentence holding an amount); the completeness check asks that an LLM answer restates the facts of the kind asked.
An amount is a figure with a currency or a scale ("$500,000", "USD 11.5 million"); a year alone is a date, never
an amount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pycountry

from index.text import MONTH_NAMES, NUMBER_WORDS, STOPWORDS, roman_value, stem, words

KINDS = ("who", "when", "where", "which", "what", "why", "how_many", "how_much", "how", "other")

_MONTH = "|".join(sorted({m for m in MONTH_NAMES} | {m[:3] for m in MONTH_NAMES} | {"sept"}, key=len, reverse=True))
DATE = re.compile(
    rf"\b(?:\d{{1,2}}(?:\s*[-–&,]\s*\d{{1,2}})*\s+)?(?:{_MONTH})\b\.?(?:\s+\d{{4}})?|\b(?:1[0-9]|20)\d{{2}}s?\b",
    re.I,
)
YEAR = re.compile(r"(?<![$€£\d.,])\b(?:1[0-9]|20)\d{2}\b(?![.,]?\d)")
AMOUNT = re.compile(
    r"(?:US|USD|EUR|GBP|CHF)?\s?[$€£]\s?\d[\d,.]*(?:\s?(?:million|billion|thousand|m|bn)\b)?"
    r"|\b(?:USD|EUR|GBP|CHF|US\$)\s?\d[\d,.]*(?:\s?(?:million|billion|thousand)\b)?"
    r"|\b\d[\d,.]*\s?(?:million|billion)\b(?:\s?(?:dollars|euros|pounds|francs))?"
    r"|\b\d[\d,.]*\s?(?:dollars|euros|pounds|francs)\b",
    re.I,
)
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
PERCENT = re.compile(r"\d\s?(?:%|per ?cent\b)", re.I)
_CAPITALISED = re.compile(r"\b[A-Z][\w&'’.-]*")
_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|without|cannot)\b|n['’]t\b", re.I)
# Words that order events or rank things: a question asking what came before, first or most is a near miss on a
# sentence saying what came after, last or least.
_RELATION = re.compile(
    r"\b(?:before|after|since|until|prior|following|former|latter|earlier|later|first|last|most|least|only)\b", re.I
)
_TEMPORAL_NOUN = r"(?:(?:year|date|day|month|decade|time|period|age|era|week)s?|centur(?:y|ies))"
_PLACE_NOUN = r"(?:(?:place|region|state|location|nation|venue|town|province)s?|countr(?:y|ies)|cit(?:y|ies))"
# A figure that measures a length of time ("3-day", "three-day", "two weeks") or ranks ("2nd", "third") counts
# nothing: "How many people attended the 3-day consultation?" is not answered by the 3.
_NUMBER_WORD = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
DURATION = re.compile(
    rf"\b(?:\d+(?:[.,]\d+)?|{_NUMBER_WORD}|one|a)[\s-](?:(?:hour|day|week|month|year)s?|decades?)\b(?:[\s-]long\b)?", re.I
)
_ORDINAL_WORDS = {
    word: i + 1 for i, word in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
        "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth".split()
    )
}
ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b|\b(" + "|".join(_ORDINAL_WORDS) + r")\b", re.I)
# How English states a purpose or a cause: what a why-question asks for.
REASON = re.compile(
    r"(?:^|[,;:]\s*)to\s+[a-z]+|\bin order (?:to|that)\b|\bso (?:as to|that)\b|\bbecause\b|\bdue to\b|\bowing to\b"
    r"|\baim(?:ed|s|ing)? (?:at|to)\b|\bwith (?:the|a) view to\b|\bin support of\b|\b(?:purpose|objective|goal|aim)s? "
    r"(?:of|was|is|were|are)\b|\bas a result of\b|\bin response to\b",
    re.I,
)


def asks_for_countries(question: str) -> bool:
    """Whether the question asks which countries or states ("Which countries' officials …", "what nations")."""
    return bool(re.search(r"\b(?:which|what)\s+(?:countr|states?\b|nations?\b|governments?\b)", question, re.I))


def question_kind(question: str) -> str:
    """The kind of fact `question` asks for, from its interrogative form; "other" for yes/no and commands."""
    q = " " + question.lower().replace("’", "'") + " "
    found = []
    patterns = [
        ("how_much", r"\bhow much\b"),
        ("how_many", r"\bhow (?:many|long|old|far|large|big|tall|high|often|fast)\b|\bwhat (?:number|percentage|"
                     r"share|proportion|amount) of\b"),
        ("when", rf"\bwhen\b|\b(?:what|which) {_TEMPORAL_NOUN}\b"),
        ("where", rf"\bwhere\b|\b(?:what|which) {_PLACE_NOUN}\b"),
        ("who", r"\bwho(?:m|se)?\b"),
        ("why", r"\bwhy\b"),
        ("which", r"\bwhich\b|\bwhat (?!is\b|are\b|was\b|were\b|do\b|does\b|did\b|has\b|have\b|had\b|about\b)\w+"),
        ("how", r"\bhow\b"),
        ("what", r"\bwhat\b"),
    ]
    for kind, pattern in patterns:
        m = re.search(pattern, q)
        if m:
            found.append((m.start(), patterns.index((kind, pattern)), kind))
    if not found:
        return "other"
    return min(found)[2]


@lru_cache(maxsize=1)
def _country_pattern() -> re.Pattern:
    names = set()
    for country in pycountry.countries:
        for attribute in ("name", "common_name", "official_name"):
            value = getattr(country, attribute, None)
            if value:
                names.add(re.sub(r"\s*[,(].*$", "", value))
    return re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")


def countries_in(text: str) -> set[str]:
    """The country names `text` uses (as pycountry writes them, capitalised), lower-cased; a country's name inside a
    longer name ("Lake Chad Basin Commission") is not the country, while "Kingdom of Saudi Arabia" is."""
    found = set()
    for m in _country_pattern().finditer(text):
        before = re.search(r"([A-Za-z][\w&'’-]*)\s+$", text[: m.start()])
        after = re.match(r"\s+([A-Za-z][\w&'’-]*)", text[m.end():])
        if (before and before.group(1)[0].isupper()) or (after and after.group(1)[0].isupper()):
            continue
        found.add(m.group(0).lower())
    return found


def country_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the country names in `text`, matched in any case ("canada" as typed)."""
    pattern = _country_pattern()
    return [m.span() for m in re.finditer(pattern.pattern, text, re.I)]


def numbers(text: str) -> set[str]:
    """The figures of `text`, commas dropped ("1,061" -> "1061"), number words as figures ("four" -> "4")."""
    found = {m.group(0).replace(",", "").rstrip(".") for m in NUMBER.finditer(text)}
    return found | {str(NUMBER_WORDS[w.lower()]) for w in words(text) if w.lower() in NUMBER_WORDS}


def names(text: str) -> set[str]:
    """Capitalised words that do not open a sentence, lower-cased (months and function words aside)."""
    found = set()
    for m in _CAPITALISED.finditer(text):
        before = text[: m.start()].rstrip()
        if not before or before.endswith((".", "!", "?", ":", "“", '"', "(")):
            continue
        word = m.group(0).rstrip(".'’").lower()
        if word and word not in STOPWORDS and not re.fullmatch(_MONTH, word):
            found.add(word)
    return found


def stems(text: str) -> set[str]:
    """Stems of every word of `text`, function words included: what a question's names are looked up in."""
    return {stem(w) for w in words(text)}


# The facts that answer each kind of question, as `holds` names them: the clause `decide.narrow` may narrow an
# answer to. A why-question's answer is never narrowed, so "why" (answered by a "reason") has no entry.
ANSWER_FACTS = {
    "who": ("name", "country"), "where": ("name", "country"), "which": ("name", "country"),
    "when": ("date", "year"), "how_many": ("number",), "how_much": ("amount", "number"),
}


_PLURAL_ASK = re.compile(r"\b(?:which|what)\s+(\w+)(?:\s+(\w+))?", re.I)


def asks_plural(question: str) -> bool:
    """Whether the question asks for several things ("which countries gave", "what UN bodies"): a plural head
    noun, one of the two words after the interrogative that is not a function word ("what does" is not one)."""
    m = _PLURAL_ASK.search(question)
    heads = [w.lower() for w in (m.groups() if m else ()) if w and w.lower() not in STOPWORDS]
    return any(w.endswith("s") and not w.endswith("ss") for w in heads)


def ordinals(text: str) -> frozenset[int]:
    """The ranks `text` states: "2nd" and "second" are both 2."""
    return frozenset(
        int(m.group(1)) if m.group(1) else _ORDINAL_WORDS[m.group(2).lower()] for m in ORDINAL.finditer(text)
    )


# A numbered item: "Pillar IV", "pillar 4", "objective (v)", "(iii)". The head is the word before the number
# (stemmed) or "(" for a parenthesised marker; a lone lower-case "v" counts only here, where a head or brackets
# say it is a numeral.
_ITEM = re.compile(r"(?:\b([A-Za-z]{3,})\s+|(\())([ivxIVX]{1,5}|\d{1,2})\b\)?")


def items(text: str) -> set[tuple[str, int]]:
    """(head, number) of the numbered items `text` names, Roman numerals as their values: a question's "pillar v"
    and a list's "Pillar IV" share the head "pillar"."""
    found = set()
    for m in _ITEM.finditer(text):
        head, bracket, token = m.groups()
        if head and head.lower() in STOPWORDS:
            continue
        # upper-cased and read as after a name: the head or the brackets make even a lone "v" a numeral
        value = int(token) if token.isdigit() else roman_value(token.upper(), after_name=True)
        if value:
            found.add(("(" if bracket else stem(head), value))
    return found


def negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


def relations(text: str) -> set[str]:
    """The ordering and ranking words of `text` ("before", "first", "largest"), lower-cased."""
    return {m.group(0).lower() for m in _RELATION.finditer(text)}


@dataclass(frozen=True)
class Stated:
    """The facts one text states, computed once per text (the same sentences come back question after question)."""

    numbers: frozenset[str]  # every figure
    counts: frozenset[str]  # figures that are not part of a date (a day, a year)
    amounts: int
    dates: int
    years: frozenset[str]
    percents: int
    names: frozenset[str]
    countries: frozenset[str]
    relations: frozenset[str]
    ordinals: frozenset[int]
    reasons: int
    negated: bool
    words: frozenset[str]  # lower-cased
    stems: frozenset[str]


@lru_cache(maxsize=65536)
def stated(text: str) -> Stated:
    return Stated(
        numbers=frozenset(numbers(text)),
        counts=frozenset(numbers(ORDINAL.sub(" ", DURATION.sub(" ", DATE.sub(" ", text))))),
        amounts=len(AMOUNT.findall(text)),
        dates=len(DATE.findall(text)),
        years=frozenset(YEAR.findall(text)),
        percents=len(PERCENT.findall(text)),
        names=frozenset(names(text)),
        countries=frozenset(countries_in(text)),
        relations=frozenset(relations(text)),
        ordinals=ordinals(text),
        reasons=len(REASON.findall(text)),
        negated=negated(text),
        words=frozenset(w.lower() for w in words(text)),
        stems=frozenset(stems(text)),
    )


def holds(text: str, question: str) -> dict[str, float]:
    """What `text` states that the question does not already say: new numbers (not a date's), amounts, dates,
    years, percentages, names and countries (counts)."""
    facts, asked = stated(text), stated(question)
    new_names = {n for n in facts.names if n not in asked.words and stem(n) not in asked.stems}
    return {
        "number": float(len(facts.counts - asked.numbers)),
        "amount": float(facts.amounts),
        "date": float(facts.dates),
        "year": float(len(facts.years - asked.numbers)),
        "percent": float(facts.percents),
        "name": float(len(new_names)),
        "country": float(len(facts.countries - asked.countries - asked.words)),
        "reason": float(facts.reasons),
    }
