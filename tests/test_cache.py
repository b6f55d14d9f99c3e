"""The analysis cache survives tag writes: the audio payload's digest stays
put in every format whatever the tags become, and through `beet`, a tag edit
between two runs costs no decode."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest
from mediafile import Image, ImageType, MediaFile
from mutagen.apev2 import APEv2
from mutagen.id3 import ID3, TIT2

from beetsplug.genreclf.cache import AnalysisCache, cache_file
from beetsplug.genreclf.payload import audio_digest
from tests.audiogen import write_track
from tests.conftest import FORMATS
from tests.helper import SETUP, GenreClfTestBase, file_genres
from tests.test_run import LABELLED, ImportTestBase

COVER = Image(b"\x89PNG\r\n\x1a\n" + bytes(300_000), type=ImageType.front)


def big_tags(path: Path) -> None:
    """Tags far larger than the file had: the audio moves, pages split."""
    media = MediaFile(path)
    media.update({"genres": ["Rock", "Jazz"], "title": "t" * 5000, "images": [COVER]})
    media.save()


def small_tags(path: Path) -> None:
    media = MediaFile(path)
    media.update({"title": "short", "images": []})
    media.save()


def id3v1_and_ape(path: Path) -> None:
    """What other taggers leave at the end of an MP3."""
    ID3(path).save(v1=2)  # an ID3v1 tag too
    ape = APEv2()
    ape["Title"] = "from another tagger"
    ape.save(path)


def whole_file_digest(path: Path) -> bytes:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).digest()


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("rewrites", [[big_tags], [small_tags], [big_tags, small_tags]])
def test_a_tag_write_keeps_the_audio_digest(audio_dir, tmp_path, suffix, rewrites):
    path = tmp_path / f"track{suffix}"
    path.write_bytes((audio_dir / f"chords{suffix}").read_bytes())
    before, size = audio_digest(path), path.stat().st_size

    for rewrite in rewrites:
        rewrite(path)

    assert audio_digest(path) == before
    assert path.stat().st_size != size


def test_tags_at_the_end_of_an_mp3_are_left_out(audio_dir, tmp_path):
    path = tmp_path / "track.mp3"
    path.write_bytes((audio_dir / "beats.mp3").read_bytes())
    MediaFile(path).save()  # an ID3v2 tag in front
    ID3(path).add(TIT2(text=["x"]))
    before = audio_digest(path)

    id3v1_and_ape(path)

    assert audio_digest(path) == before != whole_file_digest(path)


@pytest.mark.parametrize("suffix", FORMATS)
def test_other_audio_has_another_digest(audio_dir, tmp_path, suffix):
    other = write_track(tmp_path / f"other{suffix}", "chords", seconds=12.0, seed=99)
    assert audio_digest(other) != audio_digest(audio_dir / f"chords{suffix}")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not audio at all",
        b"fLaC\x00\x00",  # metadata cut short
        b"OggS\x00garbage",  # not a page
        b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x01",  # an atom that runs past the end
        b"RIFF\x10\x00\x00\x00WAVEfmt ",  # no data chunk
        b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f",  # a tag longer than the file
    ],
)
def test_a_container_not_understood_is_digested_whole(tmp_path, content):
    path = tmp_path / "odd.bin"
    path.write_bytes(content)
    assert audio_digest(path) == whole_file_digest(path)


def test_a_file_that_cannot_be_read_has_no_digest(tmp_path):
    assert audio_digest(tmp_path / "missing.flac") is None


def test_an_old_cache_gets_digests_as_its_entries_are_found(audio_dir, tmp_path):
    """A cache written before entries had a digest: found by path as
    before, and after one lookup also by audio."""
    path = tmp_path / "chords.flac"
    path.write_bytes((audio_dir / "chords.flac").read_bytes())
    database = tmp_path / "old.db"
    with sqlite3.connect(database) as old:
        old.execute(
            "CREATE TABLE analysis (path BLOB NOT NULL, setup TEXT NOT NULL, size INTEGER"
            " NOT NULL, mtime_ns INTEGER NOT NULL, probabilities BLOB NOT NULL,"
            " embedding BLOB NOT NULL, PRIMARY KEY (path, setup))"
        )
        status = path.stat()
        old.execute(
            "INSERT INTO analysis VALUES (?, 's', ?, ?, ?, ?)",
            (os.fsencode(path), status.st_size, status.st_mtime_ns, bytes(8), bytes(4)),
        )
    cache = AnalysisCache(database, "s")
    assert cache.get(os.fsencode(path)) is not None
    big_tags(path)

    found = cache.get(os.fsencode(path))

    cache.close()
    assert found is not None and cache.hits == 2


class TestTagEditsThroughBeets(ImportTestBase):
    def cache_rows(self) -> dict[bytes, tuple[int, int]]:
        path = cache_file(self.lib.path, Path(self.config.config_dir()))
        with sqlite3.connect(path) as database:
            rows = database.execute(
                "SELECT path, size, mtime_ns FROM analysis WHERE setup = ?", (SETUP,)
            )
            return {path: (size, mtime) for path, size, mtime in rows}

    def test_after_beet_modify_nothing_is_decoded_again(self, caplog):
        self.setup_plugin(learn={"min_examples": 2})
        items = [self.add_tracks(name, artist=artist)[0] for name, _, artist in LABELLED]
        self.run_command("genreclf", "-W")
        for item, (_, genre, _) in zip(items, LABELLED):
            written = os.stat(item.path).st_mtime_ns
            query = f"path:{os.fsdecode(item.path)}"
            self.run_command("modify", "-y", "-w", query, f"genres={genre}")
            assert file_genres(item.path) == [genre]
            assert os.stat(item.path).st_mtime_ns != written

        self.assert_learn_and_retag_decode_nothing(caplog, len(items))

    def test_our_writes_in_a_run_with_nothing_to_analyse_refresh_the_cache(self):
        self.setup_plugin(mode="replace")
        self.config["import"]["write"] = False
        self.import_folder("-c")
        items = list(self.lib.items())
        assert all(file_genres(item.path) != item.genres for item in items)

        self.run_command("genreclf", "-w")  # every item analysed: writes only

        assert all(file_genres(item.path) == item.genres for item in items)
        files = {path: (os.stat(path).st_size, os.stat(path).st_mtime_ns) for path in
                 (item.path for item in items)}
        assert {path: self.cache_rows()[path] for path in files} == files
