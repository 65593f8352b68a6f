"""The one configuration object, read from environment variables (the README lists them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from importlib.util import find_spec
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    try:
        return int(raw) if raw not in (None, "") else default
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None


def _share(name: str) -> float | None:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise SystemExit(f"{name} must be a number from 0 to 1, not {raw!r}")
    return value


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        value = float(raw) if raw not in (None, "") else default
    except ValueError:
        value = -1.0
    if not value > 0:
        raise SystemExit(f"{name} must be a positive number of seconds, not {raw!r}")
    return value


def _installed(module: str) -> bool:
    """Whether `module` (an optional extra's) can be imported, without importing it."""
    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing too
        return False


@dataclass(frozen=True)
class Config:
    data_dir: Path = PROJECT_ROOT / "data"
    corpus_dirs: tuple[Path, ...] = (PROJECT_ROOT / "corpus",)
    chroma_url: str | None = None
    # PostgreSQL for conversations, feedback, Slack dedup, gap data, the registry and the writer lock, shared by
    # every machine; unset: SQLite under data_dir.
    database_url: str | None = None
    public_url: str | None = None  # the address users reach the service at; base of every absolute URL
    top_k: int = 5
    # Confidence an extractive answer needs (0-1); None: the threshold chosen on held-out folds, shipped with the
    # scorer's weights (answer/weights/scorer.json, bench/train_scorer.py).
    answer_threshold: float | None = None
    max_question_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024  # a bulletin published over the admin API
    conversation_ttl: int = 7 * 24 * 3600  # seconds of idleness after which a conversation expires
    admin_token: str | None = None  # Bearer token of the admin endpoints; unset: they answer 503
    allowed_origins: tuple[str, ...] = ()  # sites that may embed the widget (CORS), besides the service itself
    rate_limit: int = 60  # questions per client per minute; 0 turns the limit off
    trusted_proxies: int = 0  # reverse proxies in front whose X-Forwarded-* headers are believed
    suggestions: tuple[str, ...] = ()  # starter questions the widget offers; empty: derived from the corpus
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None  # HTTP mode (Events API): Slack signs every request with it
    slack_app_token: str | None = None  # Socket Mode (`bqa slack`): the app-level token, xapp-…
    slack_api_url: str = "https://slack.com/api/"
    # The optional LLM answerer (an OpenAI-compatible server); unset base URL: extractive answers only.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 20.0  # seconds per LLM call; past it the extractive answer is given instead
    # A publish is refused (507) when it would leave less than this free on the data folder's disk: a full disk
    # made Chroma fail half-way through a write.
    disk_reserve_bytes: int = 256 * 1024 * 1024
    # How far one bulletin may expand (a 1.3 KB PDF once became 90,000 paragraphs); past it: 422.
    max_bulletin_pages: int = 2_000
    max_bulletin_paragraphs: int = 20_000
    max_bulletin_chars: int = 5_000_000
    # `bqa serve --workers`: seconds a client has to send its whole request. Slow clients hold a thread that long,
    # so /healthz may wait about that long behind them (bench/slow_clients.py); a 20 MB upload needs 16 Mbit/s.
    request_read_timeout_s: float = 10.0
    cleanup_interval_s: float = 3600.0  # leftovers of crashes and expired conversations are removed this often

    @property
    def uploads_dir(self) -> Path:
        """Where bqa kept published bulletins before the registry held them: read once, when a data folder made
        then is first opened (`service.registry`), never written."""
        return self.data_dir / "bulletins"

    @classmethod
    def from_env(cls, **overrides) -> "Config":
        env = os.environ
        config = cls(
            data_dir=Path(env.get("BQA_DATA_DIR") or cls.data_dir),
            corpus_dirs=tuple(Path(p) for p in env["BQA_CORPUS"].split(os.pathsep)) if env.get("BQA_CORPUS") else cls.corpus_dirs,
            chroma_url=env.get("BQA_CHROMA_URL") or None,
            database_url=env.get("BQA_DATABASE_URL") or None,
            public_url=(env.get("BQA_PUBLIC_URL") or "").rstrip("/") or None,
            top_k=_int("BQA_TOP_K", cls.top_k),
            answer_threshold=_share("BQA_ANSWER_THRESHOLD"),
            max_upload_bytes=_int("BQA_MAX_UPLOAD_BYTES", cls.max_upload_bytes),
            conversation_ttl=_int("BQA_CONVERSATION_TTL", cls.conversation_ttl),
            admin_token=env.get("BQA_ADMIN_TOKEN") or None,
            allowed_origins=tuple(o.strip().rstrip("/") for o in env.get("BQA_ALLOWED_ORIGINS", "").split(",") if o.strip()),
            rate_limit=_int("BQA_RATE_LIMIT", cls.rate_limit),
            trusted_proxies=_int("BQA_TRUSTED_PROXIES", cls.trusted_proxies),
            suggestions=tuple(q.strip() for q in env.get("BQA_SUGGESTIONS", "").split("|") if q.strip()),
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            slack_api_url=env.get("BQA_SLACK_API_URL") or cls.slack_api_url,
            llm_base_url=(env.get("BQA_LLM_BASE_URL") or "").rstrip("/") or None,
            llm_model=env.get("BQA_LLM_MODEL") or None,
            llm_api_key=env.get("BQA_LLM_API_KEY") or None,
            llm_timeout=_seconds("BQA_LLM_TIMEOUT", cls.llm_timeout),
            disk_reserve_bytes=_int("BQA_DISK_RESERVE_BYTES", cls.disk_reserve_bytes),
            max_bulletin_pages=_int("BQA_MAX_BULLETIN_PAGES", cls.max_bulletin_pages),
            max_bulletin_paragraphs=_int("BQA_MAX_BULLETIN_PARAGRAPHS", cls.max_bulletin_paragraphs),
            max_bulletin_chars=_int("BQA_MAX_BULLETIN_CHARS", cls.max_bulletin_chars),
            request_read_timeout_s=_seconds("BQA_REQUEST_READ_TIMEOUT_S", cls.request_read_timeout_s),
            cleanup_interval_s=_seconds("BQA_CLEANUP_INTERVAL_S", cls.cleanup_interval_s),
        )
        config = replace(config, **overrides)
        if config.database_url and not config.database_url.startswith(("postgresql://", "postgres://")):
            raise SystemExit("BQA_DATABASE_URL must be a PostgreSQL URL, postgresql://user:password@host:5432/db")
        if config.llm_base_url and not config.llm_model:
            raise SystemExit("BQA_LLM_MODEL must name the model to use when BQA_LLM_BASE_URL is set")
        # Optional features' packages are extras (pyproject.toml): name the one to install rather than fail later.
        if config.database_url and not _installed("psycopg"):
            raise SystemExit("BQA_DATABASE_URL needs PostgreSQL's driver: pip install 'bqa[postgres]'")
        if config.llm_base_url and not _installed("llama_index.llms.openai_like"):
            raise SystemExit("BQA_LLM_BASE_URL needs the LLM client: pip install 'bqa[llm]'")
        if config.disk_reserve_bytes < 0:
            raise SystemExit("BQA_DISK_RESERVE_BYTES must be 0 or more")
        for field_name in ("max_bulletin_pages", "max_bulletin_paragraphs", "max_bulletin_chars"):
            if getattr(config, field_name) < 1:
                raise SystemExit(f"BQA_{field_name.upper()} must be at least 1")
        return config
