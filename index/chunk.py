"""Chunk a parsed bulletin into section-bounded llama-index nodes that fit the embedding model's window.

Short consecutive paragraphs of one section share a node (up to PACK_TOKENS, so a vector stays about one topic);
a paragraph too long for the model's window is split at sentence boundaries into several nodes. Every node carries the full paragraphs it touches in its metadata,
because the paragraph, not the chunk, is what answers quote and cite.
"""

from __future__ import annotations

import hashlib
import json
import re

from llama_index.core.schema import MetadataMode, NodeRelationship, RelatedNodeInfo, TextNode

from index.embed import MAX_TOKENS, count_tokens
from index.parse import Bulletin, Paragraph

PACK_TOKENS = 128
# Bump when parsing or chunking changes what a file yields, so unchanged files are indexed again all the same.
INDEX_FORMAT = 4  # 2: sentence vectors; 3: from their chunks' runs; 4: quarters and seasons, a one-thread graph
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[\"“(]?[A-Z0-9])")
# Metadata that is stored with a node but not embedded: only the section title joins the text in the vector.
_NOT_EMBEDDED = [
    "bulletin_id", "bulletin_title", "period", "period_start", "period_end", "section_index", "paragraphs",
    "paragraph_ids", "source", "sha256", "index_format",
]


def month_number(period: str | None) -> int:
    """ "2021-03" -> 202103, the integer form Chroma can compare in range filters (0 when unknown)."""
    return int(period.replace("-", "")) if period else 0


def month_string(number: int) -> str:
    """202103 -> "2021-03", the inverse of `month_number`."""
    return f"{number // 100:04d}-{number % 100:02d}"


def _fit(sentence: str, budget: int) -> list[str]:
    """A sentence as runs of whole words of at most `budget` tokens each (one run unless it is a run-on).

    Words are counted one by one (WordPiece splits at white space first, so their counts add up), which keeps a
    run-on sentence of any length linear in time."""
    if count_tokens(sentence) <= budget:
        return [sentence]
    runs, current, used = [], [], 0
    for word in sentence.split():
        cost = count_tokens(word)
        if current and used + cost > budget:
            runs.append(" ".join(current))
            current, used = [], 0
        current.append(word)
        used += cost
    return runs + [" ".join(current)]


def _pieces(paragraph: Paragraph, budget: int) -> list[str]:
    """The paragraph itself, or consecutive sentence windows of it when it does not fit `budget` tokens."""
    if count_tokens(paragraph.text) <= budget:
        return [paragraph.text]
    pieces, current = [], ""
    for sentence in _SENTENCE_END.split(paragraph.text):
        for run in _fit(sentence, budget):
            candidate = f"{current} {run}".strip()
            if current and count_tokens(candidate) > budget:
                pieces.append(current)
                candidate = run
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def chunk(bulletin: Bulletin) -> list[TextNode]:
    nodes: list[TextNode] = []
    for section_index, section in enumerate(bulletin.sections):
        budget = MAX_TOKENS - count_tokens(section.title) - 4  # room for the title and separators
        groups: list[tuple[list[Paragraph], list[str]]] = []
        for paragraph in section.paragraphs:
            pieces = _pieces(paragraph, budget)
            if len(pieces) == 1 and groups and len(groups[-1][0]) == len(groups[-1][1]):
                joined = "\n\n".join(groups[-1][1] + pieces)
                if count_tokens(joined) <= min(budget, PACK_TOKENS):
                    groups[-1][0].append(paragraph)
                    groups[-1][1].append(pieces[0])
                    continue
            for piece in pieces:
                groups.append(([paragraph], [piece]))
        for position, (paragraphs, texts) in enumerate(groups):
            nodes.append(_node(bulletin, section_index, position, paragraphs, "\n\n".join(texts)))
    return nodes


def _node(bulletin: Bulletin, section_index: int, position: int, paragraphs: list[Paragraph], text: str) -> TextNode:
    """One chunk; its id is unique even when a long paragraph repeats itself ("####### " a hundred times splits
    into identical pieces), because it counts the chunk's place in its section."""
    section = bulletin.sections[section_index]
    key = f"{bulletin.id}\x00{bulletin.sha256}\x00{section_index}\x00{position}\x00{text}"
    node_id = hashlib.sha1(key.encode()).hexdigest()
    node = TextNode(
        id_=f"{bulletin.id}:{node_id[:16]}",
        text=text,
        metadata={
            "section": section.title,
            "bulletin_id": bulletin.id,
            "bulletin_title": bulletin.title,
            "period": bulletin.period or "",
            "period_start": month_number(bulletin.period_start),
            "period_end": month_number(bulletin.period_end),
            "section_index": section_index,
            "paragraph_ids": json.dumps([p.id for p in paragraphs]),
            "paragraphs": json.dumps([[p.id, p.ordinal, p.text] for p in paragraphs]),
            "source": bulletin.source,
            "sha256": bulletin.sha256,
            "index_format": INDEX_FORMAT,
        },
        excluded_embed_metadata_keys=_NOT_EMBEDDED,
        excluded_llm_metadata_keys=_NOT_EMBEDDED,
        metadata_template="{value}",
        text_template="{metadata_str}\n\n{content}",
    )
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=bulletin.id)
    return node


def embedding_text(node: TextNode) -> str:
    """What the model embeds for a node: its section title, then its text."""
    return node.get_content(metadata_mode=MetadataMode.EMBED)
