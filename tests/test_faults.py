"""Faults during a run: a worker process that dies, Ctrl-C, a locked database."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import beets
import mutagen._util
import pytest
from beets import ui
from beets.library import Item, Library
from mediafile import MediaFile

from beetsplug.genreclf.analysis import Analyzer, FileAnalysis, analyse_file
from beetsplug.genreclf.audio import WindowPolicy
from beetsplug.genreclf.model import DEFAULT_MODEL_PATH, GenreModel, ModelRef, reference
from tests.helper import GenreClfTestBase, tag_file


def exit_on_crash_file(
    path: str, model: ModelRef, windows: WindowPolicy, detail: bool = False
) -> FileAnalysis:
    """analyse_file, except that the worker exits on files named crash*."""
    if Path(path).name.startswith("crash"):
        os._exit(70)
    return analyse_file(path, model, windows, detail)


def segfault_on_crash_file(
    path: str, model: ModelRef, windows: WindowPolicy, detail: bool = False
) -> FileAnalysis:
    """analyse_file, except that the worker gets SIGSEGV on crash* files."""
    if Path(path).name.startswith("crash"):
        os.kill(os.getpid(), signal.SIGSEGV)
    return analyse_file(path, model, windows, detail)


@pytest.fixture(scope="module")
def model() -> ModelRef:
    return reference(GenreModel(DEFAULT_MODEL_PATH))


class TestWorkerDeath:
    @pytest.mark.parametrize("analyse", [exit_on_crash_file, segfault_on_crash_file])
    def test_a_dying_worker_costs_only_its_file(self, model, audio_dir, tmp_path, analyse):
        """Every file but the crashing one is analysed, in order, and the
        same predictions come out as in a run without the crash."""
        good = sorted(audio_dir.glob("*.wav")) + sorted(audio_dir.glob("*.flac"))
        crash = tmp_path / "crash.wav"
        crash.write_bytes(good[0].read_bytes())
        paths = [*good[:3], crash, *good[3:]]
        analyzer = Analyzer(model, WindowPolicy(), jobs=2, analyse=analyse)

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
        analyzer = Analyzer(model, WindowPolicy(), jobs=2, analyse=exit_on_crash_file)

        outcomes = list(analyzer.analyse((str(p), str(p)) for p in paths))

        assert [o.key for o in outcomes] == [str(p) for p in paths]
        assert [o.key for o in outcomes if o.prediction is None] == [str(c) for c in crashes]


# A run interrupted with Ctrl-C, a locked database: through the `beet` command.

BEET = Path(sys.executable).with_name("beet")


def make_library(folder: Path, tracks: list[Path], timeout: float = 5.0) -> dict[str, str]:
    """A beets library in ``folder`` holding copies of ``tracks``; returns the
    environment that points `beet` at it."""
    music = folder / "music"
    music.mkdir(parents=True)
    (folder / "config.yaml").write_text(
        f"directory: {music}\nlibrary: {folder / 'library.db'}\nplugins: genreclf\n"
        f"timeout: {timeout}\ngenreclf:\n  auto: no\n  min_confidence: 0\n"
    )
    beets.config["create_backup_before_migrations"] = False
    lib = Library(str(folder / "library.db"), str(music))
    for index, track in enumerate(tracks):
        target = music / f"{index:03d}{track.suffix}"
        shutil.copyfile(track, target)
        lib.add(Item.from_path(str(target)))
    lib._close()
    return {**os.environ, "BEETSDIR": str(folder)}


def analysed_count(folder: Path) -> int:
    with sqlite3.connect(folder / "library.db") as db:
        query = "SELECT count(*) FROM item_attributes WHERE key = 'genreclf_model'"
        return db.execute(query).fetchone()[0]


def beet(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BEET), *args], env=env, capture_output=True, text=True, timeout=300)


@contextlib.contextmanager
def sigint_handled() -> Iterator[None]:
    """SIGINT handled (not ignored) here while the block starts a child: a
    child inherits an ignored signal, and a suite started in the background
    by a non-interactive shell (`cmd &`, as under nohup) ignores SIGINT.
    A handled signal is reset to its default in the child, as in a terminal."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def ctrl_c_after_three(
    env: dict[str, str], folder: Path, *args: str
) -> tuple[subprocess.Popen, str, float]:
    """`beet *args`, sent SIGINT to its whole process group (what Ctrl-C
    does) once three items are analysed: the process, its output and when
    it was interrupted."""
    with sigint_handled():  # so that `beet` does not inherit an ignored SIGINT
        run = subprocess.Popen(
            [str(BEET), *args],
            env=env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + 120
    while analysed_count(folder) < 3 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGINT)
    interrupted_at = time.monotonic()
    return run, run.communicate(timeout=120)[0], interrupted_at


def test_ctrl_c_stops_promptly_keeps_the_work_and_the_next_run_resumes(audio_dir, tmp_path):
    """SIGINT to the whole process group (what Ctrl-C does) mid-run: the run
    ends within seconds with status 130, what was analysed is stored and
    written, every file is intact, and the next run does only the rest."""
    tracks = sorted(audio_dir.glob("*.flac")) + sorted(audio_dir.glob("*.wav"))
    env = make_library(tmp_path, tracks * 40)
    run, output, interrupted_at = ctrl_c_after_three(env, tmp_path, "genreclf", "-w")

    assert run.returncode == 130, output
    assert time.monotonic() - interrupted_at < 10
    assert "interrupted" in output and "Traceback" not in output
    stored = analysed_count(tmp_path)
    assert 3 <= stored < len(tracks) * 40
    lib = Library(str(tmp_path / "library.db"), str(tmp_path / "music"))
    for item in lib.items():
        assert (MediaFile(item.path).genres or []) == list(item.genres)  # written iff stored

    rerun = beet(env, "genreclf", "-w")
    assert rerun.returncode == 0, rerun.stderr
    assert f"skipped {stored} (already analysed)" in rerun.stderr
    assert analysed_count(tmp_path) == len(tracks) * 40


def test_ctrl_c_during_an_import_reports_and_the_next_run_analyses_the_rest(
    audio_dir, tmp_path
):
    """SIGINT mid-import: our summary, a non-zero status, and a plain
    `beet genreclf` afterwards analyses every item the import left."""
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    for index, track in enumerate(sorted(audio_dir.glob("*.flac")) * 40):
        target = incoming / f"{index:03d}.flac"
        shutil.copyfile(track, target)
        tag_file(target, artist="Artist", title=f"Track {index}")  # no duplicates
    env = make_library(tmp_path, [])
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace("auto: no", "auto: yes"))
    run, output, _ = ctrl_c_after_three(env, tmp_path, "import", "-A", "-q", "-s", "-c",
                                        str(incoming))

    assert run.returncode == 1, output
    assert "genreclf: analysed " in output and "import interrupted" in output, output
    assert "Traceback" not in output
    lib = Library(str(tmp_path / "library.db"), str(tmp_path / "music"))
    left = len(lib.items()) - analysed_count(tmp_path)
    assert left > 0

    rerun = beet(env, "genreclf", "-W")
    assert rerun.returncode == 0, rerun.stderr
    assert f"analysed {left}" in rerun.stderr
    assert analysed_count(tmp_path) == len(lib.items())


def test_a_locked_database_stops_the_run_with_a_clear_error(audio_dir, tmp_path):
    """Another process holds the library's write lock: one clear error, exit 1,
    the database intact and nothing stored half-way; later the run succeeds."""
    tracks = sorted(audio_dir.glob("*.flac"))
    env = make_library(tmp_path, tracks, timeout=0.2)
    locker = sqlite3.connect(tmp_path / "library.db", isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # what a writing beets process holds
    try:
        locked = beet(env, "genreclf", "-W")
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    assert locked.returncode == 1
    assert "cannot write to the library database (database is locked)" in locked.stderr
    assert "Traceback" not in locked.stderr
    with sqlite3.connect(tmp_path / "library.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert analysed_count(tmp_path) == 0
    assert beet(env, "genreclf", "-W").returncode == 0
    assert analysed_count(tmp_path) == len(tracks)


class TestFullDisk(GenreClfTestBase):
    @pytest.fixture
    def full_disk(self, tmp_path: Path, monkeypatch) -> Iterator[Path]:
        """A folder on a filesystem with no space left: a small tmpfs, filled
        up. Where mounting is not permitted, mutagen's file growth is made to
        fail with ENOSPC instead, which is what a full disk does to it."""
        disk = tmp_path / "disk"
        disk.mkdir()
        mount = ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)]
        try:
            mounted = subprocess.run(mount, capture_output=True).returncode == 0
        except FileNotFoundError:
            mounted = False
        if not mounted:
            monkeypatch.setattr(mutagen._util, "resize_file", _no_space_left)
        try:
            yield disk
        finally:
            if mounted:
                subprocess.run(["umount", str(disk)], check=True)

    def test_tags_not_written_on_a_full_disk_and_nothing_stored(self, full_disk, audio_dir, caplog):
        """Every write fails with a clear reason; files are byte-identical,
        rows untouched; the summary counts the failures; exit status 1."""
        tracks = [audio_dir / "chords.wav", audio_dir / "beats.aiff"]  # a tag chunk must grow them
        for track in tracks:
            shutil.copyfile(track, full_disk / track.name)
        _fill(full_disk)
        before = {track.name: (full_disk / track.name).read_bytes() for track in tracks}
        self.setup_plugin()
        items = [self.add_item_at(full_disk / track.name) for track in tracks]

        with pytest.raises(ui.UserError, match="2 file"):
            self.run_command("genreclf", "-w")

        ours = [r for r in caplog.records if r.name == "beets.genreclf"]
        errors = [r.getMessage() for r in ours if r.levelno >= logging.ERROR]
        assert len(errors) == len(tracks)
        for error, item in zip(errors, items):
            assert error.startswith(f"{os.fsdecode(item.path)}: tags not written: ")
            assert re.search(r"disk full \(\d+ bytes free\)$|No space left on device$", error)
        for name, content in before.items():
            assert (full_disk / name).read_bytes() == content
        assert self.analysed_ids() == set()

    def add_item_at(self, path: Path) -> Item:
        item = Item.from_path(path)
        self.lib.add(item)
        return item


def _fill(folder: Path) -> None:
    """Use up every free byte of ``folder``'s filesystem, if it is the small
    tmpfs (where mounting failed, mutagen is patched instead: never fill a
    real disk)."""
    if shutil.disk_usage(folder).total > 64 * 2**20:
        return
    descriptor = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        with contextlib.suppress(OSError):  # ENOSPC: full
            while os.write(descriptor, bytes(4096)):
                pass
    finally:
        os.close(descriptor)


def _no_space_left(*args, **kwargs) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_the_beets_process_keeps_its_own_ctrl_c():
    """Only worker processes ignore SIGINT: with -j 1 or threads, analysis
    runs in the beets process, which must still stop on Ctrl-C."""
    import signal

    from beetsplug.genreclf.analysis import ignore_interrupts_in_worker_process

    before = signal.getsignal(signal.SIGINT)
    ignore_interrupts_in_worker_process()
    assert signal.getsignal(signal.SIGINT) is before
