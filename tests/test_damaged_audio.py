"""Slightly damaged files, as real libraries hold many of: decoded past the
damage, as players do, and tagged like any other file; the debug log says
what was worked around. (A file of which nothing decodes is in
test_bad_input.BAD_FILES.)"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import soundfile

from beetsplug.genreclf.audio import decode_timed_windows
from tests import badfiles
from tests.helper import DEFAULT_WINDOWS, MODEL
from tests.test_faults import beet, make_library

RATE = 16_000
DAMAGED = {  # case: (maker, what the debug log says of the damage)
    "mp3, two damaged frames": (
        badfiles.make_damaged_mp3,
        r"^libsndfile stopped \d+\.\d s into the window at \d+\.\d s: decoded with PyAV; "
        r"damaged frames PyAV skipped: \d+$",
    ),
    "m4a, two damaged bytes": (
        lambda d: badfiles.make_overwritten(d, ".m4a"),
        r"^damaged frames PyAV skipped: \d+$",
    ),
    "flac, two damaged bytes": (
        lambda d: badfiles.make_overwritten(d, ".flac"),
        r"^libsndfile failed on the window at \d+\.\d s \(.*lost sync.*\): decoded with PyAV$",
    ),
}


def test_libsndfile_stops_at_the_damaged_mp3_frame(tmp_path: Path):
    """What the fallback is for: libmpg123 ends the damaged MP3 early."""
    path = badfiles.make_damaged_mp3(tmp_path)
    assert soundfile.info(path).duration > 29.9
    assert len(soundfile.read(path)[0]) / 44100 < 20


@pytest.mark.parametrize("case", list(DAMAGED))
def test_every_window_of_a_damaged_file_is_decoded(case: str, tmp_path: Path):
    """The windows of the clean file, whole, and a note for the debug log."""
    maker, notes = DAMAGED[case]
    path = maker(tmp_path)
    clean = badfiles.make_valid(tmp_path / f"clean{path.suffix}", seconds=30.0)

    decoded = decode_timed_windows(path, RATE, DEFAULT_WINDOWS)

    assert decoded.starts == decode_timed_windows(clean, RATE, DEFAULT_WINDOWS).starts
    window_length = int(DEFAULT_WINDOWS.window_seconds * RATE)
    assert [len(window) for window in decoded.windows] == [window_length] * MODEL.windows[0]
    assert all(np.isfinite(window).all() for window in decoded.windows)
    assert re.fullmatch(notes, decoded.notes), decoded.notes


def test_beet_genreclf_tags_a_damaged_mp3(tmp_path: Path):
    """`beet -v genreclf` on the damaged MP3: a genre, no error, exit 0, and
    the debug log says which window libsndfile stopped in."""
    env = make_library(tmp_path / "library", [badfiles.make_damaged_mp3(tmp_path)])

    run = beet(env, "-v", "genreclf", "-w")

    lines = (run.stdout + run.stderr).splitlines()
    assert not [line for line in lines if "error" in line.lower()], lines
    assert any(line.startswith("genreclf: analysed 1, skipped 0") for line in lines), lines
    [note] = [line for line in lines if ": decoder said: " in line]
    assert re.search(DAMAGED["mp3, two damaged frames"][1][1:], note), note
    assert run.returncode == 0
    with sqlite3.connect(tmp_path / "library" / "library.db") as db:
        query = "SELECT value FROM item_attributes WHERE key = 'genreclf_genre'"
        [(genre,)] = db.execute(query).fetchall()
    assert genre in MODEL.labels
