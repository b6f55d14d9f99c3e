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

from training.accurate.export import session, with_head  # noqa: E402
from training.accurate.heads import CalibratedHead, LogRegHead  # noqa: E402
from training.common.calibration import LogitCalibration  # noqa: E402

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


@pytest.mark.parametrize(
    ("with_tags", "calibration"),
    [
        (False, None),
        (True, None),
        (True, LogitCalibration(1.7, np.array([0.5, -0.2, -0.3]))),  # folded into the graph
    ],
)
def test_geometric_mean_of_patches_is_the_head_on_the_mean(tmp_path, with_tags, calibration):
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
    if calibration is not None:
        head = CalibratedHead(head, calibration)
    path = tmp_path / "genre.onnx"
    onnx.save(with_head(stand_in_backbone(), head, with_tags), str(path))
    graph = session(path)
    for track in tracks(rng, 6)[0]:
        probabilities, embedding = graph.run(["probabilities", "embedding"], {"logmel": track})
        np.testing.assert_allclose(embedding, track.mean(axis=1), atol=1e-5)
        log_mean = np.log(probabilities).mean(axis=0)
        geometric = np.exp(log_mean - np.logaddexp.reduce(log_mean))
        np.testing.assert_allclose(geometric, head.predict([inputs(track)])[0], atol=1e-5)


def conflicting_sources(rng: np.random.Generator):
    """Two labels on one feature: 40 GTZAN-like clips per label where the
    sign of the feature gives the label, and 6 real recordings per label
    (one artist each) that say the opposite."""
    values = np.concatenate([rng.normal(-1, 0.2, 40), rng.normal(1, 0.2, 40)])
    real_values = np.concatenate([rng.normal(-1, 0.2, 6), rng.normal(1, 0.2, 6)])
    sequences = [np.array([[v]]) for v in np.concatenate([values, real_values])]
    labels = np.array([0] * 40 + [1] * 40 + [1] * 6 + [0] * 6)
    groups = np.array([f"gtzan:{i % 3}" for i in range(80)] + [f"artist:{i}" for i in range(12)])
    real = np.array([False] * 80 + [True] * 12)
    return sequences, labels, groups, real


@pytest.mark.parametrize(
    ("real_weights", "real_score", "flag_real", "chosen_weight", "label_at_minus_one"),
    [
        ((1.0, 3.0, 10.0), "log_loss", True, 10.0, 1),  # the real recordings outweigh GTZAN
        ((1.0, 3.0, 10.0), "accuracy", True, 10.0, 1),
        ((1.0, 3.0, 10.0), "log_loss", False, 1.0, 0),  # nothing flagged real: GTZAN decides
        (None, "log_loss", True, 1.0, 0),  # the plain head does not weight them
    ],
)
def test_real_recordings_weighted_as_chosen_on_them(
    real_weights, real_score, flag_real, chosen_weight, label_at_minus_one
):
    sequences, labels, groups, real = conflicting_sources(np.random.default_rng(0))
    head = LogRegHead(2, real_weights=real_weights, real_score=real_score).fit(
        sequences, labels, groups, real if flag_real else None
    )
    assert head.chosen_real_weight == chosen_weight
    assert head.predict([np.array([[-1.0]])])[0].argmax() == label_at_minus_one


def prevalent_real_genre(rng: np.random.Generator):
    """GTZAN-like clips (40 of genre 0 at -2, 10 of genre 1 at +2) and 12
    real recordings between them, 10 of them genre 0: weighting genres
    alike pushes the middle toward the rarer genre 1, which real music rejects."""
    values = np.concatenate(
        [rng.normal(-2, 0.5, 40), rng.normal(2, 0.5, 10), rng.normal(0, 0.3, 12)]
    )
    sequences = [np.array([[v]]) for v in values]
    labels = np.array([0] * 40 + [1] * 10 + [0] * 10 + [1] * 2)
    groups = np.array([f"gtzan:{i % 3}" for i in range(50)] + [f"artist:{i}" for i in range(12)])
    real = np.array([False] * 50 + [True] * 12)
    return sequences, labels, groups, real


@pytest.mark.parametrize(
    ("class_weights", "chosen", "label_in_the_middle"),
    [
        (("balanced",), "balanced", 1),  # genres alike: the rare genre wins the middle
        (("balanced", None), None, 0),  # the real recordings teach the prior
    ],
)
def test_genre_prior_chosen_on_the_real_recordings(class_weights, chosen, label_in_the_middle):
    sequences, labels, groups, real = prevalent_real_genre(np.random.default_rng(0))
    head = LogRegHead(2, real_weights=(1.0, 3.0, 10.0), class_weights=class_weights).fit(
        sequences, labels, groups, real
    )
    assert head.chosen_class_weight == chosen
    assert head.predict([np.array([[0.3]])])[0].argmax() == label_in_the_middle
