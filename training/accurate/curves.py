"""How many real recordings a genre needs: recall on the real-music check
against the number of recordings of that genre its heads were trained on.

Each fold's training side keeps only the first n real recordings of the
genre (GTZAN has none of these genres); the shipped head's C and weights are
used, not chosen again. A genre that is not a label yet (too few
recordings) is added as one for its curve alone.
"""

from __future__ import annotations

import copy

import numpy as np

from training.accurate.data import PatchFeatures, Track
from training.accurate.evaluate import Corpus, extra_sides, is_real, sequences_for

SIZES = (2, 4, 8, 16, 32)
TARGET_RECALL = 0.6  # what "heard" means in the estimate of recordings needed


def recall_curve(
    head, features: dict[str, PatchFeatures], corpus: Corpus, labels: list[str],
    candidate: str, genre: str,
) -> dict[int, float]:
    """Held-out recall of ``genre`` per training size n (sizes every fold reaches)."""
    sequences = sequences_for(features, candidate)
    index = {label: i for i, label in enumerate(labels)}
    sides = list(extra_sides(corpus))
    curve: dict[int, float] = {}
    for size in SIZES:
        right = total = 0
        for train, test in sides:
            ours = [t for t in train if t.label == genre]
            tested = [t for t in test if t.label == genre]
            if len(ours) < size or not tested:
                continue
            kept = [t for t in train if t.label != genre] + ours[:size]
            inputs = np.stack([s.mean(axis=0) for s in sequences(kept)])
            truth = np.array([index[t.label] for t in kept])
            refit = copy.deepcopy(head)
            refit.n_labels = len(labels)
            refit.fit_chosen(inputs, truth, is_real(kept))
            predicted = refit.predict(sequences(tested)).argmax(axis=1)
            right += int(np.sum(predicted == index[genre]))
            total += len(tested)
        if total and all(sum(t.label == genre for t in train) >= size for train, _ in sides):
            curve[size] = right / total
    return curve


def curves(
    head, features: dict[str, PatchFeatures], corpus: Corpus, labels: list[str],
    candidate: str, learned: tuple[str, ...], too_few: list[Track],
) -> dict[str, dict]:
    """The curve of each ``learned`` genre (a label), and of each genre of
    ``too_few`` (recordings of genres that are not labels) added as one."""
    found = {
        genre: {"recordings": sum(t.label == genre for t in corpus.extra), "label": True,
                "recall": recall_curve(head, features, corpus, labels, candidate, genre)}
        for genre in learned
    }
    for genre in sorted({t.label for t in too_few}):
        own = [t for t in too_few if t.label == genre]
        widened = Corpus(corpus.gtzan, corpus.extra + own, corpus.nonmusic, corpus.mixtures)
        curve = recall_curve(
            head, features, widened, sorted([*labels, genre]), candidate, genre
        )
        found[genre] = {"recordings": len(own), "label": False, "recall": curve}
    for genre, entry in found.items():
        entry["needed"] = recordings_needed(entry["recall"])
    return found


def recordings_needed(curve: dict[int, float]) -> int | None:
    """The training recordings at which recall reaches TARGET_RECALL: the
    smallest measured size that does, else the log-linear trend of the
    measured sizes extrapolated (None: fewer than two sizes, or no rise)."""
    reached = [n for n, found in sorted(curve.items()) if found >= TARGET_RECALL]
    if reached:
        return reached[0]
    if len(curve) < 2:
        return None
    sizes = np.log2(list(curve))
    slope, intercept = np.polyfit(sizes, list(curve.values()), 1)
    if slope <= 0:
        return None
    return int(np.ceil(2 ** ((TARGET_RECALL - intercept) / slope)))
