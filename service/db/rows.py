"""Rows into the protocol's values, for every backend: both read the same columns, so they convert them once here.

A backend hands in a row that can be read by column name (`sqlite3.Row`, psycopg's `dict_row`); flags may come
as 0/1 (SQLite) or booleans (PostgreSQL) and blobs as memoryview or bytes, so everything is normalised.
"""

from __future__ import annotations

import json
from typing import Mapping

from service.db.base import FeedbackEntry, GapQuestion, Registered

REGISTERED_COLUMNS = "id, origin, name, path, folder, sha256, size, removed, registered, updated"


def turn(row: Mapping) -> dict:
    return {
        "n": row["n"], "question": row["question"], "resolved_question": row["resolved_question"],
        "answer": row["answer"], "answerable": bool(row["answerable"]),
        "citations": json.loads(row["citations"]), "timing_ms": json.loads(row["timing_ms"]),
        "created": row["created"],
    }


def feedback_entry(row: Mapping) -> FeedbackEntry:
    return FeedbackEntry(
        id=row["id"], conversation_id=row["conversation_id"], turn=row["turn"], rating=row["rating"],
        comment=row["comment"], source=row["source"], created=row["created"], question=row["question"],
        answer=row["answer"], citations=json.loads(row["citations"]),
    )


def gap_question(row: Mapping) -> GapQuestion:
    return GapQuestion(
        row["conversation_id"], row["turn"], row["question"], row["resolved_question"], row["asked"],
        bool(row["unanswered"]), bool(row["disliked"]), bytes(row["vector"]) if row["vector"] is not None else None,
        row["vector_model"],
    )


def registered(row: Mapping) -> Registered:
    return Registered(**{name: row[name] for name in REGISTERED_COLUMNS.split(", ")} | {"removed": bool(row["removed"])})


def turn_values(turn: dict) -> tuple:
    """The stored columns of a turn the pipeline hands in, after (conversation id, n) and before `created`."""
    return (turn["question"], turn["resolved_question"], turn["answer"], turn["answerable"],
            json.dumps(turn["citations"]), json.dumps(turn["timing_ms"]))
