"""Learn the user's genres: a small classifier on the base model's embedding.

The library's already tagged tracks are the training data. Accuracy is
estimated before anyone relies on the head, by cross-validation grouped by
artist (no artist on both sides of a fold), and compared with the base
model's on the same tracks; the head is saved with what it was learned from,
so that a different base model invalidates it.

The head judges only tracks like those it learned from: the base model's
probability of the genres it was taught (:func:`taught_labels`) is shared
among the learned genres; a genre it never saw (jazz, when it learned Blues
and Classical) and ``nonmusic`` keep the base model's verdict.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import itertools
import json
import os
import tempfile
import warnings
import zipfile
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .policy import NONMUSIC, genre_key

HEAD_FORMAT = 2  # 2: with the base labels it judges (format 1 judged every track)
PREVIOUS_SUFFIX = ".prev"  # the head a new one replaced
FOLDS = 5
SHUFFLES = 20  # stratified artist-to-fold assignments tried per number of folds
DEALS = 200  # then random ones
# A base genre that the model hears at least this share of one learned
# genre's tracks as is the head's to judge; nonmusic only when it is most of
# them (music with talk over it is often heard as nonmusic).
TAUGHT_SHARE = 0.2
TAUGHT_SHARE_NONMUSIC = 0.5


class LearnError(Exception):
    """Too little or unsuitable data to learn from; the message says why."""


@dataclass(frozen=True)
class Example:
    label: str
    group: str  # artist: never on both sides of a fold
    embedding: np.ndarray
    base_probabilities: np.ndarray  # the base model's, over its labels


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


def artist_group(
    albumartist: str, artist: str, album: str, path: str, compilation: bool = False
) -> str:
    """Who a track is by, for grouping folds: its album artist (not on a
    compilation, whose tracks are by many), else its artist, else its album,
    else the file alone (untagged tracks are not all one artist)."""
    name = artist if compilation else albumartist or artist
    if name.strip():
        return f"artist:{name.casefold()}"
    if album.strip():
        return f"album:{album.casefold()}"
    return f"file:{path}"


@dataclass(frozen=True)
class BaseModel:
    """The base model as --learn sees it: its identity, its labels, and the
    genres each label is written as (``map``, else its display name; none
    for nonmusic)."""

    identity: str
    labels: list[str]
    genres: dict[str, list[str]]

    def named(self, learned: Sequence[str], synonyms: Mapping[str, str] | None) -> dict[str, str]:
        """base label -> the learned label its genre counts as (by
        :func:`~.policy.genre_key`, after ``learn.map``), where there is one."""
        counts_as = Synonyms(synonyms)
        by_key = {genre_key(label): label for label in learned}
        named = {}
        for label in self.labels:
            keys = [genre_key(counts_as(genre)) for genre in self.genres.get(label, [])]
            found = next((by_key[key] for key in keys if key in by_key), None)
            if found is not None:
                named[label] = found
        return named


def taught_labels(
    heard_as: Sequence[str], learned_as: Sequence[str], named: Collection[str]
) -> set[str]:
    """The base labels a head judges: those written as one of its genres
    (``named``), and those the base model hears at least TAUGHT_SHARE of one
    learned genre's tracks as (nonmusic: more than TAUGHT_SHARE_NONMUSIC).
    ``heard_as``: each training track's top base label; ``learned_as``: its
    learned label."""
    taught = set(named)
    for genre in set(learned_as):
        heard = Counter(base for base, learned in zip(heard_as, learned_as) if learned == genre)
        total = sum(heard.values())
        for label, count in heard.items():
            if label == NONMUSIC:
                taught |= {label} if count / total > TAUGHT_SHARE_NONMUSIC else set()
            elif count / total >= TAUGHT_SHARE:
                taught.add(label)
    return taught


def combined(
    base_probabilities: np.ndarray, head_probabilities: np.ndarray, taught: np.ndarray
) -> np.ndarray:
    """Probabilities over the learned labels, then the base labels: the
    learned labels share the base probability of the ``taught`` base labels
    (a boolean mask) as the head says; the other base labels keep theirs, the
    taught ones get 0. One track, or a batch (labels on the last axis)."""
    taught_mass = np.sum(base_probabilities * taught, axis=-1, keepdims=True)
    kept = base_probabilities * ~taught
    return np.concatenate([taught_mass * head_probabilities, kept], axis=-1)


@dataclass(frozen=True)
class Baseline:
    """The base model's side of each training track: to judge a head as
    tagging uses it (:func:`combined`), and against the model itself."""

    model: BaseModel
    probabilities: np.ndarray  # (tracks, base labels)
    named: dict[str, str]  # see BaseModel.named

    @property
    def heard_as(self) -> np.ndarray:
        """Each track's top base label."""
        return np.array(self.model.labels)[self.probabilities.argmax(axis=1)]

    def taught(self, tracks: np.ndarray, learned_as: Sequence[str]) -> np.ndarray:
        """A mask over the base labels: those a head fitted on ``tracks``
        (whose labels are ``learned_as``) judges."""
        taught = taught_labels(self.heard_as[tracks], learned_as, self.named)
        return np.isin(self.model.labels, sorted(taught))

    def comparison(
        self, held_out: np.ndarray, targets: np.ndarray, names: list[str]
    ) -> Comparison | None:
        """The head's held-out predictions and the model's on the tracks of
        the learned genres the model writes too; None if there are none."""
        shared = [name for name in names if name in self.named.values()]
        truth = np.array(names)[targets]
        rows = np.isin(truth, shared)
        if not rows.any():
            return None
        model_says = np.array([self.named.get(label, "") for label in self.heard_as[rows]])
        return Comparison(
            genres=shared,
            tracks=int(rows.sum()),
            learned=float((held_out[rows].argmax(axis=1) == targets[rows]).mean()),
            model=float((model_says == truth[rows]).mean()),
        )


@dataclass(frozen=True)
class Comparison:
    """The head against the base model on the same held-out tracks."""

    genres: list[str]  # the learned genres that the model writes too
    tracks: int
    learned: float  # share right, held out
    model: float

    @property
    def worse(self) -> bool:
        return self.learned < self.model

    def line(self) -> str:
        figures = f"learned {self.learned:.0%} right, model {self.model:.0%}"
        tracks = f"the {self.tracks} tracks of {', '.join(self.genres)}"
        if self.worse:
            return f"worse than the model's own genres on {tracks}: {figures}"
        return f"against the model's own genres, on {tracks}: {figures}"


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
    target_precision: float
    reached: bool  # whether precision_above reaches target_precision
    comparison: Comparison | None = None  # with the base model, where it writes the genres

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
        short = "" if self.reached else (
            f" (learn.target_precision {self.target_precision:.0%} is reached at no threshold)"
        )
        lines.append(
            f"min_confidence {self.min_confidence:.2f}: {self.coverage:.0%} of tracks get a "
            f"genre, {self.precision_above:.0%} of those right{short}"
        )
        return lines


def make_classifier():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(), LogisticRegression(C=0.5, class_weight="balanced", max_iter=2000)
    )


@contextmanager
def classifier_errors() -> Iterator[None]:
    """Whatever scikit-learn raises becomes one LearnError line; its
    warnings (e.g. that it did not converge) are not shown: the report says
    how good the head is."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        except LearnError:
            raise
        except Exception as exc:  # any library failure: one line, never a traceback
            said = str(exc).strip()
            reason = said.splitlines()[0] if said else type(exc).__name__
            raise LearnError(f"the classifier could not be fitted ({reason})") from exc


def fitted(features: np.ndarray, labels: np.ndarray):
    """A fresh classifier fitted on ``features`` (LearnError if it cannot be)."""
    with classifier_errors():
        return make_classifier().fit(features, labels)


def artist_folds(
    labels: np.ndarray, groups: np.ndarray, n_labels: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Artist-disjoint (training, held-out) splits whose every training side
    has every label: as many folds as each label's artists allow (at most
    FOLDS), stratified by label where scikit-learn's splitter finds such a
    split, else artists dealt to folds at random; fewer folds if neither
    does. LearnError if no split is found."""
    from sklearn.model_selection import StratifiedGroupKFold

    most = min(FOLDS, min(len(set(groups[labels == c])) for c in range(n_labels)))
    rng = np.random.default_rng(seed)
    with classifier_errors():
        for folds in range(most, 1, -1):
            stratified = (
                StratifiedGroupKFold(folds, shuffle=True, random_state=seed + attempt)
                .split(labels, labels, groups)
                for attempt in range(SHUFFLES)
            )
            dealt = (_dealt(groups, folds, rng) for _ in range(DEALS))
            for splits in itertools.chain(stratified, dealt):
                splits = list(splits)
                if all(len(set(labels[train])) == n_labels for train, _ in splits):
                    return splits
    raise LearnError(
        "no split of the tracks by artist leaves every genre on both sides of the "
        "cross-validation (tag tracks of each genre by more artists)"
    )


def _dealt(
    groups: np.ndarray, folds: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training, held-out) splits of the artists dealt at random to
    ``folds`` folds, none empty."""
    artists = np.unique(groups)
    fold_of = dict(zip(artists, rng.permutation(np.arange(len(artists)) % folds)))
    fold = np.array([fold_of[group] for group in groups])
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(folds)]


def cross_validate(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    label_names: list[str],
    target_precision: float,
    seed: int = 0,
    base: Baseline | None = None,
) -> Evaluation:
    """Evaluate a fresh classifier per artist-disjoint fold on its held-out
    tracks; with ``base``, as tagging combines it with the base model (what
    it judges learned from the fold's training tracks), and compared with
    the base model on the same tracks."""
    splits = artist_folds(labels, groups, len(label_names), seed)
    columns = [*label_names, *(base.model.labels if base else [])]
    held_out = np.zeros((len(labels), len(columns)))
    for train, test in splits:
        classifier = fitted(features[train], labels[train])
        head = np.zeros((len(test), len(label_names)))
        with classifier_errors():
            head[:, classifier.classes_] = classifier.predict_proba(features[test])
        if base is not None:
            taught = base.taught(train, [label_names[i] for i in labels[train]])
            head = combined(base.probabilities[test], head, taught)
        held_out[test] = head
    evaluation = evaluate(
        held_out, labels, columns, len(splits), target_precision, learned=len(label_names)
    )
    if base is not None:
        evaluation.comparison = base.comparison(held_out, labels, label_names)
    return evaluation


def evaluate(
    probabilities: np.ndarray,
    labels: np.ndarray,
    names: list[str],
    folds: int,
    target_precision: float,
    learned: int | None = None,
) -> Evaluation:
    """Metrics of held-out ``probabilities`` over ``names``, of which the
    first ``learned`` (default: all) are the learned labels; the others are
    the base model's, which a head leaves to it."""
    from sklearn.metrics import (
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    learned = len(names) if learned is None else learned
    predicted = probabilities.argmax(axis=1)
    indices = list(range(learned))
    precision, recall, _, support = precision_recall_fscore_support(
        labels, predicted, labels=indices, zero_division=0
    )
    matrix = confusion_matrix(labels, predicted, labels=list(range(len(names))))
    confusions = sorted(
        (
            (names[t], names[p], int(matrix[t, p]))
            for t in indices
            for p in range(len(names))
            if t != p and matrix[t, p]
        ),
        key=lambda c: -c[2],
    )
    threshold = confidence_threshold(probabilities, labels, target_precision)
    return Evaluation(
        labels=names[:learned],
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
            for i, name in enumerate(names[:learned])
        },
        confusions=confusions,
        min_confidence=threshold.min_confidence,
        coverage=threshold.coverage,
        precision_above=threshold.precision,
        target_precision=target_precision,
        reached=threshold.reached,
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
    stored as plain arrays (no pickles): standardise, then softmax(xW + b).
    It judges only the tracks that the base model hears as one of ``taught``
    (see :func:`combined`)."""

    labels: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (embedding_size, n_labels)
    bias: np.ndarray  # (n_labels,)
    base_model: str  # identity of the model whose embedding it reads
    min_confidence: float
    metadata: dict
    base_labels: list[str]  # the base model's labels, in its order
    taught: list[str]  # those of them the head judges (see taught_labels)

    @property
    def identity(self) -> str:
        judged = json.dumps(self.taught).encode()
        digest = hashlib.sha256(self.weights.tobytes() + self.bias.tobytes() + judged)
        return f"learned@{digest.hexdigest()[:8]}"

    @property
    def kept(self) -> list[str]:
        """The base labels whose verdict stands: those the head was not taught."""
        return [label for label in self.base_labels if label not in self.taught]

    @property
    def output_labels(self) -> list[str]:
        """What :meth:`probabilities` is over: the learned labels, then :attr:`kept`."""
        return [*self.labels, *self.kept]

    def predict(self, embedding: np.ndarray) -> np.ndarray:
        """The head alone, over :attr:`labels`."""
        logits = ((embedding - self.mean) / self.scale) @ self.weights + self.bias
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    def probabilities(self, base_probabilities: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """A track's probabilities over :attr:`output_labels`, from the base
        model's and its embedding."""
        taught = np.isin(self.base_labels, self.taught)
        every = combined(base_probabilities, self.predict(embedding), taught)
        return np.concatenate([every[: len(self.labels)], every[len(self.labels) :][~taught]])

    def judging_line(self) -> str:
        """What tagging with this head does, in one line."""
        line = f"your genres replace the model's {', '.join(self.taught)}"
        if self.kept:
            line += f"; tracks it hears as {', '.join(self.kept)} keep its own verdict"
        if NONMUSIC in self.taught:
            line += "; speech and sound effects (nonmusic) get one of your genres"
        return line

    def save(self, path: Path) -> Path | None:
        """Write the head to ``path`` atomically. An existing head there is
        kept as ``<name>.prev``; returns that path, or None if there was none."""
        path.parent.mkdir(parents=True, exist_ok=True)
        info = {
            "format": HEAD_FORMAT,
            "labels": self.labels,
            "base_model": self.base_model,
            "min_confidence": self.min_confidence,
            "base_labels": self.base_labels,
            "taught": self.taught,
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
        if info.get("format") != HEAD_FORMAT:
            older = isinstance(info.get("format"), int) and info["format"] < HEAD_FORMAT
            what = "was learned by an older genreclf" if older else (
                f"has an unknown head format {info.get('format')}"
            )
            raise LearnError(f"{path} {what}; run `beet genreclf --learn` again or delete it")
        required = ("labels", "base_model", "min_confidence", "base_labels", "taught")
        missing = [key for key in required if key not in info]
        if missing:
            raise ValueError(f"its description lacks {', '.join(missing)}")
        labels, base, threshold = (
            list(info.pop("labels")),
            str(info.pop("base_model")),
            float(info.pop("min_confidence")),
        )
        base_labels, taught = list(info.pop("base_labels")), list(info.pop("taught"))
        _check_shapes(arrays, len(labels))
        return cls(
            labels, **arrays, base_model=base, min_confidence=threshold, metadata=info,
            base_labels=base_labels, taught=taught,
        )


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
    examples: Sequence[Example],
    labels: list[str],
    base: BaseModel,
    synonyms: Mapping[str, str] | None,
    target_precision: float,
) -> tuple[Head, Evaluation]:
    """Cross-validate the head as tagging will use it, then fit it on every
    example."""
    features = np.stack([e.embedding for e in examples])
    index = {label: i for i, label in enumerate(labels)}
    targets = np.array([index[e.label] for e in examples])
    groups = np.array([e.group for e in examples])
    baseline = Baseline(
        base, np.stack([e.base_probabilities for e in examples]), base.named(labels, synonyms)
    )
    evaluation = cross_validate(
        features, targets, groups, labels, target_precision, base=baseline
    )
    pipeline = fitted(features, targets)
    scaler, classifier = pipeline[0], pipeline[-1]
    weights, bias = classifier.coef_, classifier.intercept_
    if len(labels) == 2:  # one logit z for the second label: softmax([-z/2, z/2])
        weights, bias = np.vstack([-weights / 2, weights / 2]), np.array([-bias[0], bias[0]]) / 2
    taught = baseline.taught(np.arange(len(examples)), [e.label for e in examples])
    head = Head(
        labels=labels,
        mean=scaler.mean_.astype(np.float32),
        scale=scaler.scale_.astype(np.float32),
        weights=weights.T.astype(np.float32),
        bias=bias.astype(np.float32),
        base_model=base.identity,
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
        base_labels=list(base.labels),
        taught=[label for label, judged in zip(base.labels, taught) if judged],
    )
    return head, evaluation
