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

import math
import re

from index.retrieve import Corpus
from index.text import name_spans, terms, words
from answer import facts
from answer.features import idf
from answer.sentences import clauses, split
from answer.types import Answer, Question
from answer.verify import MARKER, months, numbers

RESTATED_SHARE = 0.5
_ACRONYM = re.compile(r"[A-Z][A-Z0-9&]*[A-Z][A-Z0-9&]*s?")


def omissions(question: Question, reference: Answer, answer: str, corpus: Corpus) -> list[str]:
    """The parts of the extractive `reference` answer to `question` (its standalone reading: a follow-up with the
    earlier question it leans on) that `answer` leaves out; none when `reference` abstains."""
    if not reference.answerable:
        return []
    expand = corpus.aliases.expand
    said, asked = expand(MARKER.sub("", answer)), expand(question.standalone)
    kind = question.kind
    return [
        part
        for citation in reference.citations
        for part in _parts(citation.quote)
        if not _restated(kind, question, part, said, asked, corpus)
    ]


def _parts(quote: str) -> list[str]:
    """The clauses (or sentences) of a quote; a list's lead-in ending in ":" aside, unless it is all there is."""
    parts = []
    for sentence in split(quote):
        parts += [clause.text for clause in clauses(quote, sentence)] or [sentence.text]
    stated = [part for part in parts if not part.rstrip().endswith(":")]
    return stated or parts


def _restated(kind: str, question: Question, part: str, said: str, asked: str, corpus: Corpus) -> bool:
    if kind in ("how_many", "how_much"):  # the count, not the date it happened ("(3 March)")
        return numbers(facts.DATE.sub("", part)) - numbers(asked) <= numbers(said)
    if kind == "when":
        dates = " ".join(match.group(0) for match in facts.DATE.finditer(part))
        new = (numbers(dates) | months(dates)) - numbers(asked) - months(asked)
        return new <= numbers(said) | months(said)
    if kind in ("who", "which", "where"):
        return _names_restated(question, part, said, asked, corpus)
    return _share_restated(part, said, asked, corpus) >= RESTATED_SHARE


def _names_restated(question: Question, part: str, said: str, asked: str, corpus: Corpus) -> bool:
    if facts.asks_for_countries(question.asked):
        return facts.countries_in(part) - facts.countries_in(asked) <= facts.countries_in(said)
    said_words, asked_words = _lower_words(said), _lower_words(asked)
    acronyms = {w.lower() for w in words(part) if _ACRONYM.fullmatch(w)}
    countries = facts.countries_in
    if (countries(part) | acronyms) - asked_words - countries(asked) - said_words - countries(said):
        return False
    other = [set(terms(part[start:end])) for start, end in name_spans(part)]
    other = [names for names in other if names and not names & set(terms(asked))]
    return not other or any(names & set(terms(said)) for names in other)


def _share_restated(part: str, said: str, asked: str, corpus: Corpus) -> float:
    """The rarity-weighted share of the part's new terms that `said` contains."""
    new = set(terms(part)) - set(terms(asked))
    if not new:
        return 1.0
    weight = {t: idf(corpus, t) for t in new}
    present = set(terms(said))
    return sum(w for t, w in weight.items() if t in present) / (sum(weight.values()) or math.inf)


def _lower_words(text: str) -> set[str]:
    return {w.lower() for w in words(text)}
