"""The musicnn genre graph: a linear head appended to a backbone in ONNX.

A stand-in backbone (mean over time as the 'embedding', its sigmoid as the
'tags') replaces musicnn, which the test environment does not have.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

pytest.importorskip("torch")

from training.musicnn_export import session, with_head  # noqa: E402
from training.musicnn_heads import LogRegHead  # noqa: E402

FRAMES, BANDS, N_LABELS = 187, 96, 3


def stand_in_backbone() -> onnx.ModelProto:
    logmel = helper.make_tensor_value_info(
        "logmel", onnx.TensorProto.FLOAT, ["batch", FRAMES, BANDS]
    )
    outputs = [
        helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["batch", BANDS])
        for name in ("embedding", "tags")
    ]
    nodes = [
        helper.make_node("ReduceMean", ["logmel"], ["embedding"], axes=[1], keepdims=0),
        helper.make_node("Sigmoid", ["embedding"], ["tags"]),
    ]
    graph = helper.make_graph(nodes, "stand_in", [logmel], outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def tracks(rng: np.random.Generator, count: int) -> tuple[list[np.ndarray], np.ndarray]:
    labels = np.arange(count) % N_LABELS
    patches = [
        rng.normal(label, 1.0, (int(rng.integers(1, 6)), FRAMES, BANDS)).astype(np.float32)
        for label in labels
    ]
    return patches, labels


@pytest.mark.parametrize("with_tags", [False, True])
def test_geometric_mean_of_patches_is_the_head_on_the_mean(tmp_path, with_tags):
    rng = np.random.default_rng(0)
    patches, labels = tracks(rng, 30)

    def inputs(track: np.ndarray) -> np.ndarray:
        embedding = track.mean(axis=1)
        return (
            np.concatenate([embedding, 1 / (1 + np.exp(-embedding))], axis=1)
            if with_tags
            else embedding
        )

    head = LogRegHead(N_LABELS).fit(
        [inputs(t) for t in patches], labels, np.array([f"artist{i % 5}" for i in range(30)])
    )
    path = tmp_path / "genre.onnx"
    onnx.save(with_head(stand_in_backbone(), head, with_tags), str(path))
    graph = session(path)
    for track in tracks(rng, 6)[0]:
        probabilities, embedding = graph.run(["probabilities", "embedding"], {"logmel": track})
        np.testing.assert_allclose(embedding, track.mean(axis=1), atol=1e-5)
        log_mean = np.log(probabilities).mean(axis=0)
        geometric = np.exp(log_mean - np.logaddexp.reduce(log_mean))
        np.testing.assert_allclose(geometric, head.predict([inputs(track)])[0], atol=1e-5)
