"""Benchmark bqa against a naive llama-index pipeline, in one run, and print the figures as a Markdown table.

    .venv/bin/python bench/run.py [--out bench/results/latest.md] [--quick]

Measured on the bundled corpus and the dev questions: retrieval recall (bqa vs. the baseline), warm /ask latency,
and index build time (chunks and sentence vectors) next to the bare model encode of the same chunks. Without --quick it also builds synthetic
corpora of 25 / 1,000 / 10,000 paragraphs to show how build time and query latency grow with corpus size (several
minutes on two cores). Progress goes to stderr, the report to stdout (and to --out).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from index.embed import embed_query, embedding_model
from index.chunk import chunk, embedding_text
from index.parse import load
from index.store import discover
from index.text import clean_markdown, fold
from service.config import PROJECT_ROOT, Config
from service.pipeline import BulletinQA

TOP_K = 5
REPEATS = 3  # timings of whole builds / encodes: the median of this many
ROUNDS = 5  # passes over the questions when measuring query latency
TARGET_RECALL_GAIN = 0.20
TARGET_ASK_P50_MS = 30.0  # issue 12: the learned answerer keeps /ask p50 under 30 ms in process
TARGET_BUILD_RATIO = 2.5  # issue 12: the build also embeds every sentence (for the answerer) and may grow to 2.5x
SCALE_SIZES = (25, 1_000, 10_000)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- questions and matching ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    question: str
    evidence: str | None  # None for questions the corpus cannot answer


def load_turns(path: Path) -> list[Turn]:
    """Every turn of every dev conversation; follow-ups are kept as asked, without resolving them."""
    turns = []
    for line in path.read_text().splitlines():
        if line.strip():
            turns += [Turn(t["question"], t.get("evidence")) for t in json.loads(line)["turns"]]
    return turns


def normalise(text: str) -> str:
    """Lower-cased, white space folded, Markdown escapes, emphasis and link syntax dropped: the baseline's nodes
    are raw Markdown ("India (\\$500,000)"), and a match must not fail on mark-up alone."""
    return fold(clean_markdown(text))


def holds(text: str, evidence: str) -> bool:
    return normalise(evidence) in normalise(text)


def recall(retrieved: list[list[str]], turns: list[Turn], k: int) -> float:
    """Share of the questions with evidence whose evidence occurs in one of their first k retrieved texts."""
    scored = [(texts, t.evidence) for texts, t in zip(retrieved, turns) if t.evidence]
    return sum(any(holds(text, evidence) for text in texts[:k]) for texts, evidence in scored) / len(scored)


def evidence_rank(texts: list[str], evidence: str) -> int | None:
    return next((rank for rank, text in enumerate(texts, 1) if holds(text, evidence)), None)


def mean_chars(retrieved: list[list[str]]) -> float:
    """How much text the top-k hands on: a recall figure means little if it is bought by returning everything."""
    return statistics.mean(sum(len(text) for text in texts) for texts in retrieved)


# --- timing --------------------------------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """(what `fn()` returned, seconds it took)."""
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def seconds(fn: Callable[[], object]) -> float:
    return timed(fn)[1]


def median_seconds(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    return statistics.median(seconds(fn) for _ in range(repeats))


def latency_ms(fn: Callable[[str], object], questions: list[str], qa, rounds: int = ROUNDS) -> tuple[float, float]:
    """(p50, p95) in ms of `fn(question)` over `rounds` passes, after one untimed pass so the index is loaded.
    The query-embedding cache and the remembered retrievals are emptied before every timed call: each question
    costs its model pass and its search, as a question nobody asked before does."""
    for question in questions:
        fn(question)

    def uncached(question: str) -> float:
        embed_query.cache_clear()
        qa.searcher.corpus().forget()
        return seconds(lambda: fn(question)) * 1000

    samples = [uncached(q) for _ in range(rounds) for q in questions]
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


# --- the systems ---------------------------------------------------------------------------------------------


def fresh_config(scratch: Path, name: str, corpus_dir: Path) -> Config:
    return Config.from_env(data_dir=Path(tempfile.mkdtemp(prefix=f"{name}-", dir=scratch)), corpus_dirs=(corpus_dir,))


def baseline_retrieve(corpus_dir: Path, turns: list[Turn]) -> tuple[list[list[str]], int]:
    """The top-5 texts of the naive pipeline (whole files, default SentenceSplitter, same model, in-memory store),
    and how many nodes it split the corpus into."""
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex

    documents = SimpleDirectoryReader(str(corpus_dir), recursive=True).load_data()
    index = VectorStoreIndex.from_documents(documents, embed_model=embedding_model())
    retriever = index.as_retriever(similarity_top_k=TOP_K)
    return [[hit.node.get_content() for hit in retriever.retrieve(t.question)] for t in turns], len(index.docstore.docs)


def bqa_retrieve(qa: BulletinQA, turns: list[Turn]) -> list[list[str]]:
    """The top-5 paragraphs bqa's hybrid retriever returns, as text."""
    retriever = qa.searcher.retriever(TOP_K)
    return [[hit.node.get_content() for hit in retriever.retrieve(t.question)] for t in turns]


def unclear_evidence(qa: BulletinQA, turns: list[Turn]) -> list[str]:
    """Evidence strings held by no bqa paragraph (parsing lost them) or by several (any of them counts)."""
    paragraphs = [node.text for node in qa.searcher.corpus().paragraphs.values()]
    notes = []
    for evidence in dict.fromkeys(t.evidence for t in turns if t.evidence):
        count = sum(holds(text, evidence) for text in paragraphs)
        if count != 1:
            notes.append(f"Evidence {evidence!r} is in {count} bqa paragraphs (a hit on any of them counts).")
    return notes or ["Every evidence string is in exactly one bqa paragraph."]


def asker(qa: BulletinQA, config: Config) -> tuple[Callable[[str], object], str]:
    """POST /api/v1/ask through Flask's test client when service.app can be imported, else `qa.ask` directly."""
    try:
        from service.app import create_app
    except Exception as exc:  # the app is being written alongside; any failure to import means "not there yet"
        return (lambda q: qa.ask(q, url_for=lambda b, p: "")), (
            f"`qa.ask()` called directly (no HTTP): service.app is not importable ({type(exc).__name__}: {exc})"
        )
    client = create_app(config, qa=qa).test_client()

    def ask(question: str):
        response = client.post("/api/v1/ask", json={"question": question})
        if response.status_code != 200:
            raise RuntimeError(f"/api/v1/ask answered {response.status_code} to {question!r}: {response.text}")
        return response

    return ask, "`POST /api/v1/ask` through Flask's test client"


# --- indexing throughput -------------------------------------------------------------------------------------


@dataclass
class Throughput:
    paragraphs: int
    chunks: int
    build_s: float
    encode_s: float

    @property
    def ratio(self) -> float:
        return self.build_s / self.encode_s


def build_seconds(scratch: Path, corpus_dir: Path) -> float:
    """One full index build into a fresh data folder: what `bqa index` costs on a new server."""
    qa = BulletinQA.from_config(fresh_config(scratch, "build", corpus_dir))
    return seconds(qa.index)


def indexing_throughput(scratch: Path, corpus_dir: Path) -> Throughput:
    """The build next to the bare model encode of exactly the chunk texts it embeds, so the ratio is what
    parsing, chunking and Chroma add on top of the unavoidable model work."""
    bulletins = [load(path) for path in discover([corpus_dir])]
    texts = [embedding_text(node) for bulletin in bulletins for node in chunk(bulletin)]
    encode = lambda: embedding_model().get_text_embedding_batch(texts)  # noqa: E731
    encode()  # warm-up
    return Throughput(
        paragraphs=sum(1 for bulletin in bulletins for _ in bulletin.paragraphs()),
        chunks=len(texts),
        build_s=median_seconds(lambda: build_seconds(scratch, corpus_dir)),
        encode_s=median_seconds(encode),
    )


# --- scale ---------------------------------------------------------------------------------------------------

SEED_SENTENCES = [
    "{org} organized a {n}-day workshop on {topic} for {m} officials from {country}.",
    "The event brought together {m} participants from {n} Member States, including {country} and {country2}.",
    "{person} presented the findings of the assessment on {topic} to the Advisory Board of {org}.",
    "In {month}, {org} received a contribution of US${amount} from {country} in support of its work on {topic}.",
    "Participants discussed gaps in existing good practices and how to strengthen national frameworks on {topic}.",
    "The training was delivered in partnership with {org2} and reached {m} law enforcement officers.",
    "{org} and {org2} launched a joint project on {topic} in {country}.",
    "A follow-up meeting on {topic} is scheduled for {month} to review the progress made by {country}.",
    "{person} welcomed the support of {country} for the initiative on {topic}.",
    "The workshop concluded with {n} recommendations adopted by the delegations of {country} and {country2}.",
    "Some {m} experts took part in the expert group meeting convened by {org} on {d} {month}.",
    "The programme has trained {amount} individuals since its launch in {country}.",
]
ORGS = [
    "the UN Counter-Terrorism Centre (UNCCT)", "UNODC", "the Office of Counter-Terrorism (UNOCT)", "INTERPOL", "UNICRI",
    "the Counter-Terrorism Committee Executive Directorate (CTED)", "OSCE", "the World Customs Organization (WCO)",
    "IOM", "the Financial Action Task Force (FATF)", "OHCHR", "the African Union",
]
TOPICS = [
    "countering the financing of terrorism", "border security and management", "cybersecurity", "biometrics",
    "victims of terrorism", "prison management", "small arms and light weapons", "aviation security",
    "preventing violent extremism", "foreign terrorist fighters", "human rights compliance", "youth engagement",
    "critical infrastructure protection", "strategic communications", "gender mainstreaming", "chemical terrorism",
]
COUNTRIES = [
    "Kenya", "Nigeria", "Tunisia", "Morocco", "Kazakhstan", "Uzbekistan", "Tajikistan", "Indonesia", "Philippines",
    "Colombia", "Mali", "Jordan", "Iraq", "Norway", "Japan", "Canada", "India", "Qatar", "Spain", "Germany",
]
FIRST_NAMES = ["Amina", "Jonas", "Li", "Farid", "Elena", "Kwame", "Sofia", "Raj", "Marta", "Omar", "Yuki", "Pierre"]
LAST_NAMES = ["Haddad", "Okafor", "Novak", "Tanaka", "Silva", "Khan", "Dubois", "Mensah", "Ivanova", "Garcia"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"]
QUESTIONS = [
    "Who funded the work on {topic}?",
    "How many participants attended the workshop on {topic} in {country}?",
    "What did {org} organize with {org2}?",
    "Which countries adopted recommendations on {topic}?",
]


def _fill(template: str, rng: random.Random) -> str:
    org, org2 = rng.sample(ORGS, 2)
    country, country2 = rng.sample(COUNTRIES, 2)
    text = template.format(
        org=org, org2=org2, topic=rng.choice(TOPICS), country=country, country2=country2, month=rng.choice(MONTHS),
        person=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", n=rng.randint(2, 40), m=rng.randint(10, 300),
        d=rng.randint(1, 28), amount=f"{rng.randint(10_000, 5_000_000):,}",
    )
    return text[0].upper() + text[1:]


def synthetic_bulletins(rng: random.Random, bulletins=100, sections=10, paragraphs=10) -> list[tuple[str, list]]:
    """[(title, [(section title, [paragraph, …]), …]), …]: seed sentences recombined with random names and
    numbers, 2-4 sentences a paragraph: bulletins to the parser, yet nothing anyone has to store or commit."""
    return [
        (
            f"Synthetic Bulletin {b:03d} {rng.choice(MONTHS)} 2021",
            [
                (title.capitalize(), [" ".join(_fill(s, rng) for s in rng.sample(SEED_SENTENCES, rng.randint(2, 4)))
                                      for _ in range(paragraphs)])
                for title in rng.sample(TOPICS, sections)
            ],
        )
        for b in range(1, bulletins + 1)
    ]


def write_corpus(folder: Path, bulletins: list[tuple[str, list]], limit: int) -> Path:
    """The first `limit` paragraphs of `bulletins`, in reading order, as Markdown files under `folder`."""
    folder.mkdir(parents=True)
    for number, (title, sections) in enumerate(bulletins, 1):
        lines = [f"# {title}"]
        for section_title, paragraphs in sections:
            taken = paragraphs[:limit]
            limit -= len(taken)
            if taken:
                lines += [f"## {section_title}", *taken]
        if len(lines) > 1:
            (folder / f"synthetic-{number:03d}.md").write_text("\n\n".join(lines) + "\n")
        if limit <= 0:
            break
    return folder


@dataclass
class ScalePoint:
    paragraphs: int
    chunks: int
    build_s: float
    first_query_ms: float  # loads the generation: the BM25 index, aliases and term statistics
    p50_ms: float
    p95_ms: float
    note: str | None = None  # set when the one-shot build failed and the index was built in steps


def build_at_scale(qa: BulletinQA, corpus_dir: Path) -> tuple[int, float, str | None]:
    """(chunks, seconds, note) of indexing `corpus_dir` from scratch in one sync. Should that fail, the corpus is
    indexed again as growing prefixes of its files, each an ordinary incremental sync that copies the vectors
    already stored and embeds only its new bulletins (in fewer chunks than one Chroma add takes), so that the
    latency can still be measured; the note says what failed and the seconds are those of the steps."""
    started = time.perf_counter()
    try:
        change, build = timed(qa.index)
        return change.index.chunks, build, None
    except Exception as exc:  # noqa: BLE001 — reported in the table, then worked around
        failure = f"{type(exc).__name__}: {exc}"
        failed_after = time.perf_counter() - started
    files = discover([corpus_dir])
    chunks = sum(len(chunk(load(path))) for path in files)
    steps = math.ceil(chunks / qa.store.client.get_max_batch_size()) + 1
    log(f"scale: one-shot build failed ({failure}); indexing in {steps} steps")
    started = time.perf_counter()
    for step in range(1, steps + 1):
        change = qa.index(files[: len(files) * step // steps])
    note = (f"{len(files)} bulletins, {chunks:,} chunks: the one-shot build failed after {failed_after:.0f} s "
            f"({failure}); built instead in {steps} incremental syncs, whose total time is shown.")
    return change.index.chunks, time.perf_counter() - started, note


def query_latency_at_scale(scratch: Path, sizes=SCALE_SIZES, seed=7) -> list[ScalePoint]:
    """Build time and retriever latency over growing prefixes of one synthetic corpus, to see what grows with size."""
    rng = random.Random(seed)
    bulletins = synthetic_bulletins(rng)
    questions = [_fill(rng.choice(QUESTIONS), rng) for _ in range(20)]
    points = []
    for size in sizes:
        corpus_dir = write_corpus(scratch / f"synthetic-{size}", bulletins, size)
        qa = BulletinQA.from_config(fresh_config(scratch, f"scale-{size}", corpus_dir))
        log(f"scale: indexing {size:,} paragraphs")
        chunks, build, note = build_at_scale(qa, corpus_dir)
        retriever = qa.searcher.retriever(TOP_K)
        first = seconds(lambda: retriever.retrieve(questions[0])) * 1000
        p50, p95 = latency_ms(retriever.retrieve, questions, qa, rounds=3)
        points.append(ScalePoint(len(qa.searcher.corpus().order), chunks, build, first, p50, p95, note))
        log(f"scale: {size:,} paragraphs built in {build:.1f}s, p50 {p50:.0f} ms")
    return points


# --- report --------------------------------------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "yes" if met else "**no**"


def pct(share: float) -> str:
    return f"{share * 100:.0f}%"


def render(turns, baseline, bqa, ask, ask_how, throughput, scale, notes) -> str:
    """The Markdown report: one table of every figure with its target, then scale, per question, and notes."""
    b1, b5, q1, q5 = (recall(r, turns, k) for r in (baseline, bqa) for k in (1, TOP_K))
    asked = sum(1 for t in turns if t.evidence)
    rows = [
        ("Recall@1 (evidence in top 1)", pct(q1), pct(b1), "—", "—"),
        (f"Recall@{TOP_K} (evidence in top {TOP_K})", pct(q5), pct(b5),
         f"≥ baseline + {TARGET_RECALL_GAIN * 100:.0f} pts",
         verdict(q5 >= b5 + TARGET_RECALL_GAIN - 1e-9) + (" (unreachable)" if b5 + TARGET_RECALL_GAIN > 1 else "")),
        (f"Text handed on by the top {TOP_K} (mean chars)", f"{mean_chars(bqa):,.0f}", f"{mean_chars(baseline):,.0f}",
         "—", "—"),
        ("/ask latency p50, warm", f"{ask[0]:.1f} ms", "", f"< {TARGET_ASK_P50_MS:.0f} ms",
         verdict(ask[0] < TARGET_ASK_P50_MS)),
        ("/ask latency p95, warm", f"{ask[1]:.1f} ms", "", "—", "—"),
        (f"Index build from scratch ({throughput.paragraphs} paragraphs, {throughput.chunks} chunks)",
         f"{throughput.build_s:.2f} s", "", "—", "—"),
        ("Build throughput", f"{throughput.paragraphs / throughput.build_s:.1f} paragraphs/s, "
         f"{throughput.chunks / throughput.build_s:.1f} chunks/s", "", "—", "—"),
        ("Bare model encode of the same chunks", f"{throughput.encode_s:.2f} s", "", "—", "—"),
        ("Build / bare encode", f"{throughput.ratio:.2f}×", "", f"≤ {TARGET_BUILD_RATIO}×",
         verdict(throughput.ratio <= TARGET_BUILD_RATIO)),
    ]
    lines = [
        "# bqa benchmark",
        "",
        f"{asked} questions with evidence ({len(turns)} turns in all); top-k = {TOP_K}; "
        f"timings are medians of {REPEATS} runs, latencies over {ROUNDS} warm rounds.",
        "",
        "| Measure | bqa | Baseline | Target | Met |",
        "|---|---|---|---|---|",
        *(f"| {' | '.join(row)} |" for row in rows),
    ]
    if scale:
        lines += [
            "",
            "## Scale (synthetic corpus, retriever only)",
            "",
            "| Paragraphs | Chunks | Build | Build rate | First query (loads index) | p50 | p95 |",
            "|---|---|---|---|---|---|---|",
            *(f"| {p.paragraphs:,} | {p.chunks:,} | {p.build_s:.1f} s{' †' if p.note else ''} | "
              f"{p.paragraphs / p.build_s:.0f} paragraphs/s | {p.first_query_ms:.0f} ms | {p.p50_ms:.1f} ms | "
              f"{p.p95_ms:.1f} ms |" for p in scale),
            *(f"\n† {p.paragraphs:,} paragraphs, {p.note}" for p in scale if p.note),
        ]
    lines += [
        "",
        "## Rank of the evidence, per question",
        "",
        "| Question | Evidence | bqa | Baseline |",
        "|---|---|---|---|",
        *(f"| {t.question} | {t.evidence} | {evidence_rank(q, t.evidence) or '—'} | "
          f"{evidence_rank(b, t.evidence) or '—'} |" for t, q, b in zip(turns, bqa, baseline) if t.evidence),
        "",
        "## Notes",
        "",
        f"- /ask measured with {ask_how}.",
        *(f"- {note}" for note in notes),
    ]
    return "\n".join(lines) + "\n"


def environment() -> str:
    import onnxruntime

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, onnxruntime {onnxruntime.__version__}, load average {load}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    parser.add_argument("--quick", action="store_true", help="skip the synthetic scale test (minutes)")
    parser.add_argument("--dev", type=Path, default=PROJECT_ROOT.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("--corpus", type=Path, default=PROJECT_ROOT / "corpus")
    args = parser.parse_args(argv)

    os.environ["BQA_RATE_LIMIT"] = "0"  # one client asking ~80 questions at once: time the answers, not the limiter
    turns = load_turns(args.dev)
    notes = [f"Environment at start: {environment()}."]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bqa-bench-") as scratch_name:
        scratch = Path(scratch_name)
        _, load_s = timed(lambda: embedding_model().get_query_embedding("warm up"))
        notes.append(f"Embedding model loaded in {load_s:.1f} s (outside every timing).")
        log("baseline: naive llama-index pipeline")
        baseline, nodes = baseline_retrieve(args.corpus, turns)
        notes.append(f"The baseline splits the corpus into {nodes} nodes" + (
            f", so its top {TOP_K} is the whole corpus and its recall@{TOP_K} is 100% by construction; compare "
            f"recall@1 and the text handed on instead." if nodes <= TOP_K else "."))
        log("bqa: indexing and retrieving")
        config = fresh_config(scratch, "bqa", args.corpus)
        qa = BulletinQA.from_config(config)
        qa.index()
        bqa = bqa_retrieve(qa, turns)
        notes += unclear_evidence(qa, turns)
        log("latency of /ask")
        ask, ask_how = asker(qa, config)
        ask_latency = latency_ms(ask, [t.question for t in turns], qa)
        notes.append(f"Answerer: {getattr(qa, 'active_answerer', qa.answerer.name)}; the rate limit was turned off.")
        log("indexing throughput")
        throughput = indexing_throughput(scratch, args.corpus)
        scale = None if args.quick else query_latency_at_scale(scratch)
    notes.append(f"Environment at end: {environment()}; whole run {time.perf_counter() - started:.0f} s.")
    if args.quick:
        notes.append("Scale test skipped (--quick).")
    report = render(turns, baseline, bqa, ask_latency, ask_how, throughput, scale, notes)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
