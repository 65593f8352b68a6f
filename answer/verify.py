"""The citation check: an LLM's answer reaches users only sentence by sentence, each backed by what it cites.

Small models invent facts with a straight face ("The Doha Hub was funded by Canada and India [1]" from a passage
that names no funder), cite the wrong passage, or cite none. So every sentence of a draft answer is checked
against the passages it cites, and only what survives is shown:

- its [n] must name a passage that was given (a paragraph id written instead of a number is accepted);
- its facts must occur there (or in the headings above it): every number and amount, every month, every name (a
  capitalised word or acronym), an acronym standing for its long form. The question's own words count only for
  a passage that speaks of what the question asks about (`on_topic`): "The Doha Hub was funded by Canada and
  India" must not pass on a paragraph about Canada and India that never mentions the Doha Hub;
- its content must be close to the cited text: enough of its terms occur there (lexical overlap) and it means
  much the same as one of the passage's sentences (cosine of all-MiniLM-L6-v2 embeddings).

A sentence that fails with what it cites but passes with another given passage that speaks of what the question
asks about is re-cited to that passage (a wrong [n] is corrected); one that passes with none is removed. (Without
that condition a list item the model borrowed from another list, "Providing leadership on the GA mandates" as a
pillar of the Strategy, would be "corrected" to the paragraph it was borrowed from.) The caller decides what an answer left with no
sentence becomes (see `answer.llm`).

The thresholds were calibrated with `python tests/answer/calibrate_verify.py` on the dev set and the recorded model
outputs in tests/answer/cassettes/. Facts decide nearly everything: every invented sentence recorded there names a
number, name or date its passage lacks, and every extractive quote checked against the other retrieved paragraphs
(a wrong [n]) fails on facts too. The similarity thresholds are floors for what facts cannot see. True sentences
scored 0.31–0.88 cosine against their own paragraph (terse list items and headings score low: "Established
through GA resolution 71/291 on 15 June 2017, the Office has 5 functions:" against "The Office of
Counter-Terrorism was established on 15 June 2017"), so COSINE_MIN sits below the lowest; lexical overlap of true
sentences was 0.71–1.0 and of invented ones 0.22–0.43 (each of which also failed on facts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Iterator

import numpy as np
from llama_index.core.schema import NodeWithScore

from index.aliases import Aliases
from index.embed import embed_for_question
from index.text import MONTH_NAMES, STOPWORDS, stem, terms, words
from answer.sentences import clauses, split as sentences

LEXICAL_MIN = 0.6  # share of a sentence's content terms that must occur in the cited text (or the question)
COSINE_MIN = 0.25  # similarity to the closest sentence of the cited text

MARKER = re.compile(r"\s*\[\s*((?:p-[0-9a-f]+|\d{1,2})(?:\s*[,;]\s*(?:p-[0-9a-f]+|\d{1,2}))*)\s*\]")
_LIST_ITEM = re.compile(r"\s*(?:[-*•]|\d+[.)])\s+")  # a list item's bullet or number, opening a line
_SENTENCE_END = re.compile(r"[.!?](?:\s*\[[^\]\n]*\])*(?=\s+[\"“(]?[A-Z0-9]|\s*$)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MONTHS = {m: m for m in MONTH_NAMES} | {m[:3]: m for m in MONTH_NAMES} | {"sept": "september"}
# Capitalised only because they open a sentence, or words about the answer itself: no names.
_NOT_NAMES = STOPWORDS | {
    "passage", "passages", "bulletin", "bulletins", "answer", "yes", "however", "additionally", "furthermore",
    "moreover", "overall", "according", "note",
}


@dataclass(frozen=True)
class Passage:
    """One numbered passage of the prompt: a retrieved paragraph with the headings the model saw above it."""

    n: int
    hit: NodeWithScore

    @property
    def paragraph_id(self) -> str:
        return self.hit.node.node_id

    @property
    def text(self) -> str:
        return self.hit.node.text

    @property
    def heading(self) -> str:
        meta = self.hit.node.metadata
        when = _period_words(meta.get("period"))
        return f"{meta['bulletin_title']}{', ' + when if when else ''} — {meta['section']}"

    @cached_property
    def quotable(self) -> list[str]:
        """Its sentences, and the clauses of those that list several facts: an answer sentence often restates
        one clause ("India gave $500,000 …"), whose meaning drowns in a sentence that lists three donors."""
        units = []
        for sentence in sentences(self.text):
            units += [sentence.text] + [clause.text for clause in clauses(self.text, sentence)]
        return units or [self.text]

    @cached_property
    def spans(self) -> list[str]:
        """What an answer sentence is compared with: the quotable units, two sentences running, and the whole
        paragraph, since one answer sentence may sum up several ("the panel … brought together 45 …")."""
        texts = [unit.text for unit in sentences(self.text)]
        pairs = [f"{a} {b}" for a, b in zip(texts, texts[1:])]
        return list(dict.fromkeys(self.quotable + pairs + [self.text]))


@dataclass(frozen=True)
class Sentence:
    """A sentence of the draft, its [n] markers taken out and read as passage numbers."""

    text: str
    cited: tuple[int, ...]
    raw: str = ""  # as the model wrote it, markers included


@dataclass
class Verdict:
    sentence: Sentence
    support: tuple[int, ...] = ()  # the passages that back it, in the order cited; empty: removed
    quotes: dict[int, str] = field(default_factory=dict)  # passage -> its sentence closest to this one
    why: str = ""  # what failed, when removed; "re-cited" when a wrong [n] was corrected

    @property
    def kept(self) -> bool:
        return bool(self.support)


@dataclass
class Checked:
    verdicts: list[Verdict]

    @property
    def kept(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.kept]

    @property
    def removed(self) -> int:
        return sum(not v.kept for v in self.verdicts)


def _period_words(period: str | None) -> str:
    """"2021-03" as a reader writes it ("March 2021"), so an answer may name the bulletin's month."""
    if period and re.fullmatch(r"\d{4}-\d{2}", period):
        year, month = period.split("-")
        return f"{MONTH_NAMES[int(month) - 1].capitalize()} {year}"
    return period or ""


def split(draft: str, passages: list[Passage]) -> list[Sentence]:
    """The draft's sentences (list items and lines count as sentences), each with the passages it cites."""
    by_id = {p.paragraph_id: p.n for p in passages}
    return [sentence for line in draft.splitlines() for sentence in _sentences(line, _bounds(line, True), by_id)]


def split_streamed(pieces: Iterable[str], passages: list[Passage]) -> Iterator[Sentence]:
    """`split` of the text the `pieces` make up, each sentence as soon as it is finished: once the next one has
    begun ("$1." may yet go on "5 million"), the last one when the pieces end (an exception from them loses it).

    Only the unfinished sentence is split again as a piece comes (not the whole text so far), so the work grows
    with the reply's length, not with its square. A sentence is finished only before any "[" still open: a "]" to
    come may make it a citation marker that ends an earlier sentence ("… X. [see Y. Z] …")."""
    by_id = {p.paragraph_id: p.n for p in passages}
    tail, starts_line = "", True  # the text not yet split for good; whether it starts a line (so may open a list item)
    held: list[Sentence] = []  # finished, but the last one so far: yielded once another has begun
    for piece in pieces:
        tail += piece
        lines = tail.splitlines()
        if tail[-1:].splitlines() == [""]:  # the last line has ended too
            lines.append("")
        tail = lines.pop() if lines else ""
        for line in lines:
            held.extend(_sentences(line, _bounds(line, starts_line), by_id))
            starts_line = True
        bounds = _bounds(tail, starts_line)
        unclosed = tail.find("[", tail.rfind("]") + 1)
        finished = [(start, end) for start, end in bounds[:-1] if unclosed < 0 or end <= unclosed]
        held.extend(_sentences(tail, finished, by_id))
        if finished:
            tail, starts_line = tail[finished[-1][1]:], False
            bounds = _bounds(tail, starts_line)
        begun = any(True for _ in _sentences(tail, bounds, by_id))  # a sentence after those held
        yield from held if begun else held[:-1]
        held = [] if begun else held[-1:]
    yield from held
    yield from _sentences(tail, _bounds(tail, starts_line), by_id)


def _bounds(line: str, starts_line: bool) -> list[tuple[int, int]]:
    """(start, end) in `line` of each of its sentences, the last one running to the end of the line; a list
    item's bullet or number, when `line` starts a line, and the white space around are left out."""
    item = _LIST_ITEM.match(line) if starts_line else None
    start = item.end() if item else 0
    body = line[start:].rstrip()
    start += len(body) - len(body.lstrip())
    body = body.lstrip()
    ends = [start + m.end() for m in _SENTENCE_END.finditer(body)]
    if not ends or ends[-1] < start + len(body):
        ends.append(start + len(body))
    return list(zip([start, *ends[:-1]], ends))


def _sentences(line: str, bounds: list[tuple[int, int]], by_id: dict[str, int]) -> Iterator[Sentence]:
    for start, end in bounds:
        piece = line[start:end].strip()
        cited = [n for marker in MARKER.finditer(piece) for n in refs(marker, by_id)]
        text = MARKER.sub("", piece).strip()
        if re.search(r"\w", text):
            yield Sentence(text, tuple(dict.fromkeys(cited)), piece)


def refs(marker: re.Match, by_id: dict[str, int]) -> list[int]:
    """The passage numbers one marker names: "[2]", "[1, 3]", or a paragraph id "[p-28886c294b]" (-1: unknown)."""
    return [by_id.get(ref, -1) if ref.startswith("p-") else int(ref) for ref in re.split(r"\s*[,;]\s*", marker.group(1))]


def numbers(text: str) -> set[str]:
    return {m.group(0).replace(",", "").rstrip(".") for m in _NUMBER.finditer(text)}


def months(text: str) -> set[str]:
    return {_MONTHS[w.lower()] for w in words(text) if w.lower() in _MONTHS and (w[0].isupper() or len(w) > 3)}


def names(text: str) -> set[str]:
    """Capitalised words and acronyms: the proper names a sentence asserts (months and function words aside)."""
    return {
        w for w in words(text)
        if w[0].isupper() and len(w) > 1 and w.lower() not in _NOT_NAMES and w.lower() not in _MONTHS
    }


@dataclass(frozen=True)
class Support:
    missing: dict[str, set[str]]  # "numbers" | "dates" | "names" -> those not found in the cited text
    overlap: float  # share of the sentence's content terms found in the cited text (and the question, on topic)
    cosine: float  # similarity to the closest sentence or clause of the cited text
    quote: str  # that sentence or clause

    def failure(self) -> str | None:
        for kind, facts in self.missing.items():
            return f"{kind} not in the passage: {', '.join(sorted(facts))}"
        if self.overlap < LEXICAL_MIN:
            return f"too few of its words are in the passage ({self.overlap:.2f})"
        if self.cosine < COSINE_MIN:
            return f"not close to anything the passage says ({self.cosine:.2f})"
        return None


def _facts(text: str) -> set[str]:
    """Numbers and names, lower-cased: what decides which span of a passage a sentence restates."""
    return numbers(text) | {w.lower() for w in names(text)}


class Checker:
    """Checks drafts against the passages of one prompt; `aliases` lets "CT Travel" stand for its long form."""

    def __init__(self, passages: list[Passage], aliases: Aliases | None = None, question: str = "", on_topic=None):
        self.passages = {p.n: p for p in passages}
        self.question = question
        # The passages that speak of everything the question asks about; None: not known, any passage may do.
        self.on_topic = None if on_topic is None else frozenset(on_topic)
        self.aliases = aliases or Aliases({})
        self._vectors: dict[str, np.ndarray] = {}

    def check(self, draft: str) -> Checked:
        sentences = split(draft, list(self.passages.values()))
        self._embed([s.text for s in sentences])
        return Checked([self.verdict(s) for s in sentences])

    # -- the check of one sentence -------------------------------------------------------------------------------

    def verdict(self, sentence: Sentence) -> Verdict:
        """One sentence judged on its own: a streamed answer is checked a sentence at a time, as it is written."""
        self._embed([sentence.text])
        if sentence.text.rstrip().endswith(("?", ":")):
            return Verdict(sentence, why="asks or announces instead of stating")
        cited = tuple(n for n in sentence.cited if n in self.passages)
        if cited:
            failure = self.failure(sentence.text, cited)
            if failure is None:
                return self._kept(sentence, cited, "")
            failure = f"[{', '.join(map(str, cited))}]: {failure}"
        else:
            failure = "cites no given passage"
        # A wrong or missing [n]: the passage that does back the sentence, if one does.
        others = [n for n in self.passages if n not in cited and (self.on_topic is None or n in self.on_topic)]
        backing = [n for n in others if self.failure(sentence.text, (n,)) is None]
        if backing:
            best = max(backing, key=lambda n: self.similarity(sentence.text, (n,))[0])
            return self._kept(sentence, (best,), "re-cited")
        if others:
            closest = max(others, key=lambda n: self.similarity(sentence.text, (n,))[0])
            failure += f"; closest other [{closest}]: {self.failure(sentence.text, (closest,))}"
        return Verdict(sentence, why=failure)

    def _kept(self, sentence: Sentence, cited: tuple[int, ...], why: str) -> Verdict:
        """Keep the cited passages that contribute (one of its facts, or all the support it needs), with the
        quote from each."""
        facts = _facts(sentence.text)
        support, quotes = [], {}
        for n in cited:
            _, quote = self.similarity(sentence.text, (n,))
            passage = self.passages[n]
            alone = self.failure(sentence.text, (n,)) is None
            if len(cited) == 1 or alone or facts & _facts(f"{passage.heading}\n{passage.text}"):
                support.append(n)
                quotes[n] = quote
        return Verdict(sentence, tuple(support), quotes, why)

    def failure(self, text: str, cited: tuple[int, ...]) -> str | None:
        """Why `text` is not supported by the passages `cited`, or None when it is."""
        return self.support(text, cited).failure()

    def support(self, text: str, cited: tuple[int, ...]) -> "Support":
        """How well the passages `cited` (with their headings, and the question if they are on topic) back `text`."""
        source = "\n".join(f"{self.passages[n].heading}\n{self.passages[n].text}" for n in cited)
        if self.on_topic and self.on_topic & set(cited):
            source += f"\n{self.question}"
        allowed = self.aliases.expand(source)
        present_words = {w.lower() for w in words(allowed)}
        present_stems = {stem(w) for w in words(allowed)}
        missing = {
            "numbers": numbers(text) - numbers(allowed),
            "dates": months(text) - months(allowed),
            "names": {n for n in names(text) if n.lower() not in present_words and stem(n) not in present_stems},
        }
        own = terms(text)
        present = set(terms(allowed))
        overlap = sum(t in present for t in own) / len(own) if own else 0.0
        cosine, quote = self.similarity(text, cited)
        return Support({kind: facts for kind, facts in missing.items() if facts}, overlap, cosine, quote)

    # -- embeddings -----------------------------------------------------------------------------------------------

    def _embed(self, texts: list[str]) -> None:
        """Embed the draft's sentences and every passage sentence in one batch (one forward pass on 2 cores)."""
        mine = [s for p in self.passages.values() for s in p.spans]
        todo = list(dict.fromkeys(t for t in texts + mine if t not in self._vectors))
        if todo:
            self._vectors.update(zip(todo, embed_for_question(todo)))

    def similarity(self, text: str, cited: tuple[int, ...]) -> tuple[float, str]:
        """The cosine of `text` with the closest span of the cited passages, and the sentence or clause of those
        passages to quote for it: the one holding most of its facts, then the closest."""
        self._embed([text])
        vector = self._vectors[text]
        score = lambda span: float(np.dot(vector, self._vectors[span]))  # noqa: E731  (unit vectors)
        best = max(score(span) for n in cited for span in self.passages[n].spans)
        facts = _facts(text)
        quote = max(
            (span for n in cited for span in self.passages[n].quotable), key=lambda span: (len(facts & _facts(span)), score(span))
        )
        return best, quote
