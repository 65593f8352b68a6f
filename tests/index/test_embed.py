"""The ONNX encoder: it must put a text where the float model put it (indexes and learned weights were built on
those vectors), run without PyTorch, refuse a model file it was not built for, and give a text the same vector
whether it is embedded alone, in a batch, or asynchronously."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.embed import (
    MAX_TOKENS, MODEL_FILE, MODEL_SHA256, TOKENIZER_FILE, MiniLMEmbedding, ModelFileError, count_tokens, embed_query,
    embed_texts, embedding_model, session_options,
)
from service.config import PROJECT_ROOT

# Vectors of the float all-MiniLM-L6-v2 (PyTorch), made once before PyTorch left bqa; the file says how.
REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_float_reference.json").read_text())
# The 7-bit-weight file measures 0.958 (the empty text: [CLS] and [SEP] alone) and 0.985 to 0.993 on the others, on
# every CPU (the uint8-weight one before it: 0.980-0.994); a wrong pooling, window or tokenizer lands far below.
COSINE_TO_FLOAT_MIN = 0.95
INTEGER_KERNELS = {"MatMulInteger", "MatMulIntegerToFloat", "DynamicQuantizeMatMul"}
SEVEN_BITS = 64  # the largest weight magnitude whose pair sums with uint8 activations fit 16 bits: 2 x 255 x 64


@pytest.mark.parametrize("name", sorted(REFERENCE["texts"]))
def test_a_text_lands_where_the_float_model_put_it(name):
    text, reference = REFERENCE["texts"][name], np.array(REFERENCE["vectors"][name])
    vector = np.array(embed_texts([text])[0])
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert float(vector @ reference) >= COSINE_TO_FLOAT_MIN


def test_a_question_and_the_same_text_in_a_batch_get_the_same_vector():
    """Questions are embedded on the asking thread, bulletins spread over the embedding threads: texts of mixed
    lengths must come back in their own order with the vectors each gets alone. (The int8 scale of the activations
    is taken per run, so a text sharing its run with others would get another vector.)"""
    texts = [f"Paragraph {i}: " + "the workshop in Almaty trained border officials " * (i % 9) for i in range(40)]
    texts += ["", "a", "Ünïcödé — 日本語 🙂", "long " * 400]
    batch = np.array(embed_texts(texts))
    single = np.array([embed_query(text) for text in texts])
    assert batch.shape == (len(texts), 384)
    assert np.abs(batch - single).max() < 1e-6


def test_the_async_methods_give_the_same_vectors():
    model = embedding_model()
    texts = ["Who funded CT Travel?", "The workshop brought together officials from Central Asia."]
    vectors = asyncio.run(model.aget_text_embedding_batch(texts))
    query = asyncio.run(model.aget_query_embedding(texts[0]))
    assert np.abs(np.array(vectors) - np.array(embed_texts(texts))).max() < 1e-5
    assert np.abs(np.array(query) - np.array(embed_query(texts[0]))).max() < 1e-5


def test_the_weight_products_run_on_integer_kernels_that_every_cpu_computes_alike(tmp_path):
    """The point of the model file: every product with a weight matrix (6 layers x query, key, value, attention
    output, feed-forward in and out) runs an integer kernel after ONNX Runtime's graph optimisations, where the file
    bqa shipped before had its int8 weights folded back into float ones. Only the attention's own products (2 a
    layer, activations times activations) stay float. Activations are unsigned bytes, weights signed ones within
    7 bits: CPUs without VNNI add each pair of products in 16 bits, which a pair of full 8-bit weights can overflow
    (and clip), and 7-bit ones cannot (index/embed.py)."""
    import onnx
    import onnxruntime
    from onnx import numpy_helper

    options = session_options(onnxruntime)
    options.enable_profiling, options.profile_file_prefix = True, str(tmp_path / "profile")
    session = onnxruntime.InferenceSession(str(MODEL_FILE), options, providers=["CPUExecutionProvider"])
    ids = np.array([[101, 2040, 6787, 14931, 3604, 1029, 102]], dtype=np.int64)
    session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)})
    events = [event["args"] for event in json.loads(Path(session.end_profiling()).read_text())
              if event.get("cat") == "Node" and event["name"].endswith("_kernel_time")]
    kernels = [args["op_name"] for args in events]
    assert sum(kernel in INTEGER_KERNELS for kernel in kernels) == 6 * 6
    assert sum(kernel in {"MatMul", "FusedMatMul", "Gemm"} for kernel in kernels) == 6 * 2
    byte_types = {kind for args in events if args["op_name"] in INTEGER_KERNELS
                  for shape in args["input_type_shape"] for kind in shape if kind.endswith("int8")}
    assert byte_types == {"uint8", "int8"}
    weights = [numpy_helper.to_array(tensor) for tensor in onnx.load(str(MODEL_FILE)).graph.initializer
               if tensor.data_type == onnx.TensorProto.INT8 and len(tensor.dims) == 2]  # not zero points
    assert len(weights) == 6 * 6
    assert all(np.abs(weight.astype(np.int32)).max() <= SEVEN_BITS for weight in weights)


def test_text_past_the_window_is_cut_at_256_tokens():
    window = "The programme trained officials on border security. " * 40
    assert count_tokens(window) > MAX_TOKENS
    one, other = embed_texts([window + "Norway funded it.", window + "A completely different ending about fish."])
    assert np.abs(np.array(one) - np.array(other)).max() < 1e-6
    shorter = embed_texts([" ".join(window.split()[:100])])[0]
    assert float(np.dot(one, shorter)) < 0.9999  # the cut is at the window, not before it


def test_a_question_finds_the_paragraph_embedded_in_a_batch():
    paragraphs = [
        "In March, UNOCT received a generous contribution from India ($500,000) in support of the Countering the "
        "Financing of Terrorism and the Countering Terrorist Travel Programmes.",
        "The workshop brought together officials from Kazakhstan, Kyrgyzstan, Tajikistan, Turkmenistan and Uzbekistan.",
    ]
    vectors = np.array(embed_texts(paragraphs))
    scores = vectors @ np.array(embed_query("Which Central Asian countries attended the workshop?"))
    assert scores.argmax() == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_bulletin_runs_yield_the_cpu_to_questions():
    """Bulletin batches run on threads of the lowest CPU priority; the thread that asks a question keeps its own.
    (During a 3,000-paragraph publish, new questions were 5.6 times slower at p95 while the two shared the cores
    evenly: bench/publish_load.py.)"""
    import os
    import threading

    embed_texts([f"Paragraph {i} about the lighthouse keepers of the northern coast." for i in range(100)])
    pool = [t for t in threading.enumerate() if t.name.startswith("embed") and t.native_id is not None]
    assert pool, "a batch of several runs goes to the embedding threads"
    assert {os.getpriority(os.PRIO_PROCESS, t.native_id) for t in pool} == {19}
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    embed_query("Who inspected the beacons of the northern coast?")
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


def test_a_model_file_that_is_not_the_pinned_one_is_refused(tmp_path):
    damaged = tmp_path / "model.onnx"
    shutil.copyfile(MODEL_FILE, damaged)
    with damaged.open("r+b") as handle:
        handle.seek(-1000, 2)
        handle.write(b"\x00" * 16)
    with pytest.raises(ModelFileError, match=rf"model\.onnx has sha256 [0-9a-f]{{64}}, not the expected {MODEL_SHA256}"):
        MiniLMEmbedding(model_file=damaged)
    with pytest.raises(ModelFileError, match="cannot read the embedding model file"):
        MiniLMEmbedding(model_file=tmp_path / "missing.onnx")


def test_a_tokenizer_that_is_not_the_pinned_one_is_refused(tmp_path):
    edited = tmp_path / "tokenizer.json"
    edited.write_text(TOKENIZER_FILE.read_text().replace('"[UNK]"', '"[unk]"', 1))
    with pytest.raises(ModelFileError, match="tokenizer.json has sha256"):
        MiniLMEmbedding(tokenizer_file=edited)


def test_the_command_line_and_the_encoder_run_without_pytorch():
    """Nothing bqa runs may load the PyTorch stack, even where it happens to be installed."""
    script = (
        "import sys; from service.cli import main; from index.embed import embed_texts, embed_query; "
        "embed_texts(['a paragraph']); embed_query('a question'); import service.app, index.store, answer; "
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'onnx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
