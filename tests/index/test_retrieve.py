"""Hybrid retrieval over the indexed seed corpus: the paragraphs a question needs, within the filters it gives."""

from __future__ import annotations

import pytest

from tests.conftest import STORES, on_both_stores
from index.retrieve import FilterError, Filters
from index.text import clean_markdown, fold

SEED_ID = "unoct-highlights-2021-03"


def normalise(text: str) -> str:
    """As the dev set compares evidence: case and white space folded, Markdown escapes and links removed."""
    return fold(clean_markdown(text))


qa = pytest.fixture(scope="module", params=STORES, name="qa")(on_both_stores)


def retrieve(qa, question: str, top_k: int = 5, filters: Filters | None = None):
    return qa.searcher.retriever(top_k, filters).retrieve(question)


def test_an_acronym_finds_the_paragraph_that_only_uses_the_long_form(qa):
    hits = retrieve(qa, "Who funded CT Travel?")
    assert len(hits) == 5
    funders = [h for h in hits if "India ($500,000)" in h.node.text]
    assert funders, [h.node.text[:80] for h in hits]
    assert "CT Travel" not in funders[0].node.text
    assert "Countering Terrorist Travel Programmes" in funders[0].node.text


def test_dev_evidence_is_in_the_top_five(qa, dev_items):
    """Every dev turn with evidence: a follow-up is asked with its conversation's earlier questions before it,
    as retrieval alone cannot know what "it" is."""
    checked, missing = 0, []
    for item in dev_items:
        earlier: list[str] = []
        for turn in item["turns"]:
            query = " ".join(earlier + [turn["question"]])
            earlier.append(turn["question"])
            if not turn.get("evidence"):
                continue
            checked += 1
            hits = retrieve(qa, query)
            if not any(normalise(turn["evidence"]) in normalise(h.node.text) for h in hits):
                missing.append((item["id"], turn["question"], [h.node.text[:60] for h in hits]))
    assert checked >= 10
    assert not missing, missing


def test_results_are_distinct_paragraphs_best_first_with_their_place(qa):
    hits = retrieve(qa, "workshops organized by UNCCT and UNODC", top_k=8)
    assert len(hits) == 8
    ids = [h.node.node_id for h in hits]
    assert len(set(ids)) == len(ids)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    corpus = qa.corpus()
    for hit in hits:
        meta = hit.node.metadata
        assert hit.node.text == corpus.paragraphs[hit.node.node_id].text
        assert meta["bulletin_id"] == SEED_ID
        assert meta["bulletin_title"] == "UNOCT Highlights"
        assert meta["period"] == "March 2021"
        assert meta["section"] and meta["ordinal"] >= 1
        assert {"dense_score", "keyword_score"} <= set(meta)


def test_top_k_bounds_the_results(qa):
    assert len(retrieve(qa, "Who funded CT Travel?", top_k=1)) == 1
    assert len(retrieve(qa, "Who funded CT Travel?", top_k=3)) == 3


def test_a_repeated_question_gets_the_same_results_and_its_own_list(qa):
    first = retrieve(qa, "Who funded CT Travel?")
    first.append(first[0])  # what a caller does with its list (the pipeline adds carried paragraphs)
    again = retrieve(qa, "Who funded CT Travel?")
    assert len(again) == 5
    assert [(h.node.node_id, h.score) for h in again] == [(h.node.node_id, h.score) for h in first[:5]]
    assert [h.node.node_id for h in retrieve(qa, "Who funded CT Travel?", filters=Filters(("no-such-bulletin",)))] == []


@pytest.mark.parametrize(
    "raw",
    [
        {"bulletin_ids": ["no-such-bulletin"]},
        {"period_from": "2022-01"},
        {"period_to": "2020-12"},
        {"period_from": "2021-04", "period_to": "2021-06"},
        {"bulletin_ids": [SEED_ID], "period_from": "2022-01"},
    ],
)
def test_filters_that_exclude_the_seed_return_nothing(qa, raw):
    assert retrieve(qa, "Who funded CT Travel?", filters=Filters.parse(raw)) == []


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {},
        {"bulletin_ids": [SEED_ID]},
        {"period_from": "2021-03"},
        {"period_to": "2021-03"},
        {"period_from": "2021-01", "period_to": "2021-12"},
        {"bulletin_ids": [SEED_ID, "another-one"], "period_from": "2020-01", "period_to": "2021-03"},
    ],
)
def test_filters_that_admit_the_seed_still_find_the_answer(qa, raw):
    hits = retrieve(qa, "Who funded CT Travel?", filters=Filters.parse(raw))
    assert any("India ($500,000)" in h.node.text for h in hits)
    assert all(h.node.metadata["bulletin_id"] == SEED_ID for h in hits)


def test_filters_parse():
    assert Filters.parse(None) == Filters()
    assert Filters.parse({"bulletin_ids": ["a", "b"], "period_from": "2021-01", "period_to": "2021-03"}) == Filters(
        ("a", "b"), "2021-01", "2021-03"
    )


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"bulletin": ["x"]}, "unknown filter"),
        ({"period_from": "2021-01", "since": "2021-01"}, "unknown filter(s): since"),
        ({"period_from": "2021-13"}, "period_from must be a month written YYYY-MM"),
        ({"period_from": "2021-00"}, "period_from"),
        ({"period_to": "2021-3"}, "period_to must be a month written YYYY-MM"),
        ({"period_to": "March 2021"}, "period_to"),
        ({"period_to": "2021-03-01"}, "period_to"),
        ({"period_from": 202103}, "period_from"),
        ({"bulletin_ids": "unoct-highlights-2021-03"}, "bulletin_ids must be a list"),
        ({"bulletin_ids": [""]}, "bulletin_ids"),
        ({"bulletin_ids": [3]}, "bulletin_ids"),
        (["bulletin_ids"], "filters must be an object"),
    ],
)
def test_filters_parse_rejects_unknown_keys_and_malformed_values(raw, message):
    with pytest.raises(FilterError) as caught:
        Filters.parse(raw)
    assert message in str(caught.value)
