"""Features of candidate sentences, from hand-built hits: general measurements, each pointing the right way."""

from __future__ import annotations

import numpy as np

from answer import Question
from answer.facts import holds, question_kind
from answer.features import FEATURES, candidates, question_names
from tests.answer.hits import hit

DONORS = ("In March, UNOCT received a contribution from Canada (US$1,139,987) in support of the Gender and Identities "
          "Platform, and from India ($500,000) in support of the Countering Terrorist Travel Programme.")
WEBINAR = "CT Travel hosted a webinar with 25 experts. The webinar gave an overview of the programme. (2 March)"


def features(question: str | Question, *texts: str, title: str = "Bulletin") -> list[dict[str, float]]:
    hits = [hit(text, pid=f"p-{i}") for i, text in enumerate(texts)]
    for h in hits:
        h.node.metadata["bulletin_title"] = title
    if isinstance(question, str):
        question = Question(question, question)
    return [dict(zip(FEATURES, c.x)) for c in candidates(question, hits, None, None)]


def test_every_sentence_and_sentence_pair_of_every_hit_is_a_candidate_with_every_feature():
    found = features("How many experts joined the webinar?", DONORS, WEBINAR)
    assert len(found) == 4  # the donors' sentence, the webinar's two, and those two as one unit
    assert [f["two_sentences"] for f in found] == [0.0, 0.0, 0.0, 1.0]
    assert all(len(f) == len(FEATURES) and all(np.isfinite(v) for v in f.values()) for f in found)


def test_overlap_is_higher_for_the_sentence_that_shares_the_rare_words():
    donors, webinar, overview, _ = features("How many experts joined the webinar?", DONORS, WEBINAR)
    assert webinar["overlap"] > donors["overlap"] and webinar["overlap"] > 0


def test_the_kind_asked_meets_the_facts_the_sentence_holds():
    donors, webinar, overview, _ = features("How many experts joined the webinar?", DONORS, WEBINAR)
    assert webinar["kind_how_many"] == 1.0 and webinar["how_many_x_number"] == 1.0
    assert overview["how_many_x_number"] == 0.0


def test_a_name_of_the_question_missing_from_the_paragraph_is_a_near_miss():
    [donors] = features("How much did Norway give?", DONORS)
    [donors_canada] = features("How much did Canada give?", DONORS)
    assert donors["names_missing_paragraph"] == 1.0 and donors_canada["names_missing_paragraph"] == 0.0


def test_negation_and_ordering_words_in_only_one_side_are_flagged():
    [plain] = features("Which country gave money?", DONORS)
    [negated] = features("Which country did not give money before March?", DONORS)
    assert plain["negation_mismatch"] == 0.0 and negated["negation_mismatch"] == 1.0
    assert negated["relation_only_question"] == 1.0


def test_a_later_sentence_reads_its_paragraphs_first_sentence():
    _, overview, _ = features("What did the CT Travel webinar give an overview of?", WEBINAR)
    assert overview["overlap_context"] >= overview["overlap"]
    assert overview["first"] == 0.0 and overview["relative_position"] == 1.0


def test_roman_and_arabic_numbers_overlap():
    [pillar] = features("what is pillar 4 about?", "Pillar IV: Ensuring human rights and the rule of law")
    assert pillar["overlap"] == 1.0


def test_question_kinds_come_from_the_question_form():
    assert question_kind("In what year was UNCCT set up?") == "when"
    assert question_kind("how much did canada give?") == "how_much"
    assert question_kind("How many Member States sit on the Advisory Board?") == "how_many"
    assert question_kind("who put money into the platform?") == "who"
    assert question_kind("Which countries took part?") == "where"
    assert question_kind("Is it true?") == "other"


def test_an_amount_is_a_currency_figure_and_a_year_is_not():
    assert holds("They gave $500,000 in 2011.", "who gave")["amount"] == 1.0
    assert holds("It was founded in 2011.", "when was it founded")["amount"] == 0.0
    assert holds("It was founded in 2011.", "when was it founded")["year"] == 1.0


def test_a_sentence_pair_reads_as_what_both_sentences_say():
    webinar, overview, both = features("What did the CT Travel webinar give an overview of?", WEBINAR)
    assert both["overlap"] >= max(webinar["overlap"], overview["overlap"])
    assert both["first"] == 1.0 and both["length"] > max(webinar["length"], overview["length"])


def test_a_question_about_another_period_than_the_sentences_is_a_near_miss():
    august = "Fourteen new leprosy cases were detected in August, three of them with visible disabilities."
    [july] = features("How many leprosy cases were detected in July?", august)
    [same] = features("How many leprosy cases were detected in August?", august)
    [year] = features("How many leprosy cases were detected in 2023?", august)
    assert july["period_conflict"] == 1.0 and year["period_conflict"] == 1.0 and same["period_conflict"] == 0.0
    # a sentence without a date is about its bulletin's period (March 2021 here)
    [undated] = features("How many cases were detected in the second quarter?", "Fourteen cases were detected.")
    [in_march] = features("How many cases were detected in March?", "Fourteen cases were detected.")
    assert undated["period_conflict"] == 1.0 and in_march["period_conflict"] == 0.0
    # a year in a name is no period
    [named] = features("What is pillar 3 of Strategy 2030?", "Pillar III of the strategy is resilience.")
    assert named["period_conflict"] == 0.0


def test_an_item_past_the_end_of_a_numbered_list_is_a_near_miss():
    pillars = "The strategy rests on four pillars: Pillar I – Connectivity; Pillar II – Climate; Pillar III – Trade; " \
              "Pillar IV – Skills."
    [fifth] = features("what is pillar v of the strategy", pillars)
    [fourth] = features("what is pillar 4 of the strategy", pillars)
    assert fifth["item_beyond_list"] == 1.0 and fourth["item_beyond_list"] == 0.0
    objectives = "The plan has four objectives: (i) find cases; (ii) treat them; (iii) prevent; (iv) protect."
    [beyond] = features("what is objective (v) of the plan", objectives)
    [within] = features("what is objective (ii) of the plan", objectives)
    assert beyond["item_beyond_list"] == 1.0 and within["item_beyond_list"] == 0.0


COLLEGE = "The Doctoral College welcomed 187 new PhD students this autumn."


def test_a_follow_up_is_covered_by_its_own_words_not_by_the_question_it_carries():
    """The carried question's words are in the earlier answer's sentence whatever this turn asks."""
    topic = "how many phd students did the doctoral college welcome"
    [partners] = features(Question("which universities are the partners?", "which universities are the partners",
                                   topic), COLLEGE)
    [autumn] = features(Question("and this autumn?", "when did the doctoral college welcome phd students",
                                 topic), COLLEGE)
    assert partners["overlap_context"] > 0.4  # the carried words
    assert partners["asked_missing_unit"] == 1.0 and autumn["asked_missing_unit"] == 0.0


def test_unmatched_words_are_counted_not_only_the_rarest_flagged():
    question = "How many experts joined the webinar?"
    donors, webinar, *_ = features(question, DONORS, WEBINAR)
    [one_more] = features("How many experts from Africa joined the webinar?", WEBINAR.split(". ")[0] + ".")
    assert webinar["unmatched_unit"] < one_more["unmatched_unit"] < donors["unmatched_unit"]


def test_the_bulletins_own_name_is_said_by_every_sentence_of_it():
    question = "how many visitors attended the northbridge festival of research"
    festival = "More than 600 visitors attended the Festival of Research on the Harbour Campus."
    [own] = features(question, festival, title="Northbridge Research News")
    [other] = features(question, festival, title="Research News")
    assert own["unmatched_unit"] == 0.0 and other["unmatched_unit"] > 0.0
    assert own["names_missing_unit"] == 0.0


def test_a_lower_case_name_is_one_the_corpus_writes_capitalised_once_or_does_not_know(qa):
    corpus = qa.searcher.corpus()
    assert "canada" not in corpus.proper  # written as a name once only
    assert {"canada", "malaysia"} <= question_names("how much did canada and malaysia give", corpus)
    # a typo of a corpus word, and a word the corpus writes in lower case, are not names
    assert not {"canda", "contribut"} & question_names("how much did canda contribute", corpus)


def test_an_acronym_the_corpus_never_defines_says_the_name_a_question_spells_it_with(qa):
    """The seed bulletin writes "UNOCT" and "UN", never "Office of Counter-Terrorism (UNOCT)"."""
    corpus = qa.searcher.corpus()
    question = "When was the Office of Counter-Terrorism established?"
    founding = "Established through GA resolution 71/291 on 15 June 2017, the Office has 5 functions:"
    [unoct] = candidates(Question(question, question), [hit(founding, section="UNOCT Mandate")], corpus, None)
    [unnamed] = candidates(Question(question, question), [hit(founding, section="Mandate")], corpus, None)
    assert unoct.feature("unmatched_unit") == 0.0 and unoct.feature("names_missing_paragraph") == 0.0
    assert unnamed.feature("unmatched_unit") > 0.0 and unnamed.feature("names_missing_paragraph") > 0.0
