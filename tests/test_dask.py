"""The Dask backend on a real dask.distributed LocalCluster (2 worker
processes, loopback only)."""

from __future__ import annotations

import sys
from pathlib import Path

import dask
import distributed  # noqa: F401  (registers its configuration with dask)
import numpy as np
import pytest
from beets import ui
from beets.library import Item

from beetsplug.genreclf.analysis import Analyzer, FileAnalysis, analyse_file
from beetsplug.genreclf.audio import WindowPolicy
from beetsplug.genreclf.backends import Backend, DaskBackend, JoblibBackend
from beetsplug.genreclf.model import DEFAULT_MODEL_PATH, GenreModel, ModelRef, reference
from tests.helper import GenreClfTestBase
from tests.test_faults import exit_on_crash_file

MODEL = reference(GenreModel(DEFAULT_MODEL_PATH))
LOCAL_DASK = DaskBackend(scheduler="local")


def analyse(paths: list[Path], backend: Backend, **kwargs) -> dict[str, object]:
    analyzer = Analyzer(MODEL, WindowPolicy(), jobs=2, backend=backend, **kwargs)
    with backend.session(jobs=2):
        return {o.key: o for o in analyzer.analyse((str(p), str(p)) for p in paths)}


def test_dask_predicts_exactly_what_loky_does_and_a_lost_worker_costs_one_file(audio_dir, tmp_path):
    """Same files, same predictions; then a file that kills its worker (each
    retry too) is the only one reported, and the run completes."""
    paths = sorted(audio_dir.glob("*.flac")) + sorted(audio_dir.glob("*.mp3"))
    loky = analyse(paths, JoblibBackend())
    crash = tmp_path / "crash.flac"
    crash.write_bytes(paths[0].read_bytes())

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        on_dask = analyse([*paths, crash], LOCAL_DASK, analyse=exit_on_crash_file)

    for path in paths:
        expected = loky[str(path)].prediction.probabilities
        assert np.allclose(on_dask[str(path)].prediction.probabilities, expected, atol=1e-6)
    assert on_dask[str(crash)].prediction is None
    assert "worker process died" in on_dask[str(crash)].error


def opened_under_nas(
    path: str, model: ModelRef, windows: WindowPolicy, detail: bool = False
) -> FileAnalysis:
    """analyse_file, for paths under a 'nas' mount only."""
    if "/nas/" not in path:
        return FileAnalysis(error=f"the worker was sent {path}")
    return analyse_file(path, model, windows, detail)


def test_path_map_translates_the_paths_workers_open(audio_dir, tmp_path):
    """Workers see the music under another mount point (a symlink here)."""
    mount = tmp_path / "nas"
    mount.symlink_to(audio_dir)
    backend = DaskBackend(((str(audio_dir), str(mount)),), "local")
    paths = sorted(audio_dir.glob("*.ogg"))

    outcomes = analyse(paths, backend, analyse=opened_under_nas)

    assert all(outcomes[str(p)].prediction is not None for p in paths)


class TestDaskCommand(GenreClfTestBase):
    def test_a_wrong_path_map_is_one_clear_error(self):
        self.setup_plugin(backend="dask", dask={"path_map": {str(self.music): "/nowhere"}})
        self.add_tracks("chords.flac", "beats.ogg")

        with pytest.raises(
            ui.UserError,
            match=r"/nowhere/.* not found on the workers, "
            r"though .* is here; check genreclf.dask.path_map",
        ):
            self.run_command("genreclf", "-W")
        assert self.analysed_ids() == set()

    def test_dask_not_installed_says_how_to_install_it(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "distributed", None)
        self.setup_plugin(backend="dask")
        self.add_tracks("chords.flac")

        with pytest.raises(ui.UserError, match=r"pip install 'beets-genreclf\[dask\]'"):
            self.run_command("genreclf", "-W")

    def test_unknown_backend_is_one_clear_error_at_load(self):
        with pytest.raises(ui.UserError, match="genreclf.backend.*loky.*spark"):
            self.setup_plugin(backend="spark")

    def test_threading_backend_tags_too(self):
        self.setup_plugin(backend="threading")
        items = self.add_tracks("chords.flac", "beats.mp3")
        self.run_command("genreclf", "-W")
        assert self.analysed_ids() == {item.id for item in items}


def test_items_are_never_sent_to_workers(audio_dir):
    """Only plain strings travel: an Item key stays in the parent."""
    item = Item(path=str(audio_dir / "noise.flac"))
    analyzer = Analyzer(MODEL, WindowPolicy(), jobs=2, backend=LOCAL_DASK)
    with LOCAL_DASK.session(jobs=2):
        [outcome] = analyzer.analyse([(item, str(audio_dir / "noise.flac"))])
    assert outcome.key is item and outcome.prediction is not None
