"""Honest cross-validation of the genre heads on musicnn patch features.

Every track is predicted by a head that never heard its artist:

- GTZAN: artist-disjoint 3-fold CV, each split list held out in turn (with
  the mixtures made from its clips), heads trained on the other two lists
  and every not-music clip (no extra recordings: GTZAN alone, as published);
- extra, the real-music check: the real recordings in folds grouped by
  artist, each held out in turn, heads trained on everything else;
- not music: the generated clips in folds grouped by voice, package or
  generator, heads trained on all music and the other folds.

Hyper-parameters are chosen inside each training side (see musicnn_heads).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import GroupKFold

from beetsplug.genreclf.audio import WindowPolicy
from training.accurate.data import NONMUSIC, PatchFeatures, Track
from training.accurate.heads import head_inputs, make_head
from training.common.evaluate import track_metrics

EXTRA_FOLDS = 5
NONMUSIC_FOLDS = 5
GTZAN_GENRES = frozenset(
    {"blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"}
)

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


@dataclass(frozen=True)
class Corpus:
    """Every labelled track of a run. Mixtures are GTZAN clips with speech
    over them (in their clip's genre and split list); not-music clips are
    grouped by the voice, package or generator they came from."""

    gtzan: list[Track]
    extra: list[Track]
    nonmusic: list[Track] = field(default_factory=list)
    mixtures: list[Track] = field(default_factory=list)

    @property
    def everything(self) -> list[Track]:
        return self.gtzan + self.mixtures + self.extra + self.nonmusic


HeldOut = tuple[list[Track], list[Track]]  # training tracks, held-out tracks


def gtzan_sides(corpus: Corpus) -> Iterator[HeldOut]:
    """Each artist-filtered list held out in turn (its clips and their
    mixtures), trained on the other lists and every not-music clip."""
    for train, test in gtzan_folds(corpus.gtzan):
        held = {corpus.gtzan[i].group for i in test}
        mixtures = [t for t in corpus.mixtures if t.group not in held]
        yield (
            train + mixtures + corpus.nonmusic,
            [corpus.gtzan[i] for i in test] + [t for t in corpus.mixtures if t.group in held],
        )


def extra_sides(corpus: Corpus) -> Iterator[HeldOut]:
    """The extra recordings in folds grouped by artist, trained on every
    other track (GTZAN, mixtures, the other folds, every not-music clip)."""
    for train, test in extra_folds(corpus.gtzan + corpus.mixtures, corpus.extra):
        yield train + corpus.nonmusic, [corpus.extra[i] for i in test]


def nonmusic_sides(corpus: Corpus) -> Iterator[HeldOut]:
    """The not-music clips in folds grouped by voice, package or generator,
    trained on every music track and the other folds."""
    groups = [t.group for t in corpus.nonmusic]
    music = corpus.gtzan + corpus.mixtures + corpus.extra
    for train, test in GroupKFold(n_splits=NONMUSIC_FOLDS).split(corpus.nonmusic, groups=groups):
        yield music + [corpus.nonmusic[i] for i in train], [corpus.nonmusic[i] for i in test]


def cross_predict(
    candidate, sequences, sides: Iterator[HeldOut], labels, seed, views: dict[str, Sequences]
) -> dict[str, dict[str, np.ndarray]]:
    """Out-of-fold probabilities per held-out track key, one dict per view
    (which patches of a test track are heard)."""
    found: dict[str, dict[str, np.ndarray]] = {name: {} for name in views}
    for train, test in sides:
        head = fitted_head(candidate, sequences, train, labels, seed)
        for name, view in views.items():
            found[name].update(zip((t.key for t in test), head.predict(view(test))))
    return found


WINDOW_POLICIES = {
    "2×3 s": WindowPolicy(3.0, 2),
    "1×15 s": WindowPolicy(15.0, 1),
    "1×30 s": WindowPolicy(30.0, 1),
    "3×10 s": WindowPolicy(10.0, 3),
    "4×6 s": WindowPolicy(6.0, 4),
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
    corpus: Corpus,
    labels: list[str],
    seed: int,
    patch_seconds: float,
) -> dict:
    """Metrics of one candidate, every track predicted by a head that never
    heard its artist (or voice, package, generator): GTZAN CV, the real-music
    check (again with only each window policy's patches heard, same heads),
    not music, and music with speech over it; with the out-of-fold
    predictions for calibration and for the comparison with the fast model."""
    sequences = sequences_for(features, candidate)
    windows = window_views(sequences, patch_seconds)
    whole = {"whole": sequences}
    in_gtzan = cross_predict(candidate, sequences, gtzan_sides(corpus), labels, seed, whole)
    print(f"{candidate}: GTZAN CV done", file=sys.stderr, flush=True)
    on_extra = cross_predict(
        candidate, sequences, extra_sides(corpus), labels, seed, {**whole, **windows}
    )
    print(f"{candidate}: extra CV done", file=sys.stderr, flush=True)
    on_nonmusic = cross_predict(candidate, sequences, nonmusic_sides(corpus), labels, seed, whole)
    out_of_fold = {**in_gtzan["whole"], **on_extra["whole"], **on_nonmusic["whole"]}
    judged = Judged(labels, out_of_fold)
    music = corpus.gtzan + corpus.extra
    return {
        "gtzan_cv": judged.metrics(corpus.gtzan),
        "extra_cv": judged.metrics(corpus.extra),
        "extra_cv_ten_genres": judged.metrics([t for t in corpus.extra if t.label in GTZAN_GENRES]),
        "extra_cv_per_source": judged.per_origin(corpus.extra),
        "nonmusic": {
            "clips": len(corpus.nonmusic),
            "recognised": judged.share_called(corpus.nonmusic, NONMUSIC),
            "recognised_per_kind": judged.per_origin(corpus.nonmusic),
            "music_tracks": len(music),
            "music_called_nonmusic": judged.share_called(music, NONMUSIC),
            "mixtures": len(corpus.mixtures),
            "mixtures_called_nonmusic": judged.share_called(corpus.mixtures, NONMUSIC),
            "mixtures_right_genre": judged.share_right(corpus.mixtures),
        },
        "windows": {
            name: {
                **Judged(labels, on_extra[name]).metrics(corpus.extra),
                "mean_patches": float(np.mean([len(s) for s in view(corpus.extra)])),
            }
            for name, view in windows.items()
        },
        "out_of_fold": {
            "truth": [labels.index(t.label) for t in corpus.everything],
            "probabilities": [out_of_fold[t.key].tolist() for t in corpus.everything],
            "real": [t.source == "extra" for t in corpus.everything],
        },
        "extra_out_of_fold": {t.key: out_of_fold[t.key].tolist() for t in corpus.extra},
        "extra_out_of_fold_windows": {
            name: {t.key: on_extra[name][t.key].tolist() for t in corpus.extra}
            for name in windows
        },
        "extra_truth": [t.label for t in corpus.extra],
    }


@dataclass(frozen=True)
class Judged:
    """Out-of-fold predictions by track key, and what they say of a set of tracks."""

    labels: list[str]
    probabilities: dict[str, np.ndarray]

    def predicted(self, tracks: list[Track]) -> np.ndarray:
        return np.array([int(np.argmax(self.probabilities[t.key])) for t in tracks], int)

    def metrics(self, tracks: list[Track]) -> dict:
        """track_metrics, plus balanced accuracy (mean recall over the labels present)."""
        truth = np.array([self.labels.index(t.label) for t in tracks])
        found = track_metrics(
            truth, np.stack([self.probabilities[t.key] for t in tracks]), self.labels
        )
        recalls = [c["recall"] for c in found["per_class"].values() if c["support"]]
        return {**found, "balanced_accuracy": float(np.mean(recalls))}

    def share_called(self, tracks: list[Track], label: str) -> float:
        return float(np.mean(self.predicted(tracks) == self.labels.index(label))) if tracks else 0.0

    def share_right(self, tracks: list[Track]) -> float:
        truth = np.array([self.labels.index(t.label) for t in tracks])
        return float(np.mean(self.predicted(tracks) == truth)) if tracks else 0.0

    def per_origin(self, tracks: list[Track]) -> dict:
        """Track count and accuracy per origin (an extra row's source, a not-music kind)."""
        return {
            origin: {
                "tracks": len(inside),
                "accuracy": self.share_right(inside),
            }
            for origin in sorted({t.origin for t in tracks})
            for inside in [[t for t in tracks if t.origin == origin]]
        }
