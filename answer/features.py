"""Question × candidate sentence → a vector of general features, the scorer's input.

Every feature is a measurement that means the same on any corpus: the cosine of the question with the sentence
(MiniLM vectors stored at index time, so no model pass here) and of what it asks without its names
(`index.text.relation`; the chooser's alone, see `answer.scorer.CHOOSER_ONLY`), rarity-weighted word overlap with
the sentence, with its context (section title, the paragraph's first sentence, a list's lead-in) and with the whole
paragraph, retrieval's own scores, ranks and margins, the kind of fact asked against the facts the sentence states,
the near-miss signs (how many and how rare of this turn's words the sentence leaves unsaid, a name or number of the
question absent from the paragraph, a negation or an ordering word in only one of them, another item or period
asked for than the sentence's), position and length. The bulletin's own title and id count as said by every
sentence of it. None of them names a word of any bulletin: what they are worth is learned (bench/train_scorer.py),
which is what lets them carry over to questions nobody wrote rules for.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from llama_index.core.schema import NodeWithScore

from index import periods
from index.chunk import month_string
from index.retrieve import Corpus
from index.text import STOPWORDS, terms, words
from answer import facts
from answer.sentences import Unit, clauses, units
from answer.types import Question

HOLDS = ("number", "amount", "date", "year", "percent", "name", "country", "reason")
SPECIFIC = ("who", "when", "where", "which", "how_many", "how_much", "why")  # kinds whose answer is a typed fact
TERM_CACHE = 50_000  # texts whose expanded terms are remembered per process

FEATURES: tuple[str, ...] = (
    "cos", "cos_rank", "cos_margin", "cos_gap", "cos_first", "cos_paragraph_max",
    "cos_relation", "cos_relation_margin", "cos_relation_gap",
    "dense", "dense_gap", "paragraph_rank", "fused_ratio", "keyword_ratio", "carried",
    "overlap", "overlap_context", "overlap_paragraph", "overlap_margin", "overlap_rank", "bigrams",
    "repeated", "clauses", "trailing_date",
    "missing_rarest", "missing_rarest_unit",
    "unmatched_paragraph", "unmatched_unit", "unmatched_weight_unit", "unknown_unmatched", "asked_missing_unit",
    "names_missing_paragraph", "names_missing_unit", "numbers_missing",
    "ordinal_conflict", "period_conflict", "item_beyond_list",
    "negation_mismatch", "relation_only_question", "relation_only_unit",
    *(f"kind_{k}" for k in facts.KINDS),
    *(f"holds_{h}" for h in HOLDS),
    *(f"{k}_x_{h}" for k in SPECIFIC for h in HOLDS),
    "first", "relative_position", "sentences", "length", "question_length", "opens_list", "follow_up",
    "two_sentences",
)

_INDEX = {name: i for i, name in enumerate(FEATURES)}


@dataclass(frozen=True)
class Candidate:
    unit: Unit
    x: np.ndarray  # in FEATURES order

    def feature(self, name: str) -> float:
        return float(self.x[_INDEX[name]])


class _Terms:
    """Terms of texts with the other name of every acronym they use added ("CT Travel" also counts as
    "Countering Terrorist Travel Programme"), remembered per generation: the same paragraphs come back for
    question after question."""

    def __init__(self):
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, corpus: Corpus | None, text: str) -> frozenset[str]:
        key = (corpus.generation if corpus is not None else "", text)
        with self._lock:
            found = self._cache.get(key)
        if found is not None:
            return found
        expanded = corpus.aliases.expand(text) if corpus is not None else text
        found = frozenset(terms(expanded))
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > TERM_CACHE:
                self._cache.popitem(last=False)
        return found


expanded_terms = _Terms()


def idf(corpus: Corpus | None, term: str) -> float:
    """BM25's idf of a term over the corpus's paragraphs: rare words weigh more (unknown ones most)."""
    if corpus is None:
        return 1.0
    total = max(len(corpus.order), 1)
    df = corpus.document_frequency.get(term, 0)
    return math.log((total - df + 0.5) / (df + 0.5) + 1.0)


def question_names(question: str, corpus: Corpus | None) -> set[str]:
    """Stems of the names and numbers a question uses: capitalised past its first word, an acronym, a figure, or
    (a question typed in lower case) a word the bulletins write capitalised even once ("japan") or do not know at
    all, nor one typo away ("malaysia": a name they never mention is still a name the answer must hold)."""
    found = set()
    for i, word in enumerate(words(question)):
        low = word.lower()
        if word[0].isdigit() or (i > 0 and word[0].isupper() and low not in STOPWORDS) or _named(low, corpus):
            found.update(terms(word))
    return found


def _named(low: str, corpus: Corpus | None) -> bool:
    """Whether the corpus reads a lower-cased question word as a name (see `question_names`)."""
    if corpus is None or low in STOPWORDS:
        return False
    if low in corpus.capitalised:
        return True
    stems = terms(low)
    return bool(stems) and not any(
        _known(corpus, t) or (corpus.keyword is not None and corpus.keyword.correct(t) != t) for t in stems)


def _known(corpus: Corpus | None, term: str) -> bool:
    """Whether some paragraph of the corpus uses the term (without a corpus: assume so)."""
    return corpus is None or bool(corpus.document_frequency.get(term))


def own_name(corpus: Corpus | None, node) -> frozenset[str]:
    """The terms of the bulletin's own title and id ("northbridge-research-news"): what every sentence of it is
    about, though none repeats it."""
    meta = node.metadata
    return expanded_terms(corpus, f"{meta.get('bulletin_title', '')}\n{meta.get('bulletin_id', '')}")


def candidates(
    question: Question, hits: list[NodeWithScore], corpus: Corpus | None, vector: np.ndarray | None,
    relation_vector: np.ndarray | None = None,
) -> list[Candidate]:
    """Every unit (a sentence, or two adjacent ones) of the retrieved paragraphs, with its features."""
    all_units = [unit for hit in hits for unit in units(hit, corpus)]
    if not all_units:
        return []
    text = question.standalone
    q_terms = list(dict.fromkeys(terms(text)))
    weights = {t: idf(corpus, t) for t in q_terms}
    total = sum(weights.values()) or 1.0
    heaviest = max(weights.values(), default=1.0) or 1.0
    q_bigrams = set(zip(q_terms, q_terms[1:]))
    asked = {t: idf(corpus, t) for t in dict.fromkeys(terms(question.asked))}
    asked_total = sum(asked.values()) or 1.0
    names = question_names(text, corpus)
    asked_numbers = facts.numbers(text)
    kind = question.kind
    q_negated = facts.negated(question.asked)
    q_relations = facts.relations(question.asked)
    q_ordinals = facts.ordinals(question.asked)
    # the question as typed too: a period retrieval narrowed by is gone from what it asks
    own_words = f"{question.text}\n{question.asked}"
    newest = _newest(corpus, hits)
    q_periods = periods.stated(own_words, newest) if newest is not None else []
    q_items = facts.items(own_words)
    carried = set(question.carried)
    # an acronym the bulletins use but never define says the name the question spells it with ("UNOCT" says
    # "Office of Counter-Terrorism"), as a defined one says its long form
    spelled = corpus.aliases.spelled(text) if corpus is not None else {}
    spelled = [(frozenset(terms(acronym)), frozenset(terms(name))) for acronym, name in spelled.items()]

    def said(found: frozenset[str]) -> frozenset[str]:
        return found.union(*(name for acronym, name in spelled if acronym and acronym <= found))

    def share(present: frozenset[str]) -> float:
        return sum(w for t, w in weights.items() if t in present) / total

    cos, rel = _cosines(all_units, corpus, vector, relation_vector)
    order = np.argsort(-cos, kind="stable")
    cos_rank = np.empty(len(all_units))
    cos_rank[order] = np.arange(len(all_units))
    # without a vector of its own (a question that is all names, or none given), the asking is the question
    rel = cos if relation_vector is None else rel
    rel_order = order if relation_vector is None else np.argsort(-rel, kind="stable")

    max_fused = max((h.score or 0.0) for h in hits) or 1.0
    max_dense = max((h.node.metadata.get("dense_score") or 0.0) for h in hits)
    max_keyword = max((h.node.metadata.get("keyword_score") or 0.0) for h in hits) or 1.0
    paragraph_rank = {h.node.node_id: r for r, h in enumerate(hits)}

    unit_terms = [said(expanded_terms(corpus, u.text)) for u in all_units]
    overlaps = np.array([share(t) for t in unit_terms])
    overlap_order = np.argsort(-overlaps, kind="stable")
    overlap_rank = np.empty(len(all_units))
    overlap_rank[overlap_order] = np.arange(len(all_units))
    by_paragraph: dict[str, list[int]] = {}
    for i, unit in enumerate(all_units):
        by_paragraph.setdefault(unit.node.node_id, []).append(i)

    rows_out = []
    for i, unit in enumerate(all_units):
        node = unit.node
        meta = node.metadata
        named = own_name(corpus, node)
        paragraph = said(expanded_terms(corpus, f"{meta.get('section', '')}\n{node.text}")) | named
        context = unit_terms[i] | said(expanded_terms(corpus, unit.context)) | named
        everywhere = paragraph | context
        siblings = by_paragraph[node.node_id]
        around = facts.stated(f"{node.text}\n{unit.context}")
        own = facts.stated(unit.text)
        held = facts.holds(f"{unit.text} {unit.trailing}", text)
        unit_words = terms(unit.text)
        unsaid = {t: w for t, w in asked.items() if t not in context}  # this turn's words the unit leaves out
        f = {
            "cos": float(cos[i]),
            "cos_rank": 1.0 / (1.0 + cos_rank[i]),
            "cos_margin": float(cos[i] - _best_other(cos, order, i)),
            "cos_gap": float(cos[i] - cos[order[0]]),
            "cos_first": float(cos[siblings[0]]),
            "cos_paragraph_max": float(cos[siblings].max()),
            "cos_relation": float(rel[i]),
            "cos_relation_margin": float(rel[i] - _best_other(rel, rel_order, i)),
            "cos_relation_gap": float(rel[i] - rel[rel_order[0]]),
            "dense": float(meta.get("dense_score") or 0.0),
            "dense_gap": float((meta.get("dense_score") or 0.0) - max_dense),
            "paragraph_rank": 1.0 / (1.0 + paragraph_rank.get(node.node_id, len(hits))),
            "fused_ratio": float((unit.hit.score or 0.0) / max_fused),
            "keyword_ratio": float((meta.get("keyword_score") or 0.0) / max_keyword),
            "carried": float(node.node_id in carried),
            "overlap": float(overlaps[i]),
            "overlap_context": share(context),
            "overlap_paragraph": share(paragraph | context),
            "overlap_margin": float(overlaps[i] - _best_other(overlaps, overlap_order, i)),
            "overlap_rank": 1.0 / (1.0 + overlap_rank[i]),
            "bigrams": _bigram_share(q_bigrams, unit.text),
            # a question word the sentence says again and again: a list of the things asked for ("Pillar I: …;
            # Pillar II: …" to "what are the pillars")
            "repeated": sum(w * (unit_words.count(t) - 1) for t, w in weights.items() if unit_words.count(t) > 1)
            / total,
            "clauses": math.log1p(len(clauses(node.text, unit.span))),
            "trailing_date": float(bool(unit.trailing)),
            # the rarest question word's absence, and, graded, how many of this turn's words the unit leaves
            # unsaid and how rare they are: the flag alone fires for paraphrases about as often as for near misses
            "missing_rarest": max((w for t, w in weights.items() if t not in everywhere), default=0.0) / heaviest,
            "missing_rarest_unit": max((w for t, w in weights.items() if t not in context), default=0.0) / heaviest,
            "unmatched_paragraph": math.log1p(sum(t not in everywhere for t in asked)),
            "unmatched_unit": math.log1p(len(unsaid)),
            "unmatched_weight_unit": math.log1p(sum(unsaid.values())),
            "unknown_unmatched": float(any(not _known(corpus, t) for t in unsaid)),
            # this turn's own words, not the earlier question a follow-up carries (which its answer repeats)
            "asked_missing_unit": sum(unsaid.values()) / asked_total,
            "names_missing_paragraph": _missing_share(names, everywhere, weights),
            "names_missing_unit": _missing_share(names, context, weights),
            "numbers_missing": float(bool(asked_numbers - around.numbers)),
            # a rank the question asks for ("the second workshop") and a different one the sentence states
            "ordinal_conflict": float(bool(q_ordinals) and bool(own.ordinals) and not q_ordinals & own.ordinals),
            "period_conflict": float(_period_conflict(q_periods, unit)),
            "item_beyond_list": float(_beyond_list(q_items, f"{node.text}\n{unit.context}\n{unit.text}")),
            "negation_mismatch": float(q_negated != own.negated),
            "relation_only_question": float(bool(q_relations - around.relations)),
            "relation_only_unit": float(bool(own.relations - q_relations)),
            "first": float(unit.index == 0),
            "relative_position": unit.index / max(unit.count - 1, 1),
            "sentences": math.log1p(unit.count),
            "length": math.log1p(len(unit.text.split())),
            "question_length": math.log1p(len(q_terms)),
            "opens_list": float(unit.opens_list),
            "follow_up": float(question.topic is not None),
            "two_sentences": float(unit.size == 2),
        }
        f[f"kind_{kind}"] = 1.0
        for h in HOLDS:
            f[f"holds_{h}"] = math.log1p(held[h])
            if kind in SPECIFIC:
                f[f"{kind}_x_{h}"] = float(held[h] > 0)
        x = np.zeros(len(FEATURES))
        for name, value in f.items():
            x[_INDEX[name]] = value
        rows_out.append(Candidate(unit, x))
    return rows_out


def _month(number) -> int | None:
    """The month index (`periods.month_index`) of a node's integer period (202103), None when unknown."""
    return periods.month_index(month_string(int(number))) if number else None


def _newest(corpus: Corpus | None, hits: list[NodeWithScore]) -> int | None:
    """The newest month indexed: what "last year" or "in March" in a question is read against."""
    if corpus is not None and corpus.periods:
        return max(periods.month_index(end) for _, end in corpus.periods)
    return max((_month(h.node.metadata.get("period_end")) or 0 for h in hits), default=0) or None


def _period_conflict(asked: list[tuple[int, int]], unit: Unit) -> bool:
    """Whether the question names a period and the unit is about another one: the periods its own words state
    (read against its bulletin's month), else its context's, else its bulletin's. "How many … in July?" is
    not answered by "… in August", nor "… in 2023" by an August bulletin's sentence without a year."""
    if not asked:
        return False
    meta = unit.node.metadata
    start, end = _month(meta.get("period_start")), _month(meta.get("period_end"))
    reference = end if end is not None else max(e for _, e in asked)
    own = periods.stated(f"{unit.text} {unit.trailing}", reference) or periods.stated(unit.context, reference)
    if not own and start is not None and end is not None:
        own = [(start, end)]
    return bool(own) and not any(a <= e and s <= b for a, b in asked for s, e in own)


def _beyond_list(asked: set[tuple[str, int]], text: str) -> bool:
    """Whether the question asks for an item past the end of the numbered list `text` holds: "pillar v" of a
    list of Pillar I to Pillar IV, "objective (v)" of (i) to (iv)."""
    if not asked:
        return False
    listed = facts.items(text)
    return any((numbers := [v for h, v in listed if h == head]) and n > max(numbers) for head, n in asked)


def _cosines(all_units: list[Unit], corpus: Corpus | None, *vectors: np.ndarray | None) -> list[np.ndarray]:
    """Each vector's cosine with each unit: with its sentence's stored vector, or with the mean direction of its
    sentences' vectors (a two-sentence unit; no model pass); 0 where no vector is stored or given. A unit's vectors
    are summed once for all the question's vectors."""
    out = [np.zeros(len(all_units), dtype=np.float32) for _ in vectors]
    if corpus is None or not corpus.sentence_vectors.size or all(v is None for v in vectors):
        return out
    for i, unit in enumerate(all_units):
        if unit.rows:
            summed = corpus.sentence_vectors[list(unit.rows)].sum(axis=0)
            norm = float(np.linalg.norm(summed)) or 1.0
            for cos, vector in zip(out, vectors):
                if vector is not None:
                    cos[i] = summed @ vector / norm
    return out


def _best_other(values: np.ndarray, order: np.ndarray, i: int) -> float:
    """The highest of `values` other than the i-th (`order` sorts them best first); the i-th itself if alone."""
    if len(order) == 1:
        return float(values[i])
    return float(values[order[1]] if order[0] == i else values[order[0]])


def _bigram_share(q_bigrams: set, text: str) -> float:
    if not q_bigrams:
        return 0.0
    t = terms(text)
    return len(q_bigrams & set(zip(t, t[1:]))) / len(q_bigrams)


def _missing_share(names: set[str], present: frozenset[str], weights: dict[str, float]) -> float:
    """The rarity-weighted share of the question's names absent from `present`, summed in one order whatever the
    process's string hashing (a set's order would move the last bit from run to run)."""
    if not names:
        return 0.0
    weight = {n: weights.get(n, 1.0) for n in sorted(names)}
    return sum(w for n, w in weight.items() if n not in present) / (sum(weight.values()) or 1.0)

