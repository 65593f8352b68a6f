"""The quotable units of a retrieved paragraph: its sentences and its pairs of adjacent sentences (with the context
a bulletin gives them), their clauses, and the list items a lead-in introduces. Shared by the scorer (candidates),
the decision (what to quote) and the LLM path's checks (what a model's sentence is compared with).

Bulletin sentences often lean on what came before: "Participants benefited from …" and "The workshops produced …"
take their event from the paragraph's first sentence and its section title; a bulleted item ("Provide leadership
on …") takes its subject from the lead-in that introduced the list ("the Office has 5 functions:"). That context
is handed to the scorer as text to compare with, never spliced into the quote: answers quote the bulletin as it
is written. Sentence boundaries are the index's (`index.sentences`, pysbd), so the quoted sentence is exactly the
one whose vector was stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llama_index.core.schema import NodeWithScore, TextNode

from index.retrieve import Corpus
from index.sentences import Span, split

MAX_LIST_ITEMS = 8  # paragraphs after a lead-in taken as its items; the seed's longest list has 5
_CLAUSE = re.compile(r";\s+(?:and\s+)?|,\s+and\s+(?=\S+\s+\S)")
_STOPS = (".", "!", "?", ")", "”", '"')
_TRAILING = re.compile(r"[.!?]\s*(\([^()]*\d[^()]*\))\.?$")  # "… emergencies. (16-19 March)"

__all__ = ["Span", "Unit", "clauses", "lead_in", "list_items", "split", "units"]


@dataclass(frozen=True)
class Unit:
    """One sentence, or two adjacent ones, of a retrieved paragraph, with what the scorer reads around it."""

    hit: NodeWithScore
    span: Span  # the quoted text: from the start of its first sentence to the end of its last
    index: int  # its first sentence's place in the paragraph, from 0
    count: int  # sentences in the paragraph
    rows: tuple[int, ...]  # its sentences' vector rows in `Corpus.sentence_vectors` (empty: not stored)
    context: str  # section title, the paragraph's first sentence and the list's lead-in, as text
    trailing: str = ""  # the paragraph's closing date "(29-31 March)" when it is not in this unit: its date too
    size: int = 1  # sentences it quotes

    @property
    def last(self) -> int:
        """Its last sentence's place in the paragraph."""
        return self.index + self.size - 1

    @property
    def text(self) -> str:
        return self.span.text

    @property
    def node(self) -> TextNode:
        return self.hit.node

    @property
    def opens_list(self) -> bool:
        """A lead-in that ends its paragraph with ":": the paragraphs after it are its items."""
        return self.text.rstrip().endswith(":") and self.last == self.count - 1


def sentences_of(node: TextNode, corpus: Corpus | None) -> list[tuple[Span, int | None]]:
    """The stored sentences of a paragraph with their vector rows, or the splitter's (without vectors)."""
    stored = corpus.sentences.get(node.node_id) if corpus is not None else None
    if stored:
        return list(stored)
    return [(span, None) for span in split(node.text)]


def units(hit: NodeWithScore, corpus: Corpus | None) -> list[Unit]:
    """Every sentence of the paragraph, then every two adjacent sentences as one unit: a follow-up sentence states
    the fact ("It expects rainfall 20–30% below normal") while the one before names what it is about ("… presented
    the first drought outlook …"), and quoting both answers with what the choice relied on."""
    node = hit.node
    spans = sentences_of(node, corpus)
    lead = lead_in(node, corpus)
    first = spans[0][0].text if spans else ""
    closing = _TRAILING.search(spans[-1][0].text) if spans else None
    section = node.metadata.get("section") or ""
    # a unit's context is its first sentence's: the section title, the paragraph's first sentence after it, the lead-in
    contexts = ["\n".join(c for c in (section, first if i > 0 else "", lead) if c) for i in range(len(spans))]
    out = []
    for size in (1, 2):
        for i in range(len(spans) - size + 1):
            chosen = spans[i : i + size]
            last = i + size - 1
            trailing = closing.group(1) if closing and last < len(spans) - 1 else ""
            start, end = chosen[0][0].start, chosen[-1][0].end
            span = Span(start, end, node.text[start:end]) if size > 1 else chosen[0][0]
            rows = tuple(row for _, row in chosen if row is not None)
            out.append(Unit(hit, span, i, len(spans), rows, contexts[i], trailing, size))
    return out


def lead_in(node: TextNode, corpus: Corpus | None) -> str:
    """The sentence that introduced the list this paragraph is an item of ("… the Office has 5 functions:"), or ""."""
    if corpus is None or node.node_id not in corpus.paragraphs:
        return ""
    order = corpus.order
    position = corpus.position[node.node_id]
    for back in range(1, MAX_LIST_ITEMS + 1):
        if position - back < 0:
            return ""
        previous = corpus.paragraphs[order[position - back]]
        if previous.metadata["section"] != node.metadata["section"]:
            return ""
        text = previous.text.rstrip()
        if text.endswith(":"):
            return split(text)[-1].text
        if text.endswith(_STOPS) or back > 1 and not _is_item(previous.text):
            return ""
    return ""


def list_items(unit: Unit, corpus: Corpus | None) -> list[NodeWithScore]:
    """The paragraphs a lead-in introduces: those that follow it in its section (at most MAX_LIST_ITEMS)."""
    if corpus is None or not unit.opens_list or unit.node.node_id not in corpus.paragraphs:
        return []
    order = corpus.order
    position = corpus.position[unit.node.node_id]
    items = []
    for pid in order[position + 1 : position + 1 + MAX_LIST_ITEMS]:
        node = corpus.paragraphs[pid]
        if node.metadata["section"] != unit.node.metadata["section"]:
            break
        items.append(NodeWithScore(node=node, score=unit.hit.score))
    return items


def clauses(text: str, span: Span) -> list[Span]:
    """The clauses of a sentence that lists several facts ("…, and from India …", "a; b; c"), or [] if it lists
    none. Each is at least two words."""
    pieces, start = [], span.start
    for match in _CLAUSE.finditer(text, span.start, span.end):
        pieces.append((start, match.start()))
        start = match.end()
    if not pieces:
        return []
    pieces.append((start, span.end))
    out = []
    for a, b in pieces:
        piece = text[a:b]
        a += len(piece) - len(piece.lstrip(" ;,"))
        b -= len(piece) - len(piece.rstrip(" ;,"))
        if len(text[a:b].split()) >= 2:
            out.append(Span(a, b, text[a:b]))
    return out


def _is_item(text: str) -> bool:
    """A list item: one short sentence without a final full stop."""
    return len(split(text)) == 1 and not text.rstrip().endswith(_STOPS)
