"""Album genres end to end: `beet import` of album and singleton tasks, and
`beet genreclf -a`, on a real library with generated audio."""

from __future__ import annotations

import shutil

import pytest

from beetsplug.genreclf.policy import MIXED_TRACK_CONFIDENCE
from tests.helper import SETUP, GenreClfTestBase, tag_file, written

MIXED = ["chords.flac", "chords.ogg", "beats.flac", "noise.mp3"]
ONE_STYLE = ["chords.flac", "chords.ogg", "chords.mp3", "chords.wav"]


class AlbumTestBase(GenreClfTestBase):
    def import_album(self, names: list[str], *options: str, albumartist: str = "Band") -> None:
        folder = self.temp_path / "incoming" / "album"
        folder.mkdir(parents=True)
        for number, name in enumerate(names, 1):
            target = folder / name
            shutil.copy(self.music / name, target)
            tag_file(target, artist=albumartist, albumartist=albumartist, album="Record",
                     title=f"Track {number}", track=number)
        self.run_command("import", "-A", "-q", *options, str(folder))

    def assert_follows_its_album(self, album) -> None:
        """Every track has the album's genre, unless it is confidently of
        another genre (then its own)."""
        for item in album.items():
            own = item.genreclf_genre != album.genreclf_genre and (
                item.genreclf_confidence >= MIXED_TRACK_CONFIDENCE
            )
            expected = item.genreclf_genre if own else album.genreclf_genre
            assert item.genres == [written(expected)], (item.title, item.genreclf_top, album.genreclf_top)


class TestImport(AlbumTestBase):
    @pytest.mark.parametrize("operation", ["-C", "-c", "-m"])  # as is, copy, move
    def test_an_album_task_gets_an_album_genre_its_tracks_follow(self, operation):
        self.setup_plugin()
        self.import_album(MIXED, operation)

        [album] = self.lib.albums()
        assert album.genreclf_model == SETUP
        assert 0 < album.genreclf_confidence <= 1
        assert album.genreclf_top.startswith(f"{album.genreclf_genre} ")
        assert list(self.lib.albums("genreclf_genre:" + album.genreclf_genre)) != []
        assert all(item.genreclf_model == SETUP for item in album.items())
        self.assert_follows_its_album(album)

    def test_one_style_makes_one_genre(self):
        self.setup_plugin()
        self.import_album(ONE_STYLE, "-c")

        [album] = self.lib.albums()
        assert {tuple(item.genres) for item in album.items()} == {(written(album.genreclf_genre),)}

    def test_singletons_are_tagged_per_track(self):
        self.setup_plugin()
        self.import_album(MIXED, "-c", "-s")

        assert list(self.lib.albums()) == []
        for item in self.lib.items():
            assert item.genres == [written(item.genreclf_genre)]

    def test_genres_from_track_keeps_each_tracks_own(self):
        self.setup_plugin(genres_from="track")
        self.import_album(MIXED, "-c")

        [album] = self.lib.albums()
        assert album.genreclf_genre
        for item in album.items():
            assert item.genres == [written(item.genreclf_genre)]

    def test_a_compilation_keeps_each_tracks_own(self):
        self.setup_plugin()
        self.import_album(MIXED, "-c", albumartist="Various Artists")

        [album] = self.lib.albums()
        assert album.genreclf_genre
        for item in album.items():
            assert item.genres == [written(item.genreclf_genre)]


class TestCommand(AlbumTestBase):
    def test_genreclf_a_after_a_per_track_run_makes_albums_consistent(self):
        """Tracks tagged one by one first; -a then sets the album and lets
        its tracks follow it, from the cache (nothing decoded again)."""
        self.setup_plugin(auto=False)
        self.import_album(MIXED, "-c")
        self.run_command("genreclf", "-W")
        [album] = self.lib.albums()
        assert "genreclf_genre" not in album

        self.run_command("genreclf", "-a", "-W")

        album = self.lib.get_album(album.id)
        assert album.genreclf_model == SETUP
        self.assert_follows_its_album(album)

    def test_genres_of_your_own_are_kept(self):
        self.setup_plugin(auto=False)
        self.import_album(MIXED, "-c")
        [first, *_] = self.lib.items()
        first.genres = ["Shoegaze"]
        first.store()

        self.run_command("genreclf", "-a", "-W")

        assert self.lib.get_item(first.id).genres == ["Shoegaze"]

    def test_analysed_albums_are_skipped_unless_forced(self):
        self.setup_plugin(auto=False)
        self.import_album(MIXED, "-c")
        self.run_command("genreclf", "-a", "-W")
        [album] = self.lib.albums()
        album.genreclf_confidence = 0.0123
        album.store(inherit=False)

        self.run_command("genreclf", "-a", "-W")
        assert self.lib.get_album(album.id).genreclf_confidence == 0.0123
        self.run_command("genreclf", "-a", "-W", "-f")
        assert self.lib.get_album(album.id).genreclf_confidence != 0.0123


class TestInspect(AlbumTestBase):
    def test_explain_a_shows_the_tracks_side_by_side(self, capsys):
        self.setup_plugin()
        self.import_album(MIXED, "-c")
        [album] = self.lib.albums()
        capsys.readouterr()

        self.run_command("genreclf", "--explain", "-a")

        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == str(album)
        assert lines[1].startswith(
            f"  {album.genreclf_genre} {album.genreclf_confidence:.0%} overall; "
            "probability per track:"
        )
        assert lines[2].split() == ["genre", "01", "02", "03", "04", "overall"]

    def test_stats_a_lists_split_albums(self, capsys):
        self.setup_plugin(genres_from="track")
        self.import_album(MIXED, "-c")
        [album] = self.lib.albums()
        capsys.readouterr()

        self.run_command("genreclf", "--stats", "-a")

        out = capsys.readouterr().out
        assert out.startswith("1 albums, 1 analysed as albums")
        labels = {item.genreclf_genre for item in album.items()}
        split = "1 albums whose tracks' own predictions differ" in out
        assert split == (len(labels) > 1)
