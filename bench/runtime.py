"""What installing and running bqa costs: install size and time, cold start, memory, indexing, retrieval, answers.

    .venv/bin/python bench/runtime.py [ROOT …] [--labels before,after] [--out FILE] [--reuse-venv]

Each ROOT is a checkout of bqa (default: this one); giving two (say a worktree of an older commit, then this one)
measures both in one run, side by side. For each, in a temporary folder:

- install: ROOT's own `make install` into a fresh venv (the runtime dependencies, what a server gets, installed
  the way `make run` installs them; the package caches are warm after the first time), timed, and its size;
  `--reuse-venv` skips this and uses ROOT/.venv;
- cold `bqa ask` on the indexed seed corpus (a new process each time: imports, model load, answer), and cold
  `bqa index` of it from nothing;
- `bqa serve` (one process, then `--workers 2`): seconds from launch to `/healthz` answering 200, then the RSS of
  each serving process after 100 different questions over HTTP;
- the model's own speed on the six SQuAD articles of ../shared/eval/squad2 (their paragraphs embedded alone),
  the index build throughput there (the model already loaded; since issue 12 a build stores every sentence's vector
  too, taken from its chunk's run), and retrieval recall@1/@5: is the paragraph a question was written on among the
  top 1/5 retrieved;
- `bqa eval` on ../shared/eval/dev.jsonl.

In-process figures come from this script run by ROOT's own venv (`--worker`), so each checkout is measured with
its own code. Traffic stays on 127.0.0.1. Progress goes to stderr, the Markdown report to stdout (and --out).

Every time is given as wall time and CPU time (user + sys of the processes measured), with the 1-minute load
average when it was taken: on a shared machine the wall time grows with everyone else's work, the CPU time much less.

    .venv/bin/python bench/runtime.py ROOT … --builds N [--labels …]

measures only the SQuAD index build, N times per ROOT with the roots interleaved (each build in a new process of
ROOT/.venv, as above), and reports the medians: on a busy machine, where one run says little, the roots then
share the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


HERE = Path(__file__).resolve()
SHARED = HERE.parent.parent.parent / "shared"
SQUAD = SHARED / "eval" / "squad2"
DEV_SET = SHARED / "eval" / "dev.jsonl"
COLD_ASKS = 3  # cold `bqa ask` runs; the median is reported
SERVED_QUESTIONS = 100  # questions sent to a serving process before its RSS is read
TOP_K = 5
HEALTHY_TIMEOUT_S = 300
QUESTION = "Who funded CT Travel?"
HEAVY = {"torch", "triton", "transformers", "sentence-transformers", "scipy", "scikit-learn", "sympy", "onnx"}


def log(message: str) -> None:
    print(f"[runtime {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load() -> float:
    return os.getloadavg()[0]


def run(command: list[str], **kwargs) -> tuple[subprocess.CompletedProcess, dict]:
    """The finished command, and its {"wall_s", "cpu_s", "load"} (its children's CPU included)."""
    started, cpu = time.perf_counter(), children_cpu_s()
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done, {"wall_s": time.perf_counter() - started, "cpu_s": children_cpu_s() - cpu, "load": load()}


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


# --- the in-process part, run by ROOT's own python ------------------------------------------------------------


def squad_paragraphs() -> list[tuple[str, list[str]]]:
    """(context, its answerable questions) for every SQuAD paragraph of the calibration articles."""
    data = json.loads((SQUAD / "squad2-calibration.json").read_text())
    return [
        (p["context"], [q["question"] for q in p["qas"] if not q.get("is_impossible")])
        for article in data["data"] for p in article["paragraphs"]
    ]


def plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def built(scratch: Path):
    """The SQuAD index built from nothing (the model loaded first; what a build embeds besides the chunks differs
    between versions): (the BulletinQA, its index report, {"build_s", "build_cpu_s", "build_load"})."""
    from index.embed import embedding_model
    from service.config import Config
    from service.pipeline import BulletinQA

    embedding_model()
    config = Config.from_env(data_dir=scratch / "squad-data", corpus_dirs=(SQUAD / "corpus",))
    qa = BulletinQA.from_config(config)
    started, cpu = time.perf_counter(), time.process_time()
    report = qa.index()
    return qa, report, {"build_s": time.perf_counter() - started, "build_cpu_s": time.process_time() - cpu,
                        "build_load": load(), "paragraphs": len(qa.searcher.corpus().paragraphs)}


def worker(scratch: Path) -> dict:
    """Embed the SQuAD paragraphs alone (the model's own speed), build the SQuAD index, then measure recall@1/@5
    on its questions."""
    from index.embed import embed_texts, embedding_model

    embedding_model()
    contexts = [context for context, _ in squad_paragraphs()]
    started, cpu = time.perf_counter(), time.process_time()
    embed_texts(contexts)
    bare = {"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu, "load": load()}
    qa, report, build = built(scratch)
    corpus = qa.searcher.corpus()
    owner = {plain(node.text): pid for pid, node in corpus.paragraphs.items()}
    retriever = qa.searcher.retriever(TOP_K)
    at1 = at5 = asked = unmatched = 0
    for context, questions in squad_paragraphs():
        pid = owner.get(plain(context))
        if pid is None:
            unmatched += 1
            continue
        for question in questions:
            ids = [hit.node.node_id for hit in retriever.retrieve(question)]
            asked += 1
            at1 += ids[:1] == [pid]
            at5 += pid in ids[:TOP_K]
    return {
        # the index report is a registry Change since issue 14, a SyncReport before
        **build, "chunks": getattr(report, "index", report).chunks, "bare_embed": bare, "bare_texts": len(contexts),
        "questions": asked, "recall_at_1": at1 / asked, "recall_at_5": at5 / asked, "unmatched_contexts": unmatched,
    }


# --- the out-of-process part ----------------------------------------------------------------------------------


def install(root: Path, scratch: Path) -> tuple[Path, dict]:
    """ROOT's own `make install` (what `make run` does first) into a fresh venv, timed: venv, installer, packages.
    An installer the Makefile keeps beside the venv (uv, in UV_DIR) is installed afresh too and sized apart."""
    venv, tools = scratch / "venv", scratch / "uv"
    log(f"{root}: make install into a fresh venv")
    _, made = run(["make", "-C", str(root), "install", f"VENV={venv}", f"UV_DIR={tools}", f"PYTHON={sys.executable}"])
    names = {line.split("==")[0].lower() for line in run([str(venv / "bin" / "pip"), "freeze"])[0].stdout.split()}
    heavy = sorted(n for n in names if n in HEAVY or n.startswith("nvidia"))
    return venv, {"install_s": made["wall_s"], "install_cpu_s": made["cpu_s"], "install_load": made["load"],
                  "venv_mb": folder_mb(venv), "tools_mb": folder_mb(tools) if tools.exists() else 0.0,
                  "heavy": heavy}


def post(port: int, path: str, body: dict) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def cpu_s(pid: int) -> float:
    """CPU seconds (user + sys) of a process, its waited-for children and its live ones."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK") + sum(cpu_s(child) for child in children(pid))


def serve(bqa: Path, env: dict, workers: int, questions: list[str], scratch: Path) -> dict:
    """Seconds from launch to a healthy `/healthz`, then the RSS of each serving process after the questions;
    or the end of the server's log when it never became healthy."""
    from load import free_port  # not at the top: bench/load.py puts this checkout on sys.path, and the worker
    # (run by another checkout's venv) must import that checkout's code

    port = free_port()
    log_path = scratch / f"serve-{workers}.log"
    server = subprocess.Popen(
        [str(bqa), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env, cwd=scratch, stdout=subprocess.DEVNULL, stderr=log_path.open("w"),
    )
    try:
        started = time.perf_counter()
        while not healthy(port):
            if server.poll() is not None or time.perf_counter() - started > HEALTHY_TIMEOUT_S:
                return {"failed": log_path.read_text()[-1500:]}
            time.sleep(0.05)
        healthy_s, healthy_cpu_s, healthy_load = time.perf_counter() - started, cpu_s(server.pid), load()
        for question in questions:
            if post(port, "/api/v1/ask", {"question": question}) != 200:
                raise RuntimeError(f"/api/v1/ask failed for {question!r}")
        serving = [server.pid] if workers == 1 else children(server.pid)  # gunicorn's workers, not its arbiter
        return {"healthy_s": healthy_s, "healthy_cpu_s": healthy_cpu_s, "healthy_load": healthy_load,
                "rss_mb": [rss_mb(pid) for pid in serving]}
    finally:
        server.terminate()
        server.wait(timeout=60)


def measure(root: Path, scratch: Path, reuse_venv: bool) -> dict:
    figures: dict = {}
    if reuse_venv:
        venv = root / ".venv"
    else:
        venv, figures["install"] = install(root, scratch)
    python, bqa = venv / "bin" / "python", venv / "bin" / "bqa"
    corpus = scratch / "corpus"
    shutil.copytree(root / "corpus", corpus)
    env = {**os.environ, "BQA_DATA_DIR": str(scratch / "data"), "BQA_CORPUS": str(corpus), "BQA_RATE_LIMIT": "0",
           "BQA_LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"}

    log(f"{root}: cold bqa index, cold bqa ask")
    figures["cold_index"] = run([str(bqa), "index"], env=env, cwd=scratch)[1]
    asks = [run([str(bqa), "ask", QUESTION], env=env, cwd=scratch) for _ in range(COLD_ASKS)]
    figures["cold_asks"] = [timing for _, timing in asks]
    figures["ask_embedded_nothing"] = all("(0 embedded)" in done.stderr for done, _ in asks)

    questions = [q for _, qs in squad_paragraphs() for q in qs[:1]][:SERVED_QUESTIONS]
    for workers in (1, 2):
        log(f"{root}: bqa serve --workers {workers}")
        figures[f"serve_{workers}"] = serve(bqa, env, workers, questions, scratch)

    log(f"{root}: bqa eval on the dev set")
    evaluated, figures["eval_run"] = run([str(bqa), "eval", "--json", str(DEV_SET)], env=env, cwd=scratch)
    figures["eval"] = evaluated.stdout

    log(f"{root}: SQuAD index build and retrieval recall")
    out = run([str(python), str(HERE), "--worker", str(scratch)], env=env, cwd=scratch)[0].stdout
    figures["squad"] = json.loads(out.strip().splitlines()[-1])
    return figures


def builds(roots: list[Path], labels: list[str], rounds: int) -> str:
    """`rounds` SQuAD builds per root, the roots interleaved, each in a new process of ROOT/.venv: the medians."""
    env = {**os.environ, "BQA_LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"}
    runs: dict[str, list[dict]] = {label: [] for label in labels}
    for round_ in range(rounds):
        for label, root in zip(labels, roots):
            with tempfile.TemporaryDirectory(prefix="bqa-runtime-") as scratch:
                python = root.resolve() / ".venv" / "bin" / "python"
                out = run([str(python), str(HERE), "--build-worker", scratch], env=env, cwd=scratch)[0].stdout
            runs[label].append(json.loads(out.strip().splitlines()[-1]))
            log(f"{label} build {round_ + 1}/{rounds}: {json.dumps(runs[label][-1])}")
    lines = ["| SQuAD index build (model loaded) | median wall | median CPU | paragraphs/s wall | per CPU-second | "
             "all walls (load) | all CPU |", "|---|---|---|---|---|---|---|"]
    for label, done in runs.items():
        wall = statistics.median(r["build_s"] for r in done)
        cpu = statistics.median(r["build_cpu_s"] for r in done)
        paragraphs = done[0]["paragraphs"]
        walls = ", ".join(f"{r['build_s']:.1f} ({r['build_load']:.1f})" for r in done)
        cpus = ", ".join(f"{r['build_cpu_s']:.1f}" for r in done)
        lines.append(f"| {label} | {wall:.1f} s | {cpu:.1f} s | {paragraphs / wall:.1f} | {paragraphs / cpu:.1f} | "
                     f"{walls} | {cpus} |")
    return "\n".join(lines) + "\n"


# --- report ---------------------------------------------------------------------------------------------------


def timed(wall_s: float, cpu_s: float, load: float) -> str:
    return f"{wall_s:.1f} s (CPU {cpu_s:.1f} s; load {load:.1f})"


def render(labels: list[str], results: list[dict]) -> str:
    def row(name: str, cell) -> str:
        return f"| {name} | " + " | ".join(cell(r) for r in results) + " |"

    def served(figures: dict, show) -> str:
        return show(figures) if "failed" not in figures else f"not healthy within {HEALTHY_TIMEOUT_S} s"

    def healthy(s: dict) -> str:
        return timed(s["healthy_s"], s["healthy_cpu_s"], s["healthy_load"])

    def asks(r: dict) -> str:
        runs = sorted(r["cold_asks"], key=lambda t: t["wall_s"])
        middle = runs[len(runs) // 2]
        spread = f"{runs[0]['wall_s']:.1f}–{runs[-1]['wall_s']:.1f} s, CPU {min(t['cpu_s'] for t in runs):.1f}–" \
                 f"{max(t['cpu_s'] for t in runs):.1f} s"
        return timed(middle["wall_s"], middle["cpu_s"], middle["load"]) + f"; all {spread}" + (
            "" if r["ask_embedded_nothing"] else ", **re-embedded**")

    def build(r: dict) -> str:
        squad = r["squad"]
        return (f"{timed(squad['build_s'], squad['build_cpu_s'], squad['build_load'])}: "
                f"{squad['paragraphs'] / squad['build_s']:.1f} paragraphs/s wall, "
                f"{squad['paragraphs'] / squad['build_cpu_s']:.1f} per CPU-second ({squad['chunks']} chunks)")

    def evaluated(r: dict, key: str) -> str:
        value = json.loads(r["eval"])[key]
        if key == "latency_ms":
            return f"p50 {value['p50']} ms, p95 {value['p95']} ms"
        return f"{value * 100:.0f} %" if value is not None else "—"

    lines = [
        "| measure | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    if all("install" in r for r in results):
        lines += [
            row("venv after `make install` (runtime dependencies)", lambda r: f"{r['install']['venv_mb']:,.0f} MB"
                + (f" (+ {r['install']['tools_mb']:,.0f} MB of uv beside it)" if r["install"].get("tools_mb") else "")),
            row("`make install` time, warm caches", lambda r: timed(
                r["install"]["install_s"], r["install"]["install_cpu_s"], r["install"]["install_load"])),
            row("PyTorch / CUDA / scipy / sympy / onnx packages", lambda r: ", ".join(r["install"]["heavy"]) or "none"),
        ]
    lines += [
        row("cold `bqa index` of the seed corpus (new process)", lambda r: timed(**r["cold_index"])),
        row(f"cold `bqa ask`, median of {COLD_ASKS}", asks),
        row("`bqa serve` launch → healthy", lambda r: served(r["serve_1"], healthy)),
        row(f"RSS of `bqa serve` after {SERVED_QUESTIONS} questions",
            lambda r: served(r["serve_1"], lambda s: f"{s['rss_mb'][0]:.0f} MB")),
        row("`bqa serve --workers 2` launch → healthy (CPU of all its processes)",
            lambda r: served(r["serve_2"], healthy)),
        row(f"RSS per worker after {SERVED_QUESTIONS} questions (2 workers)",
            lambda r: served(r["serve_2"], lambda s: " / ".join(f"{x:.0f}" for x in s["rss_mb"]) + " MB")),
        row("SQuAD paragraphs embedded alone (`embed_texts`, model loaded)", lambda r: (
            f"{timed(**r['squad']['bare_embed'])}: {r['squad']['bare_texts'] / r['squad']['bare_embed']['wall_s']:.1f} "
            f"paragraphs/s wall, {r['squad']['bare_texts'] / r['squad']['bare_embed']['cpu_s']:.1f} per CPU-second")),
        row("SQuAD index build (6 articles, model loaded)", build),
        row("SQuAD retrieval recall@1", lambda r: f"{r['squad']['recall_at_1'] * 100:.1f} %"),
        row(f"SQuAD retrieval recall@{TOP_K}", lambda r: f"{r['squad']['recall_at_5'] * 100:.1f} %"),
        row("SQuAD questions (paragraphs not found in the index)",
            lambda r: f"{r['squad']['questions']} ({r['squad']['unmatched_contexts']})"),
    ]
    lines += [row(f"`bqa eval` dev set: {key}", lambda r, key=key: evaluated(r, key))
              for key in ("accuracy", "citation", "abstention", "latency_ms")]
    lines += [row("`bqa eval` run", lambda r: timed(**r["eval_run"]))]
    averages = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines += ["", f"{os.cpu_count()} CPUs; load average (1, 5, 15 min) at the end {averages}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", nargs="*", type=Path, default=[HERE.parent.parent])
    parser.add_argument("--labels", help="comma-separated names of the roots' columns")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--reuse-venv", action="store_true", help="use ROOT/.venv instead of a fresh install")
    parser.add_argument("--builds", type=int, help="only the SQuAD index build, this many times per root")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--build-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return 0
    if args.build_worker:
        print(json.dumps(built(args.build_worker)[2]))
        return 0
    if not SQUAD.is_dir():
        parser.error(f"{SQUAD} is not there: this script reads ../shared beside the checkout it is run from")
    labels = args.labels.split(",") if args.labels else [str(root) for root in args.roots]
    results = []
    if args.builds:
        report = builds(args.roots, labels, args.builds)
    else:
        for label, root in zip(labels, args.roots):
            with tempfile.TemporaryDirectory(prefix="bqa-runtime-") as scratch:
                results.append(measure(root.resolve(), Path(scratch), args.reuse_venv))
            log(f"{label}: {json.dumps(results[-1])}")  # kept in the log should a later root fail
        report = render(labels, results)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
        if results:
            args.out.with_suffix(".json").write_text(json.dumps(dict(zip(labels, results)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
