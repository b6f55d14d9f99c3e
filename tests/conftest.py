"""Shared fixtures: generated audio in every format the plugin reads; and
the hypothesis profiles.

Profiles (``--hypothesis-profile NAME``; ``ci`` when none is named): ``ci``
is derandomised, so every run of one commit tries the same examples and
gives the same verdict (``make test``); ``fuzz`` searches at random, many
times longer, and keeps what fails in ``.hypothesis/`` to try first next
time (``make fuzz``, before a change to decoding or features lands).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import settings

from tests.audiogen import STYLES, write_track

FUZZ_EXAMPLES = 15_000  # per property: 1.5-3.5 minutes in all on 2 cores
FORMATS = (".mp3", ".flac", ".ogg", ".wav", ".aiff", ".m4a")

settings.register_profile("ci", derandomize=True, max_examples=100, deadline=None, database=None)
settings.register_profile("fuzz", max_examples=FUZZ_EXAMPLES, deadline=None, print_blob=True)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory) -> Path:
    """A 12 s track of each style in each format, generated once per session."""
    directory = tmp_path_factory.mktemp("audio")
    for seed, style in enumerate(STYLES):
        for suffix in FORMATS:
            write_track(directory / f"{style}{suffix}", style, seconds=12.0, seed=seed)
    return directory


@pytest.fixture
def music(audio_dir, tmp_path) -> Path:
    """A fresh, writable copy of the generated tracks."""
    target = tmp_path / "music"
    shutil.copytree(audio_dir, target)
    return target
