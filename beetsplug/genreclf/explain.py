"""What the model heard: each label's probability per analysed window and overall.

A track's prediction is the mean over its 3 s segments; the segments of one
window, averaged alone, show what the model made of that part of the track.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .analysis import AnalysedWindow
    from .model import TrackPrediction

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

    @property
    def top(self) -> tuple[str, float]:
        return self.labels[0], float(self.overall[0])

    @property
    def headings(self) -> list[str]:
        return list(self.columns) or [*map(minutes, self.window_starts)]


def album_explanation(
    name: str,
    track_names: list[str],
    track_probabilities: np.ndarray,
    album_probabilities: np.ndarray,
    labels: list[str],
) -> Explanation:
    """An album's tracks side by side (columns) and the album overall."""
    order = np.argsort(-album_probabilities, kind="stable")
    return Explanation(
        path=name,
        labels=[labels[i] for i in order],
        window_starts=[],
        window_probabilities=track_probabilities[:, order],
        overall=album_probabilities[order],
        title=name,
        columns=tuple(track_names),
        column_kind="track",
    )


def explain(
    path: str,
    prediction: TrackPrediction,
    windows: Sequence[AnalysedWindow],
    labels: list[str],
    title: str | None = None,
) -> Explanation:
    """Split ``prediction``'s segments into the ``windows`` they came from.
    ``title`` names the track in plots (default: the file name)."""
    bounds = np.cumsum([0, *(window.segments for window in windows)])
    per_window = np.stack(
        [prediction.segment_probabilities[a:b].mean(axis=0) for a, b in zip(bounds, bounds[1:])]
    )
    order = np.argsort(-prediction.probabilities, kind="stable")
    return Explanation(
        path=path,
        labels=[labels[i] for i in order],
        window_starts=[window.start for window in windows],
        window_probabilities=per_window[:, order],
        overall=prediction.probabilities[order],
        title=display_title(path) if title is None else title,
    )


def display_title(path: str, artist: str = "", title: str = "") -> str:
    """How a plot names a track: "Artist – Title", the title alone, else the file name."""
    if not title:
        return os.path.basename(path)
    return f"{artist} – {title}" if artist else title


def no_items_text(query: Sequence[str] = ()) -> str:
    """What to say when ``query`` (the command's arguments) matches nothing."""
    return f"no items match {shlex.join(query)}" if query else "no items match"


def minutes(seconds: float) -> str:
    """``seconds`` as m:ss."""
    whole_minutes, rest = divmod(int(seconds), 60)
    return f"{whole_minutes}:{rest:02d}"


def text_chart(explanation: Explanation, width: int = 80) -> str:
    """A table with one row per label, one column per window (headed by its
    start time) and an 'overall' column; each cell a percentage and a bar."""
    label_width = max(len(label) for label in [*explanation.labels, "genre"])
    headers = [*explanation.headings, "overall"]
    room = (width - 2 - label_width) // len(headers) - 2 - PERCENT_WIDTH - 1
    bar_width = min(room, MAX_BAR) if room >= MIN_BAR else 0
    cell_width = PERCENT_WIDTH + (bar_width + 1 if bar_width else 0)
    widths = [max(cell_width, len(header)) for header in headers]
    probabilities = np.vstack([explanation.window_probabilities, explanation.overall])
    rows = [["genre", *headers]] + [
        [label, *(_cell(p, bar_width) for p in probabilities[:, row])]
        for row, label in enumerate(explanation.labels)
    ]
    label, confidence = explanation.top
    lines = [
        explanation.path,
        f"  {label} {confidence:.0%} overall; probability per {explanation.column_kind}:",
    ]
    for name, *cells in rows:
        padded = "".join(f"  {cell:<{w}}" for cell, w in zip(cells, widths))
        lines.append(f"  {name:<{label_width}}{padded}".rstrip())
    return "\n".join(lines)


def _cell(probability: float, bar_width: int) -> str:
    percent = f"{probability:.0%}".rjust(PERCENT_WIDTH)
    return f"{percent} {bar(probability, bar_width)}" if bar_width else percent


def bar(fraction: float, width: int) -> str:
    """A horizontal bar ``fraction`` of ``width`` characters long, to 1/8."""
    full, eighths = divmod(round(fraction * width * 8), 8)
    partial = EIGHTHS[eighths - 1] if eighths else ""
    return (FULL_BLOCK * full + partial).ljust(width)
