"""The fine-tuning candidate starts exactly where the shipped model is.

musicnn's back end rebuilt in PyTorch from the shipped graph's constants
must give the shipped graph's embedding from the pooled features it
exposes, and with a linear head the plugin's track probabilities.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

import torch  # noqa: E402

from beetsplug.genreclf.features import LogMelParams, logmel_patches  # noqa: E402
from beetsplug.genreclf.model import PACKAGED  # noqa: E402
from tests.audiogen import synthesize  # noqa: E402
from training.accurate.export import session  # noqa: E402
from training.accurate.finetune import (  # noqa: E402
    POOLED,
    BackEnd,
    backbone_constants,
    predict,
    with_pooled_output,
)
from training.accurate.heads import LogRegHead  # noqa: E402


@pytest.fixture(scope="module")
def shipped_outputs(tmp_path_factory):
    """The shipped accurate model's pooled features, embedding and tags on generated audio."""
    params = LogMelParams()
    audio = np.concatenate([synthesize(s, 6.0, params.sample_rate) for s in ("chords", "beats", "noise")])
    patches = logmel_patches(audio, params)
    graph = with_pooled_output(PACKAGED["accurate"], tmp_path_factory.mktemp("g") / "pooled.onnx")
    pooled, embedding, tags = session(graph).run([POOLED, "embedding", "tags"], {"logmel": patches})
    return pooled, embedding, tags


def test_back_end_gives_the_shipped_embedding(shipped_outputs):
    pooled, embedding, _ = shipped_outputs
    network = BackEnd(backbone_constants(PACKAGED["accurate"]), linear_head(shipped_outputs))
    with torch.no_grad():
        rebuilt = network.embedding(torch.from_numpy(pooled)).numpy()
    assert np.abs(rebuilt - embedding).max() < 1e-4


def linear_head(shipped_outputs) -> LogRegHead:
    """A head on embedding + tags, fitted on the patches with made-up labels."""
    _, embedding, tags = shipped_outputs
    inputs = np.concatenate([embedding, tags], axis=1)
    labels = np.arange(len(inputs)) % 2
    return LogRegHead(2).fit([row[None] for row in inputs], labels, np.arange(len(inputs)) % 3)


def test_before_training_it_predicts_as_the_linear_head(shipped_outputs):
    pooled, embedding, tags = shipped_outputs
    head = linear_head(shipped_outputs)
    network = BackEnd(backbone_constants(PACKAGED["accurate"]), head)
    expected = head.predict([np.concatenate([embedding, tags], axis=1)])
    assert np.abs(predict(network, [pooled]) - expected).max() < 1e-4
