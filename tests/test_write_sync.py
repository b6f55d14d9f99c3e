"""Through `beet`, on a real library of generated audio: the exit status of
`beet import`, errors of files fixed since, files gone missing or emptied,
`-p` listing exactly the files the real run writes, and fields of a turned-off
option removed by `-f`."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests import badfiles
from tests.helper import tag_file
from tests.test_faults import beet

FAILED_LINE = re.compile(r"error: genreclf: 1 file\S* could not be analysed")
EXIT_MARK_PLUGIN = '''
from pathlib import Path
from beets.plugins import BeetsPlugin

class ExitMark(BeetsPlugin):
    """Notes that beets sent cli_exit (what mpdupdate and the like act on)."""
    def __init__(self):
        super().__init__()
        self.register_listener("cli_exit", lambda lib: Path(f"{lib.path}.exited").touch())
'''


def make_config(folder: Path, **genreclf: str) -> dict[str, str]:
    """A beets configuration in ``folder`` (imports copied, as-is, written,
    analysed by genreclf); returns the environment that points `beet` at it."""
    (folder / "plugins").mkdir(parents=True)
    (folder / "plugins" / "exitmark.py").write_text(EXIT_MARK_PLUGIN)
    options = "".join(f"  {key}: {value}\n" for key, value in genreclf.items())
    (folder / "config.yaml").write_text(
        f"directory: {folder / 'library'}\nlibrary: {folder / 'library.db'}\n"
        f"pluginpath: [{folder / 'plugins'}]\nplugins: genreclf exitmark\n"
        "create_backup_before_migrations: no\n"
        "import: {copy: yes, write: yes, autotag: no, quiet: yes}\n"
        f"genreclf:\n  min_confidence: 0\n  jobs: 2\n{options}"
    )
    return {**os.environ, "BEETSDIR": str(folder)}


def incoming_track(source: Path, target: Path, title: str, **tags: str) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    tag_file(target, title=title, artist="Artist", **tags)
    return target


def library_files(folder: Path) -> dict[str, Path]:
    """Title -> library file (named "[track number ]title")."""
    return {path.stem.rsplit(" ", 1)[-1]: path for path in (folder / "library").rglob("*.*")}


def field(folder: Path, title: str, name: str) -> str | None:
    with sqlite3.connect(folder / "library.db") as db:
        row = db.execute(
            "SELECT value FROM item_attributes JOIN items ON items.id = entity_id"
            " WHERE title = ? AND key = ?",
            (title, name),
        ).fetchone()
    return row and row[0]


def digests(files: dict[str, Path]) -> dict[str, str]:
    return {title: hashlib.sha256(path.read_bytes()).hexdigest() for title, path in files.items()}


def lines_naming(output: str, path: Path) -> list[str]:
    return [line for line in output.splitlines() if str(path) in line]


def test_import_exits_1_after_its_summary_when_a_file_cannot_be_analysed(audio_dir, tmp_path):
    """One silent file among good ones: the import is complete (every file
    added and placed, the good one analysed and written, every plugin's
    cli_exit run), the summary says why, and `beet import` exits 1."""
    env = make_config(tmp_path)
    incoming = tmp_path / "incoming"
    incoming_track(audio_dir / "chords.flac", incoming / "good.flac", "good")
    incoming_track(badfiles.make_silence(tmp_path), incoming / "silent.wav", "silent")

    run = beet(env, "import", "-s", str(incoming))

    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert FAILED_LINE.fullmatch(run.stderr.strip().splitlines()[-1]), run.stderr
    assert re.search(r"genreclf: analysed 1, .*failed 1 in ", run.stdout), run.stdout
    files = library_files(tmp_path)
    assert files.keys() == {"good", "silent"}
    assert field(tmp_path, "good", "genreclf_model")
    assert field(tmp_path, "silent", "genreclf_error") == "the audio is silent"
    assert Path(f"{tmp_path / 'library.db'}.exited").exists()

    clean = beet(env, "import", "-s", str(incoming_track(
        audio_dir / "beats.mp3", tmp_path / "more" / "beats.mp3", "beats"
    )))
    assert clean.returncode == 0, clean.stdout + clean.stderr


def analysed_library(audio_dir: Path, folder: Path, **genreclf: str) -> dict[str, str]:
    """A library of a chords and a beats track, imported and analysed."""
    env = make_config(folder, **genreclf)
    incoming = folder / "incoming"
    incoming_track(audio_dir / "chords.flac", incoming / "chords.flac", "chords")
    incoming_track(audio_dir / "beats.mp3", incoming / "beats.mp3", "beats")
    assert beet(env, "import", "-s", str(incoming)).returncode == 0
    return env


@pytest.mark.parametrize("fix", ["restored from a backup", "replaced by other audio"])
def test_a_fixed_file_loses_its_error(fix, audio_dir, tmp_path):
    env = analysed_library(audio_dir, tmp_path)
    path = library_files(tmp_path)["chords"]
    backup = shutil.copy2(path, tmp_path / "backup.flac")
    path.write_bytes(path.read_bytes()[:4000])  # damaged
    damaged = beet(env, "genreclf")
    assert damaged.returncode == 1, damaged.stderr
    assert field(tmp_path, "chords", "genreclf_error")

    if fix == "restored from a backup":
        shutil.copy2(backup, path)  # the bytes and the time it had when analysed
    else:
        shutil.copyfile(audio_dir / "beats.flac", path)
    fixed = beet(env, "genreclf")

    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert field(tmp_path, "chords", "genreclf_error") is None
    assert field(tmp_path, "chords", "genreclf_error_on") is None
    assert "unanalysable" not in fixed.stderr
    assert field(tmp_path, "chords", "genreclf_model")


def test_a_file_gone_missing_is_one_line_and_no_failure(audio_dir, tmp_path):
    """An analysed file deleted since: every plain run (which writes, with
    import.write) names it in one line and exits 0; the other file is synced."""
    env = analysed_library(audio_dir, tmp_path)
    path = library_files(tmp_path)["chords"]
    path.unlink()

    for _ in range(2):
        run = beet(env, "genreclf")
        output = run.stdout + run.stderr
        assert run.returncode == 0, output
        named = lines_naming(output, path)
        assert len(named) == 1 and named[0].count(str(path)) == 1, named
        assert "file not found" in named[0]
        assert "tags not written (" not in output


def test_an_emptied_file_fails_once_then_is_skipped(audio_dir, tmp_path):
    """An analysed file emptied since: one line (its path once) and exit 1;
    the next plain run does not try it again and exits 0."""
    env = analysed_library(audio_dir, tmp_path)
    path = library_files(tmp_path)["chords"]
    path.write_bytes(b"")

    first = beet(env, "genreclf")
    again = beet(env, "genreclf")

    named = lines_naming(first.stdout + first.stderr, path)
    assert first.returncode == 1 and len(named) == 1, first.stderr
    assert named[0].count(str(path)) == 1, named
    assert again.returncode == 0, again.stderr
    assert lines_naming(again.stdout + again.stderr, path) == []
    assert "1 skipped: unanalysable" in again.stderr


def pretend_then_run(env: dict[str, str], folder: Path, *args: str) -> tuple[set[str], set[str]]:
    """`beet *args -p`, then `beet *args`: the files -p said it would write
    (checking it wrote none and counted them), and those the run wrote."""
    files = library_files(folder)
    before = digests(files)
    pretend = beet(env, *args, "-p")
    assert pretend.returncode == 0, pretend.stderr
    assert digests(files) == before
    listed = {
        title for title, path in files.items()
        if any(line.startswith(f"would write {path}: ") for line in pretend.stdout.splitlines())
    }
    count = len(listed)
    assert f"would write {count} file{'' if count == 1 else 's'}; nothing stored" in pretend.stderr
    assert beet(env, *args).returncode == 0
    after = digests(files)
    return listed, {title for title in files if after[title] != before[title]}


def test_pretend_lists_exactly_the_files_the_run_writes(audio_dir, tmp_path):
    """After an import that wrote nothing (-W): a query's tracks and their
    album mates; after turning on mood_tags: every file; then none."""
    env = make_config(tmp_path)
    incoming = tmp_path / "incoming"
    album = {"album": "Album", "albumartist": "Artist"}
    incoming_track(audio_dir / "chords.flac", incoming / "album" / "a1.flac", "a1", **album)
    incoming_track(audio_dir / "beats.mp3", incoming / "album" / "a2.mp3", "a2", **album)
    incoming_track(audio_dir / "chords.ogg", incoming / "other" / "b.ogg", "b", album="Other")
    assert beet(env, "import", "-W", str(incoming)).returncode == 0
    mood_tags = tmp_path / "mood_tags.yaml"
    mood_tags.write_text("genreclf: {mood_tags: yes}\n")

    listed, written = pretend_then_run(env, tmp_path, "genreclf", "title:a1")
    assert listed == written == {"a1", "a2"}

    listed, written = pretend_then_run(env, tmp_path, "-c", str(mood_tags), "genreclf")
    assert listed == written == {"a1", "a2", "b"}

    listed, written = pretend_then_run(env, tmp_path, "-c", str(mood_tags), "genreclf")
    assert listed == written == set()


def test_mood_off_and_force_remove_the_mood_fields(audio_dir, tmp_path):
    """With mood turned off, `-f` removes the mood fields it stored earlier
    (a plain run leaves them); the other fields stay."""
    env = analysed_library(audio_dir, tmp_path)
    mood_off = tmp_path / "mood_off.yaml"
    mood_off.write_text("genreclf: {mood: no}\n")
    assert field(tmp_path, "beats", "genreclf_mood")

    assert beet(env, "-c", str(mood_off), "genreclf").returncode == 0
    assert field(tmp_path, "beats", "genreclf_mood")
    assert beet(env, "-c", str(mood_off), "genreclf", "-f").returncode == 0

    for name in ("genreclf_mood", "genreclf_mood_confidence", "genreclf_arousal"):
        assert field(tmp_path, "beats", name) is None
    assert field(tmp_path, "beats", "genreclf_genre")
