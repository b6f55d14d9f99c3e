"""Honest cross-validation of the genre heads on musicnn patch features.

- GTZAN: artist-disjoint 3-fold CV, each split list held out in turn, heads
  trained on the other two lists (GTZAN only).
- extra: the real recordings in folds grouped by artist, each held out in
  turn, heads trained on every GTZAN clip plus the other extra folds.
- GTZAN only -> extra: trained on every GTZAN clip, tested on all extra
  tracks (the LSTM card's out-of-GTZAN check).

Hyper-parameters are chosen inside each training side (see musicnn_heads).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import numpy as np
from sklearn.model_selection import GroupKFold

from beetsplug.genreclf.audio import WindowPolicy
from training.accurate.data import PatchFeatures, Track
from training.accurate.heads import head_inputs, make_head
from training.common.evaluate import track_metrics

EXTRA_FOLDS = 5

Sequences = Callable[[list[Track]], list[np.ndarray]]


def sequences_for(features: dict[str, PatchFeatures], candidate: str) -> Sequences:
    return lambda tracks: [
        head_inputs(features[t.key].embedding, features[t.key].tags, candidate) for t in tracks
    ]


def is_real(tracks: list[Track]) -> np.ndarray:
    """Which tracks are real recordings (the extra ones), not GTZAN clips."""
    return np.array([t.source == "extra" for t in tracks])


def fitted_head(candidate: str, sequences: Sequences, train: list[Track], labels, seed: int):
    """The candidate's head fitted on ``train`` (hyper-parameters chosen inside it)."""
    index = {label: i for i, label in enumerate(labels)}
    return make_head(candidate, len(labels), seed).fit(
        sequences(train),
        np.array([index[t.label] for t in train]),
        np.array([t.group for t in train]),
        is_real(train),
    )


def fit_predict(
    candidate: str,
    sequences: Sequences,
    train: list[Track],
    test_inputs: list[np.ndarray],
    labels: list[str],
    seed: int,
) -> np.ndarray:
    return fitted_head(candidate, sequences, train, labels, seed).predict(test_inputs)


Fold = tuple[list[Track], list[int]]  # training tracks, indices of the held-out ones


def gtzan_folds(gtzan: list[Track]) -> Iterator[Fold]:
    """Each artist-filtered list held out in turn, trained on the other two."""
    for held_out in sorted({t.group for t in gtzan}):
        test = [i for i, t in enumerate(gtzan) if t.group == held_out]
        yield [t for t in gtzan if t.group != held_out], test


def extra_folds(gtzan: list[Track], extra: list[Track]) -> Iterator[Fold]:
    """The extra tracks in folds grouped by artist, each held out in turn,
    trained on every GTZAN clip and the other folds (indices into ``extra``)."""
    groups = [t.group for t in extra]
    for _, test in GroupKFold(n_splits=EXTRA_FOLDS).split(extra, groups=groups):
        held_out = set(test)
        yield gtzan + [t for i, t in enumerate(extra) if i not in held_out], list(test)


def gtzan_cv(candidate, sequences, gtzan: list[Track], labels, seed) -> np.ndarray:
    """Out-of-fold probabilities for every GTZAN track, in ``gtzan`` order."""
    probabilities = np.zeros((len(gtzan), len(labels)))
    for train, test in gtzan_folds(gtzan):
        probabilities[test] = fit_predict(
            candidate, sequences, train, sequences([gtzan[i] for i in test]), labels, seed
        )
    return probabilities


def extra_cv(
    candidate, sequences, gtzan, extra: list[Track], labels, seed, views: dict[str, Sequences]
) -> dict[str, np.ndarray]:
    """Out-of-fold probabilities for every extra track, folds grouped by
    artist; one array per view (which patches of a test track are used)."""
    probabilities = {name: np.zeros((len(extra), len(labels))) for name in views}
    for train, test in extra_folds(gtzan, extra):
        head = fitted_head(candidate, sequences, train, labels, seed)
        for name, view in views.items():
            probabilities[name][test] = head.predict(view([extra[i] for i in test]))
    return probabilities


def per_origin(extra: list[Track], truth: np.ndarray, probabilities: np.ndarray) -> dict:
    """Accuracy and track count per extra source (labels.csv source_repo)."""
    correct = probabilities.argmax(axis=1) == truth
    origins = np.array([t.origin for t in extra])
    return {
        origin: {
            "tracks": int(np.sum(origins == origin)),
            "accuracy": float(correct[origins == origin].mean()),
        }
        for origin in sorted(set(origins))
    }


WINDOW_POLICIES = {
    "1×15 s": WindowPolicy(15.0, 1),
    "1×30 s": WindowPolicy(30.0, 1),
    "3×10 s": WindowPolicy(10.0, 3),
    "3×30 s": WindowPolicy(30.0, 3),
}


def windowed(sequence: np.ndarray, policy: WindowPolicy, patch_seconds: float) -> np.ndarray:
    """The patches of a whole-track sequence that ``policy`` analyses: per
    window, as many as fit in it, from the first patch starting inside it.
    The track's length is taken as its whole patches (up to 3 s short), and
    patches lie on the track's grid, not the window's (up to 3 s later)."""
    chosen: list[int] = []
    for start, length in policy.spans(len(sequence) * patch_seconds):
        first = int(np.ceil(start / patch_seconds - 1e-9))
        count = max(1, int(length / patch_seconds + 1e-9))
        chosen.extend(range(first, min(first + count, len(sequence))))
    return sequence[sorted(set(chosen))]


def window_views(sequences: Sequences, patch_seconds: float) -> dict[str, Sequences]:
    return {
        name: lambda tracks, policy=policy: [
            windowed(s, policy, patch_seconds) for s in sequences(tracks)
        ]
        for name, policy in WINDOW_POLICIES.items()
    }


def evaluate_candidate(
    candidate: str,
    features: dict[str, PatchFeatures],
    gtzan: list[Track],
    extra: list[Track],
    labels: list[str],
    seed: int,
    patch_seconds: float,
) -> dict:
    """Metrics of one candidate under the three protocols, the extra CV
    again with only each window policy's patches analysed (same heads), and
    the out-of-fold predictions (for calibration, and per extra track for
    the comparison with the fast model)."""
    index = {label: i for i, label in enumerate(labels)}
    sequences = sequences_for(features, candidate)
    gtzan_truth = np.array([index[t.label] for t in gtzan])
    extra_truth = np.array([index[t.label] for t in extra])
    in_gtzan = gtzan_cv(candidate, sequences, gtzan, labels, seed)
    print(f"{candidate}: GTZAN CV done", file=sys.stderr, flush=True)
    windows = window_views(sequences, patch_seconds)
    on_extra = extra_cv(
        candidate, sequences, gtzan, extra, labels, seed, {"whole": sequences, **windows}
    )
    gtzan_only = fit_predict(candidate, sequences, gtzan, sequences(extra), labels, seed)
    print(f"{candidate}: extra CV done", file=sys.stderr, flush=True)
    return {
        "gtzan_cv": track_metrics(gtzan_truth, in_gtzan, labels),
        "extra_cv": track_metrics(extra_truth, on_extra["whole"], labels),
        "extra_cv_per_source": per_origin(extra, extra_truth, on_extra["whole"]),
        "gtzan_only_on_extra": track_metrics(extra_truth, gtzan_only, labels),
        "windows": {
            name: {
                **track_metrics(extra_truth, on_extra[name], labels),
                "mean_patches": float(np.mean([len(s) for s in view(extra)])),
            }
            for name, view in windows.items()
        },
        "out_of_fold": {
            "truth": np.concatenate([gtzan_truth, extra_truth]).tolist(),
            "probabilities": np.concatenate([in_gtzan, on_extra["whole"]]).tolist(),
        },
        "extra_out_of_fold": {t.key: p.tolist() for t, p in zip(extra, on_extra["whole"])},
    }
