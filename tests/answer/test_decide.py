"""The decision: the best-scored sentence quoted whole (or its one answering clause), or an abstention that
quotes the closest sentence, marked as not an answer. A hand-made scorer keeps these about the mechanism."""

from __future__ import annotations

import numpy as np

from answer import Question
from answer.decide import decide
from answer.features import FEATURES, candidates
from answer.scorer import ANSWERABLE_FEATURES, CHOICE_FEATURES, CHOOSER_ONLY, Logistic, Scorer, choice_features
from tests.answer.hits import hit

DONORS = ("In March, UNOCT received a contribution from Canada (US$1,139,987) in support of the Gender and Identities "
          "Platform, and from India ($500,000) in support of the Countering Terrorist Travel Programme.")
WEBINAR = "CT Travel hosted a webinar with 25 experts. The webinar gave an overview of the programme. (2 March)"


def scorer(confidence_bias: float) -> Scorer:
    """Chooses by word overlap; its confidence is sigmoid(bias + the chosen overlap)."""
    n = len(FEATURES)
    choose = Logistic(np.zeros(n), np.ones(n), np.eye(n)[FEATURES.index("overlap")] * 5, 0.0)
    m = len(ANSWERABLE_FEATURES)
    coef = np.zeros(m)
    coef[ANSWERABLE_FEATURES.index("overlap")] = 1.0
    return Scorer(choose, Logistic(np.zeros(m), np.ones(m), coef, confidence_bias), 0.5, {})


def ask(question: str, *texts: str, bias: float = 2.0, threshold: float = 0.5):
    q = Question(question, question)
    hits = [hit(text, pid=f"p-{i}") for i, text in enumerate(texts)]
    return decide(q, candidates(q, hits, None, None), scorer(bias), threshold, None)


def test_the_best_sentence_is_quoted_whole_with_its_citation():
    answer = ask("How many experts joined the webinar?", DONORS, WEBINAR)
    assert answer.answerable and answer.text == "CT Travel hosted a webinar with 25 experts. [1]"
    [citation] = answer.citations
    assert citation.paragraph_id == "p-1" and citation.quote == "CT Travel hosted a webinar with 25 experts."
    assert 0.5 <= answer.confidence <= 1.0


def test_one_donor_of_a_two_donor_sentence_is_the_whole_answer():
    answer = ask("Who funded the Countering Terrorist Travel Programme?", DONORS)
    assert answer.text.startswith("… from India ($500,000)") and "Canada" not in answer.text


def test_a_follow_up_picks_its_clause_by_what_this_turn_names_not_by_the_carried_topic():
    q = Question("How much did India give?", "How much did India give?",
                 topic="Who put money into the Gender and Identities Platform?")
    answer = decide(q, candidates(q, [hit(DONORS)], None, None), scorer(2.0), 0.5, None)
    assert answer.text.startswith("… from India ($500,000)") and "Canada" not in answer.text


def test_a_question_for_several_gets_the_whole_sentence():
    answer = ask("Which countries gave money to UNOCT in March?", DONORS)
    assert answer.text == f"{DONORS} [1]"


def test_a_fact_in_a_follow_up_sentence_is_quoted_with_the_sentence_naming_its_event():
    workshop = ("MLEA and the Coast Guard Academy organized a workshop on firearms trafficking by sea. "
                "The workshop brought together officials from Jamaica and Haiti. (17-18 May)")
    answer = ask("Which countries sent officials to the firearms trafficking workshop?", DONORS, workshop)
    assert answer.text == f"{workshop} [1]"  # both sentences, as written, from the first one's start
    assert answer.citations[0].paragraph_id == "p-1"


def test_a_what_question_gets_the_whole_sentence():
    answer = ask("What did UNOCT receive in March?", DONORS)
    assert answer.text == f"{DONORS} [1]"


def test_below_the_threshold_it_abstains_quoting_the_closest_sentence():
    answer = ask("How many experts joined the webinar?", DONORS, WEBINAR, bias=-5.0)
    assert not answer.answerable
    assert answer.text == "The bulletins don't say. The closest they come: “CT Travel hosted a webinar with 25 experts.” [1]"
    assert answer.citations[0].quote == "CT Travel hosted a webinar with 25 experts."
    assert answer.confidence < 0.5


def test_the_threshold_decides():
    assert ask("How many experts joined the webinar?", WEBINAR, threshold=0.0).answerable
    assert not ask("How many experts joined the webinar?", WEBINAR, threshold=1.0).answerable


def test_no_candidates_is_an_abstention_not_an_error():
    q = Question("Anything?", "Anything?")
    answer = decide(q, [], scorer(0.0), 0.5, None)
    assert not answer.answerable and answer.citations == () and answer.text.startswith("The bulletins don't say")


def test_the_confidence_reads_how_the_choice_stands_among_paragraphs_and_retrievers():
    """A rival sentence in the chosen paragraph cites the same source, one in another paragraph does not; the
    keyword and dense retrievers agree when one paragraph leads both."""
    q = Question("How many experts joined the webinar?", "How many experts joined the webinar?")
    found = candidates(q, [hit(WEBINAR, pid="p-0", dense=0.6, keyword=2.0), hit(DONORS, pid="p-1", dense=0.5,
                                                                                keyword=1.0)], None, None)
    assert [c.unit.node.node_id for c in found] == ["p-0", "p-0", "p-0", "p-1"]  # the webinar's sentences and both
    named = lambda x: dict(zip(CHOICE_FEATURES, x))  # noqa: E731
    features = named(choice_features(found, np.array([3.0, 2.5, 1.0, 0.0]), 0))
    assert features["choose_margin"] == 0.5 and features["paragraph_margin"] == 3.0
    assert features["paragraph_share"] > 0.9 > features["choose_share"]
    assert features["close_candidates"] == np.log1p(1) and features["retrievers_agree"] == 1.0
    disagreeing = candidates(q, [hit(WEBINAR, pid="p-0", dense=0.5, keyword=2.0), hit(DONORS, pid="p-1", dense=0.6,
                                                                                     keyword=1.0)], None, None)
    assert named(choice_features(disagreeing, np.array([3.0, 2.5, 1.0, 0.0]), 0))["retrievers_agree"] == 0.0


def test_the_askings_cosine_picks_the_sentence_but_does_not_raise_the_confidence():
    """CHOOSER_ONLY features move `choose` and not `answerable`: a near miss asks the same thing of another topic."""
    n = len(FEATURES)
    question = Question("Who funded CT Travel?", "Who funded CT Travel?")
    found = candidates(question, [hit(DONORS, pid="p-0"), hit(WEBINAR, pid="p-1")], None, None)
    m = len(ANSWERABLE_FEATURES)
    answerable = Logistic(np.zeros(m), np.ones(m), np.ones(m) * 0.01, 0.0)
    weights = np.zeros(n)
    weights[[FEATURES.index(name) for name in CHOOSER_ONLY]] = 1.0
    chooser = Scorer(Logistic(np.zeros(n), np.ones(n), weights, 0.0), answerable, 0.5, {})
    logits = chooser.rank(found)
    confidence = chooser.confidence(found, logits, 0)
    found[0].x[[FEATURES.index(name) for name in CHOOSER_ONLY]] += 5.0
    assert chooser.rank(found)[0] == logits[0] + 5.0 * len(CHOOSER_ONLY)
    assert chooser.confidence(found, logits, 0) == confidence
