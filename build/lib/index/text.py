"""Text normalisation shared by parsing, keyword search, alias mining and answering.

Everything that compares a question with a paragraph goes through `terms()`, so the keyword index, the acronym
expander and the answerer agree on what a "word" is.
"""

from __future__ import annotations

import re
from functools import lru_cache

from nltk.stem.snowball import SnowballStemmer

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$|>~])")
_WORD = re.compile(r"\d+(?:[.,/]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
_SPACES = re.compile(r"\s+")

_stemmer = SnowballStemmer("english")

# Function words and question scaffolding: they say how something is asked, not what about.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here hers
    him his how i if in into is it its itself just me more most my no nor not now of off on once only or other our
    out over own same she should so some such than that the their theirs them then there these they this those
    through to too under until up very was we were what when where which while who whom whose why will with would
    you your yours s t ve ll d m re many much please tell say said give list name us kind sort one two three four
    five six seven eight nine ten""".split()
)

# Verbs that carry no topic of their own ("keep … running", "work with"): a paragraph need not repeat them.
LIGHT_VERBS = frozenset(
    """keep keeps kept running run runs work worked works get got make made go goes went come came put do happen
    happened involve involved""".split()
)

# Multi-word expressions folded into one term before stemming, so "took part" meets "participants".
_PHRASES = [
    (re.compile(r"\b(?:take|takes|took|taking|taken) part\b", re.I), "participate"),
    (re.compile(r"\b(?:bring|brings|brought|bringing) together\b", re.I), "participate"),
    (re.compile(r"\bset up\b", re.I), "establish"),
    (re.compile(r"\b(?:take|takes|took|taking|taken) place\b", re.I), ""),
]

# Words that mean the same thing in bulletins; each stem maps to the name of its group.
_SYNONYMS = {
    "fund": ("fund", "funder", "contribut", "donor", "donat", "pledg", "sponsor"),
    "particip": ("particip", "attend", "attende", "join"),
    "organ": ("organ", "organis", "host", "conven", "held", "hold"),
    "establish": ("establish", "found", "creat"),
    "countri": ("countri", "nation"),
    "peopl": ("peopl", "individu", "person"),
    "partner": ("partner", "partnership", "collabor", "cooper"),
}
_GROUP = {stem: group for group, stems in _SYNONYMS.items() for stem in stems}

_MONTHS = {
    "jan": "january", "feb": "february", "mar": "march", "apr": "april", "jun": "june", "jul": "july",
    "aug": "august", "sep": "september", "sept": "september", "oct": "october", "nov": "november",
    "dec": "december",
}
MONTH_NAMES = (
    "january february march april may june july august september october november december".split()
)


def clean_markdown(text: str) -> str:
    """Plain text from a Markdown fragment: link text kept, escapes, emphasis and bullets' glyphs dropped."""
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _ESCAPE.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def fold(text: str) -> str:
    """Lower-case with white space folded, for literal comparisons."""
    return _SPACES.sub(" ", text).strip().lower()


def words(text: str) -> list[str]:
    """Word and number tokens in order; hyphenated words come out as their parts."""
    return _WORD.findall(text)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The comparable form of one token: lower-cased, month abbreviations spelled out, numbers without commas."""
    word = word.lower().replace("’", "'")
    if word[0].isdigit():
        return word.replace(",", "")
    word = _MONTHS.get(word, word)
    return _stemmer.stem(word)


def concept(term: str) -> str:
    """The synonym group a stemmed term belongs to (the term itself when it has none)."""
    return _GROUP.get(term, term)


def terms(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Stemmed content terms of `text`, in order: what keyword search and coverage checks compare."""
    return list(_terms(text, keep_stopwords))


@lru_cache(maxsize=32768)
def _terms(text: str, keep_stopwords: bool) -> tuple[str, ...]:
    """Cached: the answerer analyses the same paragraphs and sentences question after question."""
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    out = []
    for token in words(text):
        low = token.lower()
        if not keep_stopwords and (low in STOPWORDS or low in LIGHT_VERBS):
            continue
        out.append(stem(token))
    return tuple(out)


_CONNECTOR = {"of", "and", "for", "the", "on", "&", "de", "in"}
_NOT_NAMES = set(MONTH_NAMES) | {m[:3] for m in MONTH_NAMES} | {"who", "what", "when", "where", "which", "how", "why"}


def entity_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the names in a text: runs of capitalised words, acronyms and their connectors
    ("the Global Counter-Terrorism Coordination Compact"), months and the opening wh-word excluded."""
    spans, run = [], None
    tokens = list(re.finditer(r"[\w&'’-]+", text))
    for i, token in enumerate(tokens):
        word = token.group(0)
        capitalised = word[0].isupper() and i > 0 and word.lower() not in _NOT_NAMES
        if capitalised:
            run = (run[0] if run else token.start(), token.end())
        elif run and word.lower() in _CONNECTOR and i + 1 < len(tokens) and tokens[i + 1].group(0)[0].isupper():
            continue
        elif run:
            spans.append(run)
            run = None
    if run:
        spans.append(run)
    return spans
