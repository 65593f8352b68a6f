"""The labelled bulletin question sets (bench/data/) hold what their README promises: every answerable turn's evidence
is in exactly one paragraph of its bulletin as bqa parses it, and its expected answer is written there.

A label that the bulletin does not support would train and score the answerer against a wrong target, silently.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from pathlib import Path

import pytest

from index.parse import load
from service.evaluate import includes, normalise
from tests.conftest import PROJECT_ROOT, SEED

DATA = PROJECT_ROOT / "bench" / "data"
KINDS = {"who", "when", "how_many", "how_much", "where", "which", "what", "why", "list", "yes_no", "other"}
TAGS = {"paraphrase", "lowercase", "typo", "acronym", "long_name", "near_miss", "off_topic", "follow_up", "multi_fact",
        "date_attached", "list_item", "figures", "roman_numeral"}
# (question file, its bulletin, fewest questions, fewest near-miss unanswerables, fewest conversations): issue 12
SETS = [
    ("bulletin-questions.jsonl", SEED, 100, 30, 10),
    ("synthetic-questions.jsonl", DATA / "synthetic" / "unomcp-highlights-2022-05.md", 60, 20, 5),
]


def squad_words(text: str) -> str:
    """SQuAD 2.0's answer normalisation (lower case, punctuation and articles dropped), padded for whole-word search."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return " " + " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split()) + " "


def written_in(expected: str, text: str) -> bool:
    return any(squad_words(option) in squad_words(text) for option in expected.split("|"))


def conversations(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name, bulletin, questions, near_misses, conversations_", SETS)
def test_set_has_the_size_and_mix_it_promises(name, bulletin, questions, near_misses, conversations_):
    convs = conversations(name)
    turns = [turn for conv in convs for turn in conv["turns"]]
    assert len(turns) >= questions
    assert sum("near_miss" in turn["tags"] for turn in turns if turn.get("answerable") is False) >= near_misses
    assert sum(len(conv["turns"]) > 1 for conv in convs) >= conversations_
    assert not [i for i, n in Counter(conv["id"] for conv in convs).items() if n > 1]


@pytest.mark.parametrize("name, bulletin, questions, near_misses, conversations_", SETS)
def test_every_turn_is_well_formed(name, bulletin, questions, near_misses, conversations_):
    for conv in conversations(name):
        for position, turn in enumerate(conv["turns"]):
            where = f"{conv['id']} turn {position + 1}"
            assert turn["kind"] in KINDS, where
            assert set(turn["tags"]) <= TAGS, where
            assert ("follow_up" in turn["tags"]) == (position > 0), where
            assert ("lowercase" in turn["tags"]) == (turn["question"] == turn["question"].lower()), where
            if turn.get("answerable") is False:
                assert "must_include" not in turn and "evidence" not in turn, where
                assert {"near_miss", "off_topic"} & set(turn["tags"]), where
            else:
                assert turn["must_include"] and 5 <= len(turn["evidence"]) <= 40, where
                assert not {"near_miss", "off_topic"} & set(turn["tags"]), where


@pytest.mark.parametrize("name, bulletin, questions, near_misses, conversations_", SETS)
def test_answers_are_written_in_the_paragraph_the_evidence_names(name, bulletin, questions, near_misses,
                                                                  conversations_):
    parsed = load(bulletin)
    paragraphs = [(section, paragraph.text) for section, paragraph in parsed.paragraphs()]
    for conv in conversations(name):
        for turn in conv["turns"]:
            if turn.get("answerable") is False:
                continue
            holding = [(s, text) for s, text in paragraphs if includes(text, turn["evidence"])]  # whole words
            assert len(holding) == 1, f"{conv['id']}: evidence {turn['evidence']!r} in {len(holding)} paragraphs"
            section, text = holding[0]
            # a list's items are paragraphs of their own (bullets), so a list answer may span its section
            scope = " ".join(p.text for p in section.paragraphs) if "list_item" in turn["tags"] else text
            for expected in turn["must_include"]:
                assert written_in(expected, scope), f"{conv['id']}: {expected!r} is not in {scope!r}"
