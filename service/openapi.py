"""The OpenAPI 3.1 description of the HTTP interface, served at /api/v1/openapi.json.

It is a Python literal rather than a generated document so that it reads as the contract it is; the tests check
that every JSON route of the app appears here and that real responses validate against these schemas, so the two
cannot drift apart silently. Schemas are JSON Schema 2020-12, as OpenAPI 3.1 specifies.
"""

from __future__ import annotations

import copy

from service.admin import FEEDBACK_SOURCES, GAP_DAYS, MAX_GAP_DAYS, MAX_GAP_QUESTIONS, MAX_PAGE
from service.config import Config
from service.db.base import RATINGS, SQL_MAX_INT


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


_STRING_OR_NULL = {"type": ["string", "null"]}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {
                        "type": "string",
                        "description": "Stable, machine-readable reason.",
                        "examples": [
                            "unsupported_media_type", "invalid_json", "invalid_body", "unknown_field",
                            "missing_question", "invalid_question", "question_too_long", "invalid_top_k",
                            "invalid_filters", "invalid_conversation_id", "payload_too_large",
                            "conversation_not_found", "bulletin_not_found", "not_found", "method_not_allowed",
                            "internal_error", "rate_limited", "origin_not_allowed", "cors_not_allowed", "database_unavailable",
                        ],
                    },
                    "message": {"type": "string", "description": "What went wrong, for people."},
                },
            }
        },
    },
    "Filters": {
        "type": "object",
        "additionalProperties": False,
        "description": "Restricts which paragraphs may be retrieved. A bulletin matches a period range when the "
        "months it covers overlap it.",
        "properties": {
            "bulletin_ids": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "period_from": {"type": ["string", "null"], "pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "examples": ["2021-01"]},
            "period_to": {"type": ["string", "null"], "pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "examples": ["2021-06"]},
        },
    },
    "AskRequest": {
        "type": "object",
        "required": ["question"],
        "additionalProperties": False,
        "properties": {
            "question": {
                "type": "string",
                "minLength": 1,
                "maxLength": Config.max_question_chars,  # the default; `document` states the service's own
                "description": "Not blank; surrounding whitespace is ignored.",
                "examples": ["Who funded CT Travel?"],
            },
            "conversation_id": {
                "type": ["string", "null"],
                "description": "Continue this conversation; omit (or null) to start a new one.",
            },
            "top_k": {
                "type": ["integer", "null"],
                "minimum": 1,
                "maximum": 20,
                "description": "Paragraphs to retrieve; the server's default when omitted or null. Write it as a "
                "whole number (5, not 5.0).",
            },
            "filters": {"oneOf": [_ref("Filters"), {"type": "null"}]},
        },
    },
    "Citation": {
        "type": "object",
        "required": [
            "n", "bulletin_id", "bulletin_title", "period", "section", "paragraph_id", "quote", "text", "url", "score",
        ],
        "properties": {
            "n": {"type": "integer", "minimum": 1, "description": "The number the answer refers to as [n]."},
            "bulletin_id": {"type": "string"},
            "bulletin_title": {"type": "string"},
            "period": _STRING_OR_NULL,
            "section": {"type": "string"},
            "paragraph_id": {"type": "string"},
            "quote": {"type": "string", "description": "The sentence or clause the answer quotes."},
            "text": {"type": "string", "description": "The whole cited paragraph."},
            "url": {
                "type": "string",
                "format": "uri",
                "description": "Absolute URL of the paragraph in the source view, naming the quoted span so that "
                "the page highlights it: /bulletins/{bulletin_id}?hl={paragraph_id}:{start}-{end}#{paragraph_id} "
                "(start and end count characters of the paragraph's text; without hl the whole paragraph is "
                "highlighted).",
            },
            "score": {"type": "number"},
        },
    },
    "Timing": {
        "type": "object",
        "required": ["retrieve", "answer", "total"],
        "properties": {
            "retrieve": {"type": "number", "minimum": 0},
            "answer": {"type": "number", "minimum": 0},
            "total": {"type": "number", "minimum": 0},
        },
        "description": "Milliseconds spent on each step.",
    },
    "AskResponse": {
        "type": "object",
        "required": [
            "conversation_id", "turn", "answer", "answerable", "confidence", "resolved_question", "answerer",
            "citations", "timing_ms",
        ],
        "properties": {
            "conversation_id": {"type": "string", "description": "Send it back to ask a follow-up."},
            "turn": {"type": "integer", "minimum": 1, "description": "This answer's number in the conversation."},
            "answer": {"type": "string", "description": "Quoted from the bulletins with [n] markers, or why not."},
            "answerable": {"type": "boolean", "description": "False when the bulletins do not say."},
            "confidence": {
                "type": "number", "minimum": 0, "maximum": 1,
                "description": "Calibrated probability that the quoted sentence answers the question; "
                "answerable is confidence >= the service's threshold (BQA_ANSWER_THRESHOLD).",
            },
            "resolved_question": {"type": "string", "description": "The question as it was searched for."},
            "answerer": {"type": "string", "enum": ["extractive", "llm"], "description": "Which path wrote the answer."},
            "removed_sentences": {
                "type": "integer", "minimum": 0,
                "description": "Sentences of the model's answer the citation check removed (0 without an LLM).",
            },
            "period": {
                "type": ["object", "null"],
                "properties": {"from": _STRING_OR_NULL, "to": _STRING_OR_NULL},
                "description": "The months (YYYY-MM) the search was narrowed to: the filters' period, or the one "
                "the question names (\"in March 2021\", \"last month\", \"in the latest bulletin\"); null when "
                "every period was searched, as when the bulletins of the period named do not answer and another "
                "bulletin does (\"in July\", answered by August's report of July's figures).",
            },
            "citations": {
                "type": "array",
                "items": _ref("Citation"),
                "description": "Sources of the answer; when answerable is false, the paragraph of the closest "
                "sentence, which the answer quotes (none when nothing related was found).",
            },
            "timing_ms": _ref("Timing"),
        },
    },
    "FeedbackRequest": {
        "type": "object",
        "required": ["conversation_id", "turn", "rating"],
        "additionalProperties": False,
        "properties": {
            "conversation_id": {"type": "string"},
            "turn": {"type": "integer", "minimum": 1, "maximum": SQL_MAX_INT},
            "rating": {"type": "string", "enum": list(RATINGS)},
            "comment": {"type": ["string", "null"], "maxLength": 2000},
            "source": {"type": "string", "enum": ["api", "widget"], "default": "api"},
        },
    },
    "FeedbackList": {
        "type": "object",
        "required": ["feedback"],
        "properties": {
            "feedback": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "conversation_id", "turn", "rating", "comment", "source", "created",
                                 "question", "answer", "citations"],
                    "properties": {
                        "id": {"type": "integer"},
                        "conversation_id": {"type": "string"},
                        "turn": {"type": "integer"},
                        "rating": {"type": "string", "enum": list(RATINGS)},
                        "comment": _STRING_OR_NULL,
                        "source": {"type": "string", "examples": list(FEEDBACK_SOURCES)},
                        "created": {"type": "number", "description": "Unix time."},
                        "question": {"type": "string"},
                        "answer": {"type": "string"},
                        "citations": {"type": "array", "items": {"type": "object"},
                                      "description": "The citations of the answer rated."},
                    },
                },
            }
        },
    },
    "Periods": {
        "type": "object",
        "required": ["periods"],
        "properties": {
            "periods": {
                "type": "array",
                "description": "Newest first.",
                "items": {
                    "type": "object",
                    "required": ["period", "from", "to", "bulletins"],
                    "properties": {
                        "period": {"type": "string", "description": "As the bulletins write it: \"March 2021\"."},
                        "from": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                        "to": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                        "bulletins": {"type": "integer", "minimum": 1},
                    },
                },
            }
        },
    },
    "GapReport": {
        "type": "object",
        "required": ["since", "questions", "groups"],
        "properties": {
            "since": {"type": "string", "description": "UTC, ISO 8601: the start of the window."},
            "questions": {"type": "integer", "minimum": 0, "description": "Questions considered."},
            "groups": {
                "type": "array",
                "description": "Questions grouped by meaning, the most asked first.",
                "items": {
                    "type": "object",
                    "required": ["asked", "unanswered", "disliked", "last_asked", "examples"],
                    "properties": {
                        "asked": {"type": "integer", "minimum": 1},
                        "unanswered": {"type": "integer", "minimum": 0},
                        "disliked": {"type": "integer", "minimum": 0, "description": "Rated 👎."},
                        "last_asked": {"type": "string"},
                        "examples": {"type": "array", "items": {"type": "string"},
                                     "description": "Distinct questions of the group, most recent first."},
                    },
                },
            },
        },
    },
    "Published": {
        "type": "object",
        "required": ["id", "title", "period", "sections", "paragraphs", "url", "index"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "period": _STRING_OR_NULL,
            "sections": {"type": "integer"},
            "paragraphs": {"type": "integer"},
            "url": {"type": "string", "format": "uri"},
            "index": {"type": "string", "description": "What the re-index did."},
        },
    },
    "BulletinSummary": {
        "type": "object",
        "required": ["id", "title", "period", "sections", "paragraphs", "url"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "period": _STRING_OR_NULL,
            "sections": {"type": "integer", "minimum": 0},
            "paragraphs": {"type": "integer", "minimum": 0},
            "url": {"type": "string", "format": "uri"},
        },
    },
    "BulletinList": {
        "type": "object",
        "required": ["bulletins"],
        "properties": {"bulletins": {"type": "array", "items": _ref("BulletinSummary")}},
    },
    "Paragraph": {
        "type": "object",
        "required": ["id", "n", "text", "url"],
        "properties": {
            "id": {"type": "string"},
            "n": {"type": "integer", "description": "Position in its section, shown as ¶n."},
            "text": {"type": "string"},
            "url": {"type": "string", "format": "uri"},
        },
    },
    "Section": {
        "type": "object",
        "required": ["title", "paragraphs"],
        "properties": {"title": {"type": "string"}, "paragraphs": {"type": "array", "items": _ref("Paragraph")}},
    },
    "Bulletin": {
        "type": "object",
        "required": ["id", "title", "period", "url", "page", "pages", "sections"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "period": _STRING_OR_NULL,
            "url": {"type": "string", "format": "uri"},
            "page": {"type": "integer", "minimum": 1, "description": "The page shown (500 paragraphs a page)."},
            "pages": {"type": "integer", "minimum": 1},
            "sections": {"type": "array", "items": _ref("Section"),
                         "description": "The sections on this page; one cut by a page break is on both."},
        },
    },
    "Turn": {
        "type": "object",
        "required": [
            "n", "question", "resolved_question", "answer", "answerable", "citations", "timing_ms", "created",
        ],
        "properties": {
            "n": {"type": "integer", "minimum": 1},
            "question": {"type": "string"},
            "resolved_question": {"type": "string"},
            "answer": {"type": "string"},
            "answerable": {"type": "boolean"},
            "citations": {"type": "array", "items": _ref("Citation")},
            "timing_ms": _ref("Timing"),
            "created": {"type": "number", "description": "Unix time the turn was recorded."},
        },
    },
    "Conversation": {
        "type": "object",
        "required": ["conversation_id", "turns"],
        "properties": {"conversation_id": {"type": "string"}, "turns": {"type": "array", "items": _ref("Turn")}},
    },
    "Suggestions": {
        "type": "object",
        "required": ["suggestions", "source"],
        "properties": {
            "suggestions": {"type": "array", "items": {"type": "string"}},
            "source": {"type": "string", "enum": ["config", "corpus"],
                       "description": "BQA_SUGGESTIONS, or derived from the indexed bulletins."},
        },
    },
    "OriginCheck": {
        "type": "object",
        "required": ["origin", "allowed"],
        "additionalProperties": False,
        "properties": {
            "origin": {**_STRING_OR_NULL, "description": "The Origin header of the request, if any."},
            "allowed": {"type": "boolean", "description": "Whether that origin may call the API from a browser "
                        "(BQA_ALLOWED_ORIGINS or the service's own); true without an Origin header."},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "index", "answerer"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "no_index", "unavailable"]},
            "index": {
                "type": "object",
                "required": ["generation", "bulletins", "paragraphs"],
                "properties": {
                    "generation": _STRING_OR_NULL,
                    "bulletins": {"type": "integer", "minimum": 0},
                    "paragraphs": {"type": "integer", "minimum": 0},
                },
            },
            "answerer": {"type": "string"},
        },
    },
}

_ID = {"in": "path", "required": True, "schema": {"type": "string"}}
_RATE_LIMITED = {
    **_error("rate_limited: more than BQA_RATE_LIMIT questions from this client in the last minute."),
    "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}}},
}
_WIDGET_VERSION = {
    "name": "v", "in": "query", "required": False, "schema": {"type": "string"},
    "description": "The widget version; with the current one the file may be cached for a year.",
}
_PUBLISH = (
    "Authorization: Bearer BQA_ADMIN_TOKEN. The type is the file name's suffix (.pdf, .html, .htm, .md, .markdown, "
    ".txt), sniffed from the content only when the name has none of these; the file is parsed and indexed before "
    "the call returns, and a failed call changes nothing. The original file is kept in the registry of bulletins "
    "(the database), not in a folder."
)
_UPLOAD = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {"type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}
        },
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["text"],
                "properties": {"name": {"type": "string", "description": "File name; gives the id on POST."},
                               "text": {"type": "string"}},
            }
        },
    },
}
_ADMIN_ERRORS = {
    "400": _error("A missing file, text or name; invalid_name for a name that gives no id or one over 200 characters."),
    "401": _error("unauthorized: missing or wrong admin token."),
    "404": _error("bulletin_not_found (PUT)."),
    "413": _error("The file is over BQA_MAX_UPLOAD_BYTES."),
    "415": _error("Neither multipart/form-data nor JSON."),
    "422": _error("unsupported_type, empty_file, unparseable or bulletin_too_large (past BQA_MAX_BULLETIN_PAGES, "
                  "_PARAGRAPHS or _CHARS), with the reason."),
    "503": _error("admin_disabled: BQA_ADMIN_TOKEN is not set."),
    "507": _error("insufficient_storage: the disk lacks room for the file and the index with BQA_DISK_RESERVE_BYTES "
                  "left free; storage_error: a write failed (a full disk). Nothing was changed either way."),
}
_PAGE = {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1},
         "description": "Which 500 paragraphs of the bulletin; citation URLs name the page of their paragraph."}

_GAP_WINDOW = [
    {"name": "days", "in": "query",
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_GAP_DAYS, "default": GAP_DAYS},
     "description": "How far back to look."},
    {"name": "limit", "in": "query",
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_GAP_QUESTIONS, "default": MAX_GAP_QUESTIONS},
     "description": "At most this many questions, the newest."},
]

SPEC = {
    "openapi": "3.1.0",
    "info": {
        "title": "bqa",
        "version": "1",
        "description": "Question answering over bulletins. Every answer quotes the bulletins and cites the "
        "paragraphs it quotes; when they do not say, `answerable` is false. Every error is an `Error` object.",
    },
    "paths": {
        "/api/v1/ask": {
            "post": {
                "operationId": "ask",
                "summary": "Answer a question from the bulletins, with citations",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("AskRequest")}},
                },
                "responses": {
                    "200": _json(_ref("AskResponse"), "The answer, or an explanation that the bulletins do not say."),
                    "400": _error("Invalid JSON, body or field (see the error code)."),
                    "404": _error("conversation_not_found: unknown or expired conversation_id."),
                    "413": _error("The body is larger than the limit (64 kB by default)."),
                    "415": _error("The body is not sent as application/json."),
                    "429": _RATE_LIMITED,
                    "500": _error("Unexpected failure; it is logged."),
                    "507": _error("storage_error: the conversation could not be stored (a full disk)."),
                },
            }
        },
        "/api/v1/ask/stream": {
            "post": {
                "operationId": "askStream",
                "summary": "The same answer as /ask, as server-sent events",
                "description": (
                    "Events, in order: `meta` {conversation_id, resolved_question, confidence}, as soon as they "
                    "are known; `delta` {text}, the answer in pieces: an extractive answer in pieces of a few "
                    "words at once, an LLM's a sentence at a time, each as soon as it has passed the citation "
                    "check (a sentence that fails is never sent); `citations` {answer, citations, answerable, "
                    "answerer, removed_sentences, period, turn, timing_ms}, `answer` being the deltas joined; `done` "
                    "{confidence}. A failure after the "
                    "stream has started is an `error` event {code, message}. Invalid requests and unknown "
                    "conversations are refused before the stream starts, with the JSON errors of /ask. "
                    "Framing: the stream opens with `retry: 3000`; every event has an `id:`, its number in the "
                    "stream from 1; while the answer is being worked out, a `: keep-alive` comment comes every 15 s. "
                    "Each event's `data:` is one line of JSON. There is no resuming from Last-Event-ID: ask again."
                ),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("AskRequest")}},
                },
                "responses": {
                    "200": {
                        "description": "The event stream.",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    "400": _error("Invalid JSON, body or field (see the error code)."),
                    "404": _error("conversation_not_found: unknown or expired conversation_id."),
                    "413": _error("The body is larger than the limit (64 kB by default)."),
                    "415": _error("The body is not sent as application/json."),
                    "429": _RATE_LIMITED,
                },
            }
        },
        "/api/v1/feedback": {
            "post": {
                "operationId": "addFeedback",
                "summary": "Rate one answer 👍 / 👎, with an optional comment",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("FeedbackRequest")}},
                },
                "responses": {
                    "201": _json({"type": "object", "properties": {"id": {"type": "integer"}}}, "Stored."),
                    "400": _error("Invalid JSON, body or field (see the error code)."),
                    "404": _error("conversation_not_found or turn_not_found."),
                    "415": _error("The body is not sent as application/json."),
                },
            },
            "get": {
                "operationId": "listFeedback",
                "summary": "Every rating, newest first (admin: Authorization: Bearer BQA_ADMIN_TOKEN)",
                "parameters": [
                    {"name": "rating", "in": "query", "schema": {"type": "string", "enum": list(RATINGS)}},
                    {"name": "source", "in": "query", "schema": {"type": "string", "enum": list(FEEDBACK_SOURCES)}},
                    {"name": "q", "in": "query", "schema": {"type": "string"},
                     "description": "Words found in the question, the answer or the comment."},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
                    {"name": "offset", "in": "query",
                     "schema": {"type": "integer", "minimum": 0, "maximum": SQL_MAX_INT}},
                ],
                "responses": {
                    "200": _json(_ref("FeedbackList"), "The ratings."),
                    "400": _error("invalid_rating, invalid_source or invalid_page (limit or offset out of range)."),
                    "401": _error("unauthorized: missing or wrong admin token."),
                    "503": _error("admin_disabled: BQA_ADMIN_TOKEN is not set."),
                },
            },
        },
        "/api/v1/bulletins": {
            "get": {
                "operationId": "listBulletins",
                "summary": "The indexed bulletins",
                "responses": {"200": _json(_ref("BulletinList"), "Every indexed bulletin; empty when none is.")},
            },
            "post": {
                "operationId": "publishBulletin",
                "summary": "Publish a new bulletin (admin); answerable as soon as the call returns",
                "description": _PUBLISH,
                "requestBody": _UPLOAD,
                "responses": {
                    "201": _json(_ref("Published"), "Indexed and served."),
                    **_ADMIN_ERRORS,
                    "409": _error("bulletin_exists: the id is indexed already (use PUT to replace it), or a file in a corpus "
                                  "or added folder gives it."),
                },
            },
        },
        "/api/v1/bulletins/{bulletin_id}": {
            "get": {
                "operationId": "getBulletin",
                "summary": "One bulletin, section by section and paragraph by paragraph, 500 paragraphs a page",
                "parameters": [{"name": "bulletin_id", **_ID}, _PAGE],
                "responses": {
                    "200": _json(_ref("Bulletin"), "The bulletin."),
                    "400": _error("invalid_page: not a page of this bulletin."),
                    "404": _error("bulletin_not_found."),
                },
            },
            "put": {
                "operationId": "replaceBulletin",
                "summary": "Replace a bulletin's file (admin); its old text stops being cited at once",
                "description": _PUBLISH,
                "parameters": [{"name": "bulletin_id", **_ID}],
                "requestBody": _UPLOAD,
                "responses": {"200": _json(_ref("Published"), "Indexed and served."), **_ADMIN_ERRORS},
            },
            "delete": {
                "operationId": "deleteBulletin",
                "summary": "Remove a bulletin from the index and the registry (admin); one from a folder is not "
                "indexed again until its file is named (`bqa index FILE`)",
                "parameters": [{"name": "bulletin_id", **_ID}],
                "responses": {
                    "200": _json({"type": "object"}, "Removed."),
                    "401": _error("unauthorized."),
                    "404": _error("bulletin_not_found."),
                },
            },
        },
        "/api/v1/bulletins/{bulletin_id}/original": {
            "get": {
                "operationId": "getOriginal",
                "summary": "A bulletin's original file, as published or found in its folder (admin)",
                "parameters": [{"name": "bulletin_id", **_ID}],
                "responses": {
                    "200": {"description": "The file.", "content": {"application/octet-stream": {}}},
                    "401": _error("unauthorized."),
                    "404": _error("bulletin_not_found."),
                },
            }
        },
        "/api/v1/periods": {
            "get": {
                "operationId": "listPeriods",
                "summary": "The periods the indexed bulletins cover (the widget's period filter)",
                "responses": {"200": _json(_ref("Periods"), "Newest first.")},
            }
        },
        "/api/v1/gaps": {
            "get": {
                "operationId": "getGaps",
                "summary": "The content-gap report: questions not answered or rated 👎, grouped by meaning (admin)",
                "parameters": _GAP_WINDOW,
                "responses": {
                    "200": _json(_ref("GapReport"), "The groups, the most asked first."),
                    "400": _error("invalid_days or invalid_limit."),
                    "401": _error("unauthorized."),
                    "503": _error("admin_disabled: BQA_ADMIN_TOKEN is not set."),
                },
            }
        },
        "/api/v1/gaps.csv": {
            "get": {
                "operationId": "getGapsCsv",
                "summary": "The content-gap report as CSV: rank, asked, unanswered, disliked, last_asked_utc, examples",
                "parameters": _GAP_WINDOW,
                "responses": {
                    "200": {"description": "CSV.", "content": {"text/csv": {}}},
                    "401": _error("unauthorized."),
                },
            }
        },
        "/api/v1/conversations/{conversation_id}": {
            "get": {
                "operationId": "getConversation",
                "summary": "The turns of a conversation, oldest first",
                "parameters": [{"name": "conversation_id", **_ID}],
                "responses": {
                    "200": _json(_ref("Conversation"), "The conversation."),
                    "404": _error("conversation_not_found: unknown or expired."),
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "getOpenAPI",
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1 document.", "content": {"application/json": {}}}},
            }
        },
        "/api/v1/suggestions": {
            "get": {
                "operationId": "getSuggestions",
                "summary": "Starter questions the chat widget offers",
                "responses": {"200": _json(_ref("Suggestions"), "The questions.")},
            }
        },
        "/api/v1/origin": {
            "get": {
                "operationId": "checkOrigin",
                "summary": "Whether the calling page's origin may use the API (readable from any origin)",
                "description": "A browser refused by CORS tells a script nothing but \"network error\". This answer "
                "carries Access-Control-Allow-Origin: * so the chat widget can tell a refused origin (and say "
                "that the site's owner should have it added to BQA_ALLOWED_ORIGINS) from a network failure.",
                "responses": {"200": _json(_ref("OriginCheck"), "The origin seen, and whether it is allowed.")},
            }
        },
        "/widget.js": {
            "get": {
                "operationId": "getWidget",
                "summary": "The chat widget: embed it with <script src=\"…/widget.js\" data-bqa-api=\"…\" defer>",
                "parameters": [_WIDGET_VERSION],
                "responses": {"200": {"description": "JavaScript.", "content": {"text/javascript": {}}}},
            }
        },
        "/widget.css": {
            "get": {
                "operationId": "getWidgetStylesheet",
                "summary": "The widget's stylesheet, loaded by widget.js into its shadow root",
                "parameters": [_WIDGET_VERSION],
                "responses": {"200": {"description": "CSS.", "content": {"text/css": {}}}},
            }
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Whether an index is being served, and which",
                "responses": {
                    "200": _json(_ref("Health"), "status ok: an index is served."),
                    "503": _json(_ref("Health"), "status no_index (nothing indexed yet) or unavailable (the store "
                                 "cannot be reached)."),
                },
            }
        },
        "/bulletins/{bulletin_id}": {
            "get": {
                "operationId": "viewBulletin",
                "summary": "The bulletin as an HTML page; each paragraph's id is its fragment, as citation URLs use",
                "parameters": [{"name": "bulletin_id", **_ID}, _PAGE],
                "responses": {
                    "200": {"description": "HTML page.", "content": {"text/html": {}}},
                    "404": {"description": "HTML page: no such bulletin.", "content": {"text/html": {}}},
                },
            }
        },
    },
    "components": {"schemas": SCHEMAS},
}


def document(config: Config | None = None) -> dict:
    """The document for a service run with `config`: its question limit, and its public address as the server."""
    spec = copy.deepcopy(SPEC)
    if config is not None:
        spec["components"]["schemas"]["AskRequest"]["properties"]["question"]["maxLength"] = config.max_question_chars
        if config.public_url:
            spec["servers"] = [{"url": config.public_url.rstrip("/")}]
    return spec
