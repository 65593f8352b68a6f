"""The one configuration object, read from environment variables (the README lists them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    try:
        return int(raw) if raw not in (None, "") else default
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None


@dataclass(frozen=True)
class Config:
    data_dir: Path = PROJECT_ROOT / "data"
    corpus_dirs: tuple[Path, ...] = (PROJECT_ROOT / "corpus",)
    chroma_url: str | None = None
    public_url: str | None = None  # the address users reach the service at; base of every absolute URL
    top_k: int = 5
    max_question_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    conversation_ttl: int = 7 * 24 * 3600  # seconds of idleness after which a conversation expires

    @classmethod
    def from_env(cls, **overrides) -> "Config":
        env = os.environ
        config = cls(
            data_dir=Path(env.get("BQA_DATA_DIR") or cls.data_dir),
            corpus_dirs=tuple(Path(p) for p in env["BQA_CORPUS"].split(os.pathsep)) if env.get("BQA_CORPUS") else cls.corpus_dirs,
            chroma_url=env.get("BQA_CHROMA_URL") or None,
            public_url=(env.get("BQA_PUBLIC_URL") or "").rstrip("/") or None,
            top_k=_int("BQA_TOP_K", cls.top_k),
            conversation_ttl=_int("BQA_CONVERSATION_TTL", cls.conversation_ttl),
        )
        return replace(config, **overrides)
