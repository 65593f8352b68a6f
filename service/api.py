"""The JSON API, under /api/v1: ask a question, browse the indexed bulletins, read a conversation back.

Requests are validated here, before anything reaches the pipeline, and every refusal names a distinct error code
(see `service.web.errors`), because the pipeline trusts its arguments: a boolean `top_k` or a 1 MB question would
otherwise surface as a confusing answer or a 500 instead of a 400 the client can act on.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from index.retrieve import FilterError, Filters
from service.db.base import RATINGS, SQL_MAX_INT, ConversationNotFound, TurnNotFound
from service.openapi import document
from service.web import context, quotes, sse
from service.web.errors import APIError, error_response
from service.web.requests import json_object

bp = Blueprint("api", __name__, url_prefix="/api/v1")

ASK_FIELDS = frozenset({"question", "conversation_id", "top_k", "filters"})
TOP_K_RANGE = (1, 20)


@bp.errorhandler(ConversationNotFound)
def conversation_not_found(e: ConversationNotFound):
    return error_response(404, "conversation_not_found", "No such conversation, or it has expired; start a new one.")


def _ask_arguments(body: dict) -> dict:
    unknown = sorted(set(body) - ASK_FIELDS)
    if unknown:
        allowed = ", ".join(sorted(ASK_FIELDS))
        raise APIError(400, "unknown_field", f"Unknown field(s): {', '.join(unknown)}. Allowed: {allowed}.")

    if "question" not in body:
        raise APIError(400, "missing_question", "Give the question to answer as \"question\".")
    question = body["question"]
    if not isinstance(question, str):
        raise APIError(400, "invalid_question", "\"question\" must be a string.")
    question = question.strip()
    if not question:
        raise APIError(400, "missing_question", "\"question\" is empty.")
    limit = context.config().max_question_chars
    if len(question) > limit:
        raise APIError(400, "question_too_long", f"\"question\" is longer than {limit} characters.")

    top_k = body.get("top_k")
    low, high = TOP_K_RANGE
    # bool is a subclass of int, but `"top_k": true` is a client bug, not a request for one paragraph.
    if top_k is not None and (type(top_k) is not int or not low <= top_k <= high):
        raise APIError(400, "invalid_top_k", f"\"top_k\" must be a whole number from {low} to {high}.")

    conversation_id = body.get("conversation_id")
    if conversation_id is not None and not isinstance(conversation_id, str):
        raise APIError(
            400, "invalid_conversation_id", "\"conversation_id\" must be a string returned by an earlier answer."
        )

    try:
        filters = Filters.parse(body.get("filters"))
    except FilterError as e:
        raise APIError(400, "invalid_filters", str(e)) from None

    return {"question": question, "conversation_id": conversation_id, "top_k": top_k, "filters": filters}


@bp.post("/ask")
def ask():
    """Answer one question, in a new conversation or in the one named by `conversation_id`."""
    arguments = _ask_arguments(json_object())
    result = context.qa().ask(url_for=context.source_url, **arguments)
    return jsonify({**result, "citations": quotes.with_quote_urls(result["citations"])})


def _pieces(text: str, words: int = 4):
    """An answer written at once (the extractive quote) in small pieces, as a client shows it arriving."""
    tokens = re.findall(r"\S+\s*", text)
    for start in range(0, len(tokens), words):
        yield "".join(tokens[start : start + words])


@bp.post("/ask/stream")
def ask_stream():
    """`/ask` as `text/event-stream`: `meta` (conversation id, resolved question, confidence) as soon as they are
    known, `delta` pieces of the answer, `citations` (with the whole answer and the rest of /ask's fields), then
    `done`; a failure after the stream has started arrives as an `error` event. An LLM's answer arrives one
    `delta` a sentence, each as soon as it has passed the citation check (a sentence that fails is never sent);
    an extractive answer, ready at once, in pieces of a few words. The deltas always add up to the answer in
    `citations`. The framing (`retry:`, event ids, keep-alive comments while the answer is being worked out) is
    `service.web.sse`'s.

    Requests are validated (and an unknown conversation refused) before the stream starts, so those errors keep
    their status code and JSON body; EventSource cannot POST, so clients read this with fetch.
    """
    arguments = _ask_arguments(json_object())
    qa = context.qa()
    if arguments["conversation_id"] is not None:
        qa.db.turns(arguments["conversation_id"])  # ConversationNotFound -> 404 JSON

    def events():
        sent = ""
        try:
            for kind, value in qa.ask_stream(url_for=context.source_url, **arguments):
                if kind == "meta":
                    yield "meta", value
                elif kind == "sentence":
                    piece = f" {value}" if sent else value
                    sent += piece
                    yield "delta", {"text": piece}
                else:
                    result = value
        except ConversationNotFound:  # expired between the check above and the answer
            yield "error", {"code": "conversation_not_found", "message": "The conversation has expired."}
            return
        except Exception:
            current_app.logger.exception("streamed answer failed")
            yield "error", {"code": "internal_error", "message": "Something went wrong on our side."}
            return
        if not sent:
            for piece in _pieces(result["answer"]):
                yield "delta", {"text": piece}
        result["citations"] = quotes.with_quote_urls(result["citations"])
        final = ("answer", "citations", "answerable", "answerer", "removed_sentences", "period", "turn", "timing_ms")
        yield "citations", {key: result[key] for key in final}
        yield "done", {"confidence": result["confidence"]}

    return Response(
        stream_with_context(sse.stream(events())),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _summary(bulletin: dict) -> dict:
    return {
        "id": bulletin["id"],
        "title": bulletin["title"],
        "period": bulletin["period"],
        "sections": len(bulletin["sections"]),
        "paragraphs": sum(len(ids) for _, ids in bulletin["sections"]),
        "url": context.source_url(bulletin["id"]),
    }


@bp.get("/bulletins")
def bulletins():
    corpus = context.qa().corpus()
    if corpus is None:
        return jsonify({"bulletins": []})
    return jsonify({"bulletins": [_summary(b) for b in corpus.bulletins.values()]})


@bp.get("/periods")
def periods():
    """The periods the indexed bulletins cover, newest first: what the widget's period filter offers."""
    return jsonify({"periods": context.qa().periods()})


@bp.get("/bulletins/<bulletin_id>")
def bulletin(bulletin_id: str):
    """One bulletin, a page (`?page=`, 500 paragraphs) at a time."""
    corpus = context.qa().corpus()
    found = corpus.bulletins.get(bulletin_id) if corpus is not None else None
    if found is None:
        raise APIError(404, "bulletin_not_found", "No bulletin with that id is indexed.")
    pages = context.page_count(found["sections"])
    number = context.page_number(request.args.get("page"), pages)
    if number is None:
        raise APIError(400, "invalid_page", f"\"page\" must be a whole number from 1 to {pages}.")
    sections = []
    for title, paragraph_ids in context.on_page(found["sections"], number):
        paragraphs = []
        for pid in paragraph_ids:
            node = corpus.paragraphs[pid]
            url = context.source_url(bulletin_id, pid)
            paragraphs.append({"id": pid, "n": node.metadata["ordinal"], "text": node.text, "url": url})
        sections.append({"title": title, "paragraphs": paragraphs})
    return jsonify(
        {
            "id": found["id"],
            "title": found["title"],
            "period": found["period"],
            "url": context.source_url(bulletin_id),
            "page": number,
            "pages": pages,
            "sections": sections,
        }
    )


@bp.get("/conversations/<conversation_id>")
def conversation(conversation_id: str):
    """Every turn of a live conversation, oldest first; ConversationNotFound becomes a 404 above."""
    turns = context.qa().db.turns(conversation_id)
    for turn in turns:
        turn["citations"] = quotes.with_quote_urls(turn["citations"])
    return jsonify({"conversation_id": conversation_id, "turns": turns})


FEEDBACK_FIELDS = frozenset({"conversation_id", "turn", "rating", "comment", "source"})
FEEDBACK_SOURCES = ("api", "widget")  # Slack stores its own clicks with source "slack"
MAX_COMMENT_CHARS = 2000


@bp.post("/feedback")
def feedback():
    """A 👍 / 👎 (and an optional comment) on one answer, stored beside the conversation it rates."""
    body = json_object()
    unknown = sorted(set(body) - FEEDBACK_FIELDS)
    if unknown:
        raise APIError(400, "unknown_field", f"Unknown field(s): {', '.join(unknown)}.")
    conversation_id, turn = body.get("conversation_id"), body.get("turn")
    rating, comment = body.get("rating"), body.get("comment")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise APIError(400, "invalid_conversation_id", "\"conversation_id\" must name the conversation rated.")
    if type(turn) is not int or not 1 <= turn <= SQL_MAX_INT:
        raise APIError(400, "invalid_turn", "\"turn\" must be the whole number of the answer rated (from 1).")
    if rating not in RATINGS:
        choices = " or ".join(f'"{choice}"' for choice in RATINGS)
        raise APIError(400, "invalid_rating", f"\"rating\" must be {choices}.")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS):
        raise APIError(400, "invalid_comment", f"\"comment\" must be a string of at most {MAX_COMMENT_CHARS} characters.")
    source = body.get("source", "api")
    if source not in FEEDBACK_SOURCES:
        raise APIError(400, "invalid_source", f"\"source\" must be one of {', '.join(FEEDBACK_SOURCES)}.")
    try:
        feedback_id = context.qa().db.add_feedback(
            conversation_id, turn, rating, (comment or "").strip() or None, source=source
        )
    except TurnNotFound:
        raise APIError(404, "turn_not_found", "That conversation has no such turn.") from None
    return jsonify({"id": feedback_id}), 201


@bp.get("/openapi.json")
def openapi():
    return jsonify(document(context.config()))
