"""Text normalisation shared by parsing, keyword search, alias mining and answering.

Everything that compares a question with a paragraph goes through `terms()`, so the keyword index, the acronym
expander and the answerer agree on what a "word" is. There are no synonym or phrase tables: words users choose
that the bulletins do not use are met by the embedding similarity and the learned scorer (answer/), not by lists
written for particular questions, which never generalised beyond them.

Stems are the English Snowball (Porter2) algorithm as `snowballstemmer` 2.2 runs it: the same stems as NLTK's
SnowballStemmer, which bqa used before (checked on the 10,985 distinct words of the corpus, the question sets and
the SQuAD data), without importing NLTK (a fifth of a cold start). Snowball 3 changed the English stemmer
("international" no longer stems to "intern"), so the version is pinned: the answerer's learned weights
(answer/weights/) were fitted on these stems.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from functools import lru_cache

import snowballstemmer

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$|>~])")
_WORD = re.compile(r"\d+(?:[.,/]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
_SPACES = re.compile(r"\s+")

_stemmer = snowballstemmer.stemmer("english")
_stemmer_lock = threading.Lock()  # a snowballstemmer object keeps the word being stemmed in itself

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

# English number words, read as the figures they name ("four pillars" meets "4 pillars"); "one" stays a function
# word, being far more often a pronoun ("one of the ...") than a count.
NUMBER_WORDS = {
    word: value for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    ) if value > 1
} | {word: 10 * (i + 3) for i, word in enumerate("thirty forty fifty sixty seventy eighty ninety".split())} | {
    "hundred": 100, "thousand": 1000, "dozen": 12,
}

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
    with _stemmer_lock:
        return _stemmer.stemWord(word)


def terms(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Stemmed content terms of `text`, in order: what keyword search and coverage checks compare."""
    return list(_terms(text, keep_stopwords))


@lru_cache(maxsize=32768)
def _terms(text: str, keep_stopwords: bool) -> tuple[str, ...]:
    """Cached: the answerer analyses the same paragraphs and sentences question after question."""
    out = []
    after_name = False  # the previous token is a capitalised word that does not open the text
    for position, token in enumerate(words(text)):
        number = roman_value(token, after_name)
        after_name = position > 0 and token[:1].isupper() and token.isalpha()
        if number is None:
            number = NUMBER_WORDS.get(token.lower())
        if number is not None:
            out.append(str(number))
            continue
        if not keep_stopwords and token.lower() in STOPWORDS:
            continue
        out.append(stem(token))
    return tuple(out)


_ROMAN = re.compile(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")
_ROMAN_LOWER = re.compile(r"(?:x{0,3})(?:ix|iv|v?i{0,3})")  # lower case: only I, V, X, so "mix" stays a word
_ROMAN_VALUES = {"M": 1000, "D": 500, "C": 100, "L": 50, "X": 10, "V": 5, "I": 1}


def roman_value(token: str, after_name: bool = False) -> int | None:
    """The number a Roman numeral stands for ("IV" -> 4, "pillar iv" -> 4), so "Pillar IV" meets "pillar 4".

    Upper case: any well-formed numeral of two letters or more, and a lone I, V or X after a capitalised word
    ("Pillar I", "Pillar V"; not the pronoun "I", nor "Vitamin C"). Lower case: numerals of i, v and x only, two letters or
    more, so ordinary words ("mix", "did", "civil") are never read as numbers."""
    if not token or not token.isalpha():
        return None
    if token.isupper():
        if not _ROMAN.fullmatch(token) or (len(token) == 1 and not (token in "IVX" and after_name)):
            return None
    elif not (token.islower() and len(token) >= 2 and _ROMAN_LOWER.fullmatch(token)):
        return None
    total = 0
    values = [_ROMAN_VALUES[c] for c in token.upper()]
    for value, following in zip(values, values[1:] + [0]):
        total += -value if value < following else value
    return total


CONNECTORS = frozenset({"of", "and", "for", "the", "on", "&", "de", "in"})  # words between a name's words
_NOT_NAMES = STOPWORDS | set(MONTH_NAMES) | {m[:3] for m in MONTH_NAMES}  # capitalised, yet no name ("In", "March")


def name_spans(text: str, proper: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """Character spans of the names in a text: runs of words capitalised past the first word, acronyms, or words the
    bulletins write as names (`proper`, `Corpus.proper`: "gender and identities platform" typed in lower case), with
    the connectors between them ("the Office of the High Commissioner for Human Rights"). Punctuation ends a name
    ("Canada, India" is two); months, stopwords and the opening word's capital are not names."""
    spans, run = [], None
    tokens = list(re.finditer(r"[\w&'’-]+", text))
    for i, token in enumerate(tokens):
        word = token.group(0)
        low = word.lower()
        if run and text[tokens[i - 1].end() : token.start()].strip():
            spans.append(run)
            run = None
        named = low not in _NOT_NAMES and (
            (word[0].isupper() and i > 0) or low in proper or (word.isupper() and len(word) > 1))
        if named:
            run = (run[0] if run else token.start(), token.end())
        elif run and low in CONNECTORS and _named_next(tokens[i + 1 :], proper):
            continue
        elif run:
            spans.append(run)
            run = None
    if run:
        spans.append(run)
    return spans


def _named_next(tokens, proper: frozenset[str]) -> bool:
    """Whether the first word of `tokens` past any connectors reads as a name: "of the" may join a name's words."""
    following = next((t.group(0) for t in tokens if t.group(0).lower() not in CONNECTORS), "")
    return following[:1].isupper() or following.lower() in proper


PROPER_SHARE = 0.6  # share of a word's occurrences, past a sentence's first word, that must be capitalised
PROPER_MIN = 2  # capitalised occurrences needed: one "Money" (in "Anti-Money Laundering Group") names nothing


def proper_words(texts) -> Counter:
    """Lower-cased words the texts write as names, with how many times they are capitalised: words capitalised in
    most (`PROPER_SHARE`) of their occurrences that do not open a sentence ("canada"; "gender" where the corpus only
    says "Gender and Identities Platform"), so a question typed in lower case can still be read for the names it
    uses. Learned from the corpus, not listed; `PROPER_MIN` of those times make a word a name to follow-ups."""
    capitalised: Counter = Counter()
    seen: Counter = Counter()
    for text in texts:
        tokens = list(re.finditer(r"[^\W\d_]+", text))
        for i, token in enumerate(tokens):
            word = token.group(0)
            if i == 0 or text[: token.start()].rstrip().endswith((".", "!", "?", ":", "•", "▶")):
                continue
            low = word.lower()
            if low in STOPWORDS:
                continue
            seen[low] += 1
            capitalised[low] += word[0].isupper()
    return Counter({w: capitalised[w] for w, n in seen.items()
                    if capitalised[w] and capitalised[w] / n >= PROPER_SHARE})


def relation(text: str, proper: frozenset[str] = frozenset()) -> str:
    """`text` without its names and figures (`name_spans`): what a question asks of its topic ("Who funded CT
    Travel?" -> "Who funded ?"). A question's own vector is mostly its topic, so the sentence that spells the topic
    out outranks the one that answers; this part, embedded apart, is matched on what is asked."""
    kept, end = [], 0
    for start, stop in name_spans(text, proper):
        kept.append(text[end:start])
        end = stop
    kept.append(text[end:])
    out = re.sub(r"\d[\d,.]*", " ", "".join(kept))
    return " ".join(out.split())
