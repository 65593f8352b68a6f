"""The gunicorn worker of `bqa serve --workers N`: gthread, with a deadline for reading each request.

gthread gives each connection one of a few threads, which then blocks reading the request for as long as the client
takes to send it. Eight clients trickling a body a byte at a time held every thread of `--workers 2` and /healthz
timed out. Here a connection has `Config.request_read_timeout_s` (BQA_REQUEST_READ_TIMEOUT_S) from the moment it is
handed to a thread to deliver its request line, headers and body. Past it a read gets only what has already
arrived: a request that has not is cut off (408 when the app was reading its body), and the thread is free again.
Writing the response is not bounded. This bounds the damage; it does not make slow clients free: production still
wants a buffering reverse proxy in front (nginx), which holds slow connections at almost no cost and hands gunicorn
whole requests.

This module is imported by gunicorn's arbiter, before it forks: it must not build the app (that is `service.wsgi`).
"""

from __future__ import annotations

import time

from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import ThreadWorker
from werkzeug.exceptions import RequestTimeout

from service.config import Config

# Seconds a read past the deadline still waits: enough for bytes already in flight on the loopback or the LAN (a
# request queued behind busy threads has usually arrived whole), far too short to trickle anything.
LATE_READ_WAIT_S = 0.05


class RequestReadTimeout(RequestTimeout, NoMoreData):
    """The client did not send its request within the deadline. A 408 to Flask when the app was reading the body;
    to gunicorn, reading headers, a client that went away (it closes the connection and logs it at debug level)."""


class ReadDeadlineSocket:
    """A connection's socket whose reads end at `deadline` (time.monotonic()); everything else is the socket's."""

    def __init__(self, sock, deadline: float, timeout_s: float):
        self._sock = sock
        self.deadline = deadline
        self.timeout_s = timeout_s

    def recv(self, size: int, *flags):
        return self._read(self._sock.recv, size, *flags)

    def recv_into(self, buffer, *arguments):
        return self._read(self._sock.recv_into, buffer, *arguments)

    def _read(self, read, *arguments):
        self._sock.settimeout(max(self.deadline - time.monotonic(), LATE_READ_WAIT_S))
        try:
            return read(*arguments)
        except TimeoutError:
            raise RequestReadTimeout(
                f"The request did not arrive within {self.timeout_s:g} s. Send it whole; a slow link needs a "
                "buffering proxy in front of bqa."
            ) from None
        finally:
            self._sock.settimeout(None)  # blocking, as gthread keeps its sockets while a thread handles them

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class DeadlineThreadWorker(ThreadWorker):
    """gthread whose connections read through a `ReadDeadlineSocket`, the deadline set each time a connection is
    handed to the thread pool (at accept, and for each request on a kept-alive connection)."""

    def init_process(self) -> None:
        self.read_timeout_s = Config.from_env().request_read_timeout_s
        super().init_process()

    def enqueue_req(self, conn) -> None:
        if not self.cfg.is_ssl:  # an SSL socket wraps the plain one itself; bqa leaves TLS to the proxy
            deadline = time.monotonic() + self.read_timeout_s
            if isinstance(conn.sock, ReadDeadlineSocket):
                conn.sock.deadline = deadline
            else:
                conn.sock = ReadDeadlineSocket(conn.sock, deadline, self.read_timeout_s)
        super().enqueue_req(conn)
