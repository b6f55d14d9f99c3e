"""What a prediction changes on an item: pure rules, no files, no database.

Policy for beets' own ``genres`` field (config ``mode``):
- ``fill``: set it only when the item has no genre (never overrides a
  curated genre);
- ``append``: add the predicted genre after the existing ones;
- ``replace``: set it to the predicted genre;
- ``off``: leave it alone (only the genreclf_* fields are set).
Nothing changes ``genres`` when the confidence is below ``min_confidence``.
``map`` translates model labels into the user's vocabulary (one label may
become several genres); without it, a built-in label is written under its
canonical name (``hiphop`` as ``Hip-Hop``), and ``nonmusic`` (speech, sound
effects, noise) sets no genre at all (unless mapped: ``nonmusic: Spoken
Word``). Genres are compared by :func:`genre_key`: two spellings of one
genre are one genre.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .mood import MOOD_FIELDS, Mood

if TYPE_CHECKING:
    from .learn import Head
    from .model import TrackPrediction
    from .mood import MoodHead

MODES = ("fill", "append", "replace", "off")
NONMUSIC = "nonmusic"  # the label of speech, sound effects, noise: no genre by default

GENRE_FIELD = "genreclf_genre"
CONFIDENCE_FIELD = "genreclf_confidence"
TOP_FIELD = "genreclf_top"
MODEL_FIELD = "genreclf_model"
SOURCE_FIELD = "genreclf_source"
APPLIED_FIELD = "genreclf_applied"  # the genres genreclf set, joined
TOP_LABELS = 3  # shown in genreclf_top
MIXED_TRACK_CONFIDENCE = 0.8  # a track this sure of another genre keeps its own
GENRES_FROM = ("album", "track")  # where an album's tracks take their genres from
# The built-in labels as written into genres when ``map`` has none for them
# (genreclf_genre keeps the label). ``nonmusic`` has no genre name on purpose.
DISPLAY_NAMES = {
    "blues": "Blues",
    "classical": "Classical",
    "country": "Country",
    "disco": "Disco",
    "hiphop": "Hip-Hop",
    "jazz": "Jazz",
    "metal": "Metal",
    "pop": "Pop",
    "reggae": "Reggae",
    "rock": "Rock",
    "electronic": "Electronic",
    "rnb": "R&B",
    "latin": "Latin",
}


def genre_key(genre: str) -> str:
    """What every spelling of one genre shares, for comparing genres: case,
    accents, spaces and punctuation are ignored, and "&" and the word "and"
    read as "n", so "Hip-Hop" = "hip hop" = "HipHop", "R&B" = "R'n'B" =
    "rnb" and "Rock & Roll" = "Rock and Roll" = "Rock 'n' Roll"."""
    text = unicodedata.normalize("NFKD", genre.casefold())
    words = re.findall(r"[^\W_]+|&", text)  # letters and digits (accents dropped), and &
    key = "".join("n" if word in ("&", "and") else word for word in words)
    return key or text.strip()  # a genre of punctuation only is its own key


def without_known(genres: list[str], known: list[str]) -> list[str]:
    """``genres`` less any spelling of a genre in ``known`` or earlier in ``genres``."""
    seen = {genre_key(genre) for genre in known}
    kept = []
    for genre in genres:
        if genre_key(genre) not in seen:
            seen.add(genre_key(genre))
            kept.append(genre)
    return kept

# An album genre is applied only when it is the top label of at least this
# share of the album's tracks: a third keeps a genre most of whose tracks
# agree on, or that leads a mixed album, and refuses one that the combined
# evidence favours but few tracks hear (e.g. pop from 2 of 10 tracks).
ALBUM_SUPPORT = 1 / 3


@dataclass(frozen=True)
class GenrePolicy:
    mode: str = "fill"
    min_confidence: float = 0.5
    label_map: dict[str, list[str]] = field(default_factory=dict)
    display_names: dict[str, str] = field(default_factory=dict)  # see Labeller.display_names

    def mapped(self, label: str) -> list[str]:
        """The genres ``label`` is written as: its ``map`` entry (whatever the
        spelling of its key), else none for ``nonmusic``, else its display
        name, else the label itself."""
        key = genre_key(label)
        chosen = (genres for name, genres in self.label_map.items() if genre_key(name) == key)
        found = next(chosen, None)
        if found is not None:
            return found
        return [] if label == NONMUSIC else [self.display_names.get(label, label)]

    def unknown_keys(self, labels: list[str]) -> list[str]:
        """The ``map`` keys that name none of ``labels`` (in any spelling)."""
        known = {genre_key(label) for label in labels}
        return [name for name in self.label_map if genre_key(name) not in known]

    def genres_after(self, current: list[str], label: str, confidence: float) -> list[str]:
        """The item's ``genres`` once this prediction is applied."""
        predicted = self.mapped(label)
        if self.mode == "off" or confidence < self.min_confidence or not predicted:
            return current
        if self.mode == "replace" or (self.mode == "fill" and not current):
            return predicted
        if self.mode == "append":
            return current + without_known(predicted, current)
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
    mood_head: MoodHead | None = None  # the base model's, when it has one and mood is on

    @property
    def display_names(self) -> dict[str, str]:
        """How labels go into genres: the built-in labels under their
        canonical names; a learned head's labels as the user spells them,
        and the built-in ones it leaves to the model under their names."""
        if self.head is None:
            return DISPLAY_NAMES if self.source == "base" else {}
        return {label: DISPLAY_NAMES[label] for label in self.head.kept if label in DISPLAY_NAMES}

    def probabilities(self, prediction: TrackPrediction) -> np.ndarray:
        """Over ``labels``: the model's own, or the learned head's with the
        model's verdict on what it was not taught (Head.probabilities)."""
        if self.head is None:
            return prediction.probabilities
        return self.head.probabilities(prediction.probabilities, prediction.embedding)

    def mood(self, prediction: TrackPrediction) -> Mood | None:
        if self.mood_head is None or not prediction.embedding.size:
            return None
        return Mood(self.mood_head.probabilities(prediction.embedding))

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
    mood: Mood | None = None

    def fields(self) -> dict[str, Any]:
        """The values to store (genreclf_applied only when genres changed,
        so --learn can tell our genres from the user's); see also
        :meth:`cleared`."""
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
        if self.mood is not None:
            values.update(self.mood.fields())
        return values

    def cleared(self) -> tuple[str, ...]:
        """The fields to remove: those an earlier analysis may have set and
        this prediction does not give (see :func:`stale_fields`): the mood
        fields too when it has no mood (``mood: no``, a model without one)."""
        return MOOD_FIELDS if self.mood is None else stale_fields(self.label)


def stale_fields(label: str | None) -> tuple[str, ...]:
    """What an item predicted as ``label`` must not keep: not music has no mood."""
    return MOOD_FIELDS if label == NONMUSIC else ()


def decide(
    current: list[str],
    prediction: TrackPrediction,
    labeller: Labeller,
    policy: GenrePolicy,
    ours: bool = False,
) -> Decision:
    """The fields a prediction gives an item whose genres are ``current``
    (``ours``: genres genreclf set earlier, see :func:`new_genres`)."""
    ranked = labeller.ranked(labeller.probabilities(prediction))
    label, probability = ranked[0]
    confidence = round(probability, 4)
    genres = new_genres(policy, current, ours, label, confidence)
    return Decision(
        label=label,
        confidence=confidence,
        top=", ".join(f"{name} {p:.2f}" for name, p in ranked[:TOP_LABELS]),
        model=labeller.identity,
        source=labeller.source,
        genres=genres,
        genres_changed=genres != list(current),
        mood=None if label == NONMUSIC else labeller.mood(prediction),
    )


def album_decision(
    current: list[str],
    track_probabilities: list[np.ndarray],
    labeller: Labeller,
    policy: GenrePolicy,
    ours: bool = False,
    track_embeddings: list[np.ndarray] | None = None,
) -> Decision:
    """What the album's tracks say together (see :func:`album_probabilities`);
    its genres change only if enough tracks support it (:func:`album_supported`).
    ``ours``: the album's genres are genreclf's earlier guess. The album's
    mood is the mood head's on its tracks' mean embedding."""
    from .model import TrackPrediction

    tracks = np.stack(track_probabilities)
    combined = album_probabilities(tracks)
    tops = [labeller.labels[i] for i in tracks.argmax(axis=1)]
    if not album_supported(labeller.labels[int(combined.argmax())], tops):
        policy = dataclasses.replace(policy, mode="off")
    embedding = np.mean(track_embeddings, axis=0) if track_embeddings else np.zeros(0)
    together = TrackPrediction(combined, embedding)
    in_labels = dataclasses.replace(labeller, head=None)  # already in the labeller's labels
    return decide(current, together, in_labels, policy, ours)


def album_leads(
    label: str, confidence: float, track_labels: list[str], policy: GenrePolicy
) -> bool:
    """Whether an album's tracks take their genres from its prediction: enough
    of them support it and it is confident enough to set a genre; else each
    track is decided on its own."""
    return album_supported(label, track_labels) and confidence >= policy.min_confidence


def album_supported(label: str, track_labels: list[str]) -> bool:
    """Whether ``label`` is the top label of at least ALBUM_SUPPORT of the
    album's tracks (whose top labels are ``track_labels``)."""
    backing = sum(track_label == label for track_label in track_labels)
    return bool(track_labels) and backing >= ALBUM_SUPPORT * len(track_labels)


def album_probabilities(track_probabilities: np.ndarray) -> np.ndarray:
    """An album's probabilities from its tracks' (n_tracks, n_labels): the
    renormalised geometric mean, i.e. the tracks' evidence multiplied, so a
    label that several tracks find likely wins over one that one track is
    sure of (see the README's album measurements)."""
    log_mean = np.log(np.clip(track_probabilities, 1e-12, None)).mean(axis=0)
    exp = np.exp(log_mean - log_mean.max())
    return exp / exp.sum()


def keeps_own_genre(
    track_label: str, track_confidence: float, album_label: str, policy: GenrePolicy
) -> bool:
    """A track of a single-genre album keeps its own genre only when it
    disagrees with the album and is confident of it: at least
    MIXED_TRACK_CONFIDENCE (and min_confidence)."""
    confident = track_confidence >= max(policy.min_confidence, MIXED_TRACK_CONFIDENCE)
    return track_label != album_label and confident


def following_album(
    current: list[str], ours: bool, track: Decision, album: Decision, policy: GenrePolicy
) -> Decision:
    """The track's decision with its genres set from the album's prediction
    (its genreclf_* fields keep its own)."""
    genres = new_genres(policy, current, ours, album.label, album.confidence)
    return dataclasses.replace(track, genres=genres, genres_changed=genres != list(current))


def new_genres(
    policy: GenrePolicy, current: list[str], ours: bool, label: str, confidence: float
) -> list[str]:
    """``policy.genres_after``, where genres genreclf itself set earlier
    (``ours``) count as none: a confident prediction replaces an older guess
    with what ``map`` makes of it now (nothing, for a label mapped to no
    genre), never a genre of yours; an unconfident one keeps the old guess.
    ``append`` never removes a genre: its lists mix yours and ours."""
    current = list(current)
    if not ours or policy.mode in ("off", "append") or confidence < policy.min_confidence:
        return policy.genres_after(current, label, confidence)
    return policy.genres_after([], label, confidence)


def refilled(
    policy: GenrePolicy, current: list[str], ours: bool, label: str, confidence: float
) -> list[str]:
    """An analysed item's genres from its stored prediction, without
    analysing again: emptied genres (``beet modify genres!``) get it again, as
    on the first run, and genres genreclf set (``ours``) follow the current
    ``map`` and ``mode`` (:func:`new_genres`); genres of yours stay."""
    if current and not ours:
        return list(current)
    return new_genres(policy, current, ours, label, confidence)


def set_by_us(genres: list[str], applied: str | None) -> bool:
    """Whether an item's genres are still the ones genreclf set: a head must
    not learn from its own (or the base model's) guesses."""
    return applied is not None and joined(genres) == applied
