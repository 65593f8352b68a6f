"""Answer or abstain: quote the best-scored unit (a sentence, or two adjacent ones) when its confidence reaches the
threshold, else say the bulletins don't, showing the closest unit itself (quoted, cited, and marked as not an answer).

An answer starts at a sentence start and quotes the whole unit, unless the question asks for a typed fact
(who / when / where / which / how many / how much) and the sentence lists several such facts in clauses of which
exactly one speaks of what the question names ("… from Canada (US$1,139,987) …, and from India ($500,000) in
support of … Countering Terrorist Travel …" to "Who funded CT Travel?"): that clause is then the whole answer. A
lead-in that ends its paragraph with ":" brings the list items after it.
"""

from __future__ import annotations

import numpy as np
from llama_index.core.schema import NodeWithScore

from index.retrieve import Corpus
from answer import facts
from answer.features import Candidate, expanded_terms, idf, question_names
from answer.scorer import Scorer
from answer.sentences import Span, clauses, list_items
from answer.types import Answer, Citation, Question
from index.text import terms

# The closest sentence is shown only if it is related at all: this cosine with the question, or half of the
# question's (rarity-weighted) words in its paragraph. Off-topic questions on the seed corpus ("What is the boiling
# point of water?") score below 0.15 and share no rare word.
RELATED_COSINE = 0.2
RELATED_OVERLAP = 0.5
NOTHING_INDEXED = "The bulletins don't say: no bulletin is indexed that could answer this."
NOTHING_RELATED = "The bulletins don't say anything about this."
CLOSEST = "The bulletins don't say. The closest they come: “{quote}” [1]"


def decide(question: Question, found: list[Candidate], scorer: Scorer, threshold: float,
           corpus: Corpus | None) -> Answer:
    if not found:
        return Answer(NOTHING_INDEXED, False, 0.0)
    logits = scorer.rank(found)
    best = int(np.argmax(logits))
    confidence = scorer.confidence(found, logits, best)
    chosen = found[best]
    if confidence < threshold:
        return abstain(chosen, confidence)
    return answer_with(question, chosen, confidence, corpus)


def answer_with(question: Question, chosen: Candidate, confidence: float, corpus: Corpus | None) -> Answer:
    """The answer quoting `chosen`: the sentence, or its one answering clause; with its paragraph's closing date
    for a when-question; with the list a lead-in introduces."""
    span = narrow(question, chosen, corpus)
    if question.kind == "when" and chosen.unit.trailing and not facts.stated(span.text).dates:
        # the paragraph's closing date is this sentence's date too: quote it after the sentence
        text = chosen.unit.node.text
        start = text.rindex(chosen.unit.trailing)
        return compose([(chosen.unit.hit, span), (chosen.unit.hit, Span(start, len(text), text[start:]))],
                       confidence, joined=True)
    parts = [(chosen.unit.hit, span)] + [
        (item, Span(0, len(item.node.text), item.node.text)) for item in list_items(chosen.unit, corpus)
    ]
    return compose(parts, confidence)


def abstain(closest: Candidate, confidence: float) -> Answer:
    """"The bulletins don't say", with the closest sentence quoted so the reader can judge for themselves."""
    if closest.feature("cos") < RELATED_COSINE and closest.feature("overlap_paragraph") < RELATED_OVERLAP:
        return Answer(NOTHING_RELATED, False, confidence)
    citation = citation_for(1, closest.unit.hit, closest.unit.text)
    return Answer(CLOSEST.format(quote=closest.unit.text), False, confidence, (citation,))


def narrow(question: Question, chosen: Candidate, corpus: Corpus | None) -> Span:
    """The one clause that is the whole answer, or the whole sentence (see the module docstring). The clause is the
    one holding most (by rarity) of the names and figures of what this turn asks (`Question.asked`, not a
    follow-up's carried topic, whose words name the earlier clause: "how much did Ireland give?"), or of all the
    standalone question's words when this turn names nothing ("how much did they give?"); with no such clause, or a
    tie, a wrong clause would be a wrong answer where the whole sentence is a right one."""
    wanted = facts.ANSWER_FACTS.get(question.kind)
    text = chosen.unit.node.text
    parts = clauses(text, chosen.unit.span)
    if not wanted or chosen.unit.size > 1 or len(parts) < 2 or facts.asks_plural(question.asked):
        return chosen.unit.span
    typed = [p for p in parts if any(facts.holds(p.text, question.standalone)[w] for w in wanted)]
    if len(typed) < 2:
        return chosen.unit.span
    names = question_names(question.asked, corpus) or set(terms(question.standalone))
    # summed in sorted order: in a set's order the tie test below could go either way from one process to the next
    scores = [sum(idf(corpus, t) for t in sorted(names & expanded_terms(corpus, p.text))) for p in typed]
    order = sorted(range(len(typed)), key=lambda i: -scores[i])
    if scores[order[0]] <= 0 or scores[order[0]] == scores[order[1]]:
        return chosen.unit.span
    return typed[order[0]]


def citation_for(n: int, hit: NodeWithScore, quote: str) -> Citation:
    meta = hit.node.metadata
    return Citation(
        n=n, bulletin_id=meta["bulletin_id"], bulletin_title=meta["bulletin_title"], period=meta.get("period"),
        section=meta["section"], paragraph_id=hit.node.node_id, quote=quote, text=hit.node.text,
        score=float(hit.score or 0.0),
    )


def compose(parts: list[tuple[NodeWithScore, Span]], confidence: float, joined: bool = False) -> Answer:
    """The quoted spans with their [n] markers; a list's items one per line under their lead-in, or (`joined`)
    spans of one paragraph run together with "…" between them and one marker."""
    if joined:
        hit = parts[0][0]
        quote = " … ".join(span.text for _, span in parts)
        citation = citation_for(1, hit, parts[0][1].text)
        return Answer(f"{quote} [1]", True, confidence, (citation,))
    citations: list[Citation] = []
    lines = []
    for hit, span in parts:
        citation = next((c for c in citations if c.paragraph_id == hit.node.node_id), None)
        if citation is None:
            citation = citation_for(len(citations) + 1, hit, span.text)
            citations.append(citation)
        opens_sentence = span.start == 0 or hit.node.text[: span.start].rstrip().endswith((".", "!", "?", ":"))
        lines.append(f"{'' if opens_sentence else '… '}{span.text} [{citation.n}]")
    if len(lines) > 1:
        text = "\n".join([lines[0]] + [f"- {line}" for line in lines[1:]])
    else:
        text = lines[0]
    return Answer(text, True, confidence, tuple(citations))
