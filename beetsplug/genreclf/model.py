"""The ONNX genre model: loading, validation and batched inference.

The model file carries everything needed to use it in one JSON metadata
entry (``METADATA_KEY``): its labels, the feature parameters, how segment
predictions are aggregated and the recommended confidence threshold.
Input ``mfcc`` is (batch, time, n_mfcc); outputs are ``probabilities``
(batch, n_labels) and ``embedding`` (batch, embedding_size).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .features import FeatureParams

METADATA_KEY = "genreclf"
METADATA_FORMAT = 1
DEFAULT_MODEL_PATH = Path(__file__).parent / "data" / "genreclf.onnx"
BATCH_SEGMENTS = 512  # segments per inference call


class ModelError(Exception):
    """The model file is missing, corrupt or not a genreclf model."""


@dataclass
class TrackPrediction:
    """A track's aggregated prediction plus the per-segment detail."""

    probabilities: np.ndarray  # (n_labels,)
    embedding: np.ndarray  # (embedding_size,)
    segment_probabilities: np.ndarray | None = None  # (n_segments, n_labels); not cached


class GenreModel:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: model file not found")
        content = self.path.read_bytes()  # read once: hashed and loaded
        self._session = _open_session(content, self.path)
        metadata = _read_metadata(self._session, self.path)
        self.name: str = metadata["name"]
        self.version: str = str(metadata["version"])
        self.labels: list[str] = list(metadata["labels"])
        self.params = FeatureParams.from_dict(metadata["features"])
        self.min_confidence: float = float(metadata["min_confidence"])
        self.metadata = metadata
        digest = hashlib.sha256(content).hexdigest()
        self.identity = f"{self.name}-{self.version}@{digest[:8]}"

    def run(self, mfcc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw model outputs for a (batch, time, n_mfcc) array."""
        probabilities, embedding = self._session.run(
            ["probabilities", "embedding"], {"mfcc": mfcc.astype(np.float32, copy=False)}
        )
        return probabilities, embedding

    def predict_tracks(self, tracks: list[np.ndarray]) -> list[TrackPrediction]:
        """Predict several tracks at once from their (n_segments, time, n_mfcc)
        segment arrays, batching segments of equal length together."""
        outputs: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(tracks)
        by_length: dict[int, list[int]] = {}
        for index, segments in enumerate(tracks):
            by_length.setdefault(segments.shape[1], []).append(index)
        for indices in by_length.values():
            stacked = np.concatenate([tracks[i] for i in indices])
            probabilities, embeddings = self._run_batched(stacked)
            bounds = np.cumsum([0] + [len(tracks[i]) for i in indices])
            for i, start, stop in zip(indices, bounds[:-1], bounds[1:]):
                outputs[i] = probabilities[start:stop], embeddings[start:stop]
        return [_aggregate(*output) for output in outputs]

    def _run_batched(self, segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = [
            self.run(segments[start : start + BATCH_SEGMENTS])
            for start in range(0, len(segments), BATCH_SEGMENTS)
        ]
        return (
            np.concatenate([p for p, _ in parts]),
            np.concatenate([e for _, e in parts]),
        )


def _aggregate(probabilities: np.ndarray, embeddings: np.ndarray) -> TrackPrediction:
    """Track-level prediction: the mean over segments (metadata 'mean')."""
    return TrackPrediction(
        probabilities=probabilities.mean(axis=0),
        embedding=embeddings.mean(axis=0),
        segment_probabilities=probabilities,
    )


def _open_session(content: bytes, path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # workers use the other cores
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(
            content, options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own, undocumented types
        reason = " ".join(str(exc).split())[:200]
        raise ModelError(f"{path}: not a loadable ONNX model ({reason})") from exc


def _read_metadata(session, path: Path) -> dict:
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if raw is None:
        raise ModelError(f"{path}: not a genreclf model (no '{METADATA_KEY}' metadata)")
    try:
        metadata = json.loads(raw)
        FeatureParams.from_dict(metadata["features"])
        missing = {"name", "version", "labels", "min_confidence"} - metadata.keys()
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: unreadable model metadata ({exc})") from exc
    if missing:
        raise ModelError(f"{path}: model metadata lacks {', '.join(sorted(missing))}")
    if metadata.get("format") != METADATA_FORMAT:
        raise ModelError(
            f"{path}: model format {metadata.get('format')!r} is not supported "
            f"(this plugin reads format {METADATA_FORMAT}); upgrade beets-genreclf"
        )
    inputs = [node.name for node in session.get_inputs()]
    outputs = {node.name for node in session.get_outputs()}
    if inputs != ["mfcc"] or not {"probabilities", "embedding"} <= outputs:
        raise ModelError(f"{path}: unexpected model inputs/outputs {inputs}, {sorted(outputs)}")
    return metadata
