"""The library's predictions at a glance, from the database alone (no audio).

Counts and confidence of the stored predictions, and the items (or albums)
whose own ``genres`` disagree with a confident prediction (likely
mis-tagged), with a ``beet ls`` query that lists exactly those:
``genreclf_disagrees:1`` (``beet ls -a`` for albums), a field the plugin
computes with a :class:`Judge`.
"""

from __future__ import annotations

import bisect
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from beets import ui

from .explain import bar, counted, no_items_text
from .learn import Synonyms
from .mood import MOOD_FIELD
from .policy import CONFIDENCE_FIELD, GENRE_FIELD, SOURCE_FIELD, GenrePolicy, genre_key
from .tagging import album_ours, is_compilation
from .tags import display_name, shown_path

if TYPE_CHECKING:
    from beets.library import Library

    from .settings import Settings

CONFIDENCE_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
BAR_WIDTH = 30
GENRES_WIDTH = 24  # longer current genres are cut in the disagreement list
DISAGREES_FIELD = "genreclf_disagrees"  # 1 or 0, see Judge


class Judge:
    """Whether a record's own genres contradict its stored prediction, as
    --stats and ``genreclf_disagrees`` tell it: ``policy`` gives
    min_confidence and ``map``; ``synonyms`` (learn.map) make the user's
    names of one genre one genre, whichever the prediction; ``head_labels``
    are the genres a learned head was taught (it judges only those)."""

    def __init__(
        self,
        policy: GenrePolicy,
        synonyms: Mapping[str, str] | None = None,
        head_labels: Sequence[str] | None = None,
    ) -> None:
        self.policy = policy
        self._counts_as = Synonyms(synonyms)
        self._taught = None if head_labels is None else {self.key(g) for g in head_labels}

    @property
    def min_confidence(self) -> float:
        return self.policy.min_confidence

    def key(self, genre: str) -> str:
        """What ``genre`` is compared by: the genre learn.map counts it as, in
        any spelling (:func:`~.policy.genre_key`)."""
        return genre_key(self._counts_as(genre))

    def disagrees(
        self,
        genres: Sequence[str],
        label: str | None,
        confidence: float | None,
        learned: bool = False,
    ) -> bool:
        """Whether ``genres`` contradict the prediction: there are genres,
        the prediction is at least ``min_confidence``, and none of the
        genres is the label or what ``map`` makes of it (after learn.map).
        A ``learned`` head's prediction judges only records with a genre it
        was taught: it cannot tell a genre it never learned."""
        if not genres or not label or confidence is None or confidence < self.min_confidence:
            return False
        if learned and self._taught is not None and not self._taught & set(map(self.key, genres)):
            return False
        accepted = {self.key(genre) for genre in accepted_genres(label, self.policy)}
        return not any(self.key(genre) in accepted for genre in genres)

    def item_disagrees(self, item) -> bool:
        label, confidence = item.get(GENRE_FIELD), item.get(CONFIDENCE_FIELD)
        return self.disagrees(item.genres, label, confidence, _learned(item))

    def album_disagrees(self, album) -> bool:
        """As for an item; never for a compilation, whose tracks keep their
        own genres, nor for an album whose genres genreclf itself set."""
        if is_compilation(album) or album_ours(album):
            return False
        label, confidence = album.get(GENRE_FIELD), album.get(CONFIDENCE_FIELD)
        return self.disagrees(album.genres, label, confidence, _learned(album))


def stats_judge(settings: Settings, lib: Library | None, log, base: bool = False) -> Judge:
    """The judge of the current settings and learned head (``base``: the
    model's own genres). Judging reads no audio, so a learned head that
    cannot be read is one warning, and learned predictions are judged
    without it: every genre counts, at the model's threshold."""
    from .run import TaggingRun

    with TaggingRun(settings, lib, log, base=base) as run:
        try:
            head = run.head
        except ui.UserError as exc:
            threshold = ", at the model's min_confidence" if settings.min_confidence is None else ""
            log.warning(
                "{}; until then learned genres are judged without it (every genre counts{})",
                str(exc).removeprefix("genreclf: "), threshold,
            )
            head, run.base = None, True  # the run's policy then reads no head
        return Judge(run.policy, settings.learn.synonyms, head.labels if head else None)


def _learned(record) -> bool:
    """Whether ``record`` (an item or album) holds a learned head's prediction."""
    return record.get(SOURCE_FIELD) == "learned"


@dataclass(frozen=True)
class Disagreement:
    item_id: int
    confidence: float
    predicted: str
    genres: list[str]
    name: str  # "Artist – Title", else the path


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


def library_stats(items: Iterable, judge: Judge) -> LibraryStats:
    """Statistics of the stored predictions of ``items``, and those whose
    genres disagree (exactly those ``beet ls genreclf_disagrees:1`` lists)."""
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
        if judge.item_disagrees(item):
            disagreements.append(
                Disagreement(item.id, confidence, label, list(item.genres), display_name(item))
            )
    disagreements.sort(key=lambda d: -d.confidence)
    return LibraryStats(
        count, genres, confidence_sums, bins, judge.min_confidence, disagreements, moods
    )


@dataclass(frozen=True)
class AlbumRow:
    name: str  # see album_name
    label: str  # the album's predicted genre
    confidence: float
    genres: list[str]  # the album's own


@dataclass(frozen=True)
class AlbumStats:
    albums: int  # matched by the query, analysed or not
    analysed: int  # of them, those with an album prediction (compilations included)
    compilations: int  # analysed compilations: not judged, their tracks keep their own genres
    disagreements: list[AlbumRow]  # the album's genres disagree with a confident prediction
    min_confidence: float


def album_stats(albums: Iterable, judge: Judge) -> AlbumStats:
    """The albums' stored predictions, and those whose genres disagree
    (exactly those ``beet ls -a genreclf_disagrees:1`` lists)."""
    count, analysed, compilations, disagreeing = 0, 0, 0, []
    for album in albums:
        count += 1
        label, confidence = album.get(GENRE_FIELD), album.get(CONFIDENCE_FIELD)
        if not label or confidence is None:
            continue
        analysed += 1
        compilations += is_compilation(album)
        if judge.album_disagrees(album):
            disagreeing.append(AlbumRow(album_name(album), label, confidence, list(album.genres)))
    disagreeing.sort(key=lambda row: -row.confidence)
    return AlbumStats(count, analysed, compilations, disagreeing, judge.min_confidence)


def album_stats_text(stats: AlbumStats, query: Sequence[str] = ()) -> str:
    """How many albums were analysed, and those whose genres disagree."""
    if not stats.albums:
        return no_items_text(query)
    lines = [f"{counted(stats.albums, 'album')}, {stats.analysed} analysed as albums"]
    if stats.compilations:
        lines[0] += (
            f" ({counted(stats.compilations, 'compilation')}, not judged: "
            "their tracks keep their own genres)"
        )
    threshold = f"confidence ≥ {stats.min_confidence:.2f}"
    if not stats.disagreements:
        return "\n".join([*lines, "", f"no album's genres disagree with a prediction at {threshold}"])
    lines += [
        "",
        f"{counted(len(stats.disagreements), 'album')} whose genres disagree with a "
        f"prediction at {threshold}:",
    ]
    for row in stats.disagreements:
        genres = _cut("; ".join(row.genres), GENRES_WIDTH)
        lines.append(
            f"  {row.confidence:.2f} {row.label:<10} {genres:<{GENRES_WIDTH + 2}}{row.name}"
        )
    command = shlex.join(["beet", "ls", "-a", *disagreement_query(query)])
    return "\n".join([*lines, "", f"list them: {command}"])


def accepted_genres(label: str, policy: GenrePolicy) -> list[str]:
    """The genres that agree with ``label``: the label and what ``map`` makes of it."""
    return list(dict.fromkeys([label, *policy.mapped(label)]))

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
    lines = [f"{counted(stats.items, 'item')}, {stats.analysed} analysed", ""]
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
        f"{counted(len(stats.disagreements), 'item')} whose genres disagree with a prediction "
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
