"""Figures for ``--explain`` and ``--stats`` (``--plot FILE.png``).

matplotlib is an optional extra (``pip install 'beets-genreclf[plot]'``); it
is imported only here, when a figure is asked for, and draws off-screen (Agg).
"""

from __future__ import annotations

import functools
import os
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from beets import ui

from .explain import Explanation
from .stats import CONFIDENCE_EDGES, LibraryStats

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL_HINT = "genreclf: --plot needs matplotlib: pip install 'beets-genreclf[plot]'"
CELL_INCHES = 0.32  # height of one genre row
DARK_CELL = 0.55  # cells above this probability get white text
DEFAULT_EXTENSION = ".png"  # what matplotlib adds to a name without one
NOT_A_FALLBACK = "Last Resort"  # matplotlib's font of placeholder boxes
GLYPH_WARNING = "Glyph .* missing from font"


def require_matplotlib() -> None:
    """Raise a UserError that says how to install matplotlib if it is missing."""
    _new_figure()


def _new_figure(**options) -> Figure:
    try:
        import matplotlib.backends.backend_agg
        import matplotlib.figure
    except ImportError as exc:
        raise ui.UserError(INSTALL_HINT) from exc
    figure = matplotlib.figure.Figure(**options)
    matplotlib.backends.backend_agg.FigureCanvasAgg(figure)  # off-screen, no pyplot state
    return figure


def explanation_figure(explanations: list[Explanation]) -> Figure:
    """One heat map per track: genres (rows, most probable first) over its
    windows (columns, by start time) and the overall prediction."""
    rows = len(explanations[0].labels)
    height = len(explanations) * (rows * CELL_INCHES + 1.4)
    figure = _new_figure(figsize=(7.5, height), layout="constrained")
    axes = figure.subplots(len(explanations), 1, squeeze=False)[:, 0]
    fonts = font_families([e.title for e in explanations] + explanations[0].labels)
    for ax, explanation in zip(axes, explanations):
        image = _heat_map(ax, explanation, fonts)
    figure.colorbar(image, ax=list(axes), label="probability", shrink=min(1.0, 4 / height))
    return figure


def _heat_map(ax, explanation: Explanation, fonts: list[str]):
    values = np.column_stack([explanation.window_probabilities.T, explanation.overall])
    image = ax.imshow(values, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for (row, column), value in np.ndenumerate(values):
        color = "black" if value > DARK_CELL else "white"
        ax.text(column, row, f"{value:.0%}", ha="center", va="center", fontsize=8, color=color)
    n_columns = len(explanation.headings)
    ax.axvline(n_columns - 0.5, color="white", linewidth=3)  # windows | overall
    ax.set_xticks(range(n_columns + 1), [*explanation.headings, "overall"])
    ax.set_yticks(range(len(explanation.labels)), [*map(displayable, explanation.labels)])
    ax.tick_params(axis="y", labelfontfamily=fonts)
    ax.set_xlabel(explanation.column_kind)
    ax.set_ylabel("genre")
    label, confidence = explanation.top
    title = displayable(explanation.title or os.path.basename(explanation.path))
    ax.set_title(f"{title}: {label} {confidence:.0%}", fontsize=10, fontfamily=fonts)
    return image


def stats_figure(stats: LibraryStats) -> Figure:
    """Predicted genres (one bar per genre) and the confidence histogram."""
    genres = [label for label, _ in stats.genres.most_common()][::-1]  # most on top
    height = max(3.0, len(genres) * CELL_INCHES + 1.5)
    figure = _new_figure(figsize=(10, height), layout="constrained")
    by_genre, by_confidence = figure.subplots(1, 2, width_ratios=(3, 2))
    _genre_bars(by_genre, stats, genres)
    _confidence_bars(by_confidence, stats)
    figure.suptitle(f"{stats.analysed} analysed items")
    return figure


def _genre_bars(ax, stats: LibraryStats, genres: list[str]) -> None:
    counts = [stats.genres[label] for label in genres]
    bars = ax.barh([displayable(label) for label in genres], counts, color="tab:blue")
    ax.tick_params(axis="y", labelfontfamily=font_families(genres))
    means = [stats.confidence_sums[label] / stats.genres[label] for label in genres]
    ax.bar_label(bars, [f"{n}  (mean conf. {m:.2f})" for n, m in zip(counts, means)],
                 padding=3, fontsize=8)
    ax.set_xlim(0, max(counts) * 1.45)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("items")
    ax.set_ylabel("predicted genre")


def _confidence_bars(ax, stats: LibraryStats) -> None:
    edges = np.array(CONFIDENCE_EDGES)
    ax.bar(edges[:-1], stats.confidence_bins, width=np.diff(edges), align="edge",
           color="tab:gray", edgecolor="white")
    ax.axvline(stats.min_confidence, color="tab:red", linestyle="--",
               label=f"min_confidence {stats.min_confidence:.2f}")
    ax.set_xticks(edges)
    ax.set_xlim(0, 1)
    ax.set_xlabel("confidence (probability of the top genre)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("items")
    ax.legend(loc="upper left", fontsize=8)


def save(figure: Figure, path: str) -> Path:
    """Write ``figure`` (format from the extension: png, svg, pdf...; none:
    png) and return the path written."""
    target = check_plot_path(path)
    try:
        with warnings.catch_warnings():  # characters no installed font has: boxes, quietly
            warnings.filterwarnings("ignore", GLYPH_WARNING)
            figure.savefig(target, dpi=120)
    except (OSError, ValueError) as exc:
        raise ui.UserError(f"genreclf: cannot write the plot {displayable(path)}: {exc}") from exc
    return target


def check_plot_path(path: str) -> Path:
    """The file :func:`save` will write for ``path``; a UserError now, before
    any analysis, if it cannot (or matplotlib is missing)."""
    formats = _new_figure().canvas.get_supported_filetypes()
    problem = _path_problem(path, formats)
    if problem:
        raise ui.UserError(f"genreclf: cannot write the plot {displayable(path)}: {problem}")
    return _with_extension(Path(path))


def _with_extension(path: Path) -> Path:
    return path if path.suffix else path.with_name(path.name + DEFAULT_EXTENSION)


def _path_problem(path: str, formats: Iterable[str]) -> str | None:
    """Why a plot cannot be written to ``path``, or None."""
    if not path:
        return "no file name given"
    if path.endswith(os.sep) or os.path.isdir(path):
        return "that is a folder; name a file, e.g. genres.png"
    target = _with_extension(Path(path))
    extension = target.suffix[1:].lower()
    if extension not in formats:
        return f"unknown format '{extension}' (known: {', '.join(sorted(formats))})"
    folder = target.parent
    if not folder.is_dir():
        return f"there is no folder {displayable(str(folder))}"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"cannot write in {displayable(str(folder))} ({exc.strerror})"
    if target.exists() and not os.access(target, os.W_OK):
        return "the file exists and is read-only"
    return None


def displayable(text: str) -> str:
    """``text`` with undecodable bytes (the surrogate escapes of
    ``os.fsdecode``) as U+FFFD: matplotlib cannot draw surrogates."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def font_families(texts: Iterable[str]) -> list[str]:
    """The default sans-serif family, then installed families that have the
    characters it lacks (none for characters no installed font has)."""
    from matplotlib import font_manager

    default = font_manager.findfont(font_manager.FontProperties(family=["sans-serif"]))
    families = [font_manager.FontProperties(fname=default).get_name()]
    wanted = {ord(c) for text in texts for c in displayable(text) if c.isprintable()}
    missing = wanted - _characters(default)
    for font in font_manager.fontManager.ttflist:
        if not missing:
            break
        found = set() if font.name.startswith(NOT_A_FALLBACK) else missing & _characters(font.fname)
        if found:
            families.append(font.name)
            missing -= found
    return list(dict.fromkeys(families))


@functools.lru_cache(maxsize=None)
def _characters(font_file: str) -> frozenset[int]:
    """The code points ``font_file`` has glyphs for (none if it cannot be read)."""
    from matplotlib.ft2font import FT2Font

    try:
        return frozenset(FT2Font(font_file).get_charmap())
    except (OSError, RuntimeError):
        return frozenset()
