"""The `bqa` command line, run in-process against a private data folder."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import DEV_SET
from service.cli import main
from service.config import PROJECT_ROOT


@pytest.fixture()
def env(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    monkeypatch.setenv("BQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BQA_CORPUS", str(corpus))
    monkeypatch.setenv("BQA_PUBLIC_URL", "https://bulletins.example.org")
    return tmp_path


def test_ask_json_is_the_api_shape_with_public_urls(env, capsys):
    assert main(["ask", "--json", "Who supported CT Travel in March?"]) == 0
    response = json.loads(capsys.readouterr().out)
    assert response["answerable"] is True and "India" in response["answer"]
    citation = response["citations"][0]
    start = citation["text"].index(citation["quote"])
    span = f"{citation['paragraph_id']}:{start}-{start + len(citation['quote'])}"  # the quote, highlighted
    assert citation["url"] == (
        f"https://bulletins.example.org/bulletins/{citation['bulletin_id']}?hl={span}#{citation['paragraph_id']}"
    )


def test_ask_prints_answer_and_numbered_citations(env, capsys):
    assert main(["ask", "How many experts took part in the CT Travel introductory webinar?"]) == 0
    out = capsys.readouterr().out
    assert "25 experts" in out
    assert "[1] UNOCT Highlights, March 2021 — Special Projects & Innovation Branch (SPIB)" in out
    assert "(confidence 0." in out or "(confidence 1.00)" in out


def test_ask_shows_an_abstention_with_the_closest_quote(env, capsys):
    assert main(["ask", "What is the annual budget of the UNOCT Doha Hub?"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("The bulletins don't say. The closest they come: “")
    assert "\n[1] UNOCT Highlights, March 2021" in out  # the quoted sentence's citation


def test_index_is_incremental(env, capsys):
    assert main(["index"]) == 0
    assert "1 added" in capsys.readouterr().err
    assert main(["index"]) == 0
    assert "1 unchanged" in capsys.readouterr().err
    other = env / "other"
    other.mkdir()
    (other / "extra-2021-04.md").write_text("# Extra bulletin\n\nUNOCT hosted a webinar on cyber security.\n")
    assert main(["index", str(env / "corpus"), str(other)]) == 0
    err = capsys.readouterr().err
    assert "1 added" in err and "1 unchanged" in err and "1 embedded" in err
    assert main(["index", str(env / "corpus")]) == 0
    assert "1 removed" in capsys.readouterr().err


def test_index_reports_a_bad_file_and_changes_nothing(env, capsys):
    assert main(["index"]) == 0
    (env / "corpus" / "broken.pdf").write_bytes(b"%PDF-1.7 truncated")
    assert main(["index"]) == 2
    assert "broken.pdf" in capsys.readouterr().err
    assert main(["ask", "--json", "Who supported CT Travel in March?"]) == 2  # ask brings the index up to date, and refuses


def test_eval_reports_the_dev_set(env, capsys):
    if not DEV_SET.exists():
        pytest.skip("shared/eval/dev.jsonl is not beside the project")
    assert main(["eval", "--json", str(DEV_SET)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["answerable_turns"] == 11 and report["unanswerable_turns"] == 2
    assert all(0.0 <= report[key] <= 1.0 for key in ("accuracy", "citation", "abstention"))
    assert {"who", "how_many", "when"} <= set(report["by_kind"])  # per kind of question
    assert set(report["confidence"]) <= {"right", "wrong", "unanswerable"} and report["confidence"]


def test_eval_is_not_throttled_by_the_api_rate_limit(env, capsys, monkeypatch):
    """`bqa eval` asks in-process: a question set longer than BQA_RATE_LIMIT is scored, not refused with 429."""
    monkeypatch.setenv("BQA_RATE_LIMIT", "2")
    questions = env / "questions.jsonl"
    questions.write_text("\n".join(json.dumps({"id": f"q{i}", "turns": [{"question": q, "must_include": [m]}]})
                                   for i, (q, m) in enumerate([("Who supported CT Travel in March?", "India")] * 4)))
    assert main(["eval", "--json", str(questions)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["answerable_turns"] == 4
