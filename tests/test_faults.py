"""Faults during a run: a worker process that dies, Ctrl-C, a locked database."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from beetsplug.genreclf.analysis import Analyzer, FileFeatures, extract_features
from beetsplug.genreclf.audio import WindowPolicy
from beetsplug.genreclf.features import FeatureParams
from beetsplug.genreclf.model import DEFAULT_MODEL_PATH, GenreModel


def exit_on_crash_file(path: str, params: FeatureParams, windows: WindowPolicy) -> FileFeatures:
    """extract_features, except that the worker exits on files named crash*."""
    if Path(path).name.startswith("crash"):
        os._exit(70)
    return extract_features(path, params, windows)


def segfault_on_crash_file(path: str, params: FeatureParams, windows: WindowPolicy) -> FileFeatures:
    """extract_features, except that the worker gets SIGSEGV on crash* files."""
    if Path(path).name.startswith("crash"):
        os.kill(os.getpid(), signal.SIGSEGV)
    return extract_features(path, params, windows)


@pytest.fixture(scope="module")
def model() -> GenreModel:
    return GenreModel(DEFAULT_MODEL_PATH)


class TestWorkerDeath:
    @pytest.mark.parametrize("extract", [exit_on_crash_file, segfault_on_crash_file])
    def test_a_dying_worker_costs_only_its_file(self, model, audio_dir, tmp_path, extract):
        """Every file but the crashing one is analysed, in order, and the
        same predictions come out as in a run without the crash."""
        good = sorted(audio_dir.glob("*.wav")) + sorted(audio_dir.glob("*.flac"))
        crash = tmp_path / "crash.wav"
        crash.write_bytes(good[0].read_bytes())
        paths = [*good[:3], crash, *good[3:]]
        analyzer = Analyzer(model, WindowPolicy(), jobs=2, extract=extract)

        outcomes = list(analyzer.analyse((str(p), str(p)) for p in paths))

        assert [o.key for o in outcomes] == [str(p) for p in paths]
        failed = [o for o in outcomes if o.prediction is None]
        assert [o.key for o in failed] == [str(crash)]
        assert "worker process died" in failed[0].error
        reference = Analyzer(model, WindowPolicy(), jobs=2).analyse((str(p), str(p)) for p in good)
        expected = {o.key: o.prediction.probabilities for o in reference}
        for outcome in outcomes:
            if outcome.prediction is not None:
                assert outcome.prediction.probabilities == pytest.approx(expected[outcome.key])

    def test_several_crashes_in_one_run(self, model, audio_dir, tmp_path):
        """Two crashing files among good ones: both reported, the run completes."""
        good = sorted(audio_dir.glob("*.flac"))
        crashes = [tmp_path / f"crash{i}.flac" for i in range(2)]
        for crash in crashes:
            crash.write_bytes(good[0].read_bytes())
        paths = [crashes[0], *good, crashes[1]]
        analyzer = Analyzer(model, WindowPolicy(), jobs=2, extract=exit_on_crash_file)

        outcomes = list(analyzer.analyse((str(p), str(p)) for p in paths))

        assert [o.key for o in outcomes] == [str(p) for p in paths]
        assert [o.key for o in outcomes if o.prediction is None] == [str(c) for c in crashes]
