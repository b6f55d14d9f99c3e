"""Bad input, end to end and property-based.

Every bad file must cost only itself: one error line with its path and a
reason, counted as failed in the summary, its database row and its bytes
untouched, the good files of the same run tagged, and the command exiting
non-zero. Unusual but valid files (odd rates, channels, names, lengths,
tags) must be analysed like any other. All files are generated here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import struct
import tempfile
import threading
import traceback
import tracemalloc
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import beets.plugins
import mutagen
import numpy as np
import pytest
from beets import ui
from beets.library import Item, Library, ReadError
from beets.test.helper import PluginTestHelper
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mediafile import MediaFile
from mutagen.apev2 import APENoHeaderError, APEv2
from mutagen.id3 import APIC, COMM, ID3, TALB, TCON, TIT2, TPE1, TRCK, TXXX, TYER

from beetsplug.genreclf.audio import (
    UNEXPECTED,
    AudioError,
    WindowPolicy,
    captured_stderr,
    decode_windows,
)
from beetsplug.genreclf.features import (
    FeatureError,
    FeatureParams,
    segments_from_windows,
)
from beetsplug.genreclf.model import DEFAULT_MODEL_PATH, GenreModel
from tests import badfiles
from tests.helper import SETUP, file_genres, written
from tests.test_faults import beet, make_library

MODEL = GenreModel(DEFAULT_MODEL_PATH)
NOBODY = 65534
Maker = Callable[[Path], "Path | str | bytes"]


# Helpers.


def sha256(path: str | bytes | Path) -> str:
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


def row(item: Item) -> dict[str, Any]:
    """Every stored field of an item (fixed and flexible)."""
    return {key: item[key] for key in item.keys(computed=False)}


def row_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The fields that differ: name -> (before, after)."""
    return {k: (before.get(k), after.get(k)) for k in before.keys() | after.keys()
            if before.get(k) != after.get(k)}


def error_lines(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if r.levelno >= logging.ERROR]


def summary_line(records: list[logging.LogRecord]) -> str:
    lines = [r.getMessage() for r in records if r.getMessage().startswith("analysed ")]
    assert len(lines) == 1, lines
    return lines[0]


class BadInputBase(PluginTestHelper):
    plugin: ClassVar[str] = "genreclf"
    preload_plugin: ClassVar[bool] = False

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.folder = tmp_path / "music"
        self.folder.mkdir()

    def setup_plugin(self, **settings) -> beets.plugins.BeetsPlugin:
        self.config["genreclf"].set({"jobs": 2, "min_confidence": 0.0, **settings})
        self.config["import"]["copy"] = False  # a library kept in place: its files are written
        self.load_plugins()
        return beets.plugins.find_plugins()[0]

    def add(self, path: str | bytes | Path, **values) -> Item:
        """Add ``path`` to the library, as beets would if it can read its tags."""
        try:
            item = Item.from_path(path)
        except ReadError:  # unreadable tags: a row with the path only
            item = Item(path=os.fsencode(path), title=os.path.basename(os.fsdecode(path)))
        item.update(values)
        self.lib.add(item)
        return item

    def add_good(self, name: str, seed: int) -> Item:
        return self.add(badfiles.make_valid(self.folder / name, seconds=5.0, seed=seed))

    def reloaded(self, item: Item) -> Item:
        return self.lib.get_item(item.id)

    def run_genreclf(self, *args: str) -> BaseException | None:
        """Run `beet genreclf`; the exception it ended with (beets' exit 1)."""
        try:
            self.run_command("genreclf", *args)
        except (ui.UserError, SystemExit) as exc:
            return exc
        return None

    def assert_tagged(self, item: Item) -> None:
        item = self.reloaded(item)
        assert item.genreclf_model == SETUP, item.filepath
        assert item.genreclf_genre in MODEL.labels
        assert np.isfinite(item.genreclf_confidence) and 0.0 < item.genreclf_confidence <= 1.0
        assert file_genres(item.path) == written(item.genreclf_genre)


# 1-7, 10: files that cannot be analysed.

BAD_FILES: dict[str, tuple[Maker, str]] = {  # case: (maker, reason pattern)
    "zero-byte mp3": (badfiles.make_empty, ""),
    "mp3 cut at 60%": (lambda d: badfiles.make_truncated(d, ".mp3", 0.6), ""),
    "flac cut at 60%": (lambda d: badfiles.make_truncated(d, ".flac", 0.6), ""),
    "mp3 header only": (lambda d: badfiles.make_header_only(d, ".mp3"), ""),
    "flac header only": (lambda d: badfiles.make_header_only(d, ".flac"), ""),
    "ogg header only": (lambda d: badfiles.make_header_only(d, ".ogg"), ""),
    "text named .mp3": (badfiles.make_text_as_mp3, ""),
    "png named .mp3": (badfiles.make_png_as_mp3, ""),
    "mp3 whose every frame is damaged": (badfiles.make_undecodable_mp3, "damaged|decode"),
    "mp4 with only video": (badfiles.make_video_only, "no audio"),
    "mkv with only video": (lambda d: badfiles.make_video_only(d, ".mkv"), "no audio"),
    "wav with unknown codec 0x1234": (badfiles.make_unknown_codec_wav, "codec|support"),
    "digital silence": (badfiles.make_silence, "silen"),
    "0.2 s clip (< min_frames)": (
        lambda d: badfiles.make_clip(d, 0.2),
        r"^too short to analyse \(0\.20 s; needs \d+\.\d\d s\)$",
    ),
    "float wav with NaN": (lambda d: badfiles.make_non_finite(d, float("nan")), "NaN|finite"),
    "float wav with inf": (lambda d: badfiles.make_non_finite(d, float("inf")), "NaN|finite"),
}


class TestBadFiles(BadInputBase):
    @pytest.mark.parametrize("case", list(BAD_FILES))
    def test_a_bad_file_costs_only_itself(self, case: str, caplog):
        """A bad file between good ones: one error line, failed, untouched; exit 1."""
        maker, reason = BAD_FILES[case]
        self.setup_plugin()
        first = self.add_good("good-1.wav", seed=1)
        path = maker(self.folder)
        bad = self.add(path, genres=["Curated"], comments="keep")
        last = self.add_good("good-2.flac", seed=2)
        row_before, bytes_before = row(self.reloaded(bad)), sha256(path)

        exit_exc = self.run_genreclf("-w")

        self.assert_failed_cleanly(bad, row_before, bytes_before, exit_exc, caplog.records, reason, 2)
        self.assert_tagged(first)
        self.assert_tagged(last)

    def test_a_file_deleted_after_it_was_added(self, caplog):
        """A library row whose file is gone: reported as not found, row kept."""
        self.setup_plugin()
        first = self.add_good("good-1.wav", seed=1)
        gone = self.add_good("gone.flac", seed=3)
        os.remove(gone.path)
        row_before = row(self.reloaded(gone))

        exit_exc = self.run_genreclf("-w")

        self.assert_failed_cleanly(gone, row_before, None, exit_exc, caplog.records, "not found", 1)
        assert not os.path.exists(gone.path)
        self.assert_tagged(first)

    def assert_failed_cleanly(
        self,
        bad: Item,
        row_before: dict[str, Any],
        bytes_before: str | None,
        exit_exc: BaseException | None,
        records: list[logging.LogRecord],
        reason: str,
        good_files: int,
    ) -> None:
        shown = os.fsdecode(bad.path)
        errors = error_lines(records)
        after = self.reloaded(bad)
        assert len(errors) == 1, (
            f"error lines {errors}; the file got genreclf_genre={after.get('genreclf_genre')!r}"
        )
        assert errors[0].startswith(f"{shown}: "), errors
        why = errors[0][len(shown) + 2 :]
        assert why.strip(), "no reason given"
        assert not why.startswith("unexpected"), f"an unclassified decoder exception: {why}"
        if reason:
            assert re.search(reason, why, flags=re.IGNORECASE), why
        assert summary_line(records).startswith(
            f"analysed {good_files}, skipped 0 (already analysed), failed 1 in "
        )
        assert isinstance(exit_exc, (ui.UserError, SystemExit)), "exit status 0"
        assert getattr(exit_exc, "code", 1) not in (0, None), "exit status 0"
        # Only the reason is recorded (so the next run skips the file until it changes).
        recorded = row_diff(row_before, row(self.reloaded(bad)))
        if bytes_before is None:  # a missing file is no lasting verdict
            assert recorded == {}
        else:
            assert recorded.keys() == {"genreclf_error", "genreclf_error_on"}
            assert recorded["genreclf_error"] == (None, why)
        if bytes_before is not None:
            assert sha256(bad.path) == bytes_before


# 7-9, 13: unusual files that must be analysed like any other.

GOOD_FILES: dict[str, Maker] = {
    # Ogg declares no total length: a cut stream is a shorter, valid stream.
    "ogg cut at 60%": lambda d: badfiles.make_truncated(d, ".ogg", 0.6),
    "1.5 s clip (< one segment)": lambda d: badfiles.make_clip(d, 1.5),
    "8 kHz wav": lambda d: badfiles.make_format(d, ".wav", 8000, 2),
    "96 kHz flac": lambda d: badfiles.make_format(d, ".flac", 96000, 2),
    "mono flac": lambda d: badfiles.make_format(d, ".flac", 44100, 1),
    "6-channel flac": lambda d: badfiles.make_format(d, ".flac", 44100, 6),
    "6-channel wav": lambda d: badfiles.make_format(d, ".wav", 44100, 6),
    "name with spaces": lambda d: badfiles.make_named(d, "my  song - live", ".mp3"),
    "name with quotes": lambda d: badfiles.make_named(d, "it's \"the\" `one`", ".ogg"),
    "name with a newline": lambda d: badfiles.make_named(d, "line\nbreak", ".flac"),
    "non-UTF-8 name (latin-1 café)": lambda d: badfiles.make_named(d, b"caf\xe9", ".flac"),
    "non-UTF-8 name, mp3": lambda d: badfiles.make_named(d, b"\xff\xfe na\xefve", ".mp3"),
    # Headers whose length is unusable: libsndfile cannot seek (FLAC's
    # "unknown" total_samples) or believes an absurd length (Xing frames).
    "flac with total_samples 0": lambda d: badfiles.make_length_lie(d, ".flac", "zero"),
    "mp3 with Xing frames 0xFFFFFFF0": lambda d: badfiles.make_length_lie(d, ".mp3", "huge"),
    "3-hour sparse wav": lambda d: badfiles.make_sparse_long_wav(
        d / "three hours.wav", 3 * 3600.0, default_model_windows().spans(3 * 3600.0)
    ),
}


def default_model_windows() -> WindowPolicy:
    """What the default model hears (``windows: auto``): the music must be there."""
    count, seconds = MODEL.windows
    return WindowPolicy(window_seconds=seconds, max_windows=count)


class TestUnusualButValidFiles(BadInputBase):
    @pytest.mark.parametrize("case", list(GOOD_FILES))
    def test_is_analysed_and_tagged(self, case: str, caplog):
        """An unusual but valid file is tagged like any other, without errors."""
        self.setup_plugin()
        item = self.add(GOOD_FILES[case](self.folder))

        exit_exc = self.run_genreclf("-w")

        assert error_lines(caplog.records) == []
        assert exit_exc is None
        self.assert_tagged(item)


# 8: a long file is read in windows, never whole.


def test_three_hour_file_decodes_only_its_windows(tmp_path: Path):
    """decode_windows on a 3-hour (sparse) WAV reads ~90 s, not 3.8 GB."""
    seconds, policy = 3 * 3600.0, WindowPolicy()
    path = badfiles.make_sparse_long_wav(tmp_path / "long.wav", seconds, policy.spans(seconds))
    whole_float32 = seconds * badfiles.RATE * 2 * 4
    assert whole_float32 > 3.5e9
    assert os.stat(path).st_blocks * 512 < 100e6, "the test file should be sparse"

    tracemalloc.start()
    try:
        windows = decode_windows(path, 22050, policy)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 100e6, f"peak {peak / 1e6:.0f} MB"
    assert [len(w) for w in windows] == [30 * 22050] * 3
    for window in windows:  # the music written at each span, not the silent holes
        assert window.dtype == np.float32 and np.isfinite(window).all()
        assert np.sqrt(np.mean(window**2)) > 0.05


# 12: decoder chatter stays off the terminal.


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_beet_genreclf_prints_only_our_lines(jobs: str, tmp_path: Path):
    """`beet genreclf` over valid MP3s and damaged ones that libmpg123
    complains about on stderr: every line on the terminal is ours, and the
    cut file's error line carries the gist of what the decoder said."""
    source = tmp_path / "source"
    source.mkdir()
    tracks = [
        badfiles.make_valid(source / "valid.mp3", seconds=8.0),
        badfiles.make_glitchy_mp3(source),
        badfiles.make_length_lie(source, ".mp3", "huge"),
        badfiles.make_truncated(source, ".mp3", 0.6),
    ]
    env = make_library(tmp_path / "library", tracks)

    run = beet(env, "genreclf", "-W", "-j", jobs)

    lines = (run.stdout + run.stderr).splitlines()
    assert all(line.startswith(("genreclf: ", "error: genreclf: ")) for line in lines), lines
    [failure] = [line for line in lines if "003.mp3" in line]  # the cut file
    assert "truncated or damaged" in failure and "(decoder: Warning: Xing stream" in failure
    assert any(line.startswith("genreclf: analysed 3, skipped 0") for line in lines), lines
    assert run.returncode == 1


def test_overlapping_captures_keep_all_chatter_and_restore_stderr(capfd):
    """Threads capturing at once (the threading backend) share fd 2's
    redirection: each gets the text, and fd 2 is the terminal's again after."""
    both_in = threading.Barrier(2)
    texts: dict[str, str] = {}

    def decode(name: str) -> None:
        with captured_stderr() as said:
            both_in.wait()
            os.write(2, f"chatter from {name}\n".encode())
            both_in.wait()
        texts[name] = said.text

    threads = [threading.Thread(target=decode, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    os.write(2, b"ours\n")

    assert capfd.readouterr().err == "ours\n"
    assert all(f"chatter from {name}" in texts[name] for name in ("a", "b")), texts


# 12: permissions. Tests run as root, which ignores permission bits, so the
# command runs in a forked child demoted to nobody (65534). The interpreter
# may live where nobody cannot read (/root/.pyenv), so the child cannot exec
# a new Python: it runs the already-imported beets in-process (jobs 1, no
# worker processes), after everything it needs was imported and warmed up here.


def run_demoted(action: Callable[[], int]) -> tuple[int, dict]:
    """Run ``action`` in a child process as nobody (when we are root).

    Returns the child's exit code and the JSON it wrote (its log, errors).
    """
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        report: dict[str, Any] = {"log": [], "traceback": None}
        handler = _ListHandler(report["log"])
        logging.getLogger("beets").addHandler(handler)
        code = 3
        try:
            os.close(reader)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            code = action()
        except BaseException:
            report["traceback"] = traceback.format_exc()
        finally:
            with os.fdopen(writer, "w") as out:
                json.dump(report, out)
            os._exit(code)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        report = json.loads(pipe.read() or "{}")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), report


class _ListHandler(logging.Handler):
    def __init__(self, lines: list) -> None:
        super().__init__()
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append([record.levelname, record.getMessage()])


class TestPermissions(BadInputBase):
    db_on_disk: ClassVar[bool] = True

    @pytest.fixture(autouse=True)
    def _folder(self) -> None:
        """Everything in a world-accessible folder (pytest's tmp is root-only)."""
        os.chmod(self.temp_path, 0o777)
        self.folder = self.temp_path / "music"
        self.folder.mkdir(mode=0o777)
        os.chmod(self.folder, 0o777)

    def test_unreadable_and_read_only_files(self):
        """As nobody: an unreadable file fails analysis, a read-only file fails
        tag writing; both are reported, counted, left untouched; exit 1."""
        self.setup_plugin(jobs=1)
        good = self.add_good("good.flac", seed=1)
        unreadable = self.add_good("unreadable.flac", seed=2)
        read_only = self.add_good("read-only.mp3", seed=3)
        os.chmod(good.path, 0o666)
        os.chmod(unreadable.path, 0o000)
        os.chmod(read_only.path, 0o444)
        dbpath = self.config["library"].as_path()
        os.chmod(dbpath, 0o666)
        before = {i.id: (row(self.reloaded(i)), sha256(i.path)) for i in (unreadable, read_only)}
        _warm_up(self.folder)

        code, report = run_demoted(lambda: self._child_run(dbpath))

        assert report["traceback"] is None, report["traceback"]
        errors = [message for level, message in report["log"] if level == "ERROR"]
        assert len(errors) == 2, errors
        assert any(m.startswith(f"{os.fsdecode(unreadable.path)}: ") for m in errors), errors
        assert any(m.startswith(f"{os.fsdecode(read_only.path)}: ") for m in errors), errors
        assert all("ermission" in m for m in errors), errors  # "Permission denied"
        summary = [m for _, m in report["log"] if m.startswith("analysed ")]
        # 3 files: 1 tagged, 1 not analysed, 1 analysed but not written
        assert summary and summary[0].startswith(
            "analysed 1, skipped 0 (already analysed), failed 1, tags not written 1 in "
        ), summary
        assert any(m.startswith("  tags not written (1): ") for _, m in report["log"])
        assert code == 1
        self.lib._close()
        self.lib = Library(str(dbpath), str(self.lib_path))  # what the child stored
        self.assert_tagged(good)
        for item in (unreadable, read_only):
            row_before, bytes_before = before[item.id]
            assert row_diff(row_before, row(self.reloaded(item))) == {}, item.filepath
            assert sha256(item.path) == bytes_before

    def _child_run(self, dbpath: Path) -> int:
        lib = Library(str(dbpath), str(self.lib_path))
        try:
            self.run_command("genreclf", "-w", lib=lib)
        except ui.UserError:
            return 1
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
        finally:
            lib._close()
        return 0


def _warm_up(folder: Path) -> None:
    """Import and run, as root, everything the demoted child will need."""
    import beets.ui.commands  # noqa: F401

    from beetsplug.genreclf.analysis import analyse_file
    from beetsplug.genreclf.model import reference

    scratch = badfiles.make_valid(folder / "warm-up.mp3", seconds=4.0)
    assert analyse_file(str(scratch), reference(MODEL), WindowPolicy()).prediction is not None
    media = MediaFile(str(scratch))
    media.genres = ["x"]
    media.save()
    os.remove(scratch)


# 14: unusual existing tags survive the genre being written.

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def id3_tags(version: int, genres: list[str]) -> ID3:
    tags = ID3()
    tags.add(TIT2(encoding=1, text=["Tïtle"]))
    tags.add(TPE1(encoding=1, text=["Ärtist"]))
    tags.add(TALB(encoding=1, text=["Album"]))
    tags.add(TRCK(encoding=1, text=["3/12"]))
    tags.add(TCON(encoding=1, text=genres))
    tags.add(COMM(encoding=1, lang="eng", desc="", text=["keep me"]))
    tags.add(TXXX(encoding=1, desc="MY_OWN_FIELD", text=["mine"]))
    if version == 3:
        tags.add(TYER(encoding=1, text=["1999"]))
    return tags


def make_tagged_mp3(directory: Path, variant: str) -> Path:
    path = badfiles.make_valid(directory / f"{variant}.mp3", seconds=5.0)
    genres = ["Rock", "Jazz", "Blues"] if variant == "several-genres" else ["Old"]
    tags = id3_tags(3 if variant == "id3v23" else 4, genres)
    if variant == "cover-art":
        tags.add(APIC(encoding=3, mime="image/png", type=3, desc="Cover", data=PNG))
    tags.save(path, v2_version=3 if variant == "id3v23" else 4)
    if variant == "apev2":
        ape = APEv2()
        ape.update({"Title": "APE title", "Genre": "APE genre", "Custom": "ape value"})
        ape.save(path)
    return path


def make_tagged_vorbis(directory: Path, suffix: str) -> Path:
    path = badfiles.make_valid(directory / f"several-genres{suffix}", seconds=5.0)
    audio = mutagen.File(path)
    audio.tags.clear() if audio.tags is not None else audio.add_tags()
    for key, value in [("TITLE", "Tïtle"), ("GENRE", "Rock"), ("GENRE", "Jazz"),
                       ("GENRE", "Blues"), ("COMMENT", "keep me"), ("MY_OWN_FIELD", "mine")]:
        audio.tags.append((key, value))
    audio.save()
    return path


TAGGED_FILES: dict[str, Maker] = {
    "mp3 ID3v2.3": lambda d: make_tagged_mp3(d, "id3v23"),
    "mp3 ID3v2.4": lambda d: make_tagged_mp3(d, "id3v24"),
    "mp3 APEv2 + ID3": lambda d: make_tagged_mp3(d, "apev2"),
    "mp3 cover art (APIC)": lambda d: make_tagged_mp3(d, "cover-art"),
    "mp3 several TCON genres": lambda d: make_tagged_mp3(d, "several-genres"),
    "flac several GENRE": lambda d: make_tagged_vorbis(d, ".flac"),
    "ogg several GENRE": lambda d: make_tagged_vorbis(d, ".ogg"),
}


def tag_dump(path: Path) -> dict[str, str]:
    """Every tag in the file, raw (ID3 untranslated, with its version)."""
    dump: dict[str, str] = {}
    if path.suffix == ".mp3":
        id3 = ID3(path, translate=False)
        dump["ID3 version"] = repr(id3.version)
        dump.update({f"ID3:{key}": id3_value(frame) for key, frame in id3.items()})
        with contextlib.suppress(APENoHeaderError):
            dump.update({f"APE:{key}": repr(value) for key, value in APEv2(path).items()})
    else:
        dump.update({key.upper(): repr(values) for key, values in mutagen.File(path).tags.as_dict().items()})
    return dump


def id3_value(frame) -> str:
    """A frame's content. Text frames compare by value: saving ID3v2.3 may
    re-encode Latin-1 text as UTF-16 (v2.3 has no UTF-8), changing no value."""
    if isinstance(getattr(frame, "text", None), list) and not hasattr(frame, "desc"):
        return f"{type(frame).__name__}{frame.text!r}"
    return repr(frame)


def is_genre_key(key: str) -> bool:
    return key in {"ID3:TCON", "GENRE", "APE:Genre"}


class TestForeignTagsPreserved(BadInputBase):
    @pytest.mark.parametrize("case", list(TAGGED_FILES))
    def test_only_genre_tags_change(self, case: str, caplog):
        """Writing the genre changes the genre tag and nothing else in the file."""
        self.setup_plugin(mode="replace")
        path = TAGGED_FILES[case](self.folder)
        before = tag_dump(path)
        item = self.add(path)

        exit_exc = self.run_genreclf("-w")

        assert exit_exc is None and error_lines(caplog.records) == []
        after = tag_dump(path)
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        foreign = {k: (before.get(k), after.get(k)) for k in changed if not is_genre_key(k)}
        assert foreign == {}
        assert file_genres(path) == written(self.reloaded(item).genreclf_genre)


# Properties.

SUFFIXES = (".mp3", ".flac", ".ogg", ".wav", ".m4a")
MAGIC = {
    ".mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90d",
    ".flac": b"fLaC\x00\x00\x00\x22",
    ".ogg": b"OggS\x00\x02",
    ".wav": b"RIFF\xff\xff\xff\x7fWAVEfmt ",
    ".m4a": b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom",
}


@cache
def valid_bytes(suffix: str) -> bytes:
    """A small valid file of each format, to mutate."""
    folder = Path(tempfile.mkdtemp(prefix="genreclf-seed-"))
    path = badfiles.make_valid(folder / f"seed{suffix}", seconds=1.0)
    data = path.read_bytes()
    shutil.rmtree(folder)
    return data


def float_wav(samples: np.ndarray) -> bytes:
    """A mono 32-bit float WAV holding exactly ``samples``."""
    fmt = struct.pack("<HHIIHH", 3, 1, 44100, 44100 * 4, 4, 32)
    body = samples.astype("<f4").tobytes()
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


@st.composite
def damaged_files(draw) -> tuple[str, bytes]:
    """(suffix, content): noise, noise behind a format's magic, or a valid
    file of any format with its header's length misstated or bytes
    overwritten (or both), maybe cut short."""
    suffix = draw(st.sampled_from(SUFFIXES))
    kind = draw(st.sampled_from(["noise", "magic", "mutated"]))
    if kind == "noise":
        return suffix, draw(st.binary(max_size=2048))
    if kind == "magic":
        return suffix, MAGIC[draw(st.sampled_from(SUFFIXES))] + draw(st.binary(max_size=2048))
    source = draw(st.sampled_from(SUFFIXES))
    data = bytearray(valid_bytes(source))
    if draw(st.booleans()):  # its header misstates the length, too
        lie = draw(st.sampled_from(badfiles.LENGTH_LIES))
        data = bytearray(badfiles.misstate_length(data, source, lie))
    for _ in range(draw(st.integers(0, 20))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    return suffix, bytes(data[:cut])


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging forever) after ``seconds``."""

    def expired(signum, frame):
        raise TimeoutError(f"still decoding after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def flac_without_magic(cut: int) -> bytes:
    """Found by hypothesis: no "fLaC", so soundfile refuses it, and cut, so
    PyAV reads bare frames of unknown length (it used to seek to infinity)."""
    return b"\xf9" + valid_bytes(".flac")[1:cut]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(damaged_files())
@example((".flac", flac_without_magic(5867)))
@example((".m4a", b"\x04\x04\xf7Z\x97\x8a"))  # Electronic Arts CDATA, no duration
def test_decode_windows_on_damaged_bytes(file: tuple[str, bytes]):
    """Any bytes: a list of finite float32 windows, or AudioError; nothing else."""
    assert_decodes_or_audio_error(*file)


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("lie", badfiles.LENGTH_LIES)
def test_decode_windows_despite_a_header_length_of(lie: str, suffix: str, tmp_path: Path):
    """Complete audio whose header gives a zero, huge or no length: decoded."""
    path = badfiles.make_length_lie(tmp_path, suffix, lie)
    [window] = decode_windows(path, 22050, WindowPolicy())
    seconds = len(window) / 22050
    if (suffix, lie) in {(".mp3", "zero"), (".mp3", "missing")}:
        # libsndfile believes an MP3 length that is short of the truth (no
        # Xing count, or 0, makes libmpg123 estimate from the first frames).
        assert 0.5 < seconds <= 6.1
    else:
        assert abs(seconds - 6.0) < 0.5, seconds  # Ogg's last page may be dropped
    assert window.dtype == np.float32 and np.isfinite(window).all()


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_decode_windows_on_a_non_finite_float_wav(value: float):
    """A float WAV of NaN/inf: AudioError, not non-finite windows."""
    assert_decodes_or_audio_error(".wav", float_wav(np.full(4096, value, np.float32)))


def assert_decodes_or_audio_error(suffix: str, content: bytes) -> None:
    """decode_windows on ``content``: finite float32 windows or AudioError."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"random{suffix}"
        path.write_bytes(content)
        with time_limit(10):
            try:
                windows = decode_windows(path, 22050, WindowPolicy())
            except AudioError as exc:
                assert str(exc).strip()
                assert not str(exc).startswith(UNEXPECTED), f"unclassified: {exc}"
                return
    assert isinstance(windows, list)
    for window in windows:
        assert isinstance(window, np.ndarray) and window.dtype == np.float32 and window.ndim == 1
        assert np.isfinite(window).all(), "non-finite samples returned"


@pytest.mark.parametrize("suffix", [".mp3", ".flac", ".ogg"])
def test_decode_windows_on_header_only_files(suffix: str, tmp_path: Path):
    """Headers without audio frames: AudioError, not a libsndfile exception."""
    content = badfiles.make_header_only(tmp_path, suffix).read_bytes()
    assert_decodes_or_audio_error(suffix, content)


LENGTHS = (0, 1, 100, 2047, 2048, 16_000, 66_150, 100_000)
AMPLITUDES = (0.0, 1e-30, 1e-3, 1.0, 1e4, 1e20, 1e30, 3e38, 1e300)


@st.composite
def windows_lists(draw) -> list[np.ndarray]:
    """0-3 windows: tones of any magnitude and length, maybe with NaN/inf."""
    windows = []
    for _ in range(draw(st.integers(0, 3))):
        length = draw(st.sampled_from(LENGTHS))
        amplitude = draw(st.sampled_from(AMPLITUDES))
        dtype = draw(st.sampled_from([np.float32, np.float64]))
        seed = draw(st.integers(0, 2**16))
        window = amplitude * np.random.default_rng(seed).uniform(-1, 1, length)
        specials = draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf]), max_size=3))
        for value in specials:
            if length:
                window[draw(st.integers(0, length - 1))] = value
        with np.errstate(over="ignore"):
            windows.append(window.astype(dtype))
    return windows


@given(windows_lists())
def test_segments_from_windows_on_any_floats(windows: list[np.ndarray]):
    """Any float windows: finite float32 (n, frames, n_mfcc) segments, or FeatureError."""
    assert_segments_or_feature_error(windows)


@pytest.mark.parametrize("amplitude", [1e20, 1e30, 3e38])
def test_segments_from_windows_on_huge_but_finite_samples(amplitude: float):
    """Huge finite samples (3 s): finite features or FeatureError, never NaN."""
    tone = np.sin(np.arange(66_150) / 10.0) * amplitude
    assert_segments_or_feature_error([tone.astype(np.float32)])


def assert_segments_or_feature_error(windows: list[np.ndarray]) -> None:
    params = FeatureParams()
    try:
        segments = segments_from_windows(windows, params)
    except FeatureError as exc:
        assert str(exc).strip()
        return
    assert isinstance(segments, np.ndarray) and segments.dtype == np.float32
    assert segments.ndim == 3 and segments.shape[0] >= 1 and segments.shape[2] == params.n_mfcc
    assert params.min_frames <= segments.shape[1] <= params.segment_frames
    assert np.isfinite(segments).all(), "non-finite features returned"
