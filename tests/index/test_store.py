"""The Chroma store: incremental sync of a corpus folder, generations switched whole, failures leave the index as it was.

Real Chroma on disk under tmp_path and real embeddings; each test indexes its own copy of the corpus.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from index.chunk import chunk, embedding_text
from index.embed import MODEL_ID, embed_texts, embed_with_parts
from index.parse import ParseError, load, parse
from index.retrieve import Corpus, Filters, Searcher
from index.sentences import split
from index.store import KEEP, MODEL_KEY, InsufficientStorage, Store, discover, open_client, sentence_collection
from service.config import PROJECT_ROOT

SEED_ID = "unoct-highlights-2021-03"
SEED_NAME = "unoct-highlights-2021-03.md"

EXTRA_ID = "weekly-brief-2021-04"
EXTRA = """# Weekly Brief, April 2021

## Lighthouse Programme

The Lighthouse Programme trained 37 harbour pilots in Mombasa on maritime security and container screening. (6 April)

The programme also delivered a tabletop exercise on port facility protection with the coast guard. (8 April)

## Partnerships

Norway renewed its funding of the Lighthouse Programme with a contribution of NOK 4 million. (12 April)
"""


def rotating(version: str, paragraphs: int) -> str:
    """A bulletin whose every paragraph says which version it belongs to."""
    body = "\n\n".join(
        f"Version {version}, item {i}: the lighthouse keepers of the {version} edition inspected {10 + i} beacons "
        f"along the coast and reported on their maintenance. ({i + 1} April)"
        for i in range(paragraphs)
    )
    return f"# Rotating Bulletin, April 2021\n\n## Lighthouse Keepers\n\n{body}\n"


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", folder)
    return folder


@pytest.fixture
def store(tmp_path) -> Store:
    return Store.open(tmp_path / "data")


@pytest.fixture(scope="module")
def seed_chunks() -> int:
    return len(chunk(load(PROJECT_ROOT / "corpus" / SEED_NAME)))


def served(store: Store) -> Corpus:
    return Corpus.load(store, store.active_name())


def texts(store: Store) -> list[str]:
    corpus = served(store)
    return [corpus.paragraphs[pid].text for pid in corpus.order]


def assert_consistent(store: Store) -> None:
    """The served generation: no chunk twice, no paragraph twice, and exactly the paragraphs its bulletins parse to."""
    records = store.records(store.active_name())
    assert len(set(records["ids"])) == len(records["ids"]) == store.active().count()
    corpus = served(store)
    assert len(set(corpus.order)) == len(corpus.order) == len(corpus.paragraphs)
    expected = [p.id for source in sorted({m["source"] for m in records["metadatas"]})
                for _, p in load(source).paragraphs()]
    assert sorted(corpus.order) == sorted(expected)
    # every sentence of every paragraph has its vector, exactly once, at the span the splitter gives
    for pid in corpus.order:
        text = corpus.paragraphs[pid].text
        assert [span for span, _ in corpus.sentences[pid]] == list(split(text))
    rows = [row for spans in corpus.sentences.values() for _, row in spans]
    assert sorted(rows) == list(range(len(corpus.sentence_vectors)))
    assert np.allclose(np.linalg.norm(corpus.sentence_vectors, axis=1), 1.0, atol=1e-3)


def test_first_sync_indexes_and_second_sync_changes_nothing(store, corpus, seed_chunks):
    assert store.active_name() is None
    assert Searcher(store).retriever(5).retrieve("Who funded CT Travel?") == []

    first = store.sync([corpus])
    assert (first.added, first.updated, first.removed, first.unchanged) == ([SEED_ID], [], [], [])
    assert first.chunks == first.embedded == seed_chunks == store.active().count()
    assert first.generation == store.active_name()
    assert_consistent(store)

    second = store.sync([corpus])
    assert (second.added, second.updated, second.removed, second.unchanged) == ([], [], [], [SEED_ID])
    assert not second.changed
    assert second.embedded == 0
    assert second.generation == first.generation == store.active_name()
    assert second.chunks == first.chunks == store.active().count()
    assert_consistent(store)
    assert "0 embedded" in second.summary()


def sentence_vectors(corpus_: Corpus) -> dict[tuple[str, int], np.ndarray]:
    """(paragraph id, start) -> the served vector of that sentence."""
    return {(pid, span.start): corpus_.sentence_vectors[row] for pid in corpus_.order
            for span, row in corpus_.sentences[pid]}


def test_a_chunk_is_one_run_whose_token_states_give_its_sentences_vectors_and_the_bar_counts_each_once(store, corpus):
    # each chunk is embedded alone; each sentence's vector is the mean of its tokens' states in its chunk's run
    ticks: list[tuple[int, int]] = []
    report = store.sync([corpus], progress=lambda total: lambda n: ticks.append((total, n)))
    nodes = chunk(load(corpus / SEED_NAME))
    records = store.active().get(include=["embeddings"])
    stored = dict(zip(records["ids"], records["embeddings"]))
    assert sorted(stored) == sorted(node.node_id for node in nodes)
    expected = embed_texts([embedding_text(node) for node in nodes])
    assert all(np.allclose(stored[node.node_id], vector, atol=1e-6) for node, vector in zip(nodes, expected))

    served_sentences = sentence_vectors(served(store))
    checked = set()
    for node in nodes:
        text = embedding_text(node)
        for pid, _, paragraph in json.loads(node.metadata["paragraphs"]):
            spans = {(pid, s.start): (text.index(s.text), text.index(s.text) + len(s.text)) for s in split(paragraph)}
            _, pooled = embed_with_parts([text], lambda t: (t, spans))
            for key, vector in pooled.items():
                assert np.allclose(served_sentences[key], vector, atol=1e-6)
            checked |= set(pooled)
    assert checked == set(served_sentences)  # the seed's chunks hold every sentence whole
    assert len({total for total, _ in ticks}) == 1
    assert sum(n for _, n in ticks) == ticks[0][0] == report.chunks + len(served_sentences)


def test_a_sentence_no_chunk_holds_whole_is_embedded_alone(store, corpus):
    # a run-on sentence longer than the model's window is cut into several chunks: it gets a run of its own
    run_on = "The keepers inspected " + ", ".join(f"beacon {i} on the {i}th reef" for i in range(120)) + "."
    (corpus / "weekly-brief-2021-04.md").write_text(f"# Weekly Brief, April 2021\n\n## Beacons\n\n{run_on} "
                                                    "Norway paid for the repairs.\n", encoding="utf-8")
    store.sync([corpus])
    served_ = served(store)
    [pid] = [pid for pid in served_.order if served_.paragraphs[pid].text.startswith("The keepers")]
    [(long, long_row), (short, short_row)] = served_.sentences[pid]
    assert long.text == run_on and short.text == "Norway paid for the repairs."
    assert np.allclose(served_.sentence_vectors[long_row], embed_texts([run_on])[0], atol=1e-6)
    assert np.dot(served_.sentence_vectors[short_row], embed_texts([short.text])[0]) > 0.5  # pooled, yet itself


def test_a_restarted_process_serves_the_same_index(store, corpus, tmp_path):
    report = store.sync([corpus])
    reopened = Store.open(tmp_path / "data")
    assert reopened.active_name() == report.generation
    assert reopened.indexed()[SEED_ID]["sha256"] == load(corpus / SEED_NAME).sha256
    again = reopened.sync([corpus])
    assert again.unchanged == [SEED_ID] and again.embedded == 0


def test_an_index_built_by_another_embedding_model_is_embedded_again_with_progress(corpus, tmp_path, seed_chunks):
    (corpus / "weekly-brief-2021-04.md").write_text(EXTRA, encoding="utf-8")
    old = Store(open_client(tmp_path / "data"), embedding_model="float-minilm")
    built = old.sync([corpus])
    assert old.sync([corpus]).embedded == 0  # the same model sees nothing to do

    ticks: list[tuple[int, int]] = []
    reopened = Store.open(tmp_path / "data")
    report = reopened.sync([corpus], progress=lambda total: lambda n: ticks.append((total, n)))
    assert sorted(report.updated) == sorted([SEED_ID, EXTRA_ID]) and report.unchanged == []
    assert report.embedded == report.chunks == built.chunks > seed_chunks
    # the bar counts every text embedded: the chunks and, since sentence vectors (issue 12), their sentences
    assert ticks and len({total for total, _ in ticks}) == 1 and sum(n for _, n in ticks) == ticks[0][0] > report.chunks
    assert reopened.active().metadata[MODEL_KEY] == MODEL_ID
    assert_consistent(reopened)
    assert reopened.sync([corpus]).embedded == 0


def test_a_publish_into_an_index_of_another_model_embeds_the_kept_bulletins_again(corpus, tmp_path):
    old = Store(open_client(tmp_path / "data"), embedding_model="float-minilm")
    old.sync([corpus])
    store = Store.open(tmp_path / "data")
    extra = parse(EXTRA.encode(), f"{EXTRA_ID}.md")
    report = store.apply(lambda indexed: {**{b: KEEP for b in indexed}, EXTRA_ID: extra})
    assert report.added == [EXTRA_ID] and report.updated == [SEED_ID] and report.embedded == report.chunks
    assert {m["bulletin_id"] for m in store.records(store.active_name())["metadatas"]} == {SEED_ID, EXTRA_ID}
    assert store.active().metadata[MODEL_KEY] == MODEL_ID


def test_an_edited_file_is_reindexed_and_its_old_text_is_gone(store, corpus, seed_chunks):
    first = store.sync([corpus])
    path = corpus / SEED_NAME
    path.write_text(path.read_text(encoding="utf-8").replace("India (\\$500,000)", "Japan (\\$750,000)"),
                    encoding="utf-8")

    report = store.sync([corpus])
    assert (report.added, report.updated, report.removed, report.unchanged) == ([], [SEED_ID], [], [])
    assert report.generation != first.generation == store.client.get_collection("bqa-state").metadata["previous"]
    assert report.chunks == report.embedded == seed_chunks
    assert_consistent(store)

    everything = "\n".join(texts(store))
    assert "Japan ($750,000)" in everything
    assert "India ($500,000)" not in everything
    assert not any("India (" in document for document in store.records(store.active_name())["documents"])
    hits = Searcher(store).retriever(5).retrieve("Who gave $750,000 to the Countering Terrorist Travel Programme?")
    assert any("Japan ($750,000)" in h.node.text for h in hits)
    assert not any("India ($500,000)" in h.node.text for h in hits)


def test_a_retriever_pinned_to_a_generation_retrieves_from_it_after_a_switch(store, corpus):
    """The pipeline reads an answer's sentences from the generation it loaded; its retrieval must come from that
    generation too, or a switch in between hands it paragraphs that generation does not hold (no sentence vectors:
    a right answer refused)."""
    store.sync([corpus])
    loaded = Searcher(store).corpus()
    path = corpus / SEED_NAME
    path.write_text(path.read_text(encoding="utf-8").replace("India (\\$500,000)", "Japan (\\$750,000)"),
                    encoding="utf-8")
    store.sync([corpus])
    question = "Who gave $750,000 to the Countering Terrorist Travel Programme?"
    pinned = Searcher(store).retriever(5, corpus=loaded).retrieve(question)
    live = Searcher(store).retriever(5).retrieve(question)
    assert pinned and all(h.node.node_id in loaded.paragraphs for h in pinned)
    assert any("India ($500,000)" in h.node.text for h in pinned)
    assert any("Japan ($750,000)" in h.node.text for h in live)
    assert not any(h.node.node_id in loaded.paragraphs for h in live if "Japan" in h.node.text)


def test_adding_a_bulletin_embeds_only_it_and_removing_it_drops_it(store, corpus, seed_chunks):
    first = store.sync([corpus])
    extra = corpus / f"{EXTRA_ID}.md"
    extra.write_text(EXTRA, encoding="utf-8")
    extra_chunks = len(chunk(load(extra)))

    added = store.sync([corpus])
    assert (added.added, added.updated, added.removed, added.unchanged) == ([EXTRA_ID], [], [], [SEED_ID])
    assert added.embedded == extra_chunks
    assert added.chunks == seed_chunks + extra_chunks == store.active().count()
    assert_consistent(store)
    # the seed's chunks were copied into the new generation, same ids, same text, same vectors (to float32 precision)
    seed_ids = store.records(first.generation)["ids"]
    before = store.client.get_collection(first.generation).get(ids=seed_ids, include=["embeddings", "documents"])
    after = store.client.get_collection(added.generation).get(ids=seed_ids, include=["embeddings", "documents"])
    assert sorted(after["ids"]) == sorted(seed_ids)
    vectors = dict(zip(before["ids"], before["embeddings"]))
    documents = dict(zip(before["ids"], before["documents"]))
    for cid, vector, document in zip(after["ids"], after["embeddings"], after["documents"]):
        assert document == documents[cid]
        assert np.allclose(vector, vectors[cid], rtol=0, atol=1e-6)
    # and so were its sentence vectors, in the new generation's sibling collection
    seed_sentences = store.client.get_collection(sentence_collection(first.generation)).get(include=["embeddings"])
    copied = store.client.get_collection(sentence_collection(added.generation)).get(
        ids=seed_sentences["ids"], include=["embeddings"])
    assert sorted(copied["ids"]) == sorted(seed_sentences["ids"])
    originals = dict(zip(seed_sentences["ids"], seed_sentences["embeddings"]))
    assert all(np.allclose(v, originals[i], atol=1e-6) for i, v in zip(copied["ids"], copied["embeddings"]))

    searcher = Searcher(store)
    hits = searcher.retriever(5).retrieve("How many harbour pilots did the Lighthouse Programme train?")
    assert hits[0].node.metadata["bulletin_id"] == EXTRA_ID and "37 harbour pilots" in hits[0].node.text
    only_extra = searcher.retriever(5, Filters(bulletin_ids=(EXTRA_ID,))).retrieve("Who funded CT Travel?")
    assert only_extra and all(h.node.metadata["bulletin_id"] == EXTRA_ID for h in only_extra)
    april = searcher.retriever(5, Filters(period_from="2021-04")).retrieve("funding")
    assert april and all(h.node.metadata["period"] == "April 2021" for h in april)

    extra.unlink()
    removed = store.sync([corpus])
    assert (removed.added, removed.updated, removed.removed, removed.unchanged) == ([], [], [EXTRA_ID], [SEED_ID])
    assert removed.embedded == 0
    assert removed.chunks == seed_chunks == store.active().count()
    assert_consistent(store)
    assert set(store.indexed()) == {SEED_ID}
    assert searcher.retriever(5, Filters(bulletin_ids=(EXTRA_ID,))).retrieve("harbour pilots") == []
    assert not any("harbour pilots" in text for text in texts(store))


def test_a_file_that_fails_to_parse_is_reported_and_the_others_are_indexed(store, corpus):
    store.sync([corpus])
    (corpus / "broken.md").write_bytes(b"Caf\xe9 au lait was served to the delegates.\n")
    path = corpus / SEED_NAME  # an edit in the same run is applied all the same
    path.write_text(path.read_text(encoding="utf-8").replace("India (\\$500,000)", "Japan (\\$750,000)"),
                    encoding="utf-8")
    (corpus / f"{EXTRA_ID}.md").write_text(EXTRA, encoding="utf-8")

    report = store.sync([corpus])
    assert len(report.failed) == 1 and "broken.md" in report.failed[0] and "not UTF-8" in report.failed[0]
    assert report.updated == [SEED_ID] and report.added == [EXTRA_ID] and "1 failed" in report.summary()
    assert set(store.indexed()) == {SEED_ID, EXTRA_ID}
    assert "Japan ($750,000)" in "\n".join(texts(store))
    assert_consistent(store)

    (corpus / "broken.md").write_text("# Mended, April 2021\n\nCafé au lait was served.\n", encoding="utf-8")
    assert store.sync([corpus]).added == ["broken"]


def test_a_changed_file_that_no_longer_parses_keeps_its_indexed_version(store, corpus):
    (corpus / f"{EXTRA_ID}.md").write_text(EXTRA, encoding="utf-8")
    store.sync([corpus])
    (corpus / f"{EXTRA_ID}.md").write_bytes(b"\xff\xfe not text any more")
    report = store.sync([corpus])
    assert report.failed and EXTRA_ID in report.unchanged and report.removed == []
    assert "harbour pilots" in "\n".join(texts(store))


def test_sync_serves_one_of_two_files_with_one_bulletin_id_and_ignores_other_files(store, corpus):
    (corpus / "notes.docx").write_bytes(b"PK\x03\x04 not a bulletin")
    (corpus / ".hidden").mkdir()
    (corpus / ".hidden" / "draft-2021-05.md").write_text("# Draft\n\nNot ready.\n", encoding="utf-8")
    report = store.sync([corpus])
    assert report.added == [SEED_ID] and set(store.indexed()) == {SEED_ID}

    # A second file with the served bulletin's id: reported, and the served one stays (a start must not fail).
    (corpus / "unoct-highlights-2021-03.txt").write_text("Another copy.\n", encoding="utf-8")
    again = store.sync([corpus])
    assert again.conflicts and "unoct-highlights-2021-03.txt" in again.conflicts[0]
    assert "conflict" in again.summary() and again.unchanged == [SEED_ID]
    assert store.active_name() == report.generation
    with pytest.raises(FileNotFoundError):
        store.sync([corpus / "missing-folder"])


def test_dot_folders_above_the_folder_synced_do_not_hide_it(tmp_path, corpus):
    hidden = tmp_path / ".srv" / "corpus"
    shutil.copytree(corpus, hidden)
    (hidden / ".drafts").mkdir()
    (hidden / ".drafts" / "draft-2021-05.md").write_text("# Draft\n\nNot ready.\n", encoding="utf-8")
    assert [p.name for p in discover([hidden])] == [SEED_NAME]


def test_a_write_that_would_eat_into_the_disk_reserve_is_refused_before_it_starts(tmp_path, corpus):
    import shutil as disk

    free = disk.disk_usage(tmp_path).free
    store = Store.open(tmp_path / "data", reserve_bytes=free)  # nothing may be written
    bars: list[int] = []
    with pytest.raises(InsufficientStorage) as caught:
        store.sync([corpus], progress=lambda total: bars.append(total) or (lambda n: None))
    assert caught.value.reserve == free and store.active_name() is None
    assert bars == []  # refused before the bar: the chunks' embedding, already started, was stopped
    assert Store.open(tmp_path / "data").client.list_collections() == []


def test_unfinished_generations_are_dropped_and_the_served_ones_kept(store, corpus):
    first = store.sync([corpus])
    (corpus / "weekly-brief-2021-04.md").write_text(EXTRA, encoding="utf-8")
    second = store.sync([corpus])
    orphan = store.client.create_collection("bqa-gen-0-abandoned", embedding_function=None)
    orphan.add(ids=["x"], embeddings=[[0.0] * 384], documents=["half"], metadatas=[{"bulletin_id": "x"}])
    assert store.drop_unused() == ["bqa-gen-0-abandoned"]
    names = {getattr(c, "name", c) for c in store.client.list_collections()}
    assert {first.generation, second.generation} <= names and "bqa-gen-0-abandoned" not in names


def test_queries_during_syncs_always_see_one_whole_generation(store, corpus):
    """A writer switches a bulletin between two versions while readers query: every answer comes from one complete
    generation, never from half of one or a mix of two."""
    rotating_path = corpus / "rotating-bulletin-2021-04.md"
    versions = {"alpha": 3, "beta": 5}
    rotating_path.write_text(rotating("alpha", versions["alpha"]), encoding="utf-8")
    store.sync([corpus])
    seed_paragraphs = sum(1 for _ in load(corpus / SEED_NAME).paragraphs())
    totals = {seed_paragraphs + n for n in versions.values()}

    done = threading.Event()
    errors: list[str] = []
    queries = {"count": 0}
    seen_totals: set[int] = set()
    shared = Searcher(store)

    def read(searcher: Searcher) -> None:
        try:
            while not done.is_set():
                corpus_now = searcher.corpus()
                total = len(corpus_now.order)
                seen_totals.add(total)
                if total not in totals or len(set(corpus_now.order)) != total:
                    errors.append(f"a loaded corpus holds {total} paragraphs, not one of {sorted(totals)}")
                hits = searcher.retriever(5).retrieve("What did the lighthouse keepers inspect along the coast?")
                ids = [h.node.node_id for h in hits]
                if len(hits) != 5 or len(set(ids)) != len(ids):
                    errors.append(f"results {ids} are not five distinct paragraphs")
                editions = {v for h in hits for v in versions if f"Version {v}," in h.node.text}
                if len(editions) != 1:
                    errors.append(f"results mix editions {sorted(editions)}: {[h.node.text[:30] for h in hits]}")
                queries["count"] += 1
        except Exception as exc:  # noqa: BLE001 - any failure in a reader is the test failing
            errors.append(f"{type(exc).__name__}: {exc}")

    readers = [threading.Thread(target=read, args=(s,)) for s in (shared, shared, Searcher(store))]
    for thread in readers:
        thread.start()
    try:
        for i in range(4):
            version = "beta" if i % 2 == 0 else "alpha"
            rotating_path.write_text(rotating(version, versions[version]), encoding="utf-8")
            report = store.sync([corpus])
            assert report.updated == ["rotating-bulletin-2021-04"] and report.unchanged == [SEED_ID]
            time.sleep(0.5)  # let the readers query this generation
    finally:
        done.set()
        for thread in readers:
            thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in readers)
    assert not errors, errors[:5]
    assert queries["count"] >= 4
    assert seen_totals == totals  # the readers really did query across the switches
    assert len(served(store).order) == seed_paragraphs + versions["alpha"]
    assert_consistent(store)
