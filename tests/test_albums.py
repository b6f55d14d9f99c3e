"""Album genres end to end: `beet import` of album and singleton tasks, and
`beet genreclf -a`, on a real library with generated audio."""

from __future__ import annotations

import shutil

import pytest

from beetsplug.genreclf.policy import MIXED_TRACK_CONFIDENCE, album_supported
from tests.helper import MODEL, SETUP, GenreClfTestBase, file_genres, tag_file, written

# Mostly electronic, with a noise interlude the model is sure is not music.
MIXED = ["chords.flac", "chords.ogg", "beats.flac", "beats.mp3", "noise.mp3"]
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
            assert item.genres == written(expected), (item.title, item.genreclf_top, album.genreclf_top)


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
        assert {tuple(item.genres) for item in album.items()} == {tuple(written(album.genreclf_genre))}

    def test_singletons_are_tagged_per_track(self):
        self.setup_plugin()
        self.import_album(MIXED, "-c", "-s")

        assert list(self.lib.albums()) == []
        for item in self.lib.items():
            assert item.genres == written(item.genreclf_genre)

    def test_genres_from_track_keeps_each_tracks_own(self):
        self.setup_plugin(genres_from="track")
        self.import_album(MIXED, "-c")

        [album] = self.lib.albums()
        assert album.genreclf_genre
        for item in album.items():
            assert item.genres == written(item.genreclf_genre)

    def test_a_compilation_keeps_each_tracks_own(self):
        self.setup_plugin()
        self.import_album(MIXED, "-c", albumartist="Various Artists")

        [album] = self.lib.albums()
        assert album.genreclf_genre
        for item in album.items():
            assert item.genres == written(item.genreclf_genre)


class TestCommand(AlbumTestBase):
    def test_genreclf_without_a_tags_an_albums_tracks_with_their_album(self):
        """`beet genreclf` without -a on an album's tracks sets the album's
        genre and lets its tracks follow it, as -a does."""
        self.setup_plugin(auto=False)
        self.import_album(MIXED, "-c")

        self.run_command("genreclf", "-W")

        [album] = self.lib.albums()
        assert album.genreclf_model == SETUP
        self.assert_follows_its_album(album)

    def test_force_without_a_does_not_re_decide_tracks_one_by_one(self):
        self.setup_plugin()
        self.import_album(MIXED, "-c")

        self.run_command("genreclf", "-f", "-W")

        [album] = self.lib.albums()
        self.assert_follows_its_album(album)

    def test_an_earlier_album_guess_of_ours_is_replaced_and_not_a_disagreement(self, capsys):
        self.setup_plugin()
        self.import_album(ONE_STYLE, "-c")
        [album] = self.lib.albums()
        assert album.genreclf_applied == "; ".join(album.genres)
        # as an older model would have left it: its guess, set by us
        album.update({"genres": ["oldguess"], "genreclf_applied": "oldguess"})
        album.genreclf_model = "an older model"
        album.store(inherit=False)
        capsys.readouterr()

        self.run_command("genreclf", "--stats", "-a")
        assert "no album's genres disagree" in capsys.readouterr().out

        self.run_command("genreclf", "-a", "-W")
        album = self.lib.get_album(album.id)
        assert album.genres == written(album.genreclf_genre)

    def test_emptied_genres_get_the_stored_prediction_again(self, caplog):
        """`beet modify genres!` then `beet genreclf`: the stored album
        prediction applies again, from the database (nothing analysed)."""
        self.setup_plugin()
        self.import_album(ONE_STYLE, "-c")
        [album] = self.lib.albums()
        before = {item.id: list(item.genres) for item in album.items()}
        self.run_command("modify", "-y", "genres!")
        assert all(not item.genres for item in self.lib.items())

        with caplog.at_level("INFO", "beets.genreclf"):
            self.run_command("genreclf", "-W")

        assert {item.id: list(item.genres) for item in self.lib.items()} == before
        messages = [r.getMessage() for r in caplog.records if r.name == "beets.genreclf"]
        assert any(m.startswith("analysed 0, skipped 4") for m in messages), messages

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


class TestPolicyChanges(AlbumTestBase):
    @pytest.mark.parametrize("options", [[], ["-f"]])
    def test_tracks_of_an_unconfident_album_get_their_own_genres(self, options):
        """An album genre below min_confidence sets no genre: its tracks are
        decided on their own, and those above it get theirs."""
        self.setup_plugin(mode="off")  # analyse, set nothing
        self.import_album(MIXED, "-c")
        [album] = self.lib.albums()
        tracks = list(album.items())
        assert album_supported(album.genreclf_genre, [item.genreclf_genre for item in tracks])
        threshold = album.genreclf_confidence + 0.01
        self.unload_plugins()
        self.setup_plugin(mode="fill", min_confidence=threshold)

        self.run_command("genreclf", "-a", "-W", *options)

        assert self.lib.get_album(album.id).genres == []
        tracks = [self.reloaded(item) for item in tracks]
        for item in tracks:
            own = written(item.genreclf_genre)
            assert item.genres == (own if item.genreclf_confidence >= threshold else [])
        assert sum(bool(item.genres) for item in tracks) >= 2

    @pytest.mark.parametrize("options", [[], ["-f"]])
    def test_a_new_map_reaches_album_and_track_genres_genreclf_set(self, options):
        self.setup_plugin()
        self.import_album(ONE_STYLE, "-c")
        self.unload_plugins()
        self.setup_plugin(map={label: f"My {label}" for label in MODEL.labels})

        self.run_command("genreclf", "-a", "-w", *options)

        [album] = self.lib.albums()
        mapped = [f"My {album.genreclf_genre}"]
        assert album.genres == mapped
        for item in album.items():
            assert item.genres == mapped and file_genres(item.path) == mapped


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
        tracks = [f"{number:02d}" for number in range(1, len(MIXED) + 1)]
        assert lines[2].split() == ["genre", *tracks, "overall"]

    def test_stats_a_counts_the_imported_album(self, capsys):
        self.setup_plugin(genres_from="track")
        self.import_album(MIXED, "-c")
        capsys.readouterr()

        self.run_command("genreclf", "--stats", "-a")

        assert capsys.readouterr().out.startswith("1 album, 1 analysed as albums\n")
