"""Mood: how a track feels, read from the same listening as its genre.

A model may carry a mood head in its metadata (``mood``): a standardised
linear classifier from a track's mean embedding to the four quadrants of
Russell's valence-arousal plane, named as beets' acousticbrainz fields are:
``happy`` (positive, aroused), ``aggressive`` (negative, aroused), ``sad``
(negative, calm) and ``relaxed`` (positive, calm). Arousal and valence are
the probabilities of their halves of the plane. Being linear on the mean
embedding, the head needs nothing but what the analysis already keeps (and
caches): no second pass over the audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MOOD_LABELS = ("happy", "aggressive", "sad", "relaxed")  # quadrants Q1..Q4
AROUSED = ("happy", "aggressive")
POSITIVE = ("happy", "relaxed")

MOOD_FIELD = "genreclf_mood"
MOOD_CONFIDENCE_FIELD = "genreclf_mood_confidence"
AROUSAL_FIELD = "genreclf_arousal"
VALENCE_FIELD = "genreclf_valence"
MOOD_FIELDS = (MOOD_FIELD, MOOD_CONFIDENCE_FIELD, AROUSAL_FIELD, VALENCE_FIELD)


@dataclass(frozen=True)
class MoodHead:
    """logits = ((embedding - mean) / scale) @ weights + bias, over MOOD_LABELS."""

    mean: np.ndarray  # (embedding_size,)
    scale: np.ndarray  # (embedding_size,)
    weights: np.ndarray  # (embedding_size, 4)
    bias: np.ndarray  # (4,)

    @classmethod
    def from_metadata(cls, found: Any, embedding_size: int) -> MoodHead:
        """The head a model's metadata describes; ValueError says what is wrong."""
        if not isinstance(found, dict) or tuple(found.get("labels", ())) != MOOD_LABELS:
            raise ValueError(f"mood head must have labels {list(MOOD_LABELS)}")
        try:
            head = cls(
                *(np.asarray(found[k], np.float32) for k in ("mean", "scale", "weights", "bias"))
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"unreadable mood head ({exc})") from exc
        shapes = (head.mean.shape, head.scale.shape, head.weights.shape, head.bias.shape)
        expected = ((embedding_size,), (embedding_size,), (embedding_size, 4), (4,))
        if shapes != expected:
            raise ValueError(f"mood head shapes {shapes}, expected {expected}")
        return head

    def probabilities(self, embedding: np.ndarray) -> np.ndarray:
        """Quadrant probabilities for one mean embedding (or a stack of them)."""
        logits = ((embedding - self.mean) / self.scale) @ self.weights + self.bias
        exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return exp / exp.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Mood:
    """A track's (or album's) mood: the quadrant probabilities and what they say."""

    probabilities: np.ndarray  # (4,), MOOD_LABELS order

    @property
    def label(self) -> str:
        return MOOD_LABELS[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        return round(float(self.probabilities.max()), 4)

    @property
    def arousal(self) -> float:
        return self._share(AROUSED)

    @property
    def valence(self) -> float:
        return self._share(POSITIVE)

    def _share(self, labels: tuple[str, ...]) -> float:
        return round(float(sum(self.probabilities[MOOD_LABELS.index(n)] for n in labels)), 4)

    def fields(self) -> dict[str, Any]:
        return {
            MOOD_FIELD: self.label,
            MOOD_CONFIDENCE_FIELD: self.confidence,
            AROUSAL_FIELD: self.arousal,
            VALENCE_FIELD: self.valence,
        }
