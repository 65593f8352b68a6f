"""👍 / 👎 on answers: stored with the turn they rate, listed only to the admin."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.app import create_app

TOKEN = "s3cret-admin-token"


@pytest.fixture(scope="module")
def client(config, qa):
    return create_app(replace(config, admin_token=TOKEN), qa=qa).test_client()


def answer(client):
    response = client.post("/api/v1/ask", json={"question": "Who funded CT Travel in March?"}).get_json()
    assert response["turn"] == 1
    return response


def test_feedback_is_stored_and_listed_to_the_admin(client):
    asked = answer(client)
    posted = client.post(
        "/api/v1/feedback",
        json={"conversation_id": asked["conversation_id"], "turn": 1, "rating": "down", "comment": "  too long "},
    )
    assert posted.status_code == 201
    listed = client.get("/api/v1/feedback", headers={"Authorization": f"Bearer {TOKEN}"})
    assert listed.status_code == 200
    newest = listed.get_json()["feedback"][0]
    assert newest["id"] == posted.get_json()["id"]
    assert (newest["rating"], newest["comment"], newest["turn"]) == ("down", "too long", 1)
    assert newest["question"] == "Who funded CT Travel in March?" and "India" in newest["answer"]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer"])
def test_feedback_list_needs_the_admin_token(client, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/api/v1/feedback", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_admin_endpoints_are_off_without_a_token(config, qa):
    response = create_app(config, qa=qa).test_client().get("/api/v1/feedback", headers={"Authorization": "Bearer x"})
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "admin_disabled"


@pytest.mark.parametrize(
    "change, status, code",
    [
        ({"rating": "meh"}, 400, "invalid_rating"),
        ({"turn": 0}, 400, "invalid_turn"),
        ({"turn": True}, 400, "invalid_turn"),
        ({"turn": 2}, 404, "turn_not_found"),
        ({"conversation_id": "nope"}, 404, "conversation_not_found"),
        ({"comment": "x" * 2001}, 400, "invalid_comment"),
        ({"stars": 5}, 400, "unknown_field"),
    ],
)
def test_bad_feedback_is_refused_and_nothing_is_stored(client, change, status, code):
    asked = answer(client)
    before = client.get("/api/v1/feedback", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()["feedback"]
    body = {"conversation_id": asked["conversation_id"], "turn": 1, "rating": "up", **change}
    response = client.post("/api/v1/feedback", json=body)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    after = client.get("/api/v1/feedback", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()["feedback"]
    assert after == before


def test_feedback_names_where_it_came_from(client):
    asked = answer(client)
    body = {"conversation_id": asked["conversation_id"], "turn": 1, "rating": "up", "source": "widget"}
    assert client.post("/api/v1/feedback", json=body).status_code == 201
    newest = client.get("/api/v1/feedback?limit=1", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()["feedback"]
    assert newest[0]["source"] == "widget"
    forged = client.post("/api/v1/feedback", json={**body, "source": "slack"})
    assert forged.status_code == 400 and forged.get_json()["error"]["code"] == "invalid_source"
