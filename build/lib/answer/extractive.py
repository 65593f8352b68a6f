"""The extractive answerer: quote the sentence (or clause) that answers, cite its paragraph, or abstain.

Nothing is generated. A question is answered only when one retrieved paragraph (with its section and bulletin
titles as context) covers every informative term of the question, by word, synonym or acronym, and holds the
kind of fact asked for (a number for "how many", a date for "when", a name for "who"). Otherwise the bulletins do
not say, and bqa says so, pointing at the closest paragraphs instead of guessing: a paragraph about the Doha Hub
that never mentions funding does not answer "Who funded the Doha Hub?".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable

import pycountry
from llama_index.core.schema import NodeWithScore

from index.retrieve import Corpus
from index.text import MONTH_NAMES, concept, entity_spans, terms, words

GENERIC_SHARE = 0.3  # a term in more than this share of paragraphs narrows nothing down: it is not required
MAX_LIST_ITEMS = 8
RELATED_COSINE = 0.3  # below this a paragraph is not even "related" enough to show beside an abstention

_NUMBER = re.compile(r"\d")
_AMOUNT = re.compile(r"(?:US)?\$\s?\d|\d[\d,.]*\s?(?:million|billion|USD|EUR|euros?|dollars?)\b|USD\s?\d", re.I)
_DATE = re.compile(
    r"\b(?:\d{1,2}\s*(?:[-–&]\s*\d{1,2}\s*)?)?(?:" + "|".join(m[:3] for m in MONTH_NAMES) + r")[a-z]*\.?(?:\s+\d{4})?\b"
    r"|\b(?:19|20)\d{2}\b",
    re.I,
)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][A-Za-z&.-]+")
_COUNTRY_HEAD = re.compile(r"(?:countr|state|nation|government)")


def _country_names() -> re.Pattern:
    names = {"UK", "USA", "US", "United States", "Russia", "Iran", "Syria", "Turkey", "Türkiye", "Korea"}
    for country in pycountry.countries:
        for attribute in ("name", "common_name"):
            value = getattr(country, attribute, None)
            if value:
                names.add(re.sub(r"\s*[,(].*$", "", value))
    return re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")


_COUNTRY = _country_names()
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"“(]?[A-Z0-9])")
_CLAUSE = re.compile(r";\s+|,\s+and\s+(?=from\b|to\b|with\b|in\b|for\b)")


@dataclass
class Citation:
    n: int
    bulletin_id: str
    bulletin_title: str
    period: str | None
    section: str
    paragraph_id: str
    quote: str
    text: str
    score: float
    ordinal: int = 0

    def as_json(self, url: str) -> dict:
        return {
            "n": self.n, "bulletin_id": self.bulletin_id, "bulletin_title": self.bulletin_title,
            "period": self.period, "section": self.section, "paragraph_id": self.paragraph_id,
            "quote": self.quote, "text": self.text, "url": url, "score": round(self.score, 4),
        }


@dataclass
class Answer:
    text: str
    answerable: bool
    citations: list[Citation] = field(default_factory=list)


@dataclass
class _Group:
    """One thing the question asks about: a term with its synonyms, or an acronym with its long form."""

    label: str
    weight: float
    required: bool
    concepts: frozenset[str] = frozenset()
    alias: object = None
    from_context: bool = False  # from the earlier question a follow-up leans on

    def found(self, present: set[str]) -> bool:
        if self.alias is not None:
            return self.alias.matches(present)
        return bool(self.concepts & present)


@dataclass
class _Unit:
    """A quotable span of a paragraph: a sentence, or a clause of one that lists several facts."""

    start: int
    end: int
    text: str


@dataclass
class _Question:
    text: str
    kind: str | None  # number | amount | date | entity | list
    head: str | None  # the noun naming what is asked for: "which countries" -> "countries"
    groups: list[_Group]
    words: set[str]  # the question's own lower-cased words, so a "who" answer names someone new


def _kind(question: str) -> tuple[str | None, str | None]:
    """The kind of fact asked for, and the head noun that names it ("which countries" -> "countries")."""
    q = question.lower().strip()
    if re.search(r"\bhow much\b|\bwhat (?:amount|sum)\b", q):
        return "amount", None
    if re.search(r"\bhow many\b|\bwhat (?:number|percentage|share) of\b", q):
        return "number", None
    if re.search(r"\bwhen\b|\b(?:what|which) (?:date|day|year|month|time)\b|\bsince when\b", q):
        return "date", None
    if m := re.search(r"\b(?:which|what) (\w+?)(?:'s|s'|’s)?\b", q):
        head = m.group(1)
        if re.match(r"(?:countr|state|organi[sz]ation|entit|partner|agenc|donor|member|government|nation|institution|bod)", head):
            return "entity", head
    if m := re.search(r"\b(?:what|which) (?:are|were) the (?:\w+ )??(\w+s)\b", q):
        return "list", m.group(1)
    if re.match(r"(?:who|whom|whose)\b", q) or re.search(r"\b(?:with|by) whom\b|\bwho\b", q):
        return "entity", None
    if re.search(r"\bwhere\b", q):
        return "entity", None
    return None, None


class ExtractiveAnswerer:
    name = "extractive"

    def analyse(self, question: str, corpus: Corpus, context: str | None = None) -> _Question:
        """What the question asks about, term by term, weighted by how rare each term is in the corpus.

        Terms of the `context` (the earlier question a follow-up leans on) help rank, but only the names in it
        must be found again: "Which countries were involved? [How many participants did the Boko Haram
        consultation have?]" needs Boko Haram, not participants."""
        kind, head = _kind(question)
        total = max(len(corpus.order), 1)
        groups: list[_Group] = []
        seen: set[str] = set()

        def add(text: str, required: Callable[[str], bool], from_context: bool) -> None:
            for alias in corpus.aliases.found_in(text):
                if alias.short not in seen:
                    seen.update({alias.short, *alias.short_terms, *alias.long_terms})
                    groups.append(_Group(alias.short, _idf(corpus, alias.short_terms, total)[0], True, alias=alias,
                                         from_context=from_context))
            for term in terms(text):
                c = concept(term)
                if term in seen or c in seen:
                    continue
                seen.add(c)
                weight, share = _idf(corpus, [c], total)
                groups.append(_Group(term, weight, share <= GENERIC_SHARE and required(term), frozenset({c}),
                                     from_context=from_context))

        head_terms = set(terms(head)) if head else set()
        add(question, lambda term: term not in head_terms, False)
        if context:
            names = {t for start, end in entity_spans(context) for t in terms(context[start:end])}
            add(context, lambda term: term in names, True)
        return _Question(question, kind, head, groups, {w.lower() for w in words(question)})

    def answer(
        self, question: str, hits: list[NodeWithScore], corpus: Corpus | None, context: str | None = None
    ) -> Answer:
        if corpus is None or not hits:
            return Answer("The bulletins don't say: no bulletin is indexed that could answer this.", False)
        q = self.analyse(question, corpus, context)
        context_groups = [g for g in q.groups if g.from_context]
        anchored = bool(context_groups) or any(g.required for g in q.groups)
        best = None
        for rank, hit in enumerate(hits):
            node = hit.node
            surroundings = "\n".join(
                [node.text, node.metadata["section"], node.metadata["bulletin_title"], node.metadata.get("period") or ""]
            )
            present = concepts_in(surroundings)
            missing = [g for g in q.groups if g.required and not g.found(present)]
            context_cover = _share(q.groups, present)
            on_topic = not context_groups or _share(context_groups, present) >= 0.5
            grounded = not missing and on_topic and anchored
            for unit in _sentences(node.text):  # a section title qualifies each sentence under it
                unit_cover = _share(q.groups, concepts_in(unit.text + "\n" + node.metadata["section"]))
                typed = self._has_kind(q, unit.text)
                answerable = grounded and (typed or q.kind == "list")
                score = (
                    2.0 * answerable + 2.0 * context_cover + unit_cover + 0.5 * typed
                    + 0.3 * (hit.score or 0.0) - 0.05 * rank - 0.001 * len(unit.text)
                )
                if best is None or score > best[0]:
                    best = (score, answerable, hit, unit)
        _, answerable, hit, unit = best
        if not answerable:
            return self._abstain(hits)
        if q.kind == "list":
            return self._compose([(hit, unit)] + self._list_items(hit, unit, corpus))
        unit = self._narrow(q, hit.node.text, unit)
        return self._compose([(hit, unit)] + (self._list_items(hit, unit, corpus) if q.kind is None else []))

    def _narrow(self, q: _Question, text: str, sentence: _Unit) -> _Unit:
        """The clause of a sentence listing several facts that holds the answer ("… from India ($500,000) …")."""
        clauses = [c for c in _clauses(text, sentence) if self._has_kind(q, c.text)]
        if not clauses:
            return sentence
        scored = sorted(((_share(q.groups, concepts_in(c.text)), c) for c in clauses), key=lambda pair: -pair[0])
        if scored[0][0] == 0 or (len(scored) > 1 and scored[0][0] == scored[1][0]):
            return sentence
        return scored[0][1]

    def _has_kind(self, q: _Question, text: str) -> bool:
        if q.kind is None:
            return True
        if q.kind == "list":  # items named by the head noun ("Pillar I: …; Pillar II: …"), or a list's lead-in
            head = set(terms(q.head or ""))
            return text.rstrip().endswith(":") or sum(t in head for t in terms(text)) >= 2
        if q.kind == "amount":
            return bool(_AMOUNT.search(text)) or bool(_NUMBER.search(text))
        if q.kind == "number":
            numbers = set(re.findall(r"\d[\d,]*", text)) - {w for w in q.words if w[0].isdigit()}
            return bool(numbers)
        if q.kind == "date":
            return bool(_DATE.search(text))
        if q.head and _COUNTRY_HEAD.match(q.head):
            return bool(countries_in(text) - q.words)
        names = {m.group(0).lower().strip(".") for m in _CAPITALISED.finditer(text)}
        return bool(names - q.words)

    def _list_items(self, hit: NodeWithScore, unit: _Unit, corpus: Corpus) -> list[tuple[NodeWithScore, _Unit]]:
        """When the answer introduces a list ("the Office has 5 functions:"), the items that follow it."""
        if not unit.text.rstrip().endswith(":") or unit.end < len(hit.node.text.rstrip()):
            return []
        order = corpus.order
        position = order.index(hit.node.node_id)
        items = []
        for pid in order[position + 1 : position + 1 + MAX_LIST_ITEMS]:
            node = corpus.paragraphs[pid]
            if node.metadata["section"] != hit.node.metadata["section"]:
                break
            items.append((NodeWithScore(node=node, score=hit.score), _Unit(0, len(node.text), node.text)))
        return items

    def _compose(self, parts: list[tuple[NodeWithScore, _Unit]]) -> Answer:
        citations: list[Citation] = []
        lines = []
        for hit, unit in parts:
            citation = next((c for c in citations if c.paragraph_id == hit.node.node_id), None)
            if citation is None:
                citation = _citation(len(citations) + 1, hit, unit.text)
                citations.append(citation)
            prefix = "" if unit.start == 0 or hit.node.text[: unit.start].rstrip().endswith((".", "!", "?")) else "… "
            lines.append(f"{prefix}{unit.text} [{citation.n}]")
        separator = "\n" if len(lines) > 1 and lines[0].rstrip(" [0-9]").endswith(":") else " "
        if separator == "\n":
            lines = [lines[0]] + [f"- {line}" for line in lines[1:]]
        return Answer(separator.join(lines), True, citations)

    def _abstain(self, hits: list[NodeWithScore]) -> Answer:
        """No invented answer: say so, and point at the closest paragraphs so the reader can judge."""
        related = [hit for hit in hits[:2] if (hit.node.metadata.get("dense_score") or 0) >= RELATED_COSINE]
        if not related:
            return Answer("The bulletins don't say anything about this.", False)
        citations = [_citation(i, hit, _sentences(hit.node.text)[0].text) for i, hit in enumerate(related, start=1)]
        refs = " ".join(f"[{c.n}]" for c in citations)
        return Answer(f"The bulletins don't answer this. Closest related: {refs}", False, citations)


def countries_in(text: str) -> set[str]:
    """The country names `text` uses, lower-cased."""
    return {m.group(0).lower() for m in _COUNTRY.finditer(text)}


def concepts_in(text: str) -> set[str]:
    """The synonym groups of the terms of `text`: what a question's groups are looked up in."""
    return {concept(t) for t in terms(text)}


def _share(groups: list[_Group], present: set[str]) -> float:
    """The weighted share of `groups` found among `present` concepts."""
    total = sum(g.weight for g in groups) or 1.0
    return sum(g.weight for g in groups if g.found(present)) / total


def _idf(corpus: Corpus, concepts, total: int) -> tuple[float, float]:
    """BM25's idf of the rarest of `concepts`, and the share of paragraphs holding it."""
    df = min(corpus.document_frequency.get(c, 0) for c in concepts)
    return math.log((total - df + 0.5) / (df + 0.5) + 1.0), df / total


def _citation(n: int, hit: NodeWithScore, quote: str) -> Citation:
    meta = hit.node.metadata
    return Citation(
        n=n, bulletin_id=meta["bulletin_id"], bulletin_title=meta["bulletin_title"], period=meta.get("period"),
        section=meta["section"], paragraph_id=hit.node.node_id, quote=quote, text=hit.node.text,
        score=float(hit.score or 0.0), ordinal=meta.get("ordinal", 0),
    )


def _sentences(text: str) -> list[_Unit]:
    """The sentences of a paragraph with their offsets; a trailing "(16-18 March)" stays with its sentence."""
    spans, start = [], 0
    for match in _SENTENCE.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and text[s:e].startswith("(") and text[s:e].rstrip().endswith(")"):
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return [_Unit(s, e, text[s:e].strip()) for s, e in merged]


def _clauses(text: str, sentence: _Unit) -> list[_Unit]:
    """The clauses of a sentence that lists several facts ("…, and from India …", "a; b; c")."""
    pieces, start = [], sentence.start
    for match in _CLAUSE.finditer(text, sentence.start, sentence.end):
        pieces.append((start, match.start()))
        start = match.end()
    if not pieces:
        return []
    pieces.append((start, sentence.end))
    return [_Unit(a, b, text[a:b].strip(" ;,")) for a, b in pieces if len(text[a:b].split()) >= 2]
