"""The numbered schema steps of every storage engine: `<engine>/NNNN_<name>.sql`, applied in order.

A data folder records the steps it has taken in its `schema_version` table, so opening it with a newer bqa applies
exactly the steps it lacks, and opening it with an older bqa (which does not know the newest step) is refused
instead of writing rows the newer schema does not expect. Every engine has the same numbers with the same
meaning (datasette's `internal_db.py` migrations, per engine): a step is SQL text, never Python that reads files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str


def steps(engine: str) -> list[Migration]:
    """The steps of `engine` ("sqlite", "postgres") in order; their numbers must run 1, 2, 3… without a gap."""
    found = []
    for path in sorted((FOLDER / engine).glob("*.sql")):
        match = _NAME.fullmatch(path.name)
        if match is None:
            raise ValueError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text(encoding="utf-8")))
    if [m.number for m in found] != list(range(1, len(found) + 1)):
        raise ValueError(f"the {engine} migrations are not numbered 1..{len(found)}: {[m.number for m in found]}")
    return found

