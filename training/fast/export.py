"""Export a trained network (one or an ensemble) to the ONNX file the plugin loads."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from beetsplug.genreclf.features import FeatureParams
from beetsplug.genreclf.model import METADATA_FORMAT, METADATA_KEY, GenreModel
from training.fast.network import ExportedNetwork, GenreEnsemble, MfccNetwork

PARITY_TOLERANCE = 1e-4
PARITY_LENGTHS = (32, 130, 431)  # short clip, one segment, a 10 s sequence


def export_onnx(
    network: MfccNetwork | GenreEnsemble,
    labels: list[str],
    params: FeatureParams,
    path: Path,
    *,
    name: str,
    version: str,
    min_confidence: float,
    extra: dict | None = None,
) -> None:
    """Write ``network`` to ``path`` with its metadata, then check parity."""
    network = network.eval()
    graph = ExportedNetwork(network).eval()
    example = torch.randn(2, params.segment_frames, params.n_mfcc)
    buffer = io.BytesIO()
    # The TorchScript exporter keeps the ONNX LSTM's time axis dynamic (the
    # dynamo one fixes it); check_parity below proves batch and time vary.
    with warnings.catch_warnings():  # tracer notes on LSTM shapes: check_parity covers them
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (example,),
            buffer,
            dynamo=False,
            input_names=["mfcc"],
            output_names=["probabilities", "embedding"],
            dynamic_axes={
                "mfcc": {0: "batch", 1: "time"},
                "probabilities": {0: "batch"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
        )
    model = onnx.load_from_string(buffer.getvalue())
    metadata = {
        "format": METADATA_FORMAT,
        "name": name,
        "version": version,
        "labels": labels,
        "frontend": params.name,
        "features": params.to_dict(),
        "aggregation": "mean",
        "min_confidence": min_confidence,
        **(extra or {}),
    }
    onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps(metadata)})
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    check_parity(network, path)


def check_parity(network: MfccNetwork | GenreEnsemble, path: Path, seed: int = 0) -> float:
    """Max abs difference PyTorch vs onnxruntime over several batch sizes and
    sequence lengths; raises if it exceeds PARITY_TOLERANCE."""
    model = GenreModel(path)
    graph = ExportedNetwork(network.eval()).eval()
    generator = torch.Generator().manual_seed(seed)
    worst = 0.0
    for batch, length in zip((1, 3, 5), PARITY_LENGTHS):
        mfcc = torch.randn(batch, length, model.params.n_mfcc, generator=generator)
        mfcc = mfcc * network.feature_std + network.feature_mean
        with torch.no_grad():
            expected = [t.numpy() for t in graph(mfcc)]
        actual = model.run(mfcc.numpy())
        for want, got in zip(expected, actual):
            worst = max(worst, float(np.max(np.abs(want - got))))
    if worst > PARITY_TOLERANCE:
        raise AssertionError(f"ONNX parity failed for {path}: max abs diff {worst:.2e}")
    return worst
