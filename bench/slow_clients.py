"""Slow clients against `bqa serve --workers 2` (issue 13, item 8): how long does /healthz take while they trickle?

    .venv/bin/python bench/slow_clients.py [--clients 8 32 128] [--read-timeout 10] [--seconds 60]

For each number of clients, starts a fresh server, then opens that many connections that send a request a byte
every 0.2 s (half of them the body of a POST after whole headers, half the headers themselves) and reconnect as
soon as the server drops them, as an attacker would. Meanwhile /healthz is asked once a second; reported are its
latency p50 / p95 / max and how many of those probes failed (no answer within 60 s). With gthread as it was, 8 such
clients held all 8 threads of 2 workers and /healthz timed out; with the read deadline a probe waits at most about
BQA_REQUEST_READ_TIMEOUT_S, however many clients trickle.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from load import free_port, percentile, start_server

PROBE_TIMEOUT_S = 60
TRICKLE_PAUSE_S = 0.2


def trickler(port: int, body: bool, stop: threading.Event, cut: list) -> None:
    start = (b"POST /api/v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
             if body else b"")
    rest = b'{"question": "' + b"a" * 3900 if body else b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 90
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT_S) as connection:
                connection.sendall(start)
                for byte in rest:
                    if stop.is_set():
                        return
                    connection.sendall(bytes([byte]))
                    time.sleep(TRICKLE_PAUSE_S)
        except OSError:
            cut.append(1)  # dropped by the server: come back at once


def probe(port: int) -> float | None:
    """Milliseconds for GET /healthz, or None when it got no answer in time."""
    started = time.perf_counter()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT_S)
        connection.request("GET", "/healthz")
        connection.getresponse().read()
    except OSError:
        return None
    return (time.perf_counter() - started) * 1000


def run(clients: int, read_timeout: float, seconds: float) -> str:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bqa-slow-clients-") as tmp:
        server = start_server(2, Path(tmp) / "data", port, {"BQA_REQUEST_READ_TIMEOUT_S": str(read_timeout)})
        stop, cut = threading.Event(), []
        threads = [threading.Thread(target=trickler, args=(port, i % 2 == 0, stop, cut), daemon=True)
                   for i in range(clients)]
        try:
            for thread in threads:
                thread.start()
            time.sleep(2)
            timings, failed = [], 0
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                started = time.monotonic()
                took = probe(port)
                if took is None:
                    failed += 1
                else:
                    timings.append(took)
                time.sleep(max(0.0, 1 - (time.monotonic() - started)))
        finally:
            stop.set()
            server.terminate()
            server.wait(timeout=60)
    ordered = sorted(timings)
    if not ordered:
        return f"| {clients} | {read_timeout:g} s | {failed} | — | — | — | {len(cut)} |"
    return (f"| {clients} | {read_timeout:g} s | {failed} of {failed + len(ordered)} | "
            f"{percentile(ordered, 0.5):.0f} ms | {percentile(ordered, 0.95):.0f} ms | {ordered[-1]:.0f} ms | {len(cut)} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--read-timeout", type=float, default=10.0, help="BQA_REQUEST_READ_TIMEOUT_S")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long /healthz is probed, per run")
    args = parser.parse_args()
    print("| slow clients | read timeout | probes unanswered | /healthz p50 | p95 | max | connections cut |")
    print("|---|---|---|---|---|---|---|")
    for clients in args.clients:
        print(run(clients, args.read_timeout, args.seconds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
