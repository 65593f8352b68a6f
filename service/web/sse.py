"""Server-sent events framing: numbered events, a reconnection delay, and keep-alive comments while the answer is
being worked out.

An answer may take a while (an LLM, a cold model), and proxies and load balancers drop a connection that has been
silent for long (nginx's proxy_read_timeout is 60 s by default; some cloud balancers give up sooner). So the
events are produced on a thread of their own and, whenever none has come for `KEEPALIVE_S`, the stream sends a
comment line, which every client ignores. The stream opens with `retry:` (how long an EventSource-style client
waits before reconnecting) and every event carries an `id:`, its number in the stream, so a client can tell how
far it got. There is no resuming from `Last-Event-ID`: a question is asked by POST and answered once, so a client
that lost the stream asks again.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Iterable, Iterator

from flask import copy_current_request_context

KEEPALIVE_S = 15.0  # seconds of silence before a keep-alive comment; under every common proxy idle timeout (60 s)
RETRY_MS = 3000  # milliseconds an EventSource waits before reconnecting (the spec leaves it to the browser)
_END = object()

Event = tuple[str, dict]  # (event name, JSON data)


def frame(name: str, data: dict, event_id: int) -> str:
    """One event; JSON keeps newlines in the data out of the framing."""
    return f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def stream(events: Iterable[Event], keepalive_s: float | None = None) -> Iterator[str]:
    """`events` as the text of an event stream: `retry:` first, each event numbered from 1, and a `: keep-alive`
    comment after every `keepalive_s` (default `KEEPALIVE_S`) without one.

    Call it in a request (inside `stream_with_context`): `events` runs on a thread with a copy of the request
    context, so it may build URLs. An exception there ends the stream by raising here, after what came before.
    """
    interval = KEEPALIVE_S if keepalive_s is None else keepalive_s
    produced: queue.Queue = queue.Queue()

    @copy_current_request_context
    def produce() -> None:
        try:
            for event in events:
                produced.put(event)
        except BaseException as e:  # handed to the response's thread, which raises it
            produced.put(e)
        produced.put(_END)

    yield f"retry: {RETRY_MS}\n\n"
    threading.Thread(target=produce, name="bqa-sse", daemon=True).start()
    event_id = 0
    while True:
        try:
            item = produced.get(timeout=interval)
        except queue.Empty:
            yield ": keep-alive\n\n"
            continue
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        event_id += 1
        yield frame(*item, event_id)
