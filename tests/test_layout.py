"""The package rules, read from the imports (ast): index/ knows nothing of the service, and only service/db/ talks
to a database driver, so that a storage backend can be added there without touching anything else."""

from __future__ import annotations

import ast
from pathlib import Path

from service.config import PROJECT_ROOT

DRIVERS = {"sqlite3", "psycopg", "psycopg2", "sqlalchemy"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def modules(package: str):
    return sorted((PROJECT_ROOT / package).rglob("*.py"))


def test_index_imports_no_flask_answer_or_service():
    for path in modules("index"):
        wrong = {m for m in imports(path) if m.split(".")[0] in {"flask", "werkzeug", "service", "answer"}}
        assert not wrong, f"{path.relative_to(PROJECT_ROOT)} imports {sorted(wrong)}"


def test_only_the_storage_backends_import_a_database_driver():
    for path in modules("service"):
        if path.is_relative_to(PROJECT_ROOT / "service" / "db"):
            continue
        wrong = {m for m in imports(path) if m.split(".")[0] in DRIVERS}
        assert not wrong, f"{path.relative_to(PROJECT_ROOT)} imports {sorted(wrong)}: SQL belongs in service/db/"


def test_storage_is_opened_only_through_open_db():
    for path in modules("service"):
        if path.is_relative_to(PROJECT_ROOT / "service" / "db"):
            continue
        wrong = {m for m in imports(path) if m.startswith("service.db.") and m != "service.db.base"}
        assert not wrong, f"{path.relative_to(PROJECT_ROOT)} imports {sorted(wrong)}: use open_db and db.base"
