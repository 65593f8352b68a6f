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
    assert main(["ask", "--json", "Who funded CT Travel in March?"]) == 0
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


EXTRA = "# Extra bulletin, April 2021\n\nUNOCT hosted a webinar on cyber security for 40 analysts.\n"
SEED_ID = "unoct-highlights-2021-03"


def indexed(capsys) -> set[str]:
    """The ids `bqa index --list` says are indexed."""
    capsys.readouterr()
    assert main(["index", "--list"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    return {row[0] for row in rows if row[2] == "indexed"}


def other_folder(env, name="extra-2021-04.md", text=EXTRA):
    other = env / "other"
    other.mkdir(exist_ok=True)
    (other / name).write_text(text, encoding="utf-8")
    return other


def test_index_is_incremental_and_removes_nothing_it_was_not_asked_to(env, capsys):
    assert main(["index"]) == 0
    assert "1 added" in capsys.readouterr().err
    assert main(["index"]) == 0
    assert "1 unchanged" in capsys.readouterr().err
    other = other_folder(env)
    assert main(["index", str(env / "corpus"), str(other)]) == 0
    err = capsys.readouterr().err
    assert "1 added" in err and "1 unchanged" in err and "1 embedded" in err
    assert main(["index", str(env / "corpus")]) == 0  # naming one folder is no request to drop the other
    assert "0 removed" in capsys.readouterr().err
    assert main(["ask", "--json", "Who funded CT Travel?"]) == 0  # ask refreshes the index, and keeps the extra
    assert indexed(capsys) == {SEED_ID, "extra-2021-04"}


def test_a_changed_file_is_indexed_again_by_every_refresh(env, capsys):
    other = other_folder(env)
    assert main(["index", str(other)]) == 0
    other_folder(env, text=EXTRA.replace("40 analysts", "55 analysts"))
    capsys.readouterr()
    assert main(["ask", "--json", "How many analysts attended the webinar on cyber security?"]) == 0
    out = capsys.readouterr()
    assert "1 updated" in out.err
    quoted = " ".join(c["text"] for c in json.loads(out.out)["citations"])
    assert "55 analysts" in quoted and "40 analysts" not in quoted


def test_an_added_folder_is_indexed_on_every_refresh(env, capsys):
    other = other_folder(env)
    assert main(["index", "--add", str(other)]) == 0
    assert indexed(capsys) == {SEED_ID, "extra-2021-04"}
    other_folder(env, "later-2021-05.md", "# Later, May 2021\n\nUNOCT opened a programme office in Nairobi.\n")
    assert main(["index"]) == 0
    assert "Registered: later-2021-05" in capsys.readouterr().err
    assert main(["index", "--list"]) == 0
    assert f"(folder)\tadded\t\t\t{other.resolve()}" in capsys.readouterr().out
    assert main(["index", "--add"]) == 2  # --add names folders


def test_removing_is_explicit_listed_and_confirmed(env, capsys, monkeypatch):
    other = other_folder(env)
    assert main(["index", "--add", str(other)]) == 0
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    capsys.readouterr()
    assert main(["index", "--remove", "extra-2021-04"]) == 2  # a script must say --yes
    err = capsys.readouterr().err
    assert "extra-2021-04 — Extra bulletin, April 2021" in err and "--yes" in err
    assert indexed(capsys) == {SEED_ID, "extra-2021-04"}

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["index", "--remove", "extra-2021-04"]) == 1
    assert indexed(capsys) == {SEED_ID, "extra-2021-04"}
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert main(["index", "--remove", "extra-2021-04"]) == 0
    assert "1 removed" in capsys.readouterr().err
    assert indexed(capsys) == {SEED_ID}

    assert main(["index"]) == 0  # its file is still in the added folder: it stays removed
    assert "Removed earlier, left out (name the file to bring it back): extra-2021-04" in capsys.readouterr().err
    assert main(["ask", "--json", "How many analysts attended the webinar on cyber security?"]) == 0
    assert indexed(capsys) == {SEED_ID}
    assert main(["index", str(other / "extra-2021-04.md")]) == 0  # named: back
    assert indexed(capsys) == {SEED_ID, "extra-2021-04"}

    assert main(["index", "--remove", "no-such-bulletin", "--yes"]) == 2
    assert "neither an indexed bulletin id nor a folder" in capsys.readouterr().err
    assert main(["index", "--remove", str(other), "--yes"]) == 0  # the folder and its bulletins
    assert indexed(capsys) == {SEED_ID}
    assert main(["index", "--list"]) == 0
    assert "(folder)" not in capsys.readouterr().out


def test_prune_removes_only_bulletins_whose_file_is_gone(env, capsys):
    other = other_folder(env)
    assert main(["index", "--add", str(other)]) == 0
    (other / "extra-2021-04.md").unlink()
    capsys.readouterr()
    assert main(["index"]) == 0
    assert "File gone, still indexed (bqa index --prune removes): extra-2021-04" in capsys.readouterr().err
    assert indexed(capsys) == {SEED_ID, "extra-2021-04"}
    assert main(["index", "--prune", "--yes"]) == 0
    err = capsys.readouterr().err
    assert "This removes 1 bulletin(s) from the index:\n  extra-2021-04" in err and "1 removed" in err
    assert indexed(capsys) == {SEED_ID}
    assert main(["index", "--prune", "--yes"]) == 0
    assert "Nothing to remove." in capsys.readouterr().err


def test_unsupported_files_are_listed_and_a_broken_file_does_not_stop_the_others(env, capsys):
    assert main(["index"]) == 0
    corpus = env / "corpus"
    (corpus / "notes.docx").write_bytes(b"PK\x03\x04 not a bulletin")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7 truncated")
    (corpus / "extra-2021-04.md").write_text(EXTRA, encoding="utf-8")
    capsys.readouterr()
    assert main(["index"]) == 1  # something failed; the rest is indexed
    err = capsys.readouterr().err
    assert f"Skipped (not a bulletin format bqa reads): {corpus.resolve() / 'notes.docx'}" in err
    assert "Failed, not indexed:" in err and "broken.pdf" in err
    assert "Registered: extra-2021-04" in err
    question = "Which country's contribution established the UN Counter-Terrorism Centre?"
    assert main(["ask", "--json", question]) == 0  # ask answers all the same
    assert json.loads(capsys.readouterr().out)["answerable"] is True
    assert indexed(capsys) == {SEED_ID, "extra-2021-04"}


def test_ask_narrows_to_a_period_and_a_bulletin(env, capsys):
    other = other_folder(env)
    assert main(["index", str(other)]) == 0
    capsys.readouterr()
    assert main(["ask", "--json", "--period", "2021-03", "--bulletin", SEED_ID, "Who funded CT Travel in March?"]) == 0
    response = json.loads(capsys.readouterr().out)
    assert response["answerable"] is True and response["period"] == {"from": "2021-03", "to": "2021-03"}
    assert {c["bulletin_id"] for c in response["citations"]} == {SEED_ID}
    assert main(["ask", "--json", "--period", "2021-04", "Who funded CT Travel in March?"]) == 0
    response = json.loads(capsys.readouterr().out)
    assert response["answerable"] is False
    assert all(c["period"] == "April 2021" for c in response["citations"])
    assert main(["ask", "--period", "2021-13", "Who funded CT Travel?"]) == 2
    assert "period_from must be a month written YYYY-MM" in capsys.readouterr().err


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
                                   for i, (q, m) in enumerate([("Who funded CT Travel in March?", "India")] * 4)))
    assert main(["eval", "--json", str(questions)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["answerable_turns"] == 4
