"""Chunking: section-bounded nodes that fit the embedding model, each naming the paragraphs it holds."""

from __future__ import annotations

import json
import random

import pytest

from index.chunk import PACK_TOKENS, chunk, embedding_text
from index.embed import MAX_TOKENS, count_tokens
from index.parse import Bulletin, load, parse


@pytest.fixture(scope="module")
def seed(seed_path) -> Bulletin:
    return load(seed_path)


@pytest.fixture(scope="module")
def seed_nodes(seed):
    return chunk(seed)


def paragraph_ids(node) -> list[str]:
    return json.loads(node.metadata["paragraph_ids"])


def bulletin_with(paragraph: str, *, title: str = "Training and Workshops") -> Bulletin:
    markdown = (
        f"# Synthetic Bulletin\n\n## Introduction\n\nA short opening paragraph.\n\n## {title}\n\n"
        f"A short first paragraph.\n\n{paragraph}\n\nA short last paragraph.\n\n## Funding\n\nCanada gave money.\n"
    )
    return parse(markdown.encode(), "synthetic-2021-04.md")


def long_paragraph(words: int = 1000, seed: int = 7) -> str:
    """Natural-looking prose: sentences of 8 to 25 words."""
    rng = random.Random(seed)
    vocabulary = (
        "the Centre trained border officers prosecutors judges and analysts from Member States on countering "
        "terrorist travel financing of terrorism biometrics aviation security passenger data in partnership with "
        "UNODC INTERPOL IOM Kazakhstan Kyrgyzstan Tajikistan Turkmenistan Uzbekistan through workshops webinars "
        "and expert meetings"
    ).split()
    out, sentence = [], []
    for _ in range(words):
        sentence.append(rng.choice(vocabulary))
        if len(sentence) >= rng.randint(8, 25):
            out.append(" ".join(sentence).capitalize() + ".")
            sentence = []
    if sentence:
        out.append(" ".join(sentence).capitalize() + ".")
    return " ".join(out)


def nodes_of(bulletin: Bulletin, paragraph_text: str):
    pid = next(p.id for _, p in bulletin.paragraphs() if p.text == paragraph_text)
    return pid, [n for n in chunk(bulletin) if pid in paragraph_ids(n)]


# --- the seed --------------------------------------------------------------------------------------------------


def test_every_node_stays_inside_one_section(seed, seed_nodes):
    section_of = {p.id: (i, s.title) for i, s in enumerate(seed.sections) for p in s.paragraphs}
    for node in seed_nodes:
        places = {section_of[pid] for pid in paragraph_ids(node)}
        assert places == {(node.metadata["section_index"], node.metadata["section"])}


def test_every_paragraph_is_in_a_node_whole_and_in_order(seed, seed_nodes):
    held = {}
    for node in seed_nodes:
        for pid, ordinal, text in json.loads(node.metadata["paragraphs"]):
            held[pid] = (ordinal, text)
        assert [pid for pid, _, _ in json.loads(node.metadata["paragraphs"])] == paragraph_ids(node)
    assert held == {p.id: (p.ordinal, p.text) for _, p in seed.paragraphs()}
    read = [pid for node in seed_nodes for pid in paragraph_ids(node)]
    assert list(dict.fromkeys(read)) == [p.id for _, p in seed.paragraphs()]


def test_embedding_text_fits_the_model_and_starts_with_the_section_title(seed_nodes):
    assert seed_nodes
    for node in seed_nodes:
        text = embedding_text(node)
        assert count_tokens(text) <= MAX_TOKENS
        assert text.startswith(node.metadata["section"] + "\n\n")
        assert text.endswith(node.text)
        for stored_only in ("bulletin_id", "source", "sha256", "paragraph_ids"):  # kept, but not embedded
            assert str(node.metadata[stored_only]) not in text


def test_short_paragraphs_share_a_node_about_one_topic(seed_nodes):
    packed = [n for n in seed_nodes if len(paragraph_ids(n)) > 1]
    assert packed, "the mandate bullets are short enough to share a node"
    for node in packed:
        assert count_tokens(node.text) <= PACK_TOKENS


def test_node_metadata_says_where_the_text_comes_from(seed, seed_nodes, seed_path):
    for node in seed_nodes:
        meta = node.metadata
        assert meta["bulletin_id"] == "unoct-highlights-2021-03"
        assert meta["bulletin_title"] == "UNOCT Highlights"
        assert meta["period"] == "March 2021"
        assert (meta["period_start"], meta["period_end"]) == (202103, 202103)
        assert meta["section"] == seed.sections[meta["section_index"]].title
        assert meta["source"] == str(seed_path)
        assert meta["sha256"] == seed.sha256
        assert node.id_.startswith("unoct-highlights-2021-03:")
        for value in meta.values():  # Chroma stores flat scalars only
            assert isinstance(value, (str, int, float, bool))
    ids = [n.id_ for n in seed_nodes]
    assert len(set(ids)) == len(ids)
    assert ids == [n.id_ for n in chunk(seed)]


# --- long paragraphs -------------------------------------------------------------------------------------------


def test_a_1000_word_paragraph_is_split_over_nodes_that_all_name_it():
    text = long_paragraph(1000)
    assert len(text.split()) == 1000
    bulletin = bulletin_with(text)
    pid, nodes = nodes_of(bulletin, text)
    assert len(nodes) >= 4
    for node in nodes:
        assert pid in paragraph_ids(node)
        assert node.metadata["section"] == "Training and Workshops"
        assert count_tokens(embedding_text(node)) <= MAX_TOKENS
        stored = {p: t for p, _, t in json.loads(node.metadata["paragraphs"])}
        assert stored[pid] == text  # every piece can still cite and quote the whole paragraph
    # the pieces are the paragraph, in order, with nothing lost or repeated
    pieces = [n.text for n in nodes]
    pieces[-1] = pieces[-1].split("\n\n")[0]  # a short next paragraph may share the last piece's node
    assert " ".join(pieces).split() == text.split()
    for node in chunk(bulletin):
        assert count_tokens(embedding_text(node)) <= MAX_TOKENS


def test_a_long_section_title_leaves_less_room_but_still_fits():
    text = long_paragraph(600, seed=3)
    title = "Regional Capacity Building on Countering Terrorist Travel and Advance Passenger Information in Central Asia"
    bulletin = bulletin_with(text, title=title)
    _, nodes = nodes_of(bulletin, text)
    assert len(nodes) >= 3
    for node in chunk(bulletin):
        assert count_tokens(embedding_text(node)) <= MAX_TOKENS


def test_a_run_on_sentence_dense_in_word_pieces_still_fits_the_window():
    names = "Kyrgyzstan-Turkmenistan-Uzbekistan UNRCCA/UNODC/UNOCT"
    text = " ".join([names] * 100 + ["and the officers trained"] * 200)  # one 1,000-word sentence, no full stop
    assert len(text.split()) == 1000
    bulletin = bulletin_with(text)
    pid, nodes = nodes_of(bulletin, text)
    assert len(nodes) >= 4
    for node in nodes:
        assert count_tokens(embedding_text(node)) <= MAX_TOKENS


def test_pieces_of_a_paragraph_with_a_run_on_sentence_keep_its_order():
    text = "The Centre opened a new office in Almaty. Then " + " ".join(["officers trained on border security"] * 200)
    bulletin = bulletin_with(text)
    _, nodes = nodes_of(bulletin, text)
    pieces = [n.text.split("\n\n")[0] for n in nodes]
    assert " ".join(pieces).split() == text.split()
