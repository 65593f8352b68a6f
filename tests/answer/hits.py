"""Hand-built retrieval hits for the answering package's tests: no Chroma, no Flask, no model."""

from __future__ import annotations

from llama_index.core.schema import NodeWithScore, TextNode


def hit(text: str, pid: str = "p-1", section: str = "Highlights", score: float = 1.0, dense: float = 0.5,
        keyword: float = 1.0, ordinal: int = 1) -> NodeWithScore:
    node = TextNode(id_=pid, text=text, metadata={
        "bulletin_id": "b", "bulletin_title": "Bulletin", "period": "2021-03", "period_start": 202103,
        "period_end": 202103, "section": section, "ordinal": ordinal, "dense_score": dense, "keyword_score": keyword,
    })
    return NodeWithScore(node=node, score=score)
