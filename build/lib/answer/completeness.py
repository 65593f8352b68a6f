"""The completeness check: a model's answer replaces the extractive one only if it says at least as much.

The citation check (`answer.verify`) keeps every sentence a model wrote true to its paragraph, but a true answer
can still be a worse one: three of the Strategy's four pillars, or "Canada funded $1,139,987 in March [1]" to
"What did Canada fund in March?" when the extractive answer names the Gender and Identities Platform. So each part
of the extractive answer (each clause or sentence it quotes; each item of a list) must be restated by the model's
answer, judged by the kind of fact the question asks for:

- how many / how much: the part's numbers; when: its dates (day, month, year);
- which countries / states: the countries it names; who / which organisation: the countries and acronyms it
  names, and at least one of its other names (the answer to "Who funded CT Travel?" is India, not the name of the
  programme India's money went to);
- anything else (what, list items): most of what it says — at least `RESTATED_SHARE` of its terms that the
  question does not already contain, each weighted by how rare it is in the corpus, so "received a generous
  contribution" counts for less than "Gender and Identities Platform".

Only facts the question does not already state count, and an acronym and its long form count as the same name.
"""

from __future__ import annotations

import re

from index.retrieve import Corpus
from index.text import entity_spans, terms, words
from answer.extractive import (
    _COUNTRY_HEAD, _DATE, Answer, _clauses, _idf, _Question, _sentences, concepts_in, countries_in,
)
from answer.verify import MARKER, months, numbers

RESTATED_SHARE = 0.5
_ACRONYM = re.compile(r"[A-Z][A-Z0-9&]*[A-Z][A-Z0-9&]*s?")


def omissions(question: _Question, asked: str, reference: Answer, answer: str, corpus: Corpus) -> list[str]:
    """The parts of the extractive `reference` answer to `question` (worded `asked`, with the earlier question a
    follow-up leans on) that `answer` leaves out; none when `reference` abstains."""
    if not reference.answerable:
        return []
    expand = corpus.aliases.expand
    said, asked = expand(MARKER.sub("", answer)), expand(asked)
    return [
        part
        for citation in reference.citations
        for part in _parts(citation.quote)
        if not _restated(question, part, said, asked, corpus)
    ]


def _parts(quote: str) -> list[str]:
    """The clauses (or sentences) of a quote; a list's lead-in ending in ":" aside, unless it is all there is."""
    parts = []
    for sentence in _sentences(quote):
        parts += [clause.text for clause in _clauses(quote, sentence)] or [sentence.text]
    stated = [part for part in parts if not part.rstrip().endswith(":")]
    return stated or parts


def _restated(question: _Question, part: str, said: str, asked: str, corpus: Corpus) -> bool:
    if question.kind in ("number", "amount"):  # the count, not the date it happened ("(3 March)")
        return numbers(_DATE.sub("", part)) - numbers(asked) <= numbers(said)
    if question.kind == "date":
        dates = " ".join(match.group(0) for match in _DATE.finditer(part))
        new = (numbers(dates) | months(dates)) - numbers(asked) - months(asked)
        return new <= numbers(said) | months(said)
    if question.kind == "entity":
        return _names_restated(question, part, said, asked)
    return _share_restated(part, said, asked, corpus) >= RESTATED_SHARE


def _names_restated(question: _Question, part: str, said: str, asked: str) -> bool:
    if question.head and _COUNTRY_HEAD.match(question.head):
        return countries_in(part) - countries_in(asked) <= countries_in(said)
    said_words, asked_words = _lower_words(said), _lower_words(asked)
    acronyms = {w.lower() for w in words(part) if _ACRONYM.fullmatch(w)}
    if (countries_in(part) | acronyms) - asked_words - countries_in(asked) - said_words - countries_in(said):
        return False
    other = [set(terms(part[start:end])) for start, end in entity_spans(part)]
    other = [names for names in other if names and not names & set(terms(asked))]
    return not other or any(names & set(terms(said)) for names in other)


def _share_restated(part: str, said: str, asked: str, corpus: Corpus) -> float:
    """The rarity-weighted share of the part's new terms that `said` contains."""
    new = concepts_in(part) - concepts_in(asked)
    if not new:
        return 1.0
    total = max(len(corpus.order), 1)
    weight = {c: _idf(corpus, [c], total)[0] for c in new}
    present = concepts_in(said)
    return sum(w for c, w in weight.items() if c in present) / sum(weight.values())


def _lower_words(text: str) -> set[str]:
    return {w.lower() for w in words(text)}
