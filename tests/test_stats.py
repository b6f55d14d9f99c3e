"""stats.py: which items and albums disagree with their prediction, how to
list them, and --stats through beet."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

import pytest

from beetsplug.genreclf.policy import GenrePolicy
from beetsplug.genreclf.run import HEAD_FILE
from beetsplug.genreclf.stats import Judge, disagreement_query, library_stats, stats_text
from beetsplug.genreclf.tags import shown_path
from tests.helper import GenreClfTestBase

POLICY = GenrePolicy(min_confidence=0.5, label_map={"hiphop": ["Hip-Hop", "Rap"]})
JUDGE = Judge(POLICY)
# (the item's genres, predicted label, confidence) -> disagrees
CASES = {
    "another genre, confident": ((["Rock"], "jazz", 0.9), True),
    "the label itself": ((["jazz"], "jazz", 0.9), False),
    "the label in other case": ((["JAZZ"], "jazz", 0.9), False),
    "the label in other spelling": ((["R&B"], "rnb", 0.9), False),
    "what map makes of it, in other spelling": ((["hip hop"], "hiphop", 0.9), False),
    "a genre that only contains the label": ((["Acid Rock"], "rock", 0.9), True),
    "one of several agrees": ((["Piano", "Classical"], "classical", 0.9), False),
    "what map makes of the label": ((["rap"], "hiphop", 0.9), False),
    "mapped label, other genre": ((["Trap"], "hiphop", 0.9), True),
    "exactly at min_confidence": ((["Blues"], "jazz", 0.5), True),
    "below min_confidence": ((["Blues"], "jazz", 0.49), False),
    "no genres of its own": (([], "jazz", 0.99), False),
    "never analysed": ((["Jazz"], None, None), False),
    "label without confidence": ((["Jazz"], "rock", None), False),
}


@pytest.mark.parametrize("case, expected", CASES.values(), ids=CASES.keys())
def test_disagrees(case, expected):
    assert JUDGE.disagrees(*case) is expected


# learn.map (the user's synonyms) and map, either way round, before "disagrees":
# (map, learn.map, the item's genres) -> disagrees with a confident hiphop
SYNONYM_CASES = {
    "no synonym: Rap is another genre": ({}, {}, ["Rap"], True),
    "learn.map counts Rap as Hip-Hop": ({}, {"Rap": "Hip-Hop"}, ["Rap"], False),
    "learn.map counts Hip-Hop as Rap": ({}, {"Hip-Hop": "Rap"}, ["Rap"], False),
    "learn.map in other spellings": ({}, {"rap": "hip hop"}, ["RAP"], False),
    "map writes hiphop as Rap": ({"hiphop": ["Rap"]}, {}, ["Rap"], False),
    "map and learn.map chained": ({"hiphop": ["Rap"]}, {"Gangsta Rap": "Rap"}, ["Gangsta Rap"], False),
    "a synonym of another genre": ({}, {"Trap": "Electronic"}, ["Trap"], True),
}


@pytest.mark.parametrize(
    "label_map, synonyms, genres, expected", SYNONYM_CASES.values(), ids=SYNONYM_CASES.keys()
)
def test_synonyms_are_one_genre(label_map, synonyms, genres, expected):
    judge = Judge(GenrePolicy(min_confidence=0.5, label_map=label_map), synonyms)
    assert judge.disagrees(genres, "hiphop", 0.9) is expected


TAUGHT = Judge(GenrePolicy(min_confidence=0.5), {"Hip Hop": "Rap"}, ["Ambient", "Rap"])
# A learned head's prediction: (the item's genres, predicted label, confidence) -> disagrees
LEARNED_CASES = {
    "a taught genre, another prediction": ((["Ambient"], "Rap", 0.9), True),
    "a genre the head was not taught": ((["Noise"], "Ambient", 0.99), False),
    "several, none taught": ((["Noise", "Drone"], "Rap", 0.99), False),
    "an untaught genre beside a taught one": ((["Noise", "Ambient"], "Rap", 0.9), True),
    "a genre learn.map counts as the label": ((["hip-hop"], "Rap", 0.9), False),
    "a genre learn.map counts as another label": ((["Hip Hop"], "Ambient", 0.9), True),
    "the label in other spelling": ((["AMBIENT"], "Ambient", 0.9), False),
    "below min_confidence": ((["Ambient"], "Rap", 0.4), False),
}


@pytest.mark.parametrize("case, expected", LEARNED_CASES.values(), ids=LEARNED_CASES.keys())
def test_a_learned_head_judges_only_genres_it_was_taught(case, expected):
    assert TAUGHT.disagrees(*case, learned=True) is expected


def test_a_base_prediction_judges_every_genre_beside_a_learned_head():
    assert TAUGHT.disagrees(["Noise"], "Ambient", 0.99, learned=False) is True


EITHER_JAZZ_OR_1959 = (
    "genres:Jazz", "genreclf_disagrees:1", ",", "year:1959", "genreclf_disagrees:1"
)


@pytest.mark.parametrize(
    "query, arguments",
    [
        ([], ["genreclf_disagrees:1"]),
        (["artist:Miles Davis"], ["artist:Miles Davis", "genreclf_disagrees:1"]),
        (["genres:Jazz", ",", "year:1959"], [*EITHER_JAZZ_OR_1959]),
        (["genres:Jazz,", "year:1959"], [*EITHER_JAZZ_OR_1959]),
    ],
)
def test_disagreement_query_keeps_the_users_query(query, arguments):
    assert disagreement_query(query) == arguments


class TestQueryOnALibrary(GenreClfTestBase):
    """The printed arguments, run by beets on a real library, list exactly the
    disagreements among the items of the user's query."""

    @pytest.mark.parametrize(
        "query",
        [[], ["artist:Miles"], ["artist:Miles", ",", "year:1990"], ["artist:Miles,", "year:1990"]],
    )
    def test_lists_exactly_the_disagreements_of_the_query(self, query):
        self.setup_plugin(min_confidence=0.5, map={"hiphop": ["Hip-Hop", "Rap"]})
        for (genres, label, confidence), _ in CASES.values():
            for artist, year in [("Miles", 1959), ("Coltrane", 1990), ("Monk", 1957)]:
                self.add_item(
                    artist=artist, year=year, genres=genres,
                    genreclf_genre=label or "", genreclf_confidence=confidence,
                )
        matched = list(self.lib.items(query))
        stats = library_stats(matched, JUDGE)

        listed = self.lib.items(disagreement_query(query))

        assert sorted(item.id for item in listed) == sorted(d.item_id for d in stats.disagreements)
        assert len(stats.disagreements) > 0


@pytest.mark.parametrize(
    "query, text", [([], "no items match"), (["title:zzzz"], "no items match title:zzzz")]
)
def test_stats_of_no_items_say_that_none_match(query, text):
    assert stats_text(library_stats([], JUDGE), query) == text


class TestStatsCommand(GenreClfTestBase):
    def test_disagreements_name_each_item_and_round_the_threshold(self, capsys):
        self.setup_plugin(min_confidence=0.877676)
        untagged = self.add_item(
            artist="", title="", genres=["Rock"], genreclf_genre="jazz", genreclf_confidence=0.95
        )
        self.add_item(
            artist="Nina", title="Sinnerman", genres=["Rock"],
            genreclf_genre="jazz", genreclf_confidence=0.9,
        )

        self.run_command("genreclf", "--stats")

        lines = capsys.readouterr().out.splitlines()
        assert "2 items whose genres disagree with a prediction at confidence ≥ 0.88:" in lines
        [first, second] = [line for line in lines if line.lstrip().startswith(("0.95", "0.90"))]
        assert first.endswith(f"  {shown_path(untagged.path)}")
        assert second.endswith("  Nina – Sinnerman")

    def test_the_users_synonyms_are_no_disagreement(self, capsys):
        """Rap for a hiphop prediction: mis-tagged only until learn.map says
        Rap is Hip-Hop; `beet ls` then agrees."""
        rap = {"artist": "MC", "title": "Rhymes", "genres": ["Rap"]}
        self.add_item(**rap, genreclf_genre="hiphop", genreclf_confidence=0.9)
        self.setup_plugin(min_confidence=0.5)
        self.run_command("genreclf", "--stats")
        assert "MC – Rhymes" in capsys.readouterr().out
        self.unload_plugins()

        self.setup_plugin(min_confidence=0.5, learn={"map": {"Rap": "Hip-Hop"}})
        self.run_command("genreclf", "--stats")

        output = capsys.readouterr().out
        assert "no item's genres disagree" in output and "MC – Rhymes" not in output
        assert list(self.lib.items("genreclf_disagrees:1")) == []

    def test_a_damaged_learned_head_is_one_warning_and_stats_go_on(self, capsys, caplog):
        self.setup_plugin(min_confidence="auto")
        self.add_item(
            artist="Nina", title="Sinnerman", genres=["Rock"],
            genreclf_genre="jazz", genreclf_confidence=0.99, genreclf_source="learned",
        )
        (Path(self.config.config_dir()) / HEAD_FILE).write_bytes(b"PK\x03\x04 truncated")

        with caplog.at_level(logging.WARNING, "beets.genreclf"):
            self.run_command("genreclf", "--stats")

        assert "Nina – Sinnerman" in capsys.readouterr().out  # judged, at the model's threshold
        [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert "is damaged" in warning
        assert warning.endswith(
            "until then learned genres are judged without it "
            "(every genre counts, at the model's min_confidence)"
        )


# Albums with stored predictions: (album artist, comp, album genres, label,
# confidence, genres genreclf set) -> listed as disagreeing
ALBUMS = {
    "mislabelled": ("Nina", False, ["Rock"], "jazz", 0.9, None, True),
    "agrees": ("Miles", False, ["Jazz"], "jazz", 0.9, None, False),
    "not confident": ("Monk", False, ["Rock"], "jazz", 0.3, None, False),
    "compilation flag": ("Nina", True, ["Rock"], "jazz", 0.9, None, False),
    "various artists": ("Various Artists", False, ["Rock"], "jazz", 0.9, None, False),
    "genres genreclf set": ("Evans", False, ["Rock"], "jazz", 0.9, "Rock", False),
    "unanalysed": ("Basie", False, ["Rock"], None, None, None, False),
}


class TestAlbumStats(GenreClfTestBase):
    def add_albums(self) -> None:
        for name, (artist, comp, genres, label, confidence, applied, _) in ALBUMS.items():
            album = self.add_album(album=name, albumartist=artist, artist=artist, comp=comp)
            album.update({"genres": genres, "genreclf_genre": label or "",
                          "genreclf_confidence": confidence})
            if applied:
                album.genreclf_applied = applied
            album.store(inherit=False)

    def test_stats_a_counts_exactly_what_beet_ls_a_lists(self, capsys):
        self.setup_plugin(min_confidence=0.5)
        self.add_albums()

        self.run_command("genreclf", "--stats", "-a")

        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == (
            "7 albums, 6 analysed as albums "
            "(2 compilations, not judged: their tracks keep their own genres)"
        )
        expected = sorted(name for name, row in ALBUMS.items() if row[-1])
        assert "1 album whose genres disagree with a prediction at confidence ≥ 0.50:" in lines
        [command] = [line.removeprefix("list them: ") for line in lines if "beet ls -a" in line]
        assert shlex.split(command) == ["beet", "ls", "-a", "genreclf_disagrees:1"]
        assert sorted(a.album for a in self.lib.albums(["genreclf_disagrees:1"])) == expected
        self.run_command("ls", "-a", "-f", "$album", "genreclf_disagrees:1")
        assert capsys.readouterr().out.splitlines() == expected

    def test_no_split_album_noise(self, capsys):
        self.setup_plugin(min_confidence=0.5)
        self.add_albums()

        self.run_command("genreclf", "--stats", "-a")

        assert "predictions differ" not in capsys.readouterr().out
