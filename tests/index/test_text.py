"""The stems every comparison of a question with a paragraph goes through (index/text.py).

The answerer's learned weights were fitted on NLTK's English Snowball stems; bqa now stems with `snowballstemmer`
2.2, which must give the same stems, from any number of threads at once (the server answers on many).
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from index.text import name_spans, relation, stem, words
from service.config import PROJECT_ROOT


def vocabulary() -> list[str]:
    """Every distinct word of the bundled bulletins and of the labelled question sets."""
    texts = [p.read_text() for p in (PROJECT_ROOT / "corpus").rglob("*.md")]
    texts += [p.read_text() for p in (PROJECT_ROOT / "bench" / "data").rglob("*") if p.suffix in (".md", ".jsonl")]
    return sorted({w.lower() for text in texts for w in words(text) if not w[0].isdigit()})


def test_stems_are_nltks_snowball_stems():
    nltk_snowball = pytest.importorskip("nltk.stem.snowball")  # installed with llama-index-core; not imported by bqa
    reference = nltk_snowball.SnowballStemmer("english")
    words_ = [w for w in vocabulary() if w.replace("’", "'") == w and w not in _MONTH_ABBREVIATIONS]
    assert len(words_) > 5000
    assert [w for w in words_ if stem(w) != reference.stem(w)] == []


def test_stems_that_snowball_3_changed_stay_as_the_weights_learned_them():
    # Snowball 3 gives "intern"/"internat", "organ"/"organiz", "univers"/"universiti", "ad"/"add" apart
    assert [stem(w) for w in ("international", "intern", "organization", "university", "universal", "added")] == [
        "intern", "intern", "organ", "univers", "univers", "ad"
    ]


def test_stemming_from_many_threads_gives_the_same_stems():
    words_ = [w for w in vocabulary() if w.isalpha()][:3000]
    stem.cache_clear()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch every few bytecodes: a shared stemmer's state would be trampled
    try:
        with ThreadPoolExecutor(8) as pool:
            concurrent = list(pool.map(stem, words_ * 4))
    finally:
        sys.setswitchinterval(interval)
    stem.cache_clear()
    assert concurrent == [stem(w) for w in words_] * 4


_MONTH_ABBREVIATIONS = {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}


@pytest.mark.parametrize("text, proper, names", [
    ("Funds came from the Office of the High Commissioner for Human Rights in March",
     frozenset(), ["Office of the High Commissioner for Human Rights"]),
    ("UNOCT thanked Canada, India.", frozenset(), ["UNOCT", "Canada", "India"]),
    ("who funded the gender and identities platform?", frozenset({"gender", "identities", "platform"}),
     ["gender and identities platform"]),
    ("What did they fund In March?", frozenset(), []),
])
def test_names_are_runs_of_name_words_joined_by_connectors_and_ended_by_punctuation(text, proper, names):
    assert [text[start:end] for start, end in name_spans(text, proper)] == names


@pytest.mark.parametrize("text, proper, asked", [
    ("Who funded CT Travel?", frozenset(), "Who funded ?"),
    ("who paid for the countering terrorist travel programme", frozenset({"countering", "terrorist", "travel"}),
     "who paid for the programme"),
    ("How much did Canada give in 2021?", frozenset(), "How much did give in ?"),
    ("how much?", frozenset(), "how much?"),
])
def test_what_a_question_asks_is_the_question_without_its_names_and_figures(text, proper, asked):
    assert relation(text, proper) == asked
