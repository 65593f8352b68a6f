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
    admin_token: str | None = None  # Bearer token of the admin endpoints; unset: they answer 503
    allowed_origins: tuple[str, ...] = ()  # sites that may embed the widget (CORS), besides the service itself
    rate_limit: int = 60  # questions per client per minute; 0 turns the limit off
    suggestions: tuple[str, ...] = ()  # starter questions the widget offers; empty: derived from the corpus
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_api_url: str = "https://slack.com/api/"

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
            admin_token=env.get("BQA_ADMIN_TOKEN") or None,
            allowed_origins=tuple(o.strip().rstrip("/") for o in env.get("BQA_ALLOWED_ORIGINS", "").split(",") if o.strip()),
            rate_limit=_int("BQA_RATE_LIMIT", cls.rate_limit),
            suggestions=tuple(q.strip() for q in env.get("BQA_SUGGESTIONS", "").split("|") if q.strip()),
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_api_url=env.get("BQA_SLACK_API_URL") or cls.slack_api_url,
        )
        return replace(config, **overrides)
