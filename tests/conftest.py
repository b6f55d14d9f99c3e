"""Shared fixtures: generated audio in every format the plugin reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.audiogen import STYLES, write_track

FORMATS = (".mp3", ".flac", ".ogg", ".wav", ".aiff", ".m4a")


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
