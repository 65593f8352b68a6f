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
    assert main(["ask", "--json", "Who funded CT Travel?"]) == 0
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
    assert main(["ask", "--json", "Who funded CT Travel?"]) == 2  # ask brings the index up to date, and refuses


def test_eval_reports_the_dev_set(env, capsys):
    if not DEV_SET.exists():
        pytest.skip("shared/eval/dev.jsonl is not beside the project")
    assert main(["eval", "--json", str(DEV_SET)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == 1.0 and report["citation"] == 1.0 and report["abstention"] == 1.0
    assert report["failures"] == []
