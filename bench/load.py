"""Load test: N concurrent clients for D seconds against `bqa serve --workers 2` on loopback.

    .venv/bin/python bench/load.py [--clients 20] [--seconds 60] [--workers 2] [--unique] [--client wrk|python]

Each client is a closed loop (send, wait for the answer, send again) over one keep-alive connection, asking the
questions of shared/eval/dev.jsonl in turn. `--unique` makes every question text new ("… (request 123)"), so no
answer is helped by the query-embedding cache; without it the mix repeats questions as users of the widget's
starter questions do. Reports throughput, latency percentiles and errors (any status but 200). Traffic stays on
127.0.0.1.

The clients share the server's cores, so they must cost little: with `wrk` installed (Debian package `wrk`) it
runs them, 2 threads in C; otherwise (or with `--client python`) 20 Python threads do, which take a good part of
a core themselves and so report the server slower than it is.
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


def start_server(workers: int, data_dir: Path, port: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`bqa serve` over a copy of the corpus, once /healthz answers 200; `env` adds or overrides variables."""
    corpus = data_dir.parent / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    env = {**os.environ, "BQA_DATA_DIR": str(data_dir), "BQA_CORPUS": str(corpus), "BQA_RATE_LIMIT": "0",
           "BQA_LOG_LEVEL": "WARNING", **(env or {})}
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


WRK_SCRIPT = """
local bodies = {%(bodies)s}
local unique = %(unique)s
local counter, threads = 0, 0
function setup(thread) threads = threads + 1; thread:set("thread_id", "%(run)s-" .. threads) end  -- a global there
function request()
  counter = counter + 1
  local body = bodies[(counter %% #bodies) + 1]
  if unique then body = body[1] .. " (request " .. thread_id .. "-" .. counter .. ")" .. body[2] else body = body[1] .. body[2] end
  return wrk.format("POST", "/api/v1/ask", {["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%.3f %%d\\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def run_wrk(port: int, asked: list[str], args) -> tuple[int, float, float, float, float, int]:
    """requests, seconds, p50, p95, p99 (ms), errors: wrk driving `args.clients` connections from 2 threads."""
    pairs = []
    for question in asked:
        prefix, suffix = json.dumps({"question": question + "\x00"}).split("\\u0000")
        pairs.append("{[==[%s]==], [==[%s]==]}" % (prefix, suffix))
    script = WRK_SCRIPT % {"bodies": ", ".join(pairs), "unique": "true" if args.unique else "false",
                           "run": os.urandom(4).hex()}
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as file:
        file.write(script)
        file.flush()
        out = subprocess.run(
            ["wrk", "-t", str(min(2, args.clients)), "-c", str(args.clients), "-d", f"{args.seconds:.0f}s",
             "--timeout", "30s", "-s", file.name, f"http://127.0.0.1:{port}"],
            capture_output=True, text=True, check=True,
        ).stdout
    fields = next(line for line in out.splitlines() if line.startswith("RESULT")).split()[1:]
    requests, micros, p50, p95, p99, errors = int(fields[0]), int(fields[1]), *map(float, fields[2:5]), int(fields[5])
    return requests, micros / 1e6, p50, p95, p99, errors


def run_python(port: int, asked: list[str], args) -> tuple[int, float, float, float, float, int]:
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
    for error in errors[:5]:
        print(f"error: {error}", file=sys.stderr)
    ordered = sorted(results)
    return (len(results), elapsed, statistics.median(ordered) if ordered else float("nan"),
            percentile(ordered, 0.95), percentile(ordered, 0.99), len(errors))


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--unique", action="store_true", help="never repeat a question text")
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python")
    args = parser.parse_args()

    asked = questions()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bqa-load-") as tmp:
        server = start_server(args.workers, Path(tmp) / "data", port)
        try:
            warm_up(port, asked, args.workers)
            run = run_wrk if args.client == "wrk" else run_python
            requests, elapsed, p50, p95, p99, errors = run(port, asked, args)
        finally:
            server.terminate()
            server.wait(timeout=60)
    mix = "unique questions" if args.unique else "repeated questions (dev set)"
    print("| client | clients | workers | mix | seconds | requests | throughput | p50 | p95 | p99 | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.client} | {args.clients} | {args.workers} | {mix} | {elapsed:.0f} | {requests} "
        f"| {requests / elapsed:.1f}/s | {p50:.0f} ms | {p95:.0f} ms | {p99:.0f} ms | {errors} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
