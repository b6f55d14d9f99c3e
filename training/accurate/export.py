"""The shipped musicnn genre model: backbone + linear head in one ONNX graph.

Input ``logmel`` (batch, 187, 96) log-mel patches (``logmel_patches``);
outputs per patch: ``probabilities`` (batch, n_labels), ``embedding``
(batch, 200) and musicnn's ``tags`` (batch, 50). The head is a standardised
logistic regression on the mean embedding, so the track prediction is the
softmax of the mean per-patch log-probability (metadata ``aggregation:
"geometric_mean"``), which equals the head applied to the mean embedding.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from beetsplug.genreclf.features import LogMelParams, logmel_patches
from beetsplug.genreclf.model import METADATA_KEY
from training.accurate.convert import INPUT_NAME, parity_audio
from training.accurate.heads import LinearHead

METADATA_FORMAT = 2
AGGREGATION = "geometric_mean"
PARITY_TOLERANCE = 1e-4


def with_head(backbone: onnx.ModelProto, head: LinearHead, with_tags: bool) -> onnx.ModelProto:
    """``backbone`` with the head's nodes and a ``probabilities`` output."""
    mean, scale, weights, bias = head.linear_form()
    model = onnx.ModelProto()
    model.CopyFrom(backbone)
    graph = model.graph
    graph.initializer.extend(
        numpy_helper.from_array(np.asarray(value, np.float32), name)
        for name, value in (
            ("head_mean", mean),
            ("head_scale", scale),
            ("head_weights", weights),
            ("head_bias", bias),
        )
    )
    head_input = "embedding"
    if with_tags:
        graph.node.append(helper.make_node("Concat", ["embedding", "tags"], ["head_input"], axis=1))
        head_input = "head_input"
    graph.node.extend(
        [
            helper.make_node("Sub", [head_input, "head_mean"], ["head_centred"]),
            helper.make_node("Div", ["head_centred", "head_scale"], ["head_standardised"]),
            helper.make_node("MatMul", ["head_standardised", "head_weights"], ["head_product"]),
            helper.make_node("Add", ["head_product", "head_bias"], ["head_logits"]),
            helper.make_node("Softmax", ["head_logits"], ["probabilities"], axis=1),
        ]
    )
    graph.output.insert(
        0,
        helper.make_tensor_value_info(
            "probabilities", onnx.TensorProto.FLOAT, ["batch", len(bias)]
        ),
    )
    for value in [*graph.input, *graph.output]:  # tf2onnx names the batch axis unk__N
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    return model


def write_model(model: onnx.ModelProto, metadata: dict, path: Path) -> None:
    onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps(metadata, sort_keys=True)})
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def session(path: Path, optimisation: str = "all"):
    """An onnxruntime session on one thread, as the plugin's workers run it."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = {
        "none": onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "all": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[optimisation]
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def check_parity(path: Path, head: LinearHead, with_tags: bool, params: LogMelParams) -> float:
    """Max abs difference between the ONNX graph and the scikit-learn head:
    per patch on the graph's own embedding, and per track (geometric mean
    of patches vs the head on the mean). Raises above PARITY_TOLERANCE."""
    graph = session(path)
    worst = 0.0
    for seed, seconds in ((3, 3.0), (4, 15.0), (5, 30.0)):
        patches = logmel_patches(parity_audio(params.sample_rate, seconds, seed), params)
        probabilities, embedding, tags = graph.run(
            ["probabilities", "embedding", "tags"], {INPUT_NAME: patches}
        )
        inputs = np.concatenate([embedding, tags], axis=1) if with_tags else embedding
        per_patch = head.predict_patches(inputs)
        log_mean = np.log(probabilities).mean(axis=0)
        track = np.exp(log_mean - np.logaddexp.reduce(log_mean))
        worst = max(
            worst,
            float(np.max(np.abs(per_patch - probabilities))),
            float(np.max(np.abs(track - head.predict([inputs])[0]))),
        )
    if worst > PARITY_TOLERANCE:
        raise AssertionError(f"{path}: ONNX head differs from scikit-learn by {worst:.2e}")
    return worst


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of weights (activations quantised at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)


def milliseconds_per_patch(path: Path, optimisation: str, repeats: int = 20) -> float:
    """Median time of one 10-patch batch / 10, one thread, after a warm-up."""
    graph = session(path, optimisation)
    patches = np.random.default_rng(0).uniform(0, 3, (10, 187, 96)).astype(np.float32)
    feed = {graph.get_inputs()[0].name: patches}
    graph.run(None, feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        graph.run(None, feed)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000 / len(patches)
