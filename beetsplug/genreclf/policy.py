"""What a prediction changes on an item: pure rules, no files, no database.

Policy for beets' own ``genres`` field (config ``mode``):
- ``fill``: set it only when the item has no genre (never overrides a
  curated genre);
- ``append``: add the predicted genre after the existing ones;
- ``replace``: set it to the predicted genre;
- ``off``: leave it alone (only the genreclf_* fields are set).
Nothing changes ``genres`` when the confidence is below ``min_confidence``.
``map`` translates model labels into the user's vocabulary (one label may
become several genres).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .learn import Head
    from .model import TrackPrediction

MODES = ("fill", "append", "replace", "off")

GENRE_FIELD = "genreclf_genre"
CONFIDENCE_FIELD = "genreclf_confidence"
TOP_FIELD = "genreclf_top"
MODEL_FIELD = "genreclf_model"
SOURCE_FIELD = "genreclf_source"
APPLIED_FIELD = "genreclf_applied"  # the genres genreclf set, joined
TOP_LABELS = 3  # shown in genreclf_top


@dataclass(frozen=True)
class GenrePolicy:
    mode: str = "fill"
    min_confidence: float = 0.5
    label_map: dict[str, list[str]] = field(default_factory=dict)

    def mapped(self, label: str) -> list[str]:
        return self.label_map.get(label, [label])

    def genres_after(self, current: list[str], label: str, confidence: float) -> list[str]:
        """The item's ``genres`` once this prediction is applied."""
        if self.mode == "off" or confidence < self.min_confidence:
            return current
        predicted = self.mapped(label)
        if self.mode == "replace" or (self.mode == "fill" and not current):
            return predicted
        if self.mode == "append":
            return current + [g for g in predicted if g not in current]
        return current


def joined(genres: list[str]) -> str:
    return "; ".join(genres)


@dataclass(frozen=True)
class Labeller:
    """Which labels a prediction is read in: the base model's own, or those
    of a head learned from the user's library (on the model's embedding)."""

    labels: list[str]
    identity: str  # stored in genreclf_model: a different one means re-analysis
    source: str  # "base" or "learned"
    min_confidence: float  # the recommended threshold for these labels
    head: Head | None = None

    def probabilities(self, prediction: TrackPrediction) -> np.ndarray:
        if self.head is None:
            return prediction.probabilities
        return self.head.predict(prediction.embedding)

    def ranked(self, probabilities: np.ndarray) -> list[tuple[str, float]]:
        """(label, probability), most probable first (ties: label order)."""
        order = np.argsort(-probabilities, kind="stable")
        return [(self.labels[i], float(probabilities[i])) for i in order]


@dataclass(frozen=True)
class Decision:
    """What one prediction sets on one item."""

    label: str
    confidence: float
    top: str  # "rock 0.61, pop 0.20, disco 0.08"
    model: str
    source: str
    genres: list[str]  # the item's genres afterwards
    genres_changed: bool

    def fields(self) -> dict[str, Any]:
        """The values to store (genreclf_applied only when genres changed,
        so --learn can tell our genres from the user's)."""
        values: dict[str, Any] = {
            GENRE_FIELD: self.label,
            CONFIDENCE_FIELD: self.confidence,
            TOP_FIELD: self.top,
            MODEL_FIELD: self.model,
            SOURCE_FIELD: self.source,
            "genres": self.genres,
        }
        if self.genres_changed:
            values[APPLIED_FIELD] = joined(self.genres)
        return values


def decide(
    current: list[str], prediction: TrackPrediction, labeller: Labeller, policy: GenrePolicy
) -> Decision:
    """The fields a prediction gives an item whose genres are ``current``."""
    ranked = labeller.ranked(labeller.probabilities(prediction))
    label, probability = ranked[0]
    confidence = round(probability, 4)
    genres = policy.genres_after(list(current), label, confidence)
    return Decision(
        label=label,
        confidence=confidence,
        top=", ".join(f"{name} {p:.2f}" for name, p in ranked[:TOP_LABELS]),
        model=labeller.identity,
        source=labeller.source,
        genres=genres,
        genres_changed=genres != list(current),
    )


def set_by_us(genres: list[str], applied: str | None) -> bool:
    """Whether an item's genres are still the ones genreclf set: a head must
    not learn from its own (or the base model's) guesses."""
    return applied is not None and joined(genres) == applied
