"""Sentence boundaries of a paragraph, with character offsets: the units answers quote and the index embeds.

The boundaries come from pysbd (Golden Rules-tested rule-based segmentation), so "Dr.", "U.S.", "No. 5" and
"$1.5 million" do not cut a sentence. Two repairs on top of it follow how bulletins are written: a trailing
parenthesis ("(9-10 March)", "(5 March)") is the date of the sentence before it and joins it, and a piece that
ends without a full stop (a lead-in ending in ":" followed by "(i) …; (ii) …;" items) joins the next, so an
enumeration inside a paragraph stays one sentence whose clauses are its items.

It lives in index/ because sentence vectors are computed at index time (the answerer, which reads them, may
import index/, never the reverse).

pysbd's own character offsets (`char_span=True`) find each sentence in the text with a regular expression built
from that sentence: a pattern compiled per sentence and never reused, which also pushed pysbd's per-abbreviation
patterns out of `re`'s 512-entry cache, so those were compiled again for nearly every paragraph: about 40 % of
the splitting time (1.45 s of CPU for the 236 SQuAD paragraphs, 0.82 s without). `sentence_offsets` finds the
same offsets by the same rule with `str.find`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

_CLOSED = re.compile(r"[.!?][\"'”’)\]]*$")
_PARENTHESIS = re.compile(r"^\([^()]*\)[.]?$")
_local = threading.local()  # pysbd's Segmenter keeps per-call state: one per thread


@dataclass(frozen=True)
class Span:
    """One sentence of a paragraph: `text == paragraph[start:end]`."""

    start: int
    end: int
    text: str


def _segmenter():
    segmenter = getattr(_local, "segmenter", None)
    if segmenter is None:
        import pysbd

        segmenter = _local.segmenter = pysbd.Segmenter(language="en", clean=False)
    return segmenter


def sentence_offsets(text: str) -> list[tuple[int, int]]:
    """(start, end) in `text` of each sentence pysbd finds there, its trailing white space included, where pysbd's
    `char_span` puts it: the first occurrence, white space and all, that ends after the sentence before."""
    spans: list[tuple[int, int]] = []
    done = 0
    for sentence in _segmenter().processor(text).process():
        at = 0
        while (start := text.find(sentence, at)) >= 0:
            end = start + len(sentence)
            while end < len(text) and text[end].isspace():  # what `\s*` takes after the sentence
                end += 1
            if end > done:
                spans.append((start, end))
                done = end
                break
            at = end if end > start else start + 1
    return spans


def warm_up() -> None:
    """Import pysbd and run it once now: on an index that needs no work, the first question did both (the bulk of
    its 143 ms in `bqa eval`, against about 25 ms for the next ones)."""
    sentence_offsets("Dr. Smith arrived. He left.")


@lru_cache(maxsize=16384)
def split(text: str) -> tuple[Span, ...]:
    """The sentences of `text`, in order, stripped of surrounding white space; never empty for non-blank text."""
    pieces = []
    for start, end in sentence_offsets(text) if text.strip() else []:
        sentence = text[start:end]
        start, end = start + (len(sentence) - len(sentence.lstrip())), start + len(sentence.rstrip())
        if end > start:
            pieces.append((start, end))
    if not pieces and text.strip():
        start = len(text) - len(text.lstrip())
        pieces = [(start, len(text.rstrip()))]
    merged: list[tuple[int, int]] = []
    for start, end in pieces:
        piece = text[start:end]
        if merged and (_PARENTHESIS.match(piece) or not _CLOSED.search(text[merged[-1][0] : merged[-1][1]])):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(Span(start, end, text[start:end]) for start, end in merged)
