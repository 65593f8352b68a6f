"""The answerer end to end on the seed corpus (real index, real embeddings, shipped weights): reworded questions
answered with a quoted, cited sentence; abstentions that quote the closest sentence; follow-ups through the same
scorer. Quality in general is asserted on held-out folds (test_quality.py), not here."""

from __future__ import annotations

import pytest

from tests.conftest import url_for
from service.evaluate import includes


# Known misses of the shipped weights, kept visible: strict, so a model that gets them right fails the marker and
# the marker must go. The scorer chooses the right sentence here, but its confidence stays under the threshold.


@pytest.fixture(scope="module")
def qa(qa):
    """The session's service (same index and database) with the shipped threshold, as users get it."""
    from dataclasses import replace

    from service.pipeline import BulletinQA

    shipped = BulletinQA(replace(qa.config, answer_threshold=None), qa.store, qa.db)
    shipped.searcher = qa.searcher
    return shipped


def ask(qa, question, conversation_id=None):
    return qa.ask(question, url_for, conversation_id=conversation_id)


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Who paid for the Countering Terrorist Travel programme this month?", "India"),
        pytest.param("In what year was UNCCT set up?", "2011", marks=pytest.mark.xfail(
            strict=True, reason="the right sentence, quoted as the closest, at confidence 0.28 under the threshold 0.49")),
        ("How many Member States sit on the UNCCT Advisory Board?", "21"),
        ("who put money into the gender and identities platform?", "Canada"),
    ],
)
def test_the_issues_reworded_questions_are_answered(qa, question, expected):
    response = ask(qa, question)
    assert response["answerable"] is True, response["answer"]
    assert includes(response["answer"], expected), response["answer"]
    assert 0.0 <= response["confidence"] <= 1.0
    citation = response["citations"][0]
    assert citation["quote"] in citation["text"]  # a verbatim span of the cited paragraph
    assert "[1]" in response["answer"]


@pytest.mark.parametrize("question", [
    "Who funded CT Travel?",
    pytest.param("Who supported CT Travel in March?", marks=pytest.mark.xfail(strict=True, reason=(
        "retrieval ranks the donor paragraph 6th, one short of the 5 kept (keyword 2nd, dense below 8th; a tie at 5th "
        "under the uint8-weight model), so the webinar sentence is quoted"))),
])
def test_one_donor_of_a_two_donor_sentence_is_quoted_alone(qa, question):
    response = ask(qa, question)
    assert response["answerable"] is True
    assert "India ($500,000)" in response["answer"] and "Canada" not in response["answer"]
    assert response["citations"][0]["section"] == "Highlights"


@pytest.mark.parametrize(
    "question",
    [
        "What is the annual budget of the UNOCT Doha Hub?",
        pytest.param("How many staff work at the UNOCT Doha Hub?", marks=pytest.mark.xfail(
            strict=True, reason="answers with the sentence naming the Doha Hub's experts, at confidence 0.54")),
        pytest.param("Who contributed to the Cybersecurity Programme?", marks=pytest.mark.xfail(
            strict=True, reason="answers with Canada's contribution to another programme, at confidence 0.59")),
    ],
)
def test_an_abstention_quotes_the_closest_sentence_marked_as_not_an_answer(qa, question):
    response = ask(qa, question)
    assert response["answerable"] is False
    assert response["answer"].startswith("The bulletins don't say. The closest they come: “")
    [citation] = response["citations"]
    assert citation["quote"] in citation["text"] and f"“{citation['quote']}” [1]" in response["answer"]
    assert response["confidence"] < qa.answerer.threshold


@pytest.mark.parametrize(
    "question", ["What is the boiling point of water at sea level?", "Who won the football world cup?"]
)
def test_an_unrelated_question_gets_no_quote(qa, question):
    response = ask(qa, question)
    assert response["answerable"] is False and response["answer"].startswith("The bulletins don't say")


def test_how_much_after_a_who_question_gives_the_amount(qa):
    first = ask(qa, "who put money into the gender and identities platform?")
    second = ask(qa, "How much?", first["conversation_id"])
    assert second["answerable"] is True, second["answer"]
    assert includes(second["answer"], "1,139,987"), second["answer"]


def test_what_about_india_after_how_much_did_canada_give(qa):
    first = ask(qa, "how much did canada give?")
    assert includes(first["answer"], "1,139,987"), first["answer"]
    second = ask(qa, "what about india?", first["conversation_id"])
    assert second["resolved_question"] == "how much did india give?"
    assert second["answerable"] is True and includes(second["answer"], "500,000"), second["answer"]


def test_a_lead_in_sentence_brings_its_list(qa):
    response = ask(qa, "What are the 5 functions of the Office?")
    assert response["answerable"] is True, response["answer"]
    assert len(response["citations"]) == 6  # the lead-in and each of the five bullets
    assert "Provide leadership" in response["answer"]


def test_the_threshold_is_configurable(qa):
    from dataclasses import replace

    from service.pipeline import BulletinQA

    strict = BulletinQA(replace(qa.config, answer_threshold=1.0), qa.store, qa.db)
    strict.searcher = qa.searcher
    response = strict.ask("Who funded CT Travel?", url_for)
    assert response["answerable"] is False and response["answer"].startswith("The bulletins don't say")


def test_warming_up_builds_what_the_first_question_would_wait_for(qa):
    """`bqa serve` and `bqa eval` warm up before the first question: the sentence splitter (pysbd, imported and run
    once) and the country-name pattern (every country pycountry names) are made then, not while the first user
    waits (143 ms for a first question in `bqa eval`, about 25 ms for the next ones)."""
    from answer import facts
    from index import sentences

    facts._country_pattern.cache_clear()
    vars(sentences._local).pop("segmenter", None)
    qa.warm_up()
    assert facts._country_pattern.cache_info().currsize == 1
    assert getattr(sentences._local, "segmenter", None) is not None
    assert facts.countries_in("India and the Kingdom of Saudi Arabia gave") == {"india", "kingdom of saudi arabia"}
