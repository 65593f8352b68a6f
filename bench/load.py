"""Load test: N concurrent clients for D seconds against `bqa serve --workers 2` on loopback.

    .venv/bin/python bench/load.py [--clients 20] [--seconds 60] [--workers 2] [--unique]

Each client is a closed loop (send, wait for the answer, send again) over one keep-alive connection, asking the
questions of shared/eval/dev.jsonl in turn. `--unique` makes every question text new ("… (request 123)"), so no
answer is helped by the query-embedding cache; without it the mix repeats questions as users of the widget's
starter questions do. Reports throughput, latency percentiles and errors. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_SET = ROOT.parent / "shared" / "eval" / "dev.jsonl"
FALLBACK_QUESTIONS = ["Who funded CT Travel?", "How many experts took part in the CT Travel introductory webinar?"]


def questions() -> list[str]:
    if not DEV_SET.exists():
        return FALLBACK_QUESTIONS
    lines = DEV_SET.read_text().splitlines()
    return [turn["question"] for line in lines if line.strip() for turn in json.loads(line)["turns"]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(workers: int, data_dir: Path, port: int) -> subprocess.Popen:
    corpus = data_dir.parent / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    env = {**os.environ, "BQA_DATA_DIR": str(data_dir), "BQA_CORPUS": str(corpus), "BQA_RATE_LIMIT": "0",
           "BQA_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "bqa"), "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=open(data_dir.parent / "server.log", "w"),
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited: {(data_dir.parent / 'server.log').read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(1)
    server.kill()
    raise SystemExit("server did not become healthy in 10 minutes")


def warm_up(port: int, asked: list[str], workers: int) -> None:
    """Every worker has loaded its model and index before the clock starts."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for question in asked * max(2, workers):
        connection.request("POST", "/api/v1/ask", json.dumps({"question": question}), {"Content-Type": "application/json"})
        connection.getresponse().read()


def client(port: int, asked: list[str], until: float, unique: bool, offset: int, results: list, errors: list):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    n = offset
    while time.monotonic() < until:
        question = asked[n % len(asked)] + (f" (request {n})" if unique else "")
        n += 1
        started = time.perf_counter()
        try:
            connection.request("POST", "/api/v1/ask", json.dumps({"question": question}),
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            body = response.read()
            if response.status != 200 or "answer" not in json.loads(body):
                errors.append(f"{response.status}: {body[:200]!r}")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            errors.append(repr(exc))
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        results.append((time.perf_counter() - started) * 1000)


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--unique", action="store_true", help="never repeat a question text")
    args = parser.parse_args()

    asked = questions()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bqa-load-") as tmp:
        server = start_server(args.workers, Path(tmp) / "data", port)
        try:
            warm_up(port, asked, args.workers)
            results: list[float] = []
            errors: list[str] = []
            until = time.monotonic() + args.seconds
            threads = [
                threading.Thread(target=client, args=(port, asked, until, args.unique, i * 7, results, errors))
                for i in range(args.clients)
            ]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
        finally:
            server.terminate()
            server.wait(timeout=60)
    ordered = sorted(results)
    mix = "unique questions" if args.unique else "repeated questions (dev set)"
    print("| clients | workers | mix | seconds | requests | throughput | p50 | p95 | p99 | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.clients} | {args.workers} | {mix} | {elapsed:.0f} | {len(results)} | {len(results) / elapsed:.1f}/s "
        f"| {statistics.median(ordered) if ordered else float('nan'):.0f} ms | {percentile(ordered, 0.95):.0f} ms "
        f"| {percentile(ordered, 0.99):.0f} ms | {len(errors)} |"
    )
    for error in errors[:5]:
        print(f"error: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
