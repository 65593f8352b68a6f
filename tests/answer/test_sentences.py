"""Sentence and clause boundaries: abbreviations do not cut, a trailing date stays with its sentence, clauses of a
sentence that lists several facts are found, and a sentence takes its paragraph's context."""

from __future__ import annotations

from answer.sentences import clauses, split, units
from tests.answer.hits import hit


def texts(text: str) -> list[str]:
    return [span.text for span in split(text)]


def test_abbreviations_do_not_cut_a_sentence():
    text = "Dr. Smith met U.S. officials at No. 5 Downing St. on Monday. The U.N. paid $1.5 million."
    assert texts(text) == ["Dr. Smith met U.S. officials at No. 5 Downing St. on Monday.", "The U.N. paid $1.5 million."]


def test_a_trailing_date_stays_with_its_sentence():
    text = "The workshop trained 40 officials. Participants discussed gaps. (9-10 March)"
    assert texts(text) == ["The workshop trained 40 officials.", "Participants discussed gaps. (9-10 March)"]


def test_an_enumeration_after_a_colon_is_one_sentence():
    text = "The vision includes: (i) reinvigorating the response; (ii) breaking the cycle; and (iii) support. (5 March)"
    assert texts(text) == [text]


def test_offsets_are_the_paragraphs_own():
    text = "  First sentence here.   Second one follows.  "
    for span in split(text):
        assert text[span.start : span.end] == span.text


def test_clauses_of_a_two_donor_sentence():
    text = ("In March, UNOCT received a contribution from Canada (US$1,139,987) in support of the Platform, "
            "and from India ($500,000) in support of the Travel Programme.")
    [sentence] = split(text)
    parts = [c.text for c in clauses(text, sentence)]
    assert parts == ["In March, UNOCT received a contribution from Canada (US$1,139,987) in support of the Platform",
                     "from India ($500,000) in support of the Travel Programme."]


def test_a_sentence_without_clauses_has_none():
    text = "The webinar had 25 experts."
    assert clauses(text, split(text)[0]) == []


def test_a_later_sentence_takes_the_first_sentence_and_section_as_context():
    text = "UNCCT launched four workshops in Tunisia. Participants benefited from experts of Belgium."
    first, second, _ = units(hit(text, section="Capacity Building"), None)
    assert first.context == "Capacity Building"
    assert second.context == "Capacity Building\nUNCCT launched four workshops in Tunisia."
    assert (second.index, second.count) == (1, 2)


def test_two_adjacent_sentences_are_also_one_unit_quoting_the_paragraph_as_written():
    text = "UNCCT ran a webinar.  It had 25 experts. They met twice. (2 March)"
    found = units(hit(text, section="Events"), None)
    pairs = [u for u in found if u.size == 2]
    assert [u.text for u in pairs] == ["UNCCT ran a webinar.  It had 25 experts.",
                                      "It had 25 experts. They met twice. (2 March)"]
    assert all(text[u.span.start : u.span.end] == u.text for u in pairs)
    first, second = pairs
    assert (first.index, first.last, first.trailing) == (0, 1, "(2 March)")  # the date after it is its date too
    assert (second.index, second.last, second.trailing) == (1, 2, "")
    assert second.context == "Events\nUNCCT ran a webinar."
