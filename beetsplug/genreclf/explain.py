"""What the model heard: each label's probability per analysed window and overall.

A track's prediction pools its 3 s segments as the model's metadata says
(``aggregation``); each window's column pools that window's segments alone
in the same way, so it shows what the model made of that part of the track.
With the geometric mean (the accurate model, an album's tracks, the mood),
"overall" multiplies the windows' evidence and can be above every window.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .analysis import AnalysedWindow
    from .model import TrackPrediction
    from .mood import MoodHead

EIGHTHS = "▏▎▍▌▋▊▉"  # partial blocks, 1/8 to 7/8 of a character
FULL_BLOCK = "█"
PERCENT_WIDTH = 4  # "100%"
MIN_BAR = 3  # narrower bars are left out: percentages only
MAX_BAR = 20


@dataclass(frozen=True)
class Explanation:
    """One track's probabilities; labels are sorted, most probable overall first."""

    path: str
    labels: list[str]
    window_starts: list[float]  # seconds
    window_probabilities: np.ndarray  # (n_windows, n_labels), columns in `labels` order
    overall: np.ndarray  # (n_labels,)
    title: str = ""  # what a plot calls the track: "Artist – Title", else the file name
    columns: tuple[str, ...] = ()  # column headings (default: the windows' start, m:ss)
    column_kind: str = "window (start m:ss)"
    kind: str = "genre"  # what the labels are: "genre" or "mood"
    mood: Explanation | None = None  # the same windows' mood, when the model has a mood head
    pooling: str = "geometric_mean"  # how overall pools the columns: see model.aggregate

    @property
    def top(self) -> tuple[str, float]:
        return self.labels[0], float(self.overall[0])

    @property
    def headings(self) -> list[str]:
        return list(self.columns) or window_headings(self.window_starts)

    @property
    def overall_note(self) -> str:
        """What 'overall' is, in one line."""
        column = self.column_kind.split()[0]  # "window" or "track"
        if self.pooling == "mean":
            return f"overall: the average of all {column}s"
        return f"overall: every {column}'s evidence multiplied, so it can be above each {column}"


def album_explanation(
    name: str,
    track_names: list[str],
    track_probabilities: np.ndarray,
    album_probabilities: np.ndarray,
    labels: list[str],
    mood_head: MoodHead | None = None,
    track_embeddings: np.ndarray | None = None,
) -> Explanation:
    """An album's tracks side by side (columns) and the album overall (the
    tracks' renormalised geometric mean). With a ``mood_head`` and the
    tracks' embeddings (n_tracks, size), each track's mood and the album's:
    the head on the tracks' mean embedding, as tagging stores it."""
    explanation = Explanation(
        path=name,
        window_starts=[],
        title=name,
        columns=tuple(track_names),
        column_kind="track",
        **ranked(track_probabilities, album_probabilities, labels),
    )
    if mood_head is None or track_embeddings is None:
        return explanation
    return with_mood(
        explanation,
        mood_head.probabilities(track_embeddings),
        mood_head.probabilities(track_embeddings.mean(axis=0)),
    )


def explain(
    path: str,
    prediction: TrackPrediction,
    windows: Sequence[AnalysedWindow],
    labels: list[str],
    title: str | None = None,
    mood_head: MoodHead | None = None,
    aggregation: str = "mean",
) -> Explanation:
    """Split ``prediction``'s segments into the ``windows`` they came from,
    each window's pooled by ``aggregation`` (the model's, see
    model.aggregate). ``title`` names the track in plots (default: the file
    name). With a ``mood_head`` (and the segments' embeddings), each window's
    mood too: the head on the window's mean embedding, overall on the track's."""
    from .model import aggregate

    bounds = np.cumsum([0, *(window.segments for window in windows)])
    spans = list(zip(bounds, bounds[1:]))
    segments = prediction.segment_probabilities
    per_window = np.stack([aggregate(segments[a:b], aggregation) for a, b in spans])
    starts = [window.start for window in windows]
    explanation = Explanation(
        path=path,
        window_starts=starts,
        title=display_title(path) if title is None else title,
        columns=tuple(window_headings(starts)),
        column_kind=f"window (start {'h:mm:ss' if _past_an_hour(starts) else 'm:ss'})",
        pooling=aggregation,
        **ranked(per_window, prediction.probabilities, labels),
    )
    if mood_head is None or prediction.segment_embeddings is None:
        return explanation
    embeddings = prediction.segment_embeddings
    moods = np.stack([mood_head.probabilities(embeddings[a:b].mean(axis=0)) for a, b in spans])
    return with_mood(explanation, moods, mood_head.probabilities(prediction.embedding))


def with_mood(explanation: Explanation, per_column: np.ndarray, overall: np.ndarray) -> Explanation:
    """``explanation`` with the mood of its columns (n_columns, 4) and
    overall: the mood head on pooled embeddings, i.e. the columns' evidence
    multiplied, as a geometric mean pools it."""
    from .mood import MOOD_LABELS

    mood = dataclasses.replace(
        explanation, kind="mood", pooling="geometric_mean",
        **ranked(per_column, overall, list(MOOD_LABELS)),
    )
    return dataclasses.replace(explanation, mood=mood)


def ranked(per_window: np.ndarray, overall: np.ndarray, labels: list[str]) -> dict:
    """Explanation's label fields, the labels sorted most probable overall first."""
    order = np.argsort(-overall, kind="stable")
    return {
        "labels": [labels[i] for i in order],
        "window_probabilities": per_window[:, order],
        "overall": overall[order],
    }


def display_title(path: str, artist: str = "", title: str = "") -> str:
    """How a plot names a track: "Artist – Title", the title alone, else the file name."""
    if not title:
        return os.path.basename(path)
    return f"{artist} – {title}" if artist else title


def no_items_text(query: Sequence[str] = ()) -> str:
    """What to say when ``query`` (the command's arguments) matches nothing."""
    return f"no items match {shlex.join(query)}" if query else "no items match"


def counted(count: int, noun: str) -> str:
    """"1 file", "2 files": ``count`` and ``noun`` (a regular plural)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def window_headings(starts: Sequence[float]) -> list[str]:
    """The windows' starts as m:ss, or all as h:mm:ss when one is past an hour."""
    return [clock_time(start, _past_an_hour(starts)) for start in starts]


def _past_an_hour(starts: Sequence[float]) -> bool:
    return any(start >= 3600 for start in starts)


def clock_time(seconds: float, hours: bool = False) -> str:
    """``seconds`` as m:ss, or as h:mm:ss with ``hours``."""
    whole_minutes, rest = divmod(int(seconds), 60)
    if not hours:
        return f"{whole_minutes}:{rest:02d}"
    whole_hours, whole_minutes = divmod(whole_minutes, 60)
    return f"{whole_hours}:{whole_minutes:02d}:{rest:02d}"


def text_chart(explanation: Explanation, width: int = 80) -> str:
    """A table with one row per label, one column per window (headed by its
    start time) and an 'overall' column; each cell a percentage and a bar.
    The mood's table follows when the explanation has one, then a line on
    what 'overall' is."""
    tables = [explanation] + ([explanation.mood] if explanation.mood is not None else [])
    lines = [explanation.path, *(line for t in tables for line in _table(t, width))]
    return "\n".join([*lines, f"  {explanation.overall_note}"])


def _table(explanation: Explanation, width: int) -> list[str]:
    label_width = max(len(label) for label in [*explanation.labels, explanation.kind])
    headers = [*explanation.headings, "overall"]
    room = (width - 2 - label_width) // len(headers) - 2 - PERCENT_WIDTH - 1
    bar_width = min(room, MAX_BAR) if room >= MIN_BAR else 0
    cell_width = PERCENT_WIDTH + (bar_width + 1 if bar_width else 0)
    widths = [max(cell_width, len(header)) for header in headers]
    probabilities = np.vstack([explanation.window_probabilities, explanation.overall])
    rows = [[explanation.kind, *headers]] + [
        [label, *(_cell(p, bar_width) for p in probabilities[:, row])]
        for row, label in enumerate(explanation.labels)
    ]
    label, confidence = explanation.top
    lines = [f"  {label} {confidence:.0%} overall; probability per {explanation.column_kind}:"]
    for name, *cells in rows:
        padded = "".join(f"  {cell:<{w}}" for cell, w in zip(cells, widths))
        lines.append(f"  {name:<{label_width}}{padded}".rstrip())
    return lines


def _cell(probability: float, bar_width: int) -> str:
    percent = f"{probability:.0%}".rjust(PERCENT_WIDTH)
    return f"{percent} {bar(probability, bar_width)}" if bar_width else percent


def bar(fraction: float, width: int) -> str:
    """A horizontal bar ``fraction`` of ``width`` characters long, to 1/8."""
    full, eighths = divmod(round(fraction * width * 8), 8)
    partial = EIGHTHS[eighths - 1] if eighths else ""
    return (FULL_BLOCK * full + partial).ljust(width)
