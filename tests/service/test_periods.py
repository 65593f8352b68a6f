"""Periods end to end, over five monthly bulletins made from the seed (tests.conftest.MONTHLY): a question that names
a period is answered from that period's bulletin, relative periods are read against the newest bulletin, citations
carry their period, and boilerplate every issue repeats is cited once, from the newest issue.

Whether the answerer is confident enough to answer is its own business (tests/answer/); here what matters is where
the answer, or the closest sentence it quotes when it abstains, comes from."""

from __future__ import annotations

import pytest

from service.app import create_app
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
