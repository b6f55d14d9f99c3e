"""stats.py on its own: which items disagree with their prediction; how to list them."""

from __future__ import annotations

import pytest

from beetsplug.genreclf.policy import GenrePolicy
from beetsplug.genreclf.stats import (
    Taught,
    disagreement_query,
    disagrees,
    library_stats,
    stats_text,
)
from beetsplug.genreclf.tags import shown_path
from tests.helper import GenreClfTestBase

POLICY = GenrePolicy(min_confidence=0.5, label_map={"hiphop": ["Hip-Hop", "Rap"]})
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
    genres, label, confidence = case
    assert disagrees(genres, label, confidence, POLICY) is expected


TAUGHT = Taught(["Ambient", "Rap"], synonyms={"Hip Hop": "Rap"})
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
    genres, label, confidence = case
    assert disagrees(genres, label, confidence, GenrePolicy(min_confidence=0.5), TAUGHT) is expected


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
        stats = library_stats(matched, POLICY)

        listed = self.lib.items(disagreement_query(query))

        assert sorted(item.id for item in listed) == sorted(d.item_id for d in stats.disagreements)
        assert len(stats.disagreements) > 0


@pytest.mark.parametrize(
    "query, text", [([], "no items match"), (["title:zzzz"], "no items match title:zzzz")]
)
def test_stats_of_no_items_say_that_none_match(query, text):
    assert stats_text(library_stats([], POLICY), query) == text


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
