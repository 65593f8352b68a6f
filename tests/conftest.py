"""Shared fixtures: one embedding model and one indexed copy of the bundled corpus per test session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from service.config import PROJECT_ROOT, Config
from service.pipeline import BulletinQA

SHARED = PROJECT_ROOT.parent / "shared"
DEV_SET = SHARED / "eval" / "dev.jsonl"
SEED = PROJECT_ROOT / "corpus" / "unoct-highlights-2021-03.md"


@pytest.fixture(scope="session")
def seed_path() -> Path:
    return SEED


@pytest.fixture(scope="session")
def dev_items() -> list[dict]:
    if not DEV_SET.exists():
        pytest.skip(f"{DEV_SET} is not beside the project")
    return [json.loads(line) for line in DEV_SET.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def config(tmp_path_factory) -> Config:
    """A configuration whose data folder is private to this test session, over a copy of the bundled corpus."""
    root = tmp_path_factory.mktemp("bqa")
    corpus = root / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    # No rate limit: the suite asks hundreds of questions from one client; tests of the limit set their own.
    return Config.from_env(data_dir=root / "data", corpus_dirs=(corpus,), public_url=None, rate_limit=0)


@pytest.fixture(scope="session")
def qa(config) -> BulletinQA:
    """The service over the indexed seed corpus: real Chroma on disk, real embeddings."""
    service = BulletinQA.from_config(config)
    service.index()
    return service


def url_for(bulletin_id: str, paragraph_id: str) -> str:
    return f"/bulletins/{bulletin_id}#{paragraph_id}"
