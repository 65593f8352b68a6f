"""Prompt templates, loaded by name from prompts/, and the token counts that keep a prompt within budget.

Prompts are text files rather than Python strings so that they can be read, reviewed and tuned without touching
code. Token counts use tiktoken's cl100k_base encoding from the copy llama-index ships: bqa runs offline, and
tiktoken would otherwise download the encoding on first use. cl100k_base is not the served model's own tokenizer,
so budgets keep a margin (see `answer.llm`).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import llama_index.core
from llama_index.core.llms import ChatMessage, MessageRole
from llama_index.core.prompts import ChatPromptTemplate

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"

# Before tiktoken first loads an encoding: it reads this variable then, and looks nowhere else offline.
os.environ.setdefault(
    "TIKTOKEN_CACHE_DIR", str(Path(llama_index.core.__file__).resolve().parent / "_static" / "tiktoken_cache")
)


_ROLE = re.compile(r"^### (system|user|assistant)[ \t]*$", re.M)


@lru_cache(maxsize=None)
def load(name: str) -> ChatPromptTemplate:
    """The chat template prompts/<name>.txt: `### system|user|assistant` lines open its messages (none: the
    whole file is one user message); its {variables} are filled by `.format_messages(**values)`."""
    path = PROMPTS_DIR / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"no prompt template {name!r} in {PROMPTS_DIR}")
    parts = _ROLE.split(path.read_text(encoding="utf-8"))
    if len(parts) == 1:
        parts = ["", "user", parts[0]]
    messages = [ChatMessage(role=MessageRole(role), content=content.strip()) for role, content in zip(parts[1::2], parts[2::2])]
    return ChatPromptTemplate(message_templates=messages)


def render(name: str, **values: str) -> list[ChatMessage]:
    return load(name).format_messages(**values)


def count_message_tokens(messages: list[ChatMessage]) -> int:
    """Tokens of a chat, with a few per message for the role markup a chat template adds."""
    return sum(count_tokens(message.content or "") + 4 for message in messages)


@lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def truncate(text: str, tokens: int) -> str:
    """`text` cut to at most `tokens` tokens, at a token boundary."""
    encoded = _encoding().encode(text, disallowed_special=())
    return text if len(encoded) <= tokens else _encoding().decode(encoded[:tokens])
