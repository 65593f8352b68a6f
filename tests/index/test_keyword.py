"""The keyword index: BM25 over paragraphs, with a question's typos read as the corpus's own words."""

from __future__ import annotations

from index.keyword import KeywordIndex
from index.text import terms

DOCUMENTS = [
    "UNCCT launched four workshops in Tunisia for prison staff.",
    "The Countering Terrorist Travel Programme hosted a webinar.",
    "Canada funded the Gender and Identities Platform.",
]


def test_a_word_one_typo_away_from_the_corpus_is_read_as_the_corpus_word():
    index = KeywordIndex(DOCUMENTS)
    assert [index.correct(t) for t in terms("workshps in tunsia")] == ["workshop", "tunisia"]
    scores = index.scores(terms("how many workshps in tunsia"))
    assert scores.argmax() == 0 and scores[0] > 0


def test_known_short_and_unmatched_words_are_left_alone():
    index = KeywordIndex(DOCUMENTS)
    assert index.correct("webinar") == "webinar"  # known
    assert index.correct("fundd") == "fund"
    assert index.correct("cnd") == "cnd"  # too short to guess
    assert index.correct("volcano") == "volcano"  # nothing one edit away


def test_roman_numerals_and_number_words_are_figures():
    assert terms("Pillar IV and four pillars") == ["pillar", "4", "4", "pillar"]
