"""The optional LLM answerer, end to end through `ask`: what users get from real small-model outputs after the
citation check, and what they get when the model's server fails.

The model outputs are real: recorded once from llama.cpp servers running SmolLM2-135M-Instruct and
Qwen2.5-Coder-0.5B-Instruct on this machine (tests/answer/cassettes/README.md has the packages and the command) and
replayed here; a plain `pytest` never touches the network. Each test first asserts what the model said, so that
a re-recording in which the model happens to behave differently fails loudly instead of testing nothing.

The failure paths run against real HTTP servers on the loopback interface, started by the tests.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from werkzeug.serving import make_server

from tests.conftest import PANEL_QUESTION, StreamingModel, free_port, passage_number, sse_events, url_for
from answer import Answer, prompts
from service.app import create_app
from service.config import Config
from answer.llm import PROMPT_TOKENS
from service.pipeline import BulletinQA

# Where the recording servers listened: cassettes match requests on host, port and body.
SMOLLM = ("http://127.0.0.1:8089/v1", "smollm2-135m-instruct")
QWEN = ("http://127.0.0.1:8090/v1", "qwen2.5-coder-0.5b-instruct")
RECORDING_TIMEOUT = 300.0  # a CPU-only model on 2 busy cores; replay takes milliseconds


@pytest.fixture
def vcr_config(request):
    """Replay only, unless `--record-mode` or BQA_RECORD_MODE asks to record (tests/answer/cassettes/README.md)."""
    return {
        "record_mode": request.config.getoption("--record-mode") or os.environ.get("BQA_RECORD_MODE", "none"),
        "match_on": ("method", "scheme", "host", "port", "path", "query", "body"),
        "filter_headers": ["authorization"],
    }


def with_llm(qa: BulletinQA, base_url: str, model: str, timeout: float = RECORDING_TIMEOUT) -> BulletinQA:
    """The session's service (same index, same database) with an LLM configured."""
    config = replace(qa.config, llm_base_url=base_url, llm_model=model, llm_timeout=timeout)
    service = BulletinQA(config, qa.store, qa.db)
    service.searcher = qa.searcher
    return service


def ask(service: BulletinQA, question: str, conversation_id: str | None = None) -> dict:
    return service.ask(question, url_for, conversation_id=conversation_id)


def replies(cassette) -> list[str]:
    """What the model said in each recorded exchange, in order: the text of its streamed chunks, joined."""
    assert len(cassette), "no recorded model output: record it (tests/answer/cassettes/README.md)"
    return [_streamed_text(r["body"]["string"]) for r in cassette.responses]


def _streamed_text(body: bytes | str) -> str:
    body = body.decode() if isinstance(body, bytes) else body
    chunks = [json.loads(line[len("data: "):]) for line in body.splitlines()
              if line.startswith("data: ") and line != "data: [DONE]"]
    return "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks if chunk["choices"])


def paragraph_holding(qa: BulletinQA, needle: str) -> str:
    return next(pid for pid, node in qa.searcher.corpus().paragraphs.items() if needle in node.text)


# -- recorded outputs: what the check does with each -------------------------------------------------------------


@pytest.mark.vcr
def test_invented_doha_hub_funders_are_rejected_and_the_answer_abstains(qa, vcr):
    response = ask(with_llm(qa, *SMOLLM), "Who funded the UNOCT Doha Hub?")
    [draft] = replies(vcr)
    # No bulletin says who funds the Doha Hub; the model names two funders and a third supporter.
    assert draft.startswith("The UNOCT Doha Hub was funded by the United Nations Development Programme (UNDP)")
    assert response["answerable"] is False and response["answerer"] == "extractive"
    assert response["answer"].startswith("The bulletins don't")
    assert response["removed_sentences"] == 2
    assert not {"UNDP", "World Bank"} & set(response["answer"].split())


@pytest.mark.vcr
def test_an_invented_funder_is_removed_and_the_extractive_answer_given(qa, vcr):
    expected = ask(qa, "Who funded CT Travel?")
    response = ask(with_llm(qa, *SMOLLM), "Who funded CT Travel?")
    [draft] = replies(vcr)
    assert draft.startswith("The Port Academy funded CT Travel")  # the worked example's name, copied
    assert response["answerer"] == "extractive" and response["removed_sentences"] == 1
    assert response["answer"] == expected["answer"] and "India" in response["answer"]
    assert "Port Academy" not in response["answer"]


@pytest.mark.vcr
def test_a_correct_answer_passes_unchanged_with_its_citation(qa, vcr):
    response = ask(with_llm(qa, *SMOLLM), "How many participants did the panel on contactless biometrics bring together?")
    [draft] = replies(vcr)
    assert response["answerer"] == "llm" and response["removed_sentences"] == 0
    assert response["answer"] == draft == "The panel brought together 45 participants [1]."
    [citation] = response["citations"]
    assert citation["n"] == 1 and citation["paragraph_id"] == paragraph_holding(qa, "45 participants")
    assert "45 participants" in citation["quote"] and citation["quote"] in citation["text"]


@pytest.mark.xfail(strict=True, reason="recorded again on 2026-12-02: the model writes 'established in 2017 [3]', "
                   "whose [3] is corrected to [1], but the extractive answer it is checked against quotes the founding "
                   "sentence with the list of functions it leads into, so the check gives that instead (README)")
@pytest.mark.vcr
def test_a_wrong_passage_number_is_corrected(qa, vcr):
    response = ask(with_llm(qa, *SMOLLM), "When was the Office of Counter-Terrorism established?")
    [draft] = replies(vcr)
    assert draft.endswith("in 2017 [3].")  # passage [3] is not the Office's founding
    assert response["answerer"] == "llm" and response["removed_sentences"] == 0
    assert response["answer"] == draft.replace("[3]", "[1]")
    [citation] = response["citations"]
    assert citation["n"] == 1 and citation["paragraph_id"] == paragraph_holding(qa, "15 June 2017")


@pytest.mark.vcr
def test_a_list_left_incomplete_by_the_check_gives_the_extractive_answer(qa, vcr, caplog):
    caplog.set_level(logging.INFO, logger="answer.llm")
    question = "What are the four pillars of the UN Global Counter-Terrorism Strategy?"
    response = ask(with_llm(qa, *SMOLLM), question)
    [draft] = replies(vcr)
    # Pillars I and II as the bulletin words them; III and IV are not the Strategy's.
    assert "1. Addressing the condition conducive to the spread of terrorism;" in draft
    assert "3. Building a counter-terrorism framework that is aligned with the UN's Sustainable Development Goals;" \
        in draft
    assert "4. Building forward better for resilient societies, including human rights and gender equality;" in draft
    assert "Ensuring human rights" not in draft and "Building States" not in draft
    checked = [r.getMessage() for r in caplog.records if r.getMessage().startswith("citation check:")]
    assert any("are:': asks or announces" in line for line in checked)  # the lead-in, taken out
    assert sum("Building" in line and ("cites no given passage" in line) for line in checked) == 2  # III, IV taken out
    # What is left (Pillars I and II) leaves out what Pillars III and IV say.
    left_out = next(r.getMessage() for r in caplog.records if "leaves out" in r.getMessage())
    assert "Pillar III" in left_out and "Pillar IV" in left_out
    assert response["answerer"] == "extractive" and response["answer"] == ask(qa, question)["answer"]
    assert "Pillar IV: Ensuring human rights and the rule of law" in response["answer"]
    assert "robust counter-terrorism capability" not in response["answer"]


@pytest.mark.vcr
def test_a_false_refusal_gives_the_extractive_answer(qa, vcr):
    response = ask(with_llm(qa, *QWEN), "Who funded CT Travel in March?")
    [draft] = replies(vcr)
    assert draft == "NOT IN THE BULLETINS"  # although a passage names India's contribution
    assert response["answerer"] == "extractive" and response["answerable"] is True
    assert "India ($500,000)" in response["answer"]


@pytest.mark.vcr
def test_an_amount_copied_from_the_worked_examples_is_removed(qa, vcr):
    question = "Which State's contribution keeps the Global Counter-Terrorism Coordination Compact running?"
    response = ask(with_llm(qa, *QWEN), question)
    [draft] = replies(vcr)
    assert "$250,000" in draft  # Norway's amount in the prompt's example, given to Qatar
    assert response["answerer"] == "extractive" and "Qatar" in response["answer"]
    assert "250,000" not in response["answer"]


@pytest.mark.vcr
def test_a_follow_up_the_model_cannot_condense_keeps_the_no_llm_resolution(qa, vcr):
    service = with_llm(qa, *SMOLLM)
    first = ask(service, "What did Canada fund in March?")
    second = ask(service, "How much was it?", first["conversation_id"])
    answer, condensed, _ = replies(vcr)
    assert answer == "Canada funded $1,139,987 in March [2]."  # true, but not what Canada funded
    assert first["answerer"] == "extractive" and "Gender and Identities Platform" in first["answer"]
    assert condensed == "How much was it?"  # no subject: the rewrite dropped Canada, so it is not used
    assert second["resolved_question"] == "How much was it? [What did Canada fund in March?]"
    assert "1,139,987" in second["answer"] and second["citations"][0]["paragraph_id"] == first["citations"][0]["paragraph_id"]


@pytest.mark.vcr
def test_a_streamed_answer_never_shows_the_invented_text(qa, vcr):
    service = with_llm(qa, *SMOLLM)
    client = create_app(service.config, qa=service).test_client()
    body = client.post("/api/v1/ask/stream", json={"question": "Who funded the UNOCT Doha Hub?"}).get_data(as_text=True)
    [draft] = replies(vcr)
    assert "World Bank" in draft and "World Bank" not in body and "UNDP" not in body
    events = {line[len("event: "):] for line in body.splitlines() if line.startswith("event: ")}
    assert {"meta", "delta", "citations", "done"} <= events
    citations = json.loads(body.split("event: citations\ndata: ", 1)[1].split("\n", 1)[0])
    assert citations["answerable"] is False and citations["answerer"] == "extractive"


# -- sentence by sentence: a model server on loopback that streams its reply slowly ------------------------------


def test_each_sentence_is_streamed_once_checked_before_the_model_has_finished(config, qa, streaming_model):
    service = streaming_model.service(config)
    server = make_server("127.0.0.1", 0, create_app(service.config, qa=service), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    events = []
    try:
        with requests.post(f"http://127.0.0.1:{server.server_port}/api/v1/ask/stream", json={"question": PANEL_QUESTION},
                           stream=True, timeout=120) as response:
            for name, data in sse_events(response):
                events.append((name, data))
                if name == "delta":
                    # The model holds its last token until it is released: this sentence came while it was writing.
                    assert not streaming_model.finished.is_set()
                    streaming_model.release.set()
    finally:
        server.shutdown()
    names = [name for name, _ in events]
    assert names == ["meta", "delta", "citations", "done"]
    (_, delta), (_, final) = events[1], events[2]
    [prompt] = streaming_model.prompts
    n = passage_number(prompt, "45 participants")
    assert delta["text"] == f"The panel on contactless biometrics brought together 45 participants [{n}]."
    assert not any("World Bank" in json.dumps(data) for _, data in events)  # the invented sentence: never sent
    assert final["answer"] == delta["text"] and final["answerer"] == "llm" and final["removed_sentences"] == 1
    [citation] = final["citations"]
    assert citation["n"] == n and "45 participants" in citation["quote"]
    stored = service.db.turns(events[0][1]["conversation_id"])[-1]
    assert stored["answer"] == delta["text"]  # what was streamed is what the conversation keeps


def streamed(config, reply) -> tuple[Answer, list[str], Answer]:
    """(the extractive answer, the sentences shown as the model wrote `reply(prompt)`, the answer given) for
    `PANEL_QUESTION`, with a `StreamingModel` as the LLM."""
    model = StreamingModel(reply)
    try:
        service = model.service(config)
        corpus = service.searcher.corpus()
        question = service.answerer.resolve(PANEL_QUESTION, [], corpus)
        extractive, *sentences, answer = service.answerer.stream(question, service.retrieve(question, corpus), corpus)
    finally:
        model.close()
    assert extractive.answerer == "extractive" and "45 participants" in extractive.text
    return extractive, sentences, answer


UNCCT_PANEL = "UNCCT organized a virtual panel discussion on contactless biometrics technologies [{n}]."


def test_a_true_sentence_that_says_less_than_the_extractive_answer_waits_for_one_that_completes_it(qa, config):
    """The first sentence is true but names no figure: alone it says less than the extractive answer. It is shown
    only once the next one completes the answer, and when none does it is never shown at all."""

    def completed(prompt: str) -> str:
        n = passage_number(prompt, "45 participants")
        return (f"{UNCCT_PANEL.format(n=n)} It brought together 45 participants [{n}]. "
                f"It was funded by the World Bank [{n}].")

    def never_completed(prompt: str) -> str:
        n = passage_number(prompt, "45 participants")
        return f"{UNCCT_PANEL.format(n=n)} It was funded by the World Bank [{n}]."

    _, sentences, answer = streamed(config, completed)
    assert [s.split(" [")[0] for s in sentences] == [UNCCT_PANEL.split(" [")[0], "It brought together 45 participants"]
    assert answer.answerer == "llm" and answer.text == " ".join(sentences) and answer.removed_sentences == 1

    extractive, sentences, answer = streamed(config, never_completed)
    assert sentences == []  # nothing shown that the answer would then take back
    assert answer.answerer == "extractive" and answer.text == extractive.text and answer.removed_sentences == 2


# -- the server fails: the extractive answer, within the timeout, never a 500 -----------------------------------

FAILURE_TIMEOUT = 1.0
QUESTION = "How many experts took part in the CT Travel introductory webinar?"
_VALID = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "25 experts took part [1]."},
                       "finish_reason": "stop"}]}


@contextmanager
def llm_server(behaviour: str):
    """A loopback HTTP server misbehaving as asked; yields (base URL, list of request paths it received)."""
    received: list[str] = []
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(self.path)
            if behaviour == "slow":
                release.wait(FAILURE_TIMEOUT * 5)  # well past the timeout; then a valid answer, too late
                self._send(200, json.dumps(_VALID).encode())
            elif behaviour == "error":
                self._send(500, b'{"error": {"message": "model crashed"}}')
            elif behaviour == "garbage":
                self._send(200, b'{"choices": [{"message": {"content": "25 experts')
            elif behaviour == "no choices":
                self._send(200, json.dumps({**_VALID, "choices": []}).encode())

        def _send(self, status: int, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up first, as it should
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", received
    finally:
        release.set()
        server.shutdown()
        server.server_close()


@contextmanager
def closed_port():
    """A loopback address nothing listens on: connections are refused at once."""
    yield f"http://127.0.0.1:{free_port()}/v1", None


@pytest.mark.parametrize("behaviour", ["slow", "error", "garbage", "no choices", "connection refused"])
def test_a_failing_model_server_gives_the_extractive_answer_within_the_timeout(qa, behaviour):
    expected = ask(qa, QUESTION)
    with closed_port() if behaviour == "connection refused" else llm_server(behaviour) as (base_url, received):
        service = with_llm(qa, base_url, "any-model", timeout=FAILURE_TIMEOUT)
        response = create_app(service.config, qa=service).test_client().post("/api/v1/ask", json={"question": QUESTION})
        if received is not None:
            assert received == ["/v1/chat/completions"]  # the model was asked, once: no retries past the timeout
    assert response.status_code == 200
    data = response.get_json()
    assert data["answerer"] == "extractive" and data["removed_sentences"] == 0
    assert (data["answer"], data["answerable"]) == (expected["answer"], expected["answerable"])
    assert [c["paragraph_id"] for c in data["citations"]] == [c["paragraph_id"] for c in expected["citations"]]
    assert data["timing_ms"]["answer"] < (FAILURE_TIMEOUT + 2.0) * 1000


def test_after_a_failure_the_model_is_left_alone_for_a_while(qa):
    with llm_server("error") as (base_url, received):
        service = with_llm(qa, base_url, "any-model", timeout=FAILURE_TIMEOUT)
        ask(service, QUESTION)
        started = time.perf_counter()
        second = ask(service, "Who funded CT Travel?")
        assert len(received) == 1  # the second question did not wait on a server that just failed
    assert second["answerer"] == "extractive" and "India" in second["answer"]
    assert time.perf_counter() - started < 10


# -- configuration, health, prompt budget ------------------------------------------------------------------------


def test_healthz_reports_the_active_answerer(qa):
    for service, name in ((qa, "extractive"), (with_llm(qa, *SMOLLM), "llm")):
        health = create_app(service.config, qa=service).test_client().get("/healthz").get_json()
        assert health["answerer"] == name


def test_an_llm_base_url_without_a_model_is_refused(monkeypatch):
    monkeypatch.setenv("BQA_LLM_BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.delenv("BQA_LLM_MODEL", raising=False)
    with pytest.raises(SystemExit, match="BQA_LLM_MODEL"):
        Config.from_env()
    monkeypatch.setenv("BQA_LLM_MODEL", "m")
    monkeypatch.setenv("BQA_LLM_TIMEOUT", "soon")
    with pytest.raises(SystemExit, match="BQA_LLM_TIMEOUT"):
        Config.from_env()


def test_the_prompt_numbers_passages_with_their_paragraph_ids_within_the_token_budget(qa):
    service = with_llm(qa, *SMOLLM)
    hits = service.searcher.retriever(20).retrieve("Which countries took part in workshops?")
    passages, messages = service.answerer.llm._prompt("Which countries took part in workshops?", hits)
    assert prompts.count_message_tokens(messages) <= PROMPT_TOKENS
    assert 1 < len(passages) < len(hits)  # the budget keeps the best passages, not all twenty
    real = messages[-1].content
    assert real.startswith(f"Passages:\n[1] ({passages[0].paragraph_id}) ")
    assert real.rstrip().endswith("Question: Which countries took part in workshops?")
    assert [m.role.value for m in messages[:3]] == ["system", "user", "assistant"]  # worked examples first
