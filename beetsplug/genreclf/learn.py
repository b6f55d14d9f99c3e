"""Learn the user's genres: a small classifier on the base model's embedding.

The library's already tagged tracks are the training data. Accuracy is
estimated before anyone relies on the head, by cross-validation grouped by
artist (no artist on both sides of a fold), and the head is saved with what
it was learned from, so that a different base model invalidates it.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .policy import genre_key

HEAD_FORMAT = 1
PREVIOUS_SUFFIX = ".prev"  # the head a new one replaced
FOLDS = 5


class LearnError(Exception):
    """Too little or unsuitable data to learn from; the message says why."""


@dataclass(frozen=True)
class Example:
    label: str
    group: str  # artist: never on both sides of a fold
    embedding: np.ndarray


class Synonyms:
    """``learn.map``: the genre each of the user's genres counts as (keys
    compared by :func:`~.policy.genre_key`)."""

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self._by_key = {genre_key(genre): label for genre, label in (mapping or {}).items()}

    def __call__(self, genre: str) -> str:
        return self._by_key.get(genre_key(genre), genre)


@dataclass(frozen=True)
class LeftOut:
    """Genres not learned, for one reason: genre -> its tracks."""

    reason: str
    counts: dict[str, int]

    def line(self) -> str:
        genres = sorted(self.counts.items(), key=lambda genre: (-genre[1], genre[0].casefold()))
        return f"left out, {self.reason}: " + ", ".join(f"{g} ({n})" for g, n in genres)


@dataclass(frozen=True)
class LabelChoice:
    labels: list[str]
    assigned: list[str | None]  # each item's label; None: not a training example
    left_out: list[LeftOut]  # genres dropped, and why (none empty)

    def check(self, min_examples: int) -> None:
        """Refuse fewer than two labels: nothing to tell apart."""
        if len(self.labels) < 2:
            raise LearnError(
                f"need at least 2 genres with {min_examples} or more tagged tracks by 2 or "
                f"more artists each; found {len(self.labels)} (lower "
                "genreclf.learn.min_examples or tag more tracks)"
            )


def choose_labels(
    genres_per_item: Sequence[Sequence[str]],
    groups: Sequence[str],
    min_examples: int,
    wanted: Sequence[str] = (),
    synonyms: Mapping[str, str] | None = None,
) -> LabelChoice:
    """The labels to learn and each item's label.

    An item's label is its first genre (after ``synonyms``) among the labels;
    spellings of one genre (:func:`~.policy.genre_key`) are one label, spelled
    as ``wanted`` spells it, else as most items do. The candidates are
    ``wanted`` if given, else every genre that is some item's first. A
    candidate with fewer than ``min_examples`` items, or whose items are all
    of one of ``groups`` (artists), is left out, and its items take their
    next genre, until every label left has enough.
    """
    counts_as = Synonyms(synonyms)
    keys = [[genre_key(counts_as(g)) for g in genres if g.strip()] for genres in genres_per_item]
    spelling = _spellings(genres_per_item, counts_as, wanted)
    candidates = list(dict.fromkeys(genre_key(g) for g in wanted)) or list(
        dict.fromkeys(item[0] for item in keys if item)
    )
    too_few: dict[str, int] = {}
    one_artist: dict[str, int] = {}
    while True:
        assigned = [next((k for k in item if k in candidates), None) for item in keys]
        counts = Counter(key for key in assigned if key)
        artists = defaultdict(set)
        for key, group in zip(assigned, groups):
            artists[key].add(group)
        short = {k: counts[k] for k in candidates if counts[k] < min_examples}
        alone = {k: counts[k] for k in candidates if k not in short and len(artists[k]) < 2}
        if not short and not alone:
            break
        too_few |= short
        one_artist |= alone
        candidates = [k for k in candidates if k not in short and k not in alone]
    left_out = [
        LeftOut(reason, {spelling[k]: n for k, n in dropped.items()})
        for reason, dropped in [
            (f"fewer than {min_examples} tagged tracks", too_few),
            ("tracks by only one artist (cross-validation by artist cannot measure it)",
             one_artist),
        ]
        if dropped
    ]
    labels = [spelling[k] for k in candidates]
    if not wanted:
        labels.sort(key=str.casefold)
    return LabelChoice(labels, [spelling[k] if k else None for k in assigned], left_out)


def _spellings(
    genres_per_item: Sequence[Sequence[str]], counts_as: Synonyms, wanted: Sequence[str]
) -> dict[str, str]:
    """genre_key -> how the user spells that genre: as in ``wanted``, else
    its most frequent spelling (ties: the first met)."""
    frequency = Counter(counts_as(g) for genres in genres_per_item for g in genres if g.strip())
    spelling: dict[str, str] = {}
    for genre in [*wanted, *(g for g, _ in frequency.most_common())]:
        spelling.setdefault(genre_key(genre), genre)
    return spelling


def artist_group(albumartist: str, artist: str, album: str, path: str) -> str:
    """Who a track is by, for grouping folds: its album artist, else its
    artist, else its album, else the file alone (untagged tracks are not all
    one artist)."""
    name = albumartist or artist
    if name.strip():
        return f"artist:{name.casefold()}"
    if album.strip():
        return f"album:{album.casefold()}"
    return f"file:{path}"


@dataclass
class Evaluation:
    """Grouped cross-validation of the head, on held-out predictions."""

    labels: list[str]
    folds: int
    accuracy: float
    macro_f1: float
    per_label: dict[str, dict[str, float]]  # precision, recall, support
    confusions: list[tuple[str, str, int]]  # (true, predicted, count), largest first
    min_confidence: float
    coverage: float  # share of held-out tracks at or above min_confidence
    precision_above: float  # accuracy of those

    def lines(self) -> list[str]:
        lines = [
            f"cross-validated by artist ({self.folds} folds): accuracy {self.accuracy:.0%}, "
            f"macro-F1 {self.macro_f1:.0%}",
            f"{'genre':<20} {'precision':>9} {'recall':>7} {'tracks':>6}",
        ]
        for label, m in self.per_label.items():
            lines.append(
                f"{label:<20} {m['precision']:>9.0%} {m['recall']:>7.0%} {int(m['support']):>6}"
            )
        if self.confusions:
            lines.append(
                "most confused: "
                + ", ".join(f"{t} -> {p} ({n})" for t, p, n in self.confusions[:5])
            )
        lines.append(
            f"min_confidence {self.min_confidence:.2f}: {self.coverage:.0%} of tracks get a "
            f"genre, {self.precision_above:.0%} of those right"
        )
        return lines


def make_classifier():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(), LogisticRegression(C=0.5, class_weight="balanced", max_iter=2000)
    )


def cross_validate(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    label_names: list[str],
    target_precision: float,
    seed: int = 0,
) -> Evaluation:
    """Evaluate a fresh classifier per artist-disjoint fold on its held-out
    tracks."""
    from sklearn.model_selection import StratifiedGroupKFold

    folds = min(FOLDS, min(len(set(groups[labels == c])) for c in range(len(label_names))))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    held_out = np.zeros((len(labels), len(label_names)))
    for train, test in splitter.split(features, labels, groups):
        classifier = make_classifier().fit(features[train], labels[train])
        held_out[np.ix_(test, classifier.classes_)] = classifier.predict_proba(features[test])
    return evaluate(held_out, labels, label_names, folds, target_precision)


def evaluate(
    probabilities: np.ndarray,
    labels: np.ndarray,
    names: list[str],
    folds: int,
    target_precision: float,
) -> Evaluation:
    from sklearn.metrics import (
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    predicted = probabilities.argmax(axis=1)
    indices = list(range(len(names)))
    precision, recall, _, support = precision_recall_fscore_support(
        labels, predicted, labels=indices, zero_division=0
    )
    matrix = confusion_matrix(labels, predicted, labels=indices)
    confusions = sorted(
        (
            (names[t], names[p], int(matrix[t, p]))
            for t in indices
            for p in indices
            if t != p and matrix[t, p]
        ),
        key=lambda c: -c[2],
    )
    threshold = confidence_threshold(probabilities, labels, target_precision)
    return Evaluation(
        labels=names,
        folds=folds,
        accuracy=float((predicted == labels).mean()),
        macro_f1=float(
            f1_score(labels, predicted, labels=indices, average="macro", zero_division=0)
        ),
        per_label={
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
        confusions=confusions,
        min_confidence=threshold.min_confidence,
        coverage=threshold.coverage,
        precision_above=threshold.precision,
    )


@dataclass(frozen=True)
class ConfidenceThreshold:
    min_confidence: float
    coverage: float  # share of tracks at or above min_confidence
    precision: float  # share of those predicted right
    reached: bool  # whether precision reaches the target


def confidence_threshold(
    probabilities: np.ndarray,
    labels: np.ndarray,
    target_precision: float,
    *,
    balanced: bool = False,
    min_tracks: int | None = None,
) -> ConfidenceThreshold:
    """The lowest top-1 confidence t at which the held-out tracks with
    confidence >= t are right at least ``target_precision`` of the time, or
    else the lowest t of the highest precision. At least ``min_tracks``
    tracks (default: a tenth) are kept. ``balanced`` weighs each label
    equally in precision and coverage, so that a label with many easy tracks
    does not set t."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    weight = 1.0 / np.bincount(labels)[labels] if balanced else np.ones(len(labels))
    if min_tracks is None:
        min_tracks = max(1, len(labels) // 10)
    min_tracks = min(min_tracks, len(labels))
    candidates = []  # (threshold, precision, coverage), lowest threshold first
    for threshold in np.unique(confidence):
        kept = confidence >= threshold
        if kept.sum() >= min_tracks:
            precision = float(np.sum(weight * correct * kept) / np.sum(weight * kept))
            coverage = float(np.sum(weight * kept) / np.sum(weight))
            candidates.append((float(threshold), precision, coverage))
    goal = min(target_precision, max(precision for _, precision, _ in candidates))
    threshold, precision, coverage = next(c for c in candidates if c[1] >= goal)
    return ConfidenceThreshold(threshold, coverage, precision, precision >= target_precision)


@dataclass
class Head:
    """A fitted classifier from base-model embeddings to the user's labels,
    stored as plain arrays (no pickles): standardise, then softmax(xW + b)."""

    labels: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (embedding_size, n_labels)
    bias: np.ndarray  # (n_labels,)
    base_model: str  # identity of the model whose embedding it reads
    min_confidence: float
    metadata: dict

    @property
    def identity(self) -> str:
        digest = hashlib.sha256(self.weights.tobytes() + self.bias.tobytes()).hexdigest()
        return f"learned@{digest[:8]}"

    def predict(self, embedding: np.ndarray) -> np.ndarray:
        logits = ((embedding - self.mean) / self.scale) @ self.weights + self.bias
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    def save(self, path: Path) -> Path | None:
        """Write the head to ``path`` atomically. An existing head there is
        kept as ``<name>.prev``; returns that path, or None if there was none."""
        path.parent.mkdir(parents=True, exist_ok=True)
        info = {
            "format": HEAD_FORMAT,
            "labels": self.labels,
            "base_model": self.base_model,
            "min_confidence": self.min_confidence,
            **self.metadata,
        }
        stored = io.BytesIO()
        np.savez(
            stored,
            mean=self.mean,
            scale=self.scale,
            weights=self.weights,
            bias=self.bias,
            info=np.array(json.dumps(info)),
        )
        previous = None
        if path.exists():
            previous = path.with_name(path.name + PREVIOUS_SUFFIX)
            _write_atomically(previous, path.read_bytes())
        _write_atomically(path, stored.getvalue())
        return previous

    @classmethod
    def load(cls, path: Path) -> Head:
        """Read a head that :meth:`save` wrote; any damage raises LearnError."""
        try:
            return cls._read(path)
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            reason = exc.args[0] if isinstance(exc, KeyError) else str(exc)
            raise LearnError(
                f"{path} is damaged ({reason or type(exc).__name__}); "
                "run `beet genreclf --learn` again or delete it"
            ) from exc

    @classmethod
    def _read(cls, path: Path) -> Head:
        with open(path, "rb") as file:
            if not zipfile.is_zipfile(file):
                raise ValueError("not an .npz archive")
            with np.load(file, allow_pickle=False) as stored:
                info = json.loads(str(stored["info"]))
                arrays = {k: stored[k] for k in ("mean", "scale", "weights", "bias")}
        if not isinstance(info, dict):
            raise ValueError("its description is not a JSON object")
        missing = [key for key in ("labels", "base_model", "min_confidence") if key not in info]
        if missing:
            raise ValueError(f"its description lacks {', '.join(missing)}")
        if info.get("format") != HEAD_FORMAT:
            raise LearnError(
                f"{path}: unknown head format {info.get('format')}; "
                "run `beet genreclf --learn` again or delete it"
            )
        labels, base, threshold = (
            list(info.pop("labels")),
            str(info.pop("base_model")),
            float(info.pop("min_confidence")),
        )
        _check_shapes(arrays, len(labels))
        return cls(labels, **arrays, base_model=base, min_confidence=threshold, metadata=info)


def _check_shapes(arrays: dict[str, np.ndarray], n_labels: int) -> None:
    """Raise ValueError unless the arrays fit together and the labels."""
    size = arrays["weights"].shape[0] if arrays["weights"].ndim == 2 else -1
    expected = {"mean": (size,), "scale": (size,), "weights": (size, n_labels), "bias": (n_labels,)}
    wrong = [name for name, shape in expected.items() if arrays[name].shape != shape]
    if wrong:
        raise ValueError(f"arrays of the wrong shape: {', '.join(wrong)}")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write a temporary file beside ``path``, then rename it over ``path``:
    readers see the old file or the new one, never a part."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def fit_head(
    examples: Sequence[Example], labels: list[str], base_model: str, target_precision: float
) -> tuple[Head, Evaluation]:
    """Cross-validate, then fit on every example."""
    features = np.stack([e.embedding for e in examples])
    index = {label: i for i, label in enumerate(labels)}
    targets = np.array([index[e.label] for e in examples])
    groups = np.array([e.group for e in examples])
    evaluation = cross_validate(features, targets, groups, labels, target_precision)
    pipeline = make_classifier().fit(features, targets)
    scaler, classifier = pipeline[0], pipeline[-1]
    weights, bias = classifier.coef_, classifier.intercept_
    if len(labels) == 2:  # one logit z for the second label: softmax([-z/2, z/2])
        weights, bias = np.vstack([-weights / 2, weights / 2]), np.array([-bias[0], bias[0]]) / 2
    head = Head(
        labels=labels,
        mean=scaler.mean_.astype(np.float32),
        scale=scaler.scale_.astype(np.float32),
        weights=weights.T.astype(np.float32),
        bias=bias.astype(np.float32),
        base_model=base_model,
        min_confidence=evaluation.min_confidence,
        metadata={
            "learned": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "tracks": len(examples),
            "artists": len(set(groups)),
            "tracks_per_label": dict(Counter(e.label for e in examples)),
            "accuracy": evaluation.accuracy,
            "macro_f1": evaluation.macro_f1,
            "folds": evaluation.folds,
        },
    )
    return head, evaluation
