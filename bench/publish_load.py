"""New questions while a large bulletin is published (issue 13, item 4): do they wait behind its embedding?

    .venv/bin/python bench/publish_load.py [--paragraphs 3000] [--workers 1] [--questions 40]

Starts `bqa serve` on a copy of the corpus, then asks new questions one after another (each text unique, so neither
the query-embedding cache nor the remembered retrievals help): `--questions` of them with the service idle, then as
many as fit while a bulletin of `--paragraphs` paragraphs is published over the admin API. Reports p50 / p95 / max
latency of both, their ratio (the target: p95 during a publish at most twice the idle one) and how long the publish
took. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from load import free_port, percentile, questions, start_server

TOKEN = "bench-admin-token"


def bulletin(paragraphs: int) -> str:
    """A bulletin of distinct paragraphs, a few sections long, as a large monthly report is."""
    sections = []
    for s in range(max(1, paragraphs // 100)):
        body = "\n\n".join(
            f"In district {s}-{i}, the programme trained {10 + i % 90} officials from {3 + i % 17} Member States on "
            f"border security and the protection of critical infrastructure, with partners from the region. "
            f"({1 + i % 28} April)"
            for i in range(s * 100, min(paragraphs, (s + 1) * 100))
        )
        sections.append(f"## Programme area {s}\n\n{body}")
    return "# Large Bulletin April 2021\n\n" + "\n\n".join(sections) + "\n"


def ask(port: int, question: str) -> float:
    """Milliseconds to answer one question (which must succeed)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    connection.request("POST", "/api/v1/ask", json.dumps({"question": question}), {"Content-Type": "application/json"})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"/api/v1/ask answered {response.status}: {body[:300]!r}")
    return (time.perf_counter() - started) * 1000


def publish(port: int, paragraphs: int, result: dict) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    body = json.dumps({"name": "large-bulletin-2021-04.md", "text": bulletin(paragraphs)})
    started = time.perf_counter()
    connection.request("POST", "/api/v1/bulletins", body,
                       {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    response = connection.getresponse()
    result["status"], result["body"] = response.status, response.read()[:300]
    result["seconds"] = time.perf_counter() - started


def summary(label: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    return (f"| {label} | {len(ordered)} | {percentile(ordered, 0.5):.0f} ms | {percentile(ordered, 0.95):.0f} ms "
            f"| {ordered[-1]:.0f} ms |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paragraphs", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--questions", type=int, default=100, help="idle questions (and a quarter as many during, at least)")
    args = parser.parse_args()

    asked = questions()
    port = free_port()
    env = {"BQA_ADMIN_TOKEN": TOKEN, "BQA_MAX_UPLOAD_BYTES": str(64 << 20)}
    with tempfile.TemporaryDirectory(prefix="bqa-publish-load-") as tmp:
        server = start_server(args.workers, Path(tmp) / "data", port, env)
        try:
            for question in asked[:4]:  # every lazy load done before the clock starts
                ask(port, question)
            idle = [ask(port, f"{asked[n % len(asked)]} (idle {n})") for n in range(args.questions)]
            published: dict = {}
            writer = threading.Thread(target=publish, args=(port, args.paragraphs, published))
            writer.start()
            during, n = [], 0
            while writer.is_alive() or len(during) < args.questions // 4:
                during.append(ask(port, f"{asked[n % len(asked)]} (during {n})"))
                n += 1
                if not writer.is_alive() and len(during) >= args.questions // 4:
                    break
            writer.join()
        finally:
            server.terminate()
            server.wait(timeout=60)
    if published.get("status") != 201:
        raise SystemExit(f"the publish failed: {published}")
    print(f"Publish of {args.paragraphs:,} paragraphs: {published['seconds']:.1f} s; workers: {args.workers}")
    print("| new questions | n | p50 | p95 | max |")
    print("|---|---|---|---|---|")
    print(summary("idle", idle))
    print(summary("during the publish", during))
    ratio = percentile(sorted(during), 0.95) / percentile(sorted(idle), 0.95)
    print(f"\np95 during / p95 idle = {ratio:.2f} (target: at most 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
