"""plots.py on its own: where plots go, and text matplotlib cannot draw as given."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from beets import ui

from beetsplug.genreclf import plots
from beetsplug.genreclf.explain import Explanation, display_title

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NON_UTF8_NAME = os.fsdecode(b"caf\xe9 \xff.flac")  # Latin-1 bytes: surrogate escapes
CIRCLED_A = "\N{CIRCLED LATIN CAPITAL LETTER A}"  # in matplotlib's STIX, not in DejaVu Sans


def explanation(title: str, path: str = "/music/track.flac") -> Explanation:
    return Explanation(
        path=path,
        labels=["jazz", "rock"],
        window_starts=[0.0, 4.0],
        window_probabilities=np.array([[0.6, 0.4], [0.7, 0.3]]),
        overall=np.array([0.65, 0.35]),
        title=title,
    )


def saved_without_warnings(figure, path: Path) -> Path:
    """``plots.save``, failing on any warning (matplotlib's 'Glyph missing' included)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return plots.save(figure, str(path))


@pytest.mark.parametrize(
    "name, written",
    [
        ("noext", "noext.png"),
        ("plot.svg", "plot.svg"),
        ("PLOT.PDF", "PLOT.PDF"),
        ("genres.png", "genres.png"),
    ],
)
def test_save_returns_the_file_it_wrote(tmp_path, name, written):
    figure = plots.explanation_figure([explanation("A – B")])

    path = plots.save(figure, str(tmp_path / name))

    assert path == tmp_path / written
    assert [p.name for p in tmp_path.iterdir()] == [written]
    assert plots.check_plot_path(str(tmp_path / name)) == path


@pytest.mark.parametrize(
    "path, problem",
    [
        ("{tmp}/missing/plot.png", "there is no folder {tmp}/missing"),
        ("{tmp}/plot.txt", "unknown format 'txt' (known: "),
        ("{tmp}/plot.final", "unknown format 'final' (known: "),
        ("{tmp}", "that is a folder; name a file, e.g. genres.png"),
        ("{tmp}/", "that is a folder"),
        ("", "no file name given"),
        ("/sys/plot.png", "cannot write in /sys (Permission denied)"),  # even for root
    ],
)
def test_a_plot_path_that_cannot_be_written_is_refused_at_once(tmp_path, path, problem):
    path, problem = path.format(tmp=tmp_path), problem.format(tmp=tmp_path)

    with pytest.raises(ui.UserError) as caught:
        plots.check_plot_path(path)

    assert str(caught.value).startswith(f"genreclf: cannot write the plot {path}: {problem}")
    assert list(tmp_path.iterdir()) == []


def test_non_utf8_track_and_plot_names_give_a_png(tmp_path):
    title = display_title(f"/music/{NON_UTF8_NAME}")
    plot = tmp_path / os.fsdecode(b"plot \xe9")

    written = saved_without_warnings(plots.explanation_figure([explanation(title)]), plot)

    assert written.name == os.fsdecode(b"plot \xe9.png")
    assert written.read_bytes().startswith(PNG_MAGIC)


def test_characters_the_default_font_lacks_draw_quietly(tmp_path):
    title = f"坂本龍一 – {CIRCLED_A} 戦場のメリークリスマス"
    figure = plots.explanation_figure([explanation(title)])

    written = saved_without_warnings(figure, tmp_path / "cjk.png")

    assert written.read_bytes().startswith(PNG_MAGIC)
    [title] = [ax.title for ax in figure.axes if ax.get_ylabel() == "genre"]
    assert title.get_text().startswith(f"坂本龍一 – {CIRCLED_A} ")
    assert "STIXGeneral" in title.get_fontfamily()  # an installed font that has the circled A


@pytest.mark.parametrize(
    "texts, families",
    [
        (["jazz", "Miles Davis – So What"], ["DejaVu Sans"]),
        ([f"{CIRCLED_A}rt"], ["DejaVu Sans", "STIXGeneral"]),
        (["line\nbreak", NON_UTF8_NAME], ["DejaVu Sans"]),
    ],
)
def test_font_families_add_fonts_only_for_missing_characters(texts, families):
    assert plots.font_families(texts) == families


@pytest.mark.parametrize(
    "text, shown",
    [
        ("plain", "plain"),
        ("Björk", "Björk"),
        (NON_UTF8_NAME, "caf\N{REPLACEMENT CHARACTER} \N{REPLACEMENT CHARACTER}.flac"),
    ],
)
def test_displayable_replaces_only_undecodable_bytes(text, shown):
    assert plots.displayable(text) == shown
