"""Several machines, one service (issue 16): two `bqa serve` processes, each with its own data folder, sharing a
real Chroma server and a real PostgreSQL (BQA_CHROMA_URL, BQA_DATABASE_URL), as two machines behind a load
balancer would. Everything goes over real HTTP to real ports; the only stand-in is a loopback Slack Web API.

The tests run in order on one deployment: each leaves the two machines serving, as the next expects. The Chroma
server is this module's own, so the bulletins published here never reach the session's other indexes.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import chromadb
import psycopg
import pytest
import requests

from index.store import PREFIX, STATE, sentence_collection
from service.config import PROJECT_ROOT
from tests.conftest import PLUMBING_THRESHOLD, SEED, Served, start_chroma
from tests.service.test_slack import SECRET, FakeSlack, event_callback, mention, signed_headers

TOKEN = "machines-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REQUEST_TIMEOUT_S = 300  # a publish embeds a bulletin, and may first wait for another machine's writer
SLACK_QUIET_S = 3.0  # after the one reply, how long no second reply must come

CYBER = "Who contributed to the Cybersecurity Programme in April?"
BULLETIN = """# UNOCT Highlights April 2021

## Highlights

In April, UNOCT received a contribution from {donor} in support of the Cybersecurity Programme.

The Office launched a training course on the protection of soft targets for 35 officials from 12 Member States.
"""


class Machine(Served):
    """One `bqa serve` process with a data folder of its own, started and stopped like a machine of the fleet."""

    def __init__(self, name: str, root: Path, env: dict):
        # up once its API lists the bulletins, the first thing the tests ask of a machine
        super().__init__(root / f"{name}.log", {**env, "BQA_DATA_DIR": root / name}, ready="/api/v1/bulletins")
        self.name = name

    def ask(self, question: str, conversation_id: str | None = None) -> dict:
        body = {"question": question, **({"conversation_id": conversation_id} if conversation_id else {})}
        response = requests.post(f"{self.url}/api/v1/ask", json=body, timeout=REQUEST_TIMEOUT_S)
        assert response.status_code == 200, response.text
        return response.json()

    def publish(self, name: str, text: str) -> requests.Response:
        return requests.post(f"{self.url}/api/v1/bulletins", json={"name": name, "text": text}, headers=AUTH,
                             timeout=REQUEST_TIMEOUT_S)

    def bulletins(self) -> set[str]:
        return {b["id"] for b in requests.get(f"{self.url}/api/v1/bulletins", timeout=30).json()["bulletins"]}


class Deployment:
    def __init__(self, root: Path, chroma_url: str, database_url: str, slack: FakeSlack):
        self.chroma_url = chroma_url
        self.database_url = database_url
        self.slack = slack
        corpus = root / "corpus"  # the same path on every machine, as the image of a fleet has it
        shutil.copytree(PROJECT_ROOT / "corpus", corpus)
        env = {
            "BQA_CORPUS": str(corpus), "BQA_CHROMA_URL": chroma_url, "BQA_DATABASE_URL": database_url,
            "BQA_ADMIN_TOKEN": TOKEN, "BQA_RATE_LIMIT": "0", "BQA_ANSWER_THRESHOLD": str(PLUMBING_THRESHOLD),
            "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET, "BQA_SLACK_API_URL": f"{slack.url}/api/",
            "BQA_LOG_LEVEL": "INFO",
        }
        self.a = Machine("a", root, env)
        self.b = Machine("b", root, env)

    def chroma(self):
        host, port = self.chroma_url.rsplit(":", 1)
        return chromadb.HttpClient(host=host.removeprefix("http://"), port=int(port))

    def generations(self) -> set[str]:
        """The index collections on the Chroma server."""
        return {c.name for c in self.chroma().list_collections() if c.name.startswith(PREFIX)}

    def served_and_previous(self) -> set[str]:
        metadata = self.chroma().get_collection(STATE).metadata
        names = {metadata["active"], metadata.get("previous")} - {None}
        return names | {sentence_collection(n) for n in names}

    def registry(self) -> dict[str, bytes]:
        with psycopg.connect(self.database_url) as db:
            return {bid: bytes(content) for bid, content in db.execute("SELECT id, content FROM bulletins")}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, postgres_server):
    root = tmp_path_factory.mktemp("machines")
    chroma, chroma_url = start_chroma(root / "chroma", root / "chroma.log")
    slack = FakeSlack()
    deployment = Deployment(root, chroma_url, postgres_server.create_database(), slack)
    try:
        deployment.a.start()  # A indexes the bundled corpus; B finds it indexed
        deployment.b.start()
        yield deployment
    finally:
        deployment.a.stop()
        deployment.b.stop()
        slack.server.shutdown()
        slack.server.server_close()
        chroma.terminate()
        chroma.wait(timeout=30)


def donor_answer(machine: Machine, bulletin: str) -> str:
    response = machine.ask(CYBER)
    assert response["answerable"], response
    assert {c["bulletin_id"] for c in response["citations"]} == {bulletin}, response["citations"]
    return response["answer"]


def test_a_bulletin_published_on_a_is_answerable_on_b(fleet):
    published = fleet.a.publish("unoct-highlights-2021-04.md", BULLETIN.format(donor="Japan (US$250,000)"))
    assert published.status_code == 201, published.text
    assert "unoct-highlights-2021-04" in fleet.b.bulletins()
    assert "Japan" in donor_answer(fleet.b, "unoct-highlights-2021-04")


def test_restarting_b_removes_nothing_and_both_still_answer(fleet):
    fleet.b.stop()
    fleet.b.start()
    assert "0 removed" in fleet.b.output().split("Serving on")[-2]  # the start that just happened
    for machine in (fleet.a, fleet.b):
        assert {"unoct-highlights-2021-03", "unoct-highlights-2021-04"} <= machine.bulletins()
        assert "Japan" in donor_answer(machine, "unoct-highlights-2021-04")


def test_a_conversation_started_on_a_goes_on_on_b(fleet):
    first = fleet.a.ask("Who funded CT Travel in March?")
    assert first["answerable"] and "India" in first["answer"]
    follow_up = fleet.b.ask("How much did they give?", conversation_id=first["conversation_id"])
    assert follow_up["turn"] == 2
    assert "CT Travel" in follow_up["resolved_question"]
    assert "500,000" in follow_up["answer"]
    history = requests.get(f"{fleet.a.url}/api/v1/conversations/{first['conversation_id']}", timeout=30).json()
    assert [t["question"] for t in history["turns"]] == ["Who funded CT Travel in March?", "How much did they give?"]


def test_the_same_slack_event_delivered_to_a_and_b_gets_one_reply(fleet):
    fleet.slack.reset()
    body = json.dumps(event_callback(mention("who funded CT Travel in March?"))).encode()
    statuses = []

    def deliver(machine: Machine, retry: str | None) -> None:
        headers = {**signed_headers(body), "Content-Type": "application/json",
                   **({"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else {})}
        statuses.append(requests.post(f"{machine.url}/slack/events", data=body, headers=headers, timeout=30).status_code)

    threads = [threading.Thread(target=deliver, args=(fleet.a, None)), threading.Thread(target=deliver, args=(fleet.b, "1"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200, 200]  # both acknowledged, so Slack stops redelivering
    assert "India" in fleet.slack.answers(1)[0]["text"]
    time.sleep(SLACK_QUIET_S)  # a second reply, were there one, would have been posted by now
    assert len(fleet.slack.posted("/api/chat.postMessage")) == 1
    assert len(fleet.slack.posted("/api/chat.update")) == 1


def test_concurrent_publishes_on_a_and_b_one_wins_and_nothing_is_half_built(fleet):
    versions = {"a": BULLETIN.format(donor="Norway (US$310,000)").replace("April", "May"),
                "b": BULLETIN.format(donor="Qatar (US$275,000)").replace("April", "May")}
    statuses: dict[str, int] = {}
    barrier = threading.Barrier(2)

    def publish(machine: Machine) -> None:
        barrier.wait()
        statuses[machine.name] = machine.publish("unoct-highlights-2021-05.md", versions[machine.name]).status_code

    threads = [threading.Thread(target=publish, args=(m,)) for m in (fleet.a, fleet.b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses.values()) == [201, 409], statuses
    winner = next(name for name, status in statuses.items() if status == 201)
    assert fleet.registry()["unoct-highlights-2021-05"] == versions[winner].encode()
    donor = "Norway" if winner == "a" else "Qatar"
    loser = "Qatar" if winner == "a" else "Norway"
    for machine in (fleet.a, fleet.b):
        response = machine.ask("Who contributed to the Cybersecurity Programme in May?")
        assert donor in response["answer"] and loser not in response["answer"], response
    assert fleet.generations() == fleet.served_and_previous()  # no collection left behind by the loser


def held_writer_lock(database_url: str) -> bool:
    with psycopg.connect(database_url) as db:
        return db.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted").fetchone()[0] > 0


def test_a_killed_mid_publish_b_keeps_serving_and_the_next_writer_completes(fleet):
    june = SEED.read_text(encoding="utf-8").replace("March", "June").replace("India (\\$500,000)", "Chile ($90,000)")
    # nine times the seed: still building when the poll below sees the build begin (the seed alone now builds in
    # well under a second, its sentence vectors coming from its chunks' runs, and slipped past the poll)
    body = june.split("\n", 1)[1]
    big = june + "".join(f"\n\n## Annex {i}\n\n{body}" for i in range(8))
    outcome = []

    def publish() -> None:
        try:
            outcome.append(fleet.a.publish("unoct-highlights-2021-06.md", big).status_code)
        except requests.ConnectionError:
            outcome.append("no answer")

    publishing = threading.Thread(target=publish, daemon=True)
    publishing.start()
    deadline = time.monotonic() + REQUEST_TIMEOUT_S
    while not fleet.generations() - fleet.served_and_previous():  # A has begun building the next generation
        assert time.monotonic() < deadline and publishing.is_alive(), f"A never started building: {outcome}"
        time.sleep(0.01)
    assert held_writer_lock(fleet.database_url)
    fleet.a.kill()  # mid-publish: lock held, its generation half-built
    publishing.join(timeout=60)
    assert outcome == ["no answer"]
    half_built = fleet.generations() - fleet.served_and_previous()
    assert half_built

    assert fleet.b.ask("Who funded CT Travel in March?")["answerable"]  # B keeps serving
    assert "unoct-highlights-2021-06" not in fleet.b.bulletins() | set(fleet.registry())  # no half of A's publish
    assert not held_writer_lock(fleet.database_url)  # PostgreSQL let go of the dead machine's lock
    published = fleet.b.publish("unoct-highlights-2021-07.md", BULLETIN.format(donor="Peru (US$120,000)")
                                .replace("April", "July"))
    assert published.status_code == 201, published.text  # the next writer neither waits forever nor fails
    assert "unoct-highlights-2021-07" in fleet.b.bulletins()
    assert not half_built & fleet.generations()  # A's half-built generation is gone
    fleet.a.start()
    assert "unoct-highlights-2021-07" in fleet.a.bulletins()
    assert fleet.a.publish("unoct-highlights-2021-06.md", big).status_code == 201  # A's publish, done again, lands


def test_any_machine_rebuilds_the_index_from_the_registry(fleet):
    """The Chroma server's data is lost: a machine's start indexes every registered bulletin again, published ones
    included, from the original files the registry holds (no machine has them in a folder)."""
    registered = set(fleet.registry())
    fleet.a.stop()
    fleet.b.stop()
    chroma = fleet.chroma()
    for collection in chroma.list_collections():
        chroma.delete_collection(collection.name)
    fleet.b.start()
    assert fleet.b.bulletins() == registered
    assert "Japan" in donor_answer(fleet.b, "unoct-highlights-2021-04")
