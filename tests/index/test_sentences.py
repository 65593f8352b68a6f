"""Sentence offsets: found without pysbd's per-sentence regular expressions, they are still exactly where pysbd's
own `char_span` puts them, on the bundled and SQuAD bulletins and on texts built to trip the search (a sentence
repeated, regex characters, abbreviations, unusual white space)."""

from __future__ import annotations

from pathlib import Path

import pysbd
from hypothesis import given, settings
from hypothesis import strategies as st

from index.parse import load
from index.sentences import sentence_offsets

ROOT = Path(__file__).resolve().parents[2]
BULLETINS = [ROOT / "corpus" / "unoct-highlights-2021-03.md", *sorted((ROOT / "bench" / "data" / "squad2").rglob("*.md"))]
PIECES = [
    "Dr. Smith met U.S. officials.", "It rained.", "It rained.", "No. 5 was sold for $1.5 million.", "(5 March)",
    "Why?", "Yes!", "a.m.", "e.g. this", "[1]", "(i) one; (ii) two;", "\"Quoted.\"", "...", "*+?{}|^$\\",
    " ", "  ", "\n", "\u00a0", "\t", "\u2003", "St.", "Inc.", "1.", "A.", "Mr. Ng said:",
]


def pysbd_offsets(text: str) -> list[tuple[int, int]]:
    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
    return [(span.start, span.end) for span in segmenter.segment(text)]


def test_offsets_of_real_bulletins_are_pysbds():
    paragraphs = [p.text for path in BULLETINS for _, p in load(path).paragraphs()]
    assert len(paragraphs) > 250
    for text in paragraphs:
        assert sentence_offsets(text) == pysbd_offsets(text), text


def test_a_repeated_sentence_is_found_at_each_of_its_places():
    text = "It rained. It rained.  It rained."
    assert sentence_offsets(text) == pysbd_offsets(text) == [(0, 11), (11, 23), (23, 33)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=12).map(" ".join))
def test_offsets_are_pysbds_on_awkward_text(text):
    assert sentence_offsets(text) == pysbd_offsets(text)
