"""Shared fixtures: one embedding model and one indexed copy of the bundled corpus per test session."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Mapping

import pytest
import requests

from service.config import PROJECT_ROOT, Config
from service.pipeline import BulletinQA

SHARED = PROJECT_ROOT.parent / "shared"
DEV_SET = SHARED / "eval" / "dev.jsonl"
SEED = PROJECT_ROOT / "corpus" / "unoct-highlights-2021-03.md"
PLUMBING_THRESHOLD = 0.5  # see `config`


@pytest.fixture(scope="session")
def seed_path() -> Path:
    return SEED


@pytest.fixture(scope="session")
def dev_items() -> list[dict]:
    if not DEV_SET.exists():
        pytest.skip(f"{DEV_SET} is not beside the project")
    return [json.loads(line) for line in DEV_SET.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def config(tmp_path_factory) -> Config:
    """A configuration whose data folder is private to this test session, over a copy of the bundled corpus."""
    root = tmp_path_factory.mktemp("bqa")
    corpus = root / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    # No rate limit: the suite asks hundreds of questions from one client; tests of the limit set their own.
    # A fixed answer threshold, not the shipped one: the clients' and plumbing tests ask a few canonical questions
    # (confidence 0.77-0.98 with the shipped weights) and a few near misses (0.34-0.47), and they test the
    # plumbing, not the model, so a retrain that moves the shipped threshold must not move them. The model's
    # quality is asserted on held-out folds (tests/answer/test_quality.py), and tests/answer/test_answer.py asks
    # with the shipped threshold.
    return Config.from_env(data_dir=root / "data", corpus_dirs=(corpus,), public_url=None, rate_limit=0,
                           answer_threshold=PLUMBING_THRESHOLD)


@pytest.fixture(scope="session")
def qa(config) -> BulletinQA:
    """The service over the indexed seed corpus: real Chroma on disk, real embeddings."""
    service = BulletinQA.from_config(config)
    service.index()
    return service


def private_app(config: Config, root: Path, **settings):
    """An app over its own copy of the bundled corpus and its own data folder under `root`, indexed: for tests
    that change the index or the registry."""
    from service.app import create_app

    corpus = root / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    private = replace(config, data_dir=root / "data", corpus_dirs=(corpus,), **settings)
    service = BulletinQA.from_config(private)
    service.index()
    return create_app(private, qa=service)


@pytest.fixture(scope="module")
def app(config, qa):
    """The Flask app over `qa` (a module may override `qa`, e.g. to run on both stores)."""
    from service.app import create_app

    return create_app(config, qa=qa)


@pytest.fixture()
def client(app):
    return app.test_client()


def url_for(bulletin_id: str, paragraph_id: str) -> str:
    return f"/bulletins/{bulletin_id}#{paragraph_id}"


def page_tree_bomb(fans: tuple[int, ...]) -> bytes:
    """A valid PDF of one page of text whose page tree lists that page prod(fans) times, in ~1 KB."""
    chain = list(range(2, 2 + len(fans)))  # the Pages nodes, root first; the page object follows
    page, content, font = chain[-1] + 1, chain[-1] + 2, chain[-1] + 3
    links = chain[1:] + [page]
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
    for depth, node in enumerate(chain):
        count = 1
        for fan in fans[depth:]:
            count *= fan
        parent = f"/Parent {chain[depth - 1]} 0 R " if depth else ""
        kids = " ".join([f"{links[depth]} 0 R"] * fans[depth])
        objects[node] = f"<< /Type /Pages {parent}/Kids [{kids}] /Count {count} >>".encode()
    objects[page] = (f"<< /Type /Page /Parent {chain[-1]} 0 R /MediaBox [0 0 612 792] /Contents {content} 0 R "
                     f"/Resources << /Font << /F1 {font} 0 R >> >> >>").encode()
    text = b"BT /F1 12 Tf 72 700 Td (Lighthouse keepers inspected the beacons along the coast in April 2021.) Tj ET"
    objects[content] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text)
    objects[font] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    out = io.BytesIO(b"%PDF-1.4\n")
    out.seek(0, os.SEEK_END)
    offsets = {}
    for number in sorted(objects):
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, objects[number]))
    xref, size = out.tell(), max(objects) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    out.write(b"".join(b"%010d 00000 n \n" % offsets[n] for n in range(1, size)))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref))
    return out.getvalue()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SERVE_START_TIMEOUT_S = 300  # seconds `bqa serve` may take to index the bundled corpus and load the model


class Served:
    """`bqa serve` in a process group of its own, on a free loopback port, its output appended to `log`: a real
    server a test can restart (on a new port), stop, or kill -9, so a hang fails the test (an HTTP timeout) instead
    of hanging the suite. Signals go to the whole group, so `--workers N` loses its gunicorn workers too, as a
    machine that crashes or loses power does.

    `ready` is the path that answers 200 once the server is up: /healthz (an index is served) by default."""

    def __init__(self, log: Path, env: Mapping[str, object], *args: str, host: str = "127.0.0.1",
                 ready: str = "/healthz"):
        self.log = log
        self.args = args
        self.host = host
        self.ready = ready
        environment = {**os.environ}
        environment.pop("BQA_PUBLIC_URL", None)  # the runner's own setting would change what the tests see
        self.env = {**environment, **{name: str(value) for name, value in env.items()}}
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.url = ""

    def start(self, wait: bool = True) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with open(self.log, "a") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service.cli", "serve", "--host", self.host, "--port", str(self.port),
                 *self.args],
                cwd=PROJECT_ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )
        if wait:
            self.wait_until_up()

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + SERVE_START_TIMEOUT_S
        while True:
            try:
                if requests.get(self.url + self.ready, timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"bqa serve ({self.log.name}) did not come up, exit code {self.process.returncode}:\n"
                            f"{self.output()[-3000:]}")
            time.sleep(0.3)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9 of the whole process group: no clean-up of any kind, as a crash, the OOM killer or a power cut."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def start_chroma(path: Path, log: Path):
    """(process, url) of a real Chroma server (`chroma run`, from the installed chromadb) over `path`, on a free
    loopback port, once it answers."""
    import chromadb

    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    with open(log, "w") as output:
        server = subprocess.Popen(
            [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
            stdout=output, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
            return server, f"http://127.0.0.1:{port}"
        except Exception:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"chroma run did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real Chroma server for the session."""
    server, url = start_chroma(tmp_path_factory.mktemp("chroma"), tmp_path_factory.mktemp("chroma-log") / "server.log")
    yield url
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="session")
def server_qa(config, chroma_server, tmp_path_factory) -> BulletinQA:
    """The service over the seed corpus indexed in a Chroma server instead of the embedded store."""
    service = BulletinQA.from_config(
        replace(config, chroma_url=chroma_server, data_dir=tmp_path_factory.mktemp("bqa-server") / "data")
    )
    service.index()
    return service


PG_BIN_DIRS = "/usr/lib/postgresql/*/bin"  # Debian's postgresql package (.ci/run installs it)
PG_USER = "nobody"  # PostgreSQL refuses to run as root, and CI runs as root: the cluster runs as this user


class PostgresServer:
    """A throwaway PostgreSQL cluster (`initdb` + `pg_ctl` from Debian's package) in a temporary folder, on a free
    loopback port, trusting local connections. As root (CI), the cluster's files and processes belong to
    `PG_USER` instead, and its folder is made outside pytest's root-only temporary tree so that user can enter it."""

    def __init__(self):
        import glob
        import os
        import pwd
        import tempfile

        found = sorted(glob.glob(PG_BIN_DIRS), key=lambda d: int(Path(d).parent.name.split(".")[0]))
        if not found:
            pytest.skip(f"PostgreSQL is not installed ({PG_BIN_DIRS}; .ci/run installs Debian's postgresql)")
        self.bin = Path(found[-1])
        self.root = Path(tempfile.mkdtemp(prefix="bqa-postgres-"))
        self.as_user: dict = {}
        if os.geteuid() == 0:
            user = pwd.getpwnam(PG_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        self.port = free_port()
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._created = 0
        self._run("initdb", "-D", str(self.data), "-U", "bqa", "--auth=trust", "-E", "UTF8", "--no-locale")
        settings = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", settings, "-w", "-t", "60", "start")

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([str(self.bin / program), *args], capture_output=True, text=True, cwd=self.root,
                              env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"}, **self.as_user)
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            pytest.fail(f"{program} failed: {done.stdout}{done.stderr}{log}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://bqa@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """The URL of a new, empty database of this cluster."""
        import psycopg

        self._created += 1
        name = f"bqa_{self._created}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        import shutil

        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the suite (see `PostgresServer`)."""
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_qa(config, chroma_server, postgres_server, tmp_path_factory) -> BulletinQA:
    """The service as several machines run it: vectors in the Chroma server, everything else in PostgreSQL."""
    service = BulletinQA.from_config(replace(
        config, chroma_url=chroma_server, database_url=postgres_server.create_database(),
        data_dir=tmp_path_factory.mktemp("bqa-postgres") / "data",
    ))
    service.index()
    return service


# A corpus of several months, made from the seed: each copy under another month has that month's name in its
# dates and another donor for CT Travel; the paragraphs that name no month (the introduction, the mandate) are
# the boilerplate every issue repeats word for word. The newest month is a copy, so "newest" is not the seed.
MONTHLY = {  # period -> (month name, CT Travel's donor as the bulletin writes it)
    "2020-12": ("December", r"Japan (\$350,000)"),
    "2021-01": ("January", r"Germany (\$420,000)"),
    "2021-02": ("February", r"Norway (\$610,000)"),
    "2021-03": ("March", r"India (\$500,000)"),
    "2021-04": ("April", r"Qatar (\$275,000)"),
}
BOILERPLATE = "The Office provides most of its capacity-building support to Member States through the UN Counter"


def write_monthly_corpus(folder: Path) -> Path:
    """The seed bulletin and its copies under the other months of MONTHLY, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    seed = SEED.read_text(encoding="utf-8")
    for period, (month, donor) in MONTHLY.items():
        text = seed.replace(MONTHLY["2021-03"][1], donor).replace("March", month)
        (folder / f"unoct-highlights-{period}.md").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def monthly_qa(config, tmp_path_factory) -> BulletinQA:
    """The service over five monthly bulletins (MONTHLY), indexed in its own data folder."""
    root = tmp_path_factory.mktemp("monthly")
    service = BulletinQA.from_config(
        replace(config, data_dir=root / "data", corpus_dirs=(write_monthly_corpus(root / "corpus"),))
    )
    service.index()
    return service


CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright never downloads a browser here


@pytest.fixture(scope="module")
def browser():
    """Chromium driven by Playwright, for the widget's and the admin page's tests."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (see .ci/run)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield browser
        browser.close()


WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def assert_accessible(page, within: str | None = "bqa-widget") -> None:
    """axe-core (shipped in the PyPI package axe-playwright-python) finds no WCAG 2.1 A/AA violation, contrast
    included, in `within`, or in the whole page."""
    import axe_playwright_python

    page.evaluate(Path(axe_playwright_python.__file__).with_name("axe.min.js").read_text())
    violations = page.evaluate(
        """async ([within, tags]) => {
             const found = await axe.run(within ? {include: [[within]]} : document,
                                         {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
             return found.violations.map(v => `${v.id}: ` + v.nodes.map(n => n.target.join(" > ")).join(", "));
           }""",
        [within, WCAG],
    )
    assert violations == []


STORES = ["embedded", "chroma-server"]
DEPLOYMENTS = [*STORES, "postgres"]  # the stores, and the several-machines layout: Chroma server + PostgreSQL


def on_each_store(request, qa) -> BulletinQA:
    """For `qa = pytest.fixture(scope="module", params=STORES, name="qa")(on_each_store)` in a test module: its
    tests run against the embedded store and against a real Chroma server (and, with params=DEPLOYMENTS, against
    the Chroma server with PostgreSQL for everything else)."""
    return {"embedded": lambda: qa, "chroma-server": lambda: request.getfixturevalue("server_qa"),
            "postgres": lambda: request.getfixturevalue("postgres_qa")}[request.param]()


class LoopbackModel:
    """An OpenAI-compatible model server on a loopback port, answering with `handler` (a request handler class);
    `release` lets a request it holds go on."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def service(self, config: Config) -> BulletinQA:
        """The service over `config`'s (already indexed) data folder, with this server as its LLM."""
        return BulletinQA.from_config(replace(config, llm_base_url=self.url, llm_model="loopback", llm_timeout=120))

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class HeldModel(LoopbackModel):
    """A loopback OpenAI-compatible server that holds every request until `release` is set, then refuses it (400),
    so the service falls back to its extractive answer. For what users see while an answer is being worked out:
    keep-alive comments, the typing indicator, the Stop button."""

    def __init__(self):
        self.release = threading.Event()
        self.received: list[str] = []
        held = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                held.received.append(self.path)
                held.release.wait(120)
                body = b'{"error": {"message": "no model here", "type": "invalid_request_error"}}'
                try:
                    self.send_response(400)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        super().__init__(Handler)


@pytest.fixture()
def held_model(qa):
    """A `HeldModel`, closed (and released) after the test; `qa` first, so the data folder is indexed."""
    model = HeldModel()
    yield model
    model.close()


class StreamingModel(LoopbackModel):
    """A loopback OpenAI-compatible server that streams its reply to every chat request slowly, a token (word) at a
    time as server-sent chunks, the way a model server writes while it generates. `reply(prompt)` writes the reply
    from the prompt's last user message (the numbered passages and the question).

    With `hold_before`, it stops before the last place that text starts in its reply until `release` is set (or
    `hold_s` seconds have passed), then sets `resumed`; `finished` is set once the last token is sent. A test can
    thus tell whether what it received came before the model had written all, without timing anything."""

    TOKEN_DELAY_S = 0.02  # seconds between tokens: slow enough that each arrives on its own

    def __init__(self, reply: Callable[[str], str], hold_before: str | None = None, hold_s: float = 60.0):
        self.release, self.resumed, self.finished = threading.Event(), threading.Event(), threading.Event()
        self.prompts: list[str] = []
        model = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                prompt = request["messages"][-1]["content"]
                model.prompts.append(prompt)
                text = model.reply(prompt)
                held = text.rindex(hold_before) if hold_before else -1
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for token in re.finditer(r"\S+\s*", text):
                        if token.start() == held:
                            model.release.wait(hold_s)
                            model.resumed.set()
                        self.chunk({"role": "assistant", "content": token.group(0)}, None)
                        time.sleep(model.TOKEN_DELAY_S)
                    self.chunk({}, "stop")
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    model.finished.set()

            def chunk(self, delta: dict, finish_reason: str | None) -> None:
                chunk = {"id": "chatcmpl-loopback", "object": "chat.completion.chunk", "created": 0, "model": "loopback",
                         "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())

            def log_message(self, *args):
                pass

        self.reply = reply
        super().__init__(Handler)


def sse_events(response):
    """(event name, JSON data) of a `requests` response's event stream, each as soon as its block has arrived."""
    name, data = None, []
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            data.append(line[len("data: "):])
        elif line == "" and name:
            yield name, json.loads("\n".join(data))
            name, data = None, []


def passage_number(prompt: str, needle: str) -> int:
    """The number the prompt gives the passage holding `needle`."""
    return next(int(n) for n, text in re.findall(r"^\[(\d+)\] \(p-[0-9a-f]+\) (.*)$", prompt, re.M) if needle in text)


PANEL_QUESTION = "How many participants did the panel on contactless biometrics bring together?"


def panel_reply(prompt: str) -> str:
    """A true first sentence, then one the passages do not back (no bulletin names the panel's funder)."""
    n = passage_number(prompt, "45 participants")
    return (f"The panel on contactless biometrics brought together 45 participants [{n}]. "
            f"The panel was funded by the World Bank [{n}].")


@pytest.fixture()
def streaming_model(qa):
    """A `StreamingModel` answering `PANEL_QUESTION` with `panel_reply`, holding back its invented funder's name
    until released; closed after the test."""
    model = StreamingModel(panel_reply, hold_before="World Bank")
    yield model
    model.close()
