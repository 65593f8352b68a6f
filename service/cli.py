"""`bqa`: the front door. Index bulletins, ask questions, serve the API, evaluate on a question set."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

from service.config import Config


def _progress(total: int):
    """A tqdm bar for embedding `total` texts (the chunks, then every sentence of them, which the answerer compares
    questions with); returns the callback the store ticks after each batch."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit="text", desc="Embedding", file=sys.stderr)

    def tick(n: int) -> None:
        bar.update(n)
        if bar.n >= total:
            bar.close()

    return tick


def _service(config: Config):
    """The service with its index brought up to date: new and changed files of its sources indexed (unchanged
    bulletins cost nothing), nothing removed, so it never undoes what the last `bqa index` did."""
    from service.pipeline import BulletinQA

    qa = BulletinQA.from_config(config)
    _clean_up(qa)
    _report(qa.index(progress=_progress))
    qa.warm_up()
    return qa


def _clean_up(qa) -> None:
    """Remove what interrupted runs left behind before indexing (an unfinished generation would otherwise sit
    beside the index for good)."""
    from service.cleanup import clean

    cleaned = clean(qa)
    if cleaned:
        print(f"Cleanup: {cleaned.summary()}", file=sys.stderr)


def _report(change) -> None:
    for line in change.lines():
        print(line, file=sys.stderr)


LOCAL_URL = "http://127.0.0.1:8000"  # where `bqa serve` listens by default: links when BQA_PUBLIC_URL is unset


def _host_warning(host: str, config: Config) -> str | None:
    """Why serving on `host` is risky with this configuration, if it is: off the loopback without BQA_PUBLIC_URL,
    every link bqa writes (citations, the widget's address) is built from a Host header any client may set."""
    import ipaddress

    if config.public_url:
        return None
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (f"bqa: warning: serving on {host} without BQA_PUBLIC_URL: citation links and the widget's address are "
            "built from each request's Host header, which any client can set. Set BQA_PUBLIC_URL to the address "
            "users reach bqa at.")


def _url_for(config: Config):
    base = config.public_url or LOCAL_URL
    return lambda bulletin_id, paragraph_id: f"{base}/bulletins/{bulletin_id}#{paragraph_id}"


def cmd_index(args, config: Config) -> int:
    """Index, add, remove or prune (see the `index` parser's help); exit status 1 when a file failed to index."""
    from service.pipeline import BulletinQA

    qa = BulletinQA.from_config(config)
    if args.list:
        return _list(qa)
    if args.remove or args.prune:
        if args.paths or args.add:
            print("bqa index: --remove and --prune take no paths to index; run them separately", file=sys.stderr)
            return 2
        return _remove(qa, args)
    if args.add and not args.paths:
        print("bqa index --add: name the folders to add", file=sys.stderr)
        return 2
    _clean_up(qa)
    change = qa.index(tuple(args.paths), add=args.add, progress=_progress)
    _report(change)
    return 1 if change.failed else 0


def _list(qa) -> int:
    corpus = qa.corpus()
    indexed = corpus.bulletins if corpus is not None else {}
    for entry in qa.db.registered():
        state = "removed" if entry.removed else ("indexed" if entry.id in indexed else "not indexed")
        period = (indexed.get(entry.id) or {}).get("period") or ""
        print(f"{entry.id}\t{entry.origin}\t{state}\t{period}\t{entry.path or entry.name}")
    for folder in qa.db.added_folders():
        print(f"(folder)\tadded\t\t\t{folder}")
    return 0


def _remove(qa, args) -> int:
    """Print what will be removed, ask on a terminal (or take --yes), then remove it."""
    if args.prune:
        ids, folders = set(qa.registry.prunable()), set()
    else:
        ids, folders = qa.registry.removal(args.remove)
    if not ids and not folders:
        print("Nothing to remove.", file=sys.stderr)
        return 0
    corpus = qa.corpus()
    titles = corpus.bulletins if corpus is not None else {}
    print(f"This removes {len(ids)} bulletin(s) from the index:", file=sys.stderr)
    for bid in sorted(ids):
        about = titles.get(bid)
        print(f"  {bid}" + (f" — {about['title']}, {about['period'] or 'no period'}" if about else ""), file=sys.stderr)
    for folder in sorted(folders):
        print(f"and forgets the added folder {folder}", file=sys.stderr)
    if not args.yes:
        if not sys.stdin.isatty():
            print("bqa index: not removing anything without confirmation: add --yes", file=sys.stderr)
            return 2
        if input("Remove? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing removed.", file=sys.stderr)
            return 1
    change = qa.registry.prune(_progress) if args.prune else qa.registry.remove(args.remove, _progress)
    _report(change)
    return 0


def _filters(args):
    """The retrieval filters of `bqa ask --bulletin ID --period YYYY-MM[..YYYY-MM]`."""
    from index.retrieve import Filters

    start, _, end = (args.period or "").partition("..")
    return Filters.parse({"bulletin_ids": list(args.bulletin or ()), "period_from": start or None,
                          "period_to": end or start or None})


def cmd_ask(args, config: Config) -> int:
    from service.web.quotes import with_quote_urls

    filters = _filters(args)  # a malformed --period is refused before anything is loaded
    qa = _service(config)
    response = qa.ask(args.question, _url_for(config), top_k=args.top_k, filters=filters)
    response["citations"] = with_quote_urls(response["citations"])
    if args.json:
        print(json.dumps(response, indent=2, ensure_ascii=False))
        return 0
    _print_answer(response)
    return 0


def _print_answer(response: dict) -> None:
    print(textwrap.fill(response["answer"], width=100, replace_whitespace=False))
    print(f"(confidence {response['confidence']:.2f})")
    for citation in response["citations"]:
        period = f", {citation['period']}" if citation["period"] else ""
        print(f"\n[{citation['n']}] {citation['bulletin_title']}{period} — {citation['section']}")
        print(textwrap.indent(textwrap.fill(f"“{citation['quote']}”", width=96), "    "))
        print(f"    {citation['url']}")


def cmd_chat(args, config: Config) -> int:
    """A conversation in the terminal: follow-up questions keep their context until /new or the end."""
    import readline  # noqa: F401  (line editing and history for input())

    from service.web.quotes import with_quote_urls

    qa = _service(config)
    url_for = _url_for(config)
    conversation_id = None
    print("Ask about the bulletins. /new starts a new conversation; Ctrl-D or /quit ends.", file=sys.stderr)
    while True:
        try:
            question = input("\n? ").strip()
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return 0
        if question in ("/quit", "/exit"):
            return 0
        if question == "/new":
            conversation_id = None
            print("(new conversation)", file=sys.stderr)
            continue
        if not question:
            continue
        if len(question) > config.max_question_chars:
            print(f"(questions are limited to {config.max_question_chars} characters)", file=sys.stderr)
            continue
        response = qa.ask(question, url_for, conversation_id=conversation_id)
        response["citations"] = with_quote_urls(response["citations"])
        conversation_id = response["conversation_id"]
        if response["resolved_question"] != question:
            print(f"(read as: {response['resolved_question']})", file=sys.stderr)
        _print_answer(response)


def cmd_serve(args, config: Config) -> int:
    if warning := _host_warning(args.host, config):
        print(warning, file=sys.stderr, flush=True)
    if args.workers > 1:
        # Index in a process of its own: gunicorn forks the workers from this one, which must not hold the
        # model's or Chroma's threads at the fork (the children would deadlock on their locks).
        import subprocess

        indexed = subprocess.run([sys.executable, "-m", "service.cli", "index"], check=False)
        if indexed.returncode not in (0, 1):  # 1: a file failed and was reported; the rest is indexed, so serve
            return indexed.returncode
        return _gunicorn(args, config)
    from service.app import create_app
    from service.cleanup import Cleaner

    qa = _service(config)
    Cleaner(qa, config.cleanup_interval_s).start()
    app = create_app(config, qa=qa)
    print(f"Serving on http://{args.host}:{args.port}/", file=sys.stderr)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    return 0


def _gunicorn(args, config: Config) -> int:
    """`--workers N`: gunicorn with N worker processes of a few threads each, sharing the data folder (or the
    Chroma server of BQA_CHROMA_URL) and adding their metrics up in one multi-process folder. The worker class is
    gthread with a deadline for reading each request (`service.worker`), so slow clients cannot hold every thread.

    Connections close after each response (`--keep-alive 0`): a kept-alive connection stays with the worker that
    accepted it, and under load one worker ended up holding every client's connection while the other idled
    (20 clients: 260 answers/s, against 470/s when each request goes to whichever worker is free). Behind the
    reverse proxy of the production layout, connections to gunicorn are per request anyway."""
    import os
    import shutil

    from gunicorn.app.wsgiapp import WSGIApplication

    metrics = config.data_dir / "metrics"
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    sys.argv = [
        "gunicorn", "service.wsgi:app", "--bind", f"{args.host}:{args.port}", "--workers", str(args.workers),
        "--worker-class", "service.worker.DeadlineThreadWorker", "--threads", str(args.threads), "--timeout", "120",
        "--keep-alive", "0",
        "--access-logfile", "-" if args.access_log else "/dev/null",
    ]
    print(f"Serving on http://{args.host}:{args.port}/ with {args.workers} workers", file=sys.stderr)
    WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]").run()
    return 0


def cmd_slack(args, config: Config) -> int:
    """The Slack bot over Socket Mode: a WebSocket to Slack, nothing to expose. It answers from the same data
    folder as `bqa serve` (which may run beside it and serve the source view its links point at)."""
    if not (config.slack_bot_token and config.slack_app_token):
        print(
            "bqa slack needs SLACK_BOT_TOKEN (xoxb-…) and SLACK_APP_TOKEN (an app-level token, xapp-…, with the "
            "connections:write scope); see README, Slack.",
            file=sys.stderr,
        )
        return 2
    if not config.public_url:
        print(f"BQA_PUBLIC_URL is not set: citation links will point at {LOCAL_URL}", file=sys.stderr)
        config = replace(config, public_url=LOCAL_URL)
    from service import slack
    from service.app import create_app

    import threading

    handler = slack.socket_mode(create_app(config, qa=_service(config)))
    try:
        handler.connect()
        print("Connected to Slack over Socket Mode; Ctrl-C stops.", file=sys.stderr)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        handler.close()
    return 0


def cmd_eval(args, config: Config) -> int:
    """Score the question set; with an LLM configured, once extractive only and once with the LLM."""
    from service.evaluate import evaluate, load_items, side_by_side

    items = load_items(args.file)
    qa = _service(config)
    paths = {"extractive": qa.without_llm(), "llm": qa} if qa.active_answerer == "llm" else {"extractive": qa}
    logging.getLogger("bqa.requests").setLevel(logging.WARNING)  # the report, not a log line per question
    reports = {name: evaluate(items, _asker(service)) for name, service in paths.items()}
    if args.json:
        data = {name: report.as_json() for name, report in reports.items()}
        print(json.dumps(data if len(data) > 1 else data["extractive"], indent=2, ensure_ascii=False))
    else:
        print(side_by_side(reports) if len(reports) > 1 else reports["extractive"].table())
    return 0


def _asker(qa):
    """`ask(question, conversation_id) -> response JSON` through the HTTP API, as a client sees it — but without
    the per-client rate limit, which guards a served API against one caller and would throttle a question set of
    more than `BQA_RATE_LIMIT` questions to a crawl."""
    from service.app import create_app

    client = create_app(replace(qa.config, rate_limit=0), qa=qa).test_client()

    def ask(question: str, conversation_id: str | None) -> dict:
        body = {"question": question}
        if conversation_id:
            body["conversation_id"] = conversation_id
        response = client.post("/api/v1/ask", json=body)
        if response.status_code != 200:
            raise SystemExit(f"/api/v1/ask answered {response.status_code}: {response.get_data(as_text=True)}")
        return response.get_json()

    return ask


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="bqa", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    index = commands.add_parser(
        "index", help="index bulletins: new and changed files of every source (never removes without --remove/--prune)",
        description="Without arguments: index what is new or changed in the corpus folders (BQA_CORPUS), the folders "
                    "added with --add, and the bulletins published over the admin API. PATHs are indexed too, file by "
                    "file. Nothing is removed except by --remove or --prune, which list what they remove and ask first.",
    )
    index.add_argument("paths", nargs="*", type=Path, help="files or folders to index besides the sources")
    index.add_argument("--add", action="store_true", help="remember the PATH folders: every refresh indexes them")
    index.add_argument("--remove", nargs="+", metavar="ID|FOLDER",
                       help="remove these bulletins (or an added folder and its bulletins)")
    index.add_argument("--prune", action="store_true",
                       help="remove bulletins whose file is gone or whose folder is no longer a source")
    index.add_argument("--yes", "-y", action="store_true", help="remove without asking (for scripts)")
    index.add_argument("--list", action="store_true", help="list the registered bulletins and added folders")
    index.set_defaults(run=cmd_index)

    ask = commands.add_parser("ask", help="answer one question with citations")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the same JSON the API returns")
    ask.add_argument("--top-k", type=int, choices=range(1, 21), metavar="1..20", default=None)
    ask.add_argument("--bulletin", action="append", help="only this bulletin id (repeatable)")
    ask.add_argument("--period", metavar="YYYY-MM[..YYYY-MM]", help="only bulletins of this month (or range)")
    ask.set_defaults(run=cmd_ask)

    chat = commands.add_parser("chat", help="an interactive conversation in the terminal")
    chat.set_defaults(run=cmd_chat)

    serve = commands.add_parser("serve", help="index the corpus if needed, then serve the API and web pages")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (more than 1 runs gunicorn)")
    serve.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    serve.add_argument("--access-log", action="store_true", help="gunicorn's access log besides bqa's JSON log")
    serve.set_defaults(run=cmd_serve)

    slack = commands.add_parser("slack", help="run the Slack bot over Socket Mode (no public URL needed)")
    slack.set_defaults(run=cmd_slack)

    evaluation = commands.add_parser("eval", help="score answers on a question set (dev.jsonl format)")
    evaluation.add_argument("file", type=Path)
    evaluation.add_argument("--json", action="store_true")
    evaluation.set_defaults(run=cmd_eval)
    return root


def main(argv: list[str] | None = None) -> int:
    from index.embed import ModelFileError
    from index.parse import ParseError
    from index.store import StorageError
    from service.db.base import SchemaTooNew

    args = parser().parse_args(argv)
    config = Config.from_env()
    try:
        return args.run(args, config)
    except (ParseError, ModelFileError, FileNotFoundError, ValueError, SchemaTooNew) as exc:
        print(f"bqa: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:  # a full disk: say so, and which setting keeps room, instead of a traceback
        print(f"bqa: the index cannot be written: {exc} (BQA_DISK_RESERVE_BYTES)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
