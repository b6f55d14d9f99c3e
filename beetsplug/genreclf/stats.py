"""The library's predictions at a glance, from the database alone (no audio).

Counts and confidence of the stored predictions, and the items whose own
``genres`` disagree with a confident prediction (likely mis-tagged), with a
``beet ls`` query that lists exactly those: ``genreclf_disagrees:1``, a field
the plugin computes with :func:`disagreement_flag`.
"""

from __future__ import annotations

import bisect
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .explain import bar, no_items_text
from .learn import Synonyms
from .mood import MOOD_FIELD
from .policy import CONFIDENCE_FIELD, GENRE_FIELD, SOURCE_FIELD, GenrePolicy, genre_key
from .tagging import album_ours
from .tags import display_name, shown_path

if TYPE_CHECKING:
    from .learn import Head

CONFIDENCE_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
BAR_WIDTH = 30
GENRES_WIDTH = 24  # longer current genres are cut in the disagreement list
DISAGREES_FIELD = "genreclf_disagrees"  # 1 or 0, see disagreement_flag


@dataclass(frozen=True)
class Disagreement:
    item_id: int
    confidence: float
    predicted: str
    genres: list[str]
    name: str  # "Artist – Title", else the path


class Taught:
    """What a learned head can judge: the genres it was taught, i.e. its
    labels and the genres that ``learn.map`` counts as one of them."""

    def __init__(self, labels: Sequence[str], synonyms: Mapping[str, str] | None = None) -> None:
        self._counts_as = Synonyms(synonyms)
        self._labels = {genre_key(label): label for label in labels}

    def label_of(self, genre: str) -> str | None:
        """The label ``genre`` counts as, or None if the head does not know it."""
        return self._labels.get(genre_key(self._counts_as(genre)))


def taught_by(head: Head | None, synonyms: Mapping[str, str]) -> Taught | None:
    """What ``head`` was taught, or None without a head."""
    return Taught(head.labels, synonyms) if head is not None else None


def judged_by(record, taught: Taught | None) -> Taught | None:
    """``taught`` if ``record`` (an item or album) holds a learned head's
    prediction; a base model's prediction knows all its genres."""
    return taught if record.get(SOURCE_FIELD) == "learned" else None


@dataclass(frozen=True)
class LibraryStats:
    items: int  # matched by the query, analysed or not
    genres: Counter  # predicted label -> items
    confidence_sums: Counter  # predicted label -> sum of confidences
    confidence_bins: list[int]  # items per CONFIDENCE_EDGES interval
    min_confidence: float
    disagreements: list[Disagreement]  # most confident first
    moods: Counter = field(default_factory=Counter)  # predicted mood -> items

    @property
    def analysed(self) -> int:
        return sum(self.genres.values())


def library_stats(
    items: Iterable, policy: GenrePolicy, taught: Taught | None = None
) -> LibraryStats:
    """Statistics of the stored predictions of ``items`` (``taught``: what
    the learned head behind learned predictions knows, see :func:`disagrees`)."""
    genres: Counter = Counter()
    moods: Counter = Counter()
    confidence_sums: Counter = Counter()
    bins = [0] * (len(CONFIDENCE_EDGES) - 1)
    disagreements = []
    count = 0
    for item in items:
        count += 1
        label, confidence = item.get(GENRE_FIELD), item.get(CONFIDENCE_FIELD)
        if not label or confidence is None:
            continue
        genres[label] += 1
        if item.get(MOOD_FIELD):
            moods[item[MOOD_FIELD]] += 1
        confidence_sums[label] += confidence
        bins[bisect.bisect_right(CONFIDENCE_EDGES[1:-1], confidence)] += 1
        if disagrees(item.genres, label, confidence, policy, judged_by(item, taught)):
            disagreements.append(
                Disagreement(item.id, confidence, label, list(item.genres), display_name(item))
            )
    disagreements.sort(key=lambda d: -d.confidence)
    return LibraryStats(
        count, genres, confidence_sums, bins, policy.min_confidence, disagreements, moods
    )


@dataclass(frozen=True)
class AlbumRow:
    name: str  # see album_name
    label: str  # the album's predicted genre
    confidence: float
    genres: list[str]  # the album's own
    track_labels: Counter  # its tracks' own predicted genres


@dataclass(frozen=True)
class AlbumStats:
    albums: int  # matched by the query, analysed or not
    analysed: int
    split: list[AlbumRow]  # albums whose tracks' own predictions differ
    disagreements: list[AlbumRow]  # the album's genres disagree with a confident prediction
    min_confidence: float


def album_stats(
    albums: Iterable, policy: GenrePolicy, taught: Taught | None = None
) -> AlbumStats:
    """The albums' stored predictions: split albums and disagreements."""
    count, analysed, split, disagreeing = 0, 0, [], []
    for album in albums:
        count += 1
        label, confidence = album.get(GENRE_FIELD), album.get(CONFIDENCE_FIELD)
        if not label or confidence is None:
            continue
        analysed += 1
        tracks = Counter(i.get(GENRE_FIELD) for i in album.items() if i.get(GENRE_FIELD))
        row = AlbumRow(album_name(album), label, confidence, list(album.genres), tracks)
        if len(tracks) > 1:
            split.append(row)
        if not album_ours(album) and disagrees(
            album.genres, label, confidence, policy, judged_by(album, taught)
        ):
            disagreeing.append(row)
    split.sort(key=lambda row: -row.confidence)
    disagreeing.sort(key=lambda row: -row.confidence)
    return AlbumStats(count, analysed, split, disagreeing, policy.min_confidence)


def album_stats_text(stats: AlbumStats, query: Sequence[str] = ()) -> str:
    """Albums whose tracks disagree, and albums whose genres disagree."""
    if not stats.albums:
        return no_items_text(query)
    lines = [f"{stats.albums} albums, {stats.analysed} analysed as albums", ""]
    lines.append(f"{len(stats.split)} albums whose tracks' own predictions differ:")
    for row in stats.split:
        tracks = ", ".join(f"{label} {n}" for label, n in row.track_labels.most_common())
        lines.append(f"  {row.confidence:.2f} {row.label:<10} tracks: {tracks:<30} {row.name}")
    threshold = f"confidence ≥ {stats.min_confidence:.2f}"
    lines += [
        "",
        f"{len(stats.disagreements)} albums whose genres disagree with a prediction "
        f"at {threshold}:",
    ]
    for row in stats.disagreements:
        genres = _cut("; ".join(row.genres), GENRES_WIDTH)
        lines.append(
            f"  {row.confidence:.2f} {row.label:<10} {genres:<{GENRES_WIDTH + 2}}{row.name}"
        )
    return "\n".join(lines)


def accepted_genres(label: str, policy: GenrePolicy) -> list[str]:
    """The genres that agree with ``label``: the label and what ``map`` makes of it."""
    return list(dict.fromkeys([label, *policy.mapped(label)]))


def disagrees(
    genres: Sequence[str],
    label: str | None,
    confidence: float | None,
    policy: GenrePolicy,
    taught: Taught | None = None,
) -> bool:
    """Whether an item's own ``genres`` contradict its prediction: the item has
    genres, the prediction is at least ``min_confidence`` and none of the
    genres is one that agrees with its ``label`` (compared by genre_key).
    A learned head's prediction (``taught``: what it knows) judges only items
    with a genre it was taught, and a genre agrees if learn.map counts it as
    the label."""
    if not genres or not label or confidence is None or confidence < policy.min_confidence:
        return False
    if taught is not None:
        known = [known for known in map(taught.label_of, genres) if known]
        if not known:  # a head cannot tell a genre it never learned
            return False
        genres = [*genres, *known]
    accepted = {genre_key(genre) for genre in accepted_genres(label, policy)}
    return not any(genre_key(genre) in accepted for genre in genres)


def disagreement_flag(item, policy: GenrePolicy, taught: Taught | None = None) -> int:
    """``item``'s DISAGREES_FIELD: 1 if its genres disagree with its stored
    prediction (see :func:`disagrees`), else 0."""
    label, confidence = item.get(GENRE_FIELD), item.get(CONFIDENCE_FIELD)
    return int(disagrees(item.genres, label, confidence, policy, judged_by(item, taught)))


def disagreement_query(query: Sequence[str] = ()) -> list[str]:
    """``beet ls`` arguments that list the disagreements among ``query``'s
    items: the flag goes into each of its comma-separated alternatives."""
    flag = f"{DISAGREES_FIELD}:1"
    arguments = []
    for argument in query:
        if argument.endswith(","):  # as beets splits alternatives: "a," or ","
            arguments += [*filter(None, [argument[:-1]]), flag, ","]
        else:
            arguments.append(argument)
    return [*arguments, flag]


def stats_text(stats: LibraryStats, query: Sequence[str] = ()) -> str:
    """Genre counts, the confidence histogram and the disagreement list of
    ``query``'s items (or that none match)."""
    if not stats.items:
        return no_items_text(query)
    lines = [f"{stats.items} items, {stats.analysed} analysed", ""]
    if stats.analysed:
        lines += _genre_table(stats) + [""] + _confidence_table(stats) + [""]
    if stats.moods:
        lines += _mood_table(stats) + [""]
    lines += _disagreement_list(stats, query)
    return "\n".join(lines)


def _genre_table(stats: LibraryStats) -> list[str]:
    width = max(len(label) for label in [*stats.genres, "predicted genre"])
    lines = [f"{'predicted genre':<{width}}  items  share  mean confidence"]
    for label, count in stats.genres.most_common():
        share = count / stats.analysed
        mean = stats.confidence_sums[label] / count
        lines.append(
            f"{label:<{width}}  {count:>5}  {share:>5.0%}  {mean:>15.2f}  {bar(share, BAR_WIDTH)}"
        )
    return [line.rstrip() for line in lines]


def _mood_table(stats: LibraryStats) -> list[str]:
    total = sum(stats.moods.values())
    lines = ["predicted mood  items  share"]
    for mood, count in stats.moods.most_common():
        share = count / total
        lines.append(f"{mood:<14}  {count:>5}  {share:>5.0%}  {bar(share, BAR_WIDTH)}".rstrip())
    return lines


def _confidence_table(stats: LibraryStats) -> list[str]:
    lines = ["confidence  items  share"]
    for low, high, count in zip(CONFIDENCE_EDGES, CONFIDENCE_EDGES[1:], stats.confidence_bins):
        share = count / stats.analysed
        interval = f"{low:.1f}–{high:.1f}"
        lines.append(f"{interval:<10}  {count:>5}  {share:>5.0%}  {bar(share, BAR_WIDTH)}")
    return [line.rstrip() for line in lines]


def _disagreement_list(stats: LibraryStats, query: Sequence[str]) -> list[str]:
    threshold = f"confidence ≥ {stats.min_confidence:.2f}"
    if not stats.disagreements:
        return [f"no item's genres disagree with a prediction at {threshold}"]
    width = max(len(label) for label in [*stats.genres, "predicted"]) + 2
    lines = [
        f"{len(stats.disagreements)} items whose genres disagree with a prediction "
        f"at {threshold}:",
        f"confidence  {'predicted':<{width}}{'current genres':<{GENRES_WIDTH + 2}}"
        "artist – title, or path",
    ]
    for d in stats.disagreements:
        genres = _cut("; ".join(d.genres), GENRES_WIDTH)
        lines.append(
            f"{d.confidence:>10.2f}  {d.predicted:<{width}}{genres:<{GENRES_WIDTH + 2}}"
            f"{d.name}"
        )
    command = shlex.join(["beet", "ls", *disagreement_query(query)])
    return [*lines, "", f"list them: {command}"]


def album_name(album) -> str:
    """"Album Artist – Album", else the album's folder."""
    if album.albumartist or album.album:
        return f"{album.albumartist} – {album.album}"
    return shown_path(album.item_dir())


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
