"""The citation check on real paragraphs of the seed corpus: what it keeps, re-cites and removes.

The drafts here are written to exercise one rule each; what real small models write, and what the check does with
it, is in test_llm.py (recorded model outputs).
"""

from __future__ import annotations

import random
import re

import pytest
from llama_index.core.schema import NodeWithScore

from answer.verify import Checker, Passage, split, split_streamed


def passages(qa, *needles: str) -> list[Passage]:
    """Passages [1], [2], … : the paragraphs of the seed corpus holding each needle, in order."""
    corpus = qa.searcher.corpus()
    found = []
    for needle in needles:
        node = next(node for node in corpus.paragraphs.values() if needle in node.text)
        found.append(Passage(len(found) + 1, NodeWithScore(node=node, score=1.0)))
    return found


def check(qa, draft: str, *needles: str):
    return Checker(passages(qa, *needles), qa.searcher.corpus().aliases).check(draft)


def test_a_faithful_paraphrase_is_kept_with_the_clause_it_restates(qa):
    checked = check(qa, "India contributed $500,000 to the Countering Terrorist Travel Programme [1].", "India ($500,000)")
    [verdict] = checked.verdicts
    assert verdict.support == (1,) and verdict.why == ""
    assert verdict.quotes[1].startswith("from India ($500,000)")
    assert checked.removed == 0


def test_invented_funders_are_removed(qa):
    checked = check(qa, "The Doha Hub was funded by Canada and India [1].", "UNOCT Doha Hub", "India ($500,000)")
    [verdict] = checked.verdicts
    assert not verdict.kept  # Canada and India are in [2], but the Doha Hub is not: no passage backs it
    assert "names" in verdict.why and "Canada" in verdict.why
    assert checked.removed == 1


def test_a_number_the_paragraph_does_not_hold_is_removed(qa):
    checked = check(qa, "CT Travel hosted a webinar with 52 experts [1].", "webinar with 25 experts")
    assert checked.removed == 1 and "numbers" in checked.verdicts[0].why


def test_a_month_the_paragraph_does_not_hold_is_removed(qa):
    checked = check(qa, "The Office was established in July 2017 [1].", "15 June 2017")
    assert checked.removed == 1 and "dates" in checked.verdicts[0].why


def test_a_wrong_number_in_brackets_is_corrected(qa):
    checked = check(
        qa, "The panel on contactless biometrics brought together 45 participants [1].",
        "webinar with 25 experts", "45 participants",
    )
    [verdict] = checked.verdicts
    assert verdict.support == (2,) and verdict.why == "re-cited"
    assert "45 participants" in verdict.quotes[2]


@pytest.mark.parametrize("marker", ["[7]", ""])
def test_a_marker_naming_no_given_passage_or_none_is_replaced_by_the_passage_that_backs_it(qa, marker):
    checked = check(qa, f"The webinar had 25 experts {marker}.", "India ($500,000)", "webinar with 25 experts")
    assert checked.verdicts[0].support == (2,)


def test_an_unsupported_sentence_without_marker_is_removed(qa):
    checked = check(qa, "UNOCT is committed to gender equality and human rights.", "webinar with 25 experts")
    assert checked.removed == 1


def test_a_paragraph_id_in_brackets_is_read_as_its_passage(qa):
    given = passages(qa, "India ($500,000)", "webinar with 25 experts")
    draft = f"CT Travel held a webinar with 25 experts [{given[1].paragraph_id}]."
    [sentence] = split(draft, given)
    assert sentence.cited == (2,) and sentence.text == "CT Travel held a webinar with 25 experts."


def test_an_acronym_stands_for_its_long_form(qa):
    # The paragraph says "Countering Terrorist Travel Programmes", never "CT Travel".
    checked = check(qa, "CT Travel received $500,000 from India [1].", "India ($500,000)")
    assert checked.verdicts[0].support == (1,)


def test_generic_words_about_the_right_names_are_not_enough(qa):
    checked = check(qa, "The UNOCT Doha Hub leads the global fight against terrorism [1].", "UNOCT Doha Hub")
    assert checked.removed == 1


def test_sentences_are_split_with_their_markers_after_the_full_stop_and_in_lists(qa):
    given = passages(qa, "India ($500,000)", "webinar with 25 experts")
    draft = "India gave $500,000. [1] The webinar had 25 experts [2][1].\n- Items in a list [2]\n1. Numbered ones too"
    assert [(s.text, s.cited) for s in split(draft, given)] == [
        ("India gave $500,000.", (1,)),
        ("The webinar had 25 experts.", (2, 1)),
        ("Items in a list", (2,)),
        ("Numbered ones too", ()),
    ]


LONG_REPLY = """India contributed $500,000 to the Countering Terrorist Travel Programme [1]. The webinar had 25 experts [2][1].
The total came to US$1.5 million in 2021 [1, 2]. "It matters," the Office said [2]! Was it enough? [1]
- Items in a list [2]
1. Numbered ones too, such as the U.N. Office of Counter-Terrorism [{pid}].
2) And a second one [2]. With two sentences.

A paragraph after a blank line cites a paragraph id [{pid}]. Its marker comes after the stop. [1] (In brackets, a
sentence of its own.) The panel met. [see 2. It says so] Then it closed. The reply ends without one"""


def test_a_reply_streamed_in_pieces_gives_the_sentences_of_the_whole_reply(qa):
    """However the model's server cuts a long reply (by word, by character, in pieces of any size), the sentences
    drafted while it streams are those of the whole reply split at once, each before the reply has ended; a
    reply that breaks off loses only its unfinished sentence."""
    given = passages(qa, "India ($500,000)", "webinar with 25 experts")
    reply = "\n".join([LONG_REPLY.format(pid=given[0].paragraph_id)] * 20)
    whole = split(reply, given)
    assert len(whole) > 300  # a long reply: the sentences of LONG_REPLY, 20 times
    rng = random.Random(7)
    cuts = sorted(rng.sample(range(1, len(reply)), 2000))
    for pieces in (
        [m.group(0) for m in re.finditer(r"\S+\s*", reply)],  # a token at a time, as model servers send it
        list(reply),
        [reply[a:b] for a, b in zip([0, *cuts], [*cuts, len(reply)])],
    ):
        read = 0
        drafted, read_when = [], []

        def stream():
            nonlocal read
            for piece in pieces:
                read += 1
                yield piece

        for sentence in split_streamed(stream(), given):
            drafted.append(sentence)
            read_when.append(read)
        assert drafted == whole
        assert read_when[-2] < len(pieces)  # all but the last came while the reply was still streaming

        def broken():
            yield from pieces[: len(pieces) // 2]
            raise ConnectionError

        shown = []
        with pytest.raises(ConnectionError):
            for sentence in split_streamed(broken(), given):
                shown.append(sentence)
        assert shown == whole[: len(shown)] and 0 < len(shown) < len(whole)


def test_of_two_cited_passages_only_the_one_that_contributes_stays(qa):
    checked = check(qa, "CT Travel hosted a webinar with 25 experts [1, 2].", "webinar with 25 experts", "45 participants")
    assert checked.verdicts[0].support == (1,)
