"""The ONNX genre model: loading, validation and inference.

The model file carries everything needed to use it in one JSON metadata
entry (``METADATA_KEY``): its labels, its feature front-end and that
front-end's parameters, how segment predictions are aggregated into a
track's (``aggregation``), and the recommended confidence threshold. Its one input takes
(batch, time, features) segments; outputs are ``probabilities`` (batch,
n_labels) and ``embedding`` (batch, embedding_size), per segment.

Format 1 (the first models) has no ``frontend`` key: it means ``mfcc``.
An optional ``mood`` entry holds a mood head on the embedding (see mood.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .features import FeatureParams, FrontEnd, frontend
from .modelfile import METADATA_KEY
from .mood import MoodHead
METADATA_FORMAT = 2
READABLE_FORMATS = (1, 2)
AGGREGATIONS = ("mean", "geometric_mean")
PACKAGED_DIR = Path(__file__).parent / "data"
# The models that ship in the package, by the name `genreclf.model` takes.
PACKAGED = {
    "accurate": PACKAGED_DIR / "musicnn-genre.onnx",  # musicnn + genre head
    "fast": PACKAGED_DIR / "musicnn-genre.onnx",  # the same, heard briefly: PACKAGED_WINDOWS
    "mfcc": PACKAGED_DIR / "genreclf.onnx",  # MFCC networks (gtzan-mfcc)
}
# Windows (count, seconds) of a name that hears its file otherwise than the
# file recommends. `fast`: two 3 s patches per track, about as fast as the MFCC
# networks and far more often right (the accurate card, "Seconds analysed").
PACKAGED_WINDOWS = {"fast": (2, 3.0)}
DEFAULT_MODEL = "accurate"
DEFAULT_MODEL_PATH = PACKAGED[DEFAULT_MODEL]
BATCH_SEGMENTS = 512  # segments per inference call
DEFAULT_WINDOWS = {"count": 3, "seconds": 30.0}  # for a model that recommends none


class ModelError(Exception):
    """The model file is missing, corrupt or not a genreclf model."""


@dataclass
class TrackPrediction:
    """A track's aggregated prediction plus the per-segment detail."""

    probabilities: np.ndarray  # (n_labels,)
    embedding: np.ndarray  # (embedding_size,)
    segment_probabilities: np.ndarray | None = None  # (n_segments, n_labels); not cached
    segment_embeddings: np.ndarray | None = None  # (n_segments, size); only when asked


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
        self.frontend: FrontEnd = frontend(metadata["frontend"], metadata["features"])
        self.aggregation: str = metadata["aggregation"]
        self.min_confidence: float = float(metadata["min_confidence"])
        recommended = metadata.get("windows", DEFAULT_WINDOWS)
        self.windows: tuple[int, float] = (int(recommended["count"]), float(recommended["seconds"]))
        self.metadata = metadata
        self.mood_head: MoodHead | None = _mood_head(metadata, self._session, self.path)
        self._input = self._session.get_inputs()[0].name
        digest = hashlib.sha256(content).hexdigest()
        self.identity = f"{self.name}-{self.version}@{digest[:8]}"

    @property
    def params(self) -> FeatureParams:
        """The MFCC parameters of an ``mfcc`` model (training uses them)."""
        if not isinstance(self.frontend, FeatureParams):
            raise ModelError(f"{self.path}: not an MFCC model")
        return self.frontend

    def run(self, segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw model outputs for a (batch, time, features) array."""
        probabilities, embedding = self._session.run(
            ["probabilities", "embedding"], {self._input: segments.astype(np.float32, copy=False)}
        )
        return probabilities, embedding

    def predict_track(self, segments: np.ndarray, detail: bool = False) -> TrackPrediction:
        """A track's prediction from its (n_segments, time, features) array;
        ``detail`` keeps each segment's embedding too."""
        probabilities, embeddings = self._run_batched(segments)
        return TrackPrediction(
            probabilities=aggregate(probabilities, self.aggregation),
            embedding=embeddings.mean(axis=0),
            segment_probabilities=probabilities,
            segment_embeddings=embeddings if detail else None,
        )

    def predict_tracks(self, tracks: list[np.ndarray]) -> list[TrackPrediction]:
        return [self.predict_track(segments) for segments in tracks]

    def _run_batched(self, segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = [
            self.run(segments[start : start + BATCH_SEGMENTS])
            for start in range(0, len(segments), BATCH_SEGMENTS)
        ]
        return (
            np.concatenate([p for p, _ in parts]),
            np.concatenate([e for _, e in parts]),
        )


def aggregate(segment_probabilities: np.ndarray, how: str) -> np.ndarray:
    """A track's probabilities from its segments': their ``mean``, or their
    ``geometric_mean`` renormalised (softmax of the mean log-probability: for
    a linear head, exactly the head applied to the mean embedding)."""
    if how == "mean":
        return segment_probabilities.mean(axis=0)
    log_mean = np.log(np.clip(segment_probabilities, 1e-12, None)).mean(axis=0)
    exp = np.exp(log_mean - log_mean.max())
    return (exp / exp.sum()).astype(np.float32)


def model_path(name_or_path: str) -> Path:
    """A packaged model's file by its name (``fast``...), '' for the
    default, else the path given."""
    return PACKAGED.get(name_or_path or DEFAULT_MODEL, Path(name_or_path))


def recommended_windows(name_or_path: str, model: GenreModel) -> tuple[int, float]:
    """(count, seconds) to hear a track in: the packaged name's, else what
    the model file recommends."""
    return PACKAGED_WINDOWS.get(name_or_path or DEFAULT_MODEL, model.windows)


@dataclass(frozen=True)
class ModelRef:
    """What a worker needs to load the model: its file (for a packaged one,
    its name, found wherever the worker has the package) and its identity,
    so a worker with another model fails loudly instead of predicting."""

    path: str
    identity: str
    packaged: bool = False

    def load(self) -> GenreModel:
        """The model, loaded once per process (one InferenceSession each)."""
        model = _LOADED.get(self)
        if model is None:
            model = GenreModel(PACKAGED_DIR / self.path if self.packaged else self.path)
            if model.identity != self.identity:
                raise ModelError(
                    f"the worker has model {model.identity}, not {self.identity}: "
                    "install the same beets-genreclf everywhere"
                )
            _LOADED[self] = model
        return model


_LOADED: dict[ModelRef, GenreModel] = {}


def reference(model: GenreModel) -> ModelRef:
    packaged = model.path.resolve().parent == PACKAGED_DIR.resolve()
    return ModelRef(model.path.name if packaged else str(model.path), model.identity, packaged)


def _open_session(content: bytes, path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # workers use the other cores
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(
            content, options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own, undocumented types
        reason = " ".join(str(exc).split())[:200]
        raise ModelError(f"{path}: not a loadable ONNX model ({reason})") from exc


def _mood_head(metadata: dict, session, path: Path) -> MoodHead | None:
    """The model's mood head, if it has one, checked against its embedding."""
    if "mood" not in metadata:
        return None
    embedding = next(o for o in session.get_outputs() if o.name == "embedding")
    try:
        return MoodHead.from_metadata(metadata["mood"], int(embedding.shape[-1]))
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}") from exc


def _read_metadata(session, path: Path) -> dict:
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if raw is None:
        raise ModelError(f"{path}: not a genreclf model (no '{METADATA_KEY}' metadata)")
    try:
        metadata = json.loads(raw)
        format_ = metadata.get("format")
        missing = {"name", "version", "labels", "min_confidence", "features"} - metadata.keys()
    except (ValueError, AttributeError) as exc:
        raise ModelError(f"{path}: unreadable model metadata ({exc})") from exc
    if format_ not in READABLE_FORMATS:
        raise ModelError(
            f"{path}: model format {format_!r} is not supported "
            f"(this plugin reads formats {', '.join(map(str, READABLE_FORMATS))}); "
            "upgrade beets-genreclf"
        )
    if missing:
        raise ModelError(f"{path}: model metadata lacks {', '.join(sorted(missing))}")
    metadata = {"frontend": "mfcc", "aggregation": "mean", **metadata}
    try:
        frontend(metadata["frontend"], metadata["features"])
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}") from exc
    windows = metadata.get("windows", DEFAULT_WINDOWS)
    if not (
        isinstance(windows, dict)
        and isinstance(windows.get("count"), int)
        and windows["count"] >= 1
        and isinstance(windows.get("seconds"), (int, float))
        and windows["seconds"] >= 3
    ):
        raise ModelError(f"{path}: bad recommended windows {windows!r}")
    if metadata["aggregation"] not in AGGREGATIONS:
        raise ModelError(f"{path}: unknown aggregation {metadata['aggregation']!r}")
    inputs = [node.name for node in session.get_inputs()]
    outputs = {node.name for node in session.get_outputs()}
    if len(inputs) != 1 or not {"probabilities", "embedding"} <= outputs:
        raise ModelError(f"{path}: unexpected model inputs/outputs {inputs}, {sorted(outputs)}")
    return metadata
