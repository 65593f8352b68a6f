"""The event stream's framing (`service.web.sse`) over a real port: `retry:`, numbered events, and keep-alive
comments while the answer is being worked out (held up here by an LLM server on loopback that has not answered)."""

from __future__ import annotations

import json
import threading

import requests
from werkzeug.serving import make_server

from service.app import create_app
from service.web import sse


def blocks(response):
    """The stream's blocks (the text between blank lines), as they arrive."""
    lines: list[str] = []
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            if lines:
                yield lines
            lines = []
        else:
            lines.append(line)


def test_the_stream_retries_numbers_its_events_and_keeps_the_connection_alive(config, held_model, monkeypatch):
    monkeypatch.setattr(sse, "KEEPALIVE_S", 0.2)  # seconds (15 when served): the test need not wait that long
    app = create_app(config, qa=held_model.service(config))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with requests.post(f"http://127.0.0.1:{server.server_port}/api/v1/ask/stream",
                           json={"question": "Who funded CT Travel in March?"}, stream=True, timeout=60) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            stream = blocks(response)
            assert next(stream) == [f"retry: {sse.RETRY_MS}"]
            events = []
            while not (events and held_model.received):  # warming up, retrieving; then `meta`, and the model asked
                block = next(stream)
                if block != [": keep-alive"]:
                    events.append(block)
            assert next(stream) == [": keep-alive"]  # the model holds the answer: the stream keeps talking
            assert held_model.received == ["/v1/chat/completions"]
            held_model.release.set()
            events += [block for block in stream if block != [": keep-alive"]]
    finally:
        server.shutdown()
    ids = [int(block[0].removeprefix("id: ")) for block in events]
    assert ids == list(range(1, len(events) + 1))
    names = [block[1].removeprefix("event: ") for block in events]
    assert names[0] == "meta" and names[-2:] == ["citations", "done"] and set(names[1:-2]) == {"delta"}
    text = "".join(json.loads(block[2].removeprefix("data: "))["text"] for block in events[1:-2])
    assert "India" in text  # the extractive answer, once the model had failed
