"""Periods end to end, over five monthly bulletins made from the seed (tests.conftest.MONTHLY): a question that names
a period is answered from that period's bulletin, relative periods are read against the newest bulletin, citations
carry their period, and boilerplate every issue repeats is cited once, from the newest issue. Over two publishers'
bulletins: when the period named does not answer, every bulletin is searched.

Whether the answerer is confident enough to answer is its own business (tests/answer/); here what matters is where
the answer, or the closest sentence it quotes when it abstains, comes from."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.app import create_app
from service.pipeline import BulletinQA
from tests.conftest import BOILERPLATE, MONTHLY, private_app

NEWEST = "2021-04"
TOKEN = "periods-admin-token"
APRIL = """# UNOCT Highlights April 2021

## Highlights

In April, UNOCT received a contribution from Japan (US$250,000) in support of the Cybersecurity Programme.
"""


@pytest.fixture(scope="module")
def client(config, monthly_qa):
    return create_app(config, qa=monthly_qa).test_client()


def ask(client, question: str, **body) -> dict:
    response = client.post("/api/v1/ask", json={"question": question, **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def donor(period: str) -> str:
    return MONTHLY[period][1].split(" (")[0]


@pytest.mark.parametrize("question, period", [
    ("Who funded CT Travel in January 2021?", "2021-01"),
    ("who funded ct travel in february", "2021-02"),
    ("Who funded CT Travel in the latest bulletin?", NEWEST),
    ("Who funded CT Travel last month?", NEWEST),
    ("Who funded CT Travel two months ago?", "2021-03"),
    ("Who funded CT Travel in 2020?", "2020-12"),
])
def test_a_question_naming_a_period_is_answered_from_that_period(client, question, period):
    response = ask(client, question)
    month = MONTHLY[period][0]
    assert response["period"]["from"] <= period <= response["period"]["to"]
    assert donor(period) in response["answer"]  # quoted, as the answer or as the closest sentence
    assert response["citations"] and all(month in c["period"] for c in response["citations"])


def test_without_a_period_every_month_is_searched_and_citations_say_which(client, monthly_qa):
    response = ask(client, "Who funded CT Travel?")
    assert response["period"] is None
    assert response["citations"] and all(c["period"] for c in response["citations"])
    hits = monthly_qa.searcher.retriever(5).retrieve("Who funded CT Travel?")
    assert len({h.node.metadata["period"] for h in hits}) > 1


def test_the_callers_filters_win_over_the_period_the_question_names(client):
    response = ask(client, "Who funded CT Travel in the latest bulletin?",
                   filters={"period_from": "2021-01", "period_to": "2021-01"})
    assert response["period"] == {"from": "2021-01", "to": "2021-01"}
    assert response["citations"] and {c["period"] for c in response["citations"]} == {"January 2021"}


def test_a_paragraph_every_issue_repeats_is_cited_once_from_the_newest_issue(client, monthly_qa):
    response = ask(client, "Which country's contribution established the UN Counter-Terrorism Centre?")
    copies = [c for c in response["citations"] if c["text"].startswith(BOILERPLATE)]
    assert len(copies) == 1, [(c["period"], c["text"][:40]) for c in response["citations"]]
    assert copies[0]["bulletin_id"] == f"unoct-highlights-{NEWEST}" and copies[0]["period"] == "April 2021"
    assert response["answerable"] is True and "Saudi Arabia" in response["answer"]

    hits = monthly_qa.searcher.retriever(10).retrieve("capacity-building support UN Counter-Terrorism Centre")
    boilerplate = [h for h in hits if h.node.text.startswith(BOILERPLATE)]
    assert [h.node.metadata["bulletin_id"] for h in boilerplate] == [f"unoct-highlights-{NEWEST}"]


def test_within_a_period_the_boilerplate_comes_from_that_period(client):
    response = ask(client, "Which country's contribution established UNCCT, in January 2021?")
    copies = [c for c in response["citations"] if c["text"].startswith(BOILERPLATE)]
    assert [c["period"] for c in copies] == ["January 2021"]


def test_the_periods_are_listed_newest_first(client):
    periods = client.get("/api/v1/periods").get_json()["periods"]
    assert [p["from"] for p in periods] == sorted(MONTHLY, reverse=True)
    assert periods[0] == {"period": "April 2021", "from": "2021-04", "to": "2021-04", "bulletins": 1}


def test_a_month_published_while_serving_is_a_period_the_next_question_can_name(config, tmp_path):
    """The periods are built once per index generation, and a publish makes a new one."""
    client = private_app(config, tmp_path, admin_token=TOKEN).test_client()
    question = "Who contributed to the Cybersecurity Programme in April 2021?"
    assert ask(client, question)["period"] is None  # no bulletin of April yet: nothing to narrow the search to
    published = client.post("/api/v1/bulletins", json={"name": "unoct-highlights-2021-04.md", "text": APRIL},
                            headers={"Authorization": f"Bearer {TOKEN}"})
    assert published.status_code == 201, published.get_json()
    assert ask(client, question)["period"] == {"from": "2021-04", "to": "2021-04"}


# Two publishers in one folder: the newest bulletin (August) is the health programme's, and it reports July's figures.
TB_AUGUST = """# Highlands TB Programme Bulletin, August 2025

## Case notification

In August, health facilities notified 1,284 people with TB, up from 1,197 in July. Men accounted for 61 per cent of \
notifications and children under 15 for 9 per cent.

## Treatment outcomes

Of the people who started treatment a year earlier, 88 per cent completed it successfully. Kapsiro county reached 92 \
per cent.
"""
BANK_JULY = """# Harbour Development Bank Update, July 2025

## Lending

In July, the Board approved three loans worth US$42 million in total, for port dredging, a coastal road and a water \
utility.

## Staff

The Bank opened a liaison office in Mombasa and appointed Ms. Amina Odhiambo as its first head.
"""


@pytest.fixture(scope="module")
def publishers(config, tmp_path_factory):
    root = tmp_path_factory.mktemp("publishers")
    folder = root / "corpus"
    folder.mkdir()
    (folder / "highlands-tb-bulletin-2025-08.md").write_text(TB_AUGUST, encoding="utf-8")
    (folder / "harbour-bank-update-2025-07.md").write_text(BANK_JULY, encoding="utf-8")
    qa = BulletinQA.from_config(replace(config, data_dir=root / "data", corpus_dirs=(folder,)))
    qa.index()
    return create_app(config, qa=qa).test_client()


@pytest.mark.parametrize("question, said, cited", [
    ("how many tb cases were notified in july", "1,197 in July", "August 2025"),
    ("who was appointed head of the Mombasa office this month", "Amina Odhiambo", "July 2025"),
])
def test_when_the_period_named_does_not_answer_every_bulletin_is_searched(publishers, question, said, cited):
    """July's bulletin is the bank's, and "this month" is the newest bulletin, the health programme's."""
    response = ask(publishers, question)
    assert response["answerable"] is True and said in response["answer"]
    assert response["period"] is None  # the answer is not from the period the question named
    assert [c["period"] for c in response["citations"]] == [cited]


def test_the_period_named_is_searched_first(publishers):
    response = ask(publishers, "how many loans were approved in july")
    assert response["period"] == {"from": "2025-07", "to": "2025-07"}
    assert response["answerable"] is True and "three loans" in response["answer"]


def test_a_fact_of_another_month_does_not_answer_a_question_about_this_one(publishers):
    response = ask(publishers, "How many loans did the board approve in August?")
    assert response["answerable"] is False
    assert response["period"] == {"from": "2025-08", "to": "2025-08"}
