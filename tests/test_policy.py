"""The pure parts, in tables: genre policy, decisions, aggregation, summaries."""

from __future__ import annotations

import numpy as np
import pytest

from beetsplug.genreclf.model import TrackPrediction, aggregate
from beetsplug.genreclf.mood import MOOD_FIELDS, MoodHead
from beetsplug.genreclf.policy import (
    APPLIED_FIELD,
    DISPLAY_NAMES,
    Decision,
    GenrePolicy,
    Labeller,
    album_decision,
    album_leads,
    album_supported,
    decide,
    genre_key,
    new_genres,
    refilled,
    set_by_us,
)

LABELS = ["jazz", "rock", "pop"]


@pytest.mark.parametrize(
    "mode, current, confidence, expected",
    [
        ("fill", [], 0.9, ["Rock", "Guitar"]),
        ("fill", ["Shoegaze"], 0.9, ["Shoegaze"]),
        ("append", ["Shoegaze"], 0.9, ["Shoegaze", "Rock", "Guitar"]),
        ("append", ["Guitar"], 0.9, ["Guitar", "Rock"]),
        ("replace", ["Shoegaze"], 0.9, ["Rock", "Guitar"]),
        ("off", [], 0.9, []),
        ("replace", ["Shoegaze"], 0.4, ["Shoegaze"]),  # below min_confidence
        ("fill", [], 0.5, ["Rock", "Guitar"]),  # at min_confidence
    ],
)
def test_genres_after(mode, current, confidence, expected):
    policy = GenrePolicy(mode, 0.5, {"rock": ["Rock", "Guitar"]})
    assert policy.genres_after(current, "rock", confidence) == expected


@pytest.mark.parametrize(
    "spellings",
    [
        ["Hip-Hop", "hip hop", "HipHop", "hiphop", "HIP_HOP"],
        ["R&B", "R'n'B", "rnb", "RnB", "r & b"],
        ["Rock & Roll", "Rock and Roll", "Rock 'n' Roll", "rock-n-roll"],
        ["Électronique", "electronique"],
        ["Drum & Bass", "Drum and Bass", "drum'n'bass"],
    ],
)
def test_spellings_of_one_genre_have_one_key(spellings):
    assert len({genre_key(spelling) for spelling in spellings}) == 1


@pytest.mark.parametrize(
    "one, other",
    [("Rock", "Acid Rock"), ("Pop", "K-Pop"), ("Hip-Hop", "Trip-Hop"), ("Band", "B"), ("+", "-")],
)
def test_different_genres_have_different_keys(one, other):
    assert genre_key(one) != genre_key(other)


BUILT_IN_NAMES = {
    "blues": "Blues", "classical": "Classical", "country": "Country", "disco": "Disco",
    "hiphop": "Hip-Hop", "jazz": "Jazz", "metal": "Metal", "pop": "Pop", "reggae": "Reggae",
    "rock": "Rock", "electronic": "Electronic", "rnb": "R&B",
}  # as issue 27 asks: nonmusic has none


@pytest.mark.parametrize("label, name", BUILT_IN_NAMES.items())
def test_built_in_labels_are_written_under_their_canonical_names(label, name):
    base = GenrePolicy("fill", 0.5, display_names=DISPLAY_NAMES)
    assert base.genres_after([], label, 0.9) == [name]
    assert genre_key(name) == genre_key(label)  # one genre, however stats compares it


@pytest.mark.parametrize(
    "label_map, label, expected",
    [
        ({"hiphop": ["Rap"]}, "hiphop", ["Rap"]),  # map overrides the canonical name
        ({"HipHop": ["Rap"]}, "hiphop", ["Rap"]),  # whatever the spelling of its key
        ({"rock": ["Guitar"]}, "hiphop", ["Hip-Hop"]),
        ({}, "latin", ["Latin"]),
        ({"latin": ["Salsa", "Latin"]}, "latin", ["Salsa", "Latin"]),
        ({}, "nonmusic", []),  # not music: no genre at all
        ({"nonmusic": ["Spoken Word"]}, "nonmusic", ["Spoken Word"]),  # unless mapped
        ({}, "Shoegaze", ["Shoegaze"]),  # a label of none of the built-in models
    ],
)
def test_map_before_canonical_names(label_map, label, expected):
    assert GenrePolicy("fill", 0.5, label_map, DISPLAY_NAMES).mapped(label) == expected


@pytest.mark.parametrize("mode", ["fill", "append", "replace", "off"])
@pytest.mark.parametrize("current", [[], ["Audiobook"]])
def test_nonmusic_never_changes_genres_unless_mapped(mode, current):
    policy = GenrePolicy(mode, 0.5, {}, DISPLAY_NAMES)
    assert policy.genres_after(current, "nonmusic", 0.99) == current


def test_a_learned_head_keeps_the_users_spelling():
    learned = Labeller(["rock", "hip hop"], "m 3x30s+learned@0", "learned", 0.5)
    policy = GenrePolicy("fill", 0.5, display_names=learned.display_names)
    assert [policy.mapped(label) for label in learned.labels] == [["rock"], ["hip hop"]]


@pytest.mark.parametrize(
    "current, label, expected",
    [
        (["rock"], "rock", ["rock"]),
        (["ROCK", "Indie"], "rock", ["ROCK", "Indie"]),
        (["Hip Hop"], "hiphop", ["Hip Hop"]),
        (["RnB"], "rnb", ["RnB"]),
        (["Indie"], "hiphop", ["Indie", "Hip-Hop"]),
    ],
)
def test_append_adds_no_other_spelling_of_a_genre_it_has(current, label, expected):
    policy = GenrePolicy("append", 0.5, display_names=DISPLAY_NAMES)
    assert policy.genres_after(current, label, 0.9) == expected


def prediction(*probabilities: float) -> TrackPrediction:
    return TrackPrediction(np.array(probabilities, np.float32), np.zeros(4, np.float32))


@pytest.mark.parametrize(
    "current, probabilities, label, top, genres, changed",
    [
        ([], (0.1, 0.7, 0.2), "rock", "rock 0.70, pop 0.20, jazz 0.10", ["rock"], True),
        (["Jazz"], (0.1, 0.7, 0.2), "rock", "rock 0.70, pop 0.20, jazz 0.10", ["Jazz"], False),
        ([], (0.4, 0.4, 0.2), "jazz", "jazz 0.40, rock 0.40, pop 0.20", [], False),  # tie: order
    ],
)
def test_decide(current, probabilities, label, top, genres, changed):
    labeller = Labeller(LABELS, "model-1@0 3x30s", "base", 0.5)
    decision = decide(current, prediction(*probabilities), labeller, GenrePolicy("fill", 0.5))
    assert (decision.label, decision.top, decision.genres) == (label, top, genres)
    assert decision.genres_changed is changed
    assert (APPLIED_FIELD in decision.fields()) is changed


def test_decision_fields_are_what_is_stored():
    decision = Decision("rock", 0.7, "rock 0.70", "m 3x30s", "base", ["rock"], True)
    assert decision.fields() == {
        "genreclf_genre": "rock",
        "genreclf_confidence": 0.7,
        "genreclf_top": "rock 0.70",
        "genreclf_model": "m 3x30s",
        "genreclf_source": "base",
        "genres": ["rock"],
        APPLIED_FIELD: "rock",
    }


@pytest.mark.parametrize(
    "genres, applied, ours",
    [
        (["rock"], "rock", True),
        (["rock", "Indie"], "rock", False),  # the user added one
        (["rock"], None, False),  # genreclf never set them
        ([], "", True),
    ],
)
def test_set_by_us(genres, applied, ours):
    assert set_by_us(genres, applied) is ours


def test_geometric_mean_is_the_linear_head_on_the_mean_embedding():
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(6, 5))
    weights, bias = rng.normal(size=(5, 3)), rng.normal(size=3)

    def softmax(logits):
        exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return exp / exp.sum(axis=-1, keepdims=True)

    per_segment = softmax(embeddings @ weights + bias)
    expected = softmax(embeddings.mean(axis=0) @ weights + bias)
    assert aggregate(per_segment, "geometric_mean") == pytest.approx(expected, abs=1e-6)
    assert aggregate(per_segment, "mean") == pytest.approx(per_segment.mean(axis=0))


@pytest.mark.parametrize(
    "label, track_labels, supported",
    [
        ("pop", ["classical"] * 4 + ["rock"] * 2 + ["pop"] * 2 + ["disco", "reggae"], False),
        ("classical", ["classical"] * 4 + ["rock"] * 2 + ["pop"] * 2 + ["disco", "reggae"], True),
        ("rock", ["rock", "pop", "jazz"], True),  # a third
        ("rock", ["rock", "pop", "jazz", "pop"], False),  # a quarter
        ("rock", ["rock"], True),
        ("rock", [], False),
    ],
)
def test_album_supported(label, track_labels, supported):
    assert album_supported(label, track_labels) is supported


@pytest.mark.parametrize(
    "tracks, label, genres",
    [
        # the combined evidence favours pop, the top of one track in four: refused
        ([(0.6, 0.05, 0.35), (0.05, 0.6, 0.35), (0.3, 0.3, 0.4), (0.45, 0.2, 0.35)], "pop", []),
        ([(0.1, 0.7, 0.2), (0.2, 0.6, 0.2), (0.5, 0.3, 0.2)], "rock", ["rock"]),
    ],
)
def test_album_decision_refuses_a_genre_few_tracks_support(tracks, label, genres):
    labeller = Labeller(LABELS, "model-1@0 3x30s", "base", 0.0)
    probabilities = [np.array(track, np.float32) for track in tracks]
    decision = album_decision([], probabilities, labeller, GenrePolicy("fill", 0.0))
    assert (decision.label, decision.genres) == (label, genres)


MAPPED = {"hiphop": ["Rap"], "rock": ["Rock", "Guitar"]}  # nonmusic: no genre


@pytest.mark.parametrize(
    "mode, current, ours, label, confidence, expected",
    [
        # genres genreclf set follow the current map
        ("fill", ["Hip-Hop"], True, "hiphop", 0.9, ["Rap"]),
        ("replace", ["Hip-Hop"], True, "hiphop", 0.9, ["Rap"]),
        ("fill", ["Spoken Word"], True, "nonmusic", 0.9, []),  # maps to none now: cleared
        ("replace", ["Spoken Word"], True, "nonmusic", 0.9, []),
        ("fill", ["Spoken Word"], True, "nonmusic", 0.3, ["Spoken Word"]),  # unconfident
        ("fill", ["Hip-Hop"], True, "hiphop", 0.3, ["Hip-Hop"]),
        ("off", ["Hip-Hop"], True, "hiphop", 0.9, ["Hip-Hop"]),
        # append mixes yours and ours in one list: it only ever adds
        ("append", ["Indie", "Hip-Hop"], True, "hiphop", 0.9, ["Indie", "Hip-Hop", "Rap"]),
        ("append", ["Indie", "Rap"], True, "hiphop", 0.9, ["Indie", "Rap"]),
        ("append", ["Spoken Word"], True, "nonmusic", 0.9, ["Spoken Word"]),
        # genres of yours are never taken away
        ("fill", ["Hip-Hop"], False, "hiphop", 0.9, ["Hip-Hop"]),
        ("fill", ["Spoken Word"], False, "nonmusic", 0.9, ["Spoken Word"]),
        ("replace", ["Spoken Word"], False, "nonmusic", 0.9, ["Spoken Word"]),
        ("replace", ["Jazz"], False, "rock", 0.9, ["Rock", "Guitar"]),
    ],
)
def test_new_genres(mode, current, ours, label, confidence, expected):
    policy = GenrePolicy(mode, 0.5, MAPPED, DISPLAY_NAMES)
    assert new_genres(policy, current, ours, label, confidence) == expected


@pytest.mark.parametrize(
    "mode, current, ours, label, confidence, expected",
    [
        ("fill", [], False, "rock", 0.9, ["Rock", "Guitar"]),  # emptied: set again
        ("fill", [], False, "rock", 0.3, []),  # below min_confidence
        ("off", [], False, "rock", 0.9, []),
        ("replace", [], False, "rock", 0.9, ["Rock", "Guitar"]),
        ("replace", ["Jazz"], False, "rock", 0.9, ["Jazz"]),  # yours stay: nothing analysed
        ("fill", ["Hip-Hop"], True, "hiphop", 0.9, ["Rap"]),  # ours follow a new map
        ("fill", ["Rap"], True, "hiphop", 0.9, ["Rap"]),
        ("fill", ["Spoken Word"], True, "nonmusic", 0.9, []),
        ("append", ["Indie", "Rap"], True, "hiphop", 0.9, ["Indie", "Rap"]),
    ],
)
def test_refilled(mode, current, ours, label, confidence, expected):
    policy = GenrePolicy(mode, 0.5, MAPPED, DISPLAY_NAMES)
    assert refilled(policy, current, ours, label, confidence) == expected


@pytest.mark.parametrize(
    "label, confidence, track_labels, leads",
    [
        ("rock", 0.6, ["rock", "rock", "jazz"], True),
        ("rock", 0.5, ["rock", "rock", "jazz"], True),  # at min_confidence
        ("rock", 0.4, ["rock", "rock", "jazz"], False),  # unconfident: tracks decide
        ("rock", 0.9, ["rock", "pop", "jazz", "pop"], False),  # too few tracks back it
        ("nonmusic", 0.9, ["nonmusic", "nonmusic"], True),  # not music leads too
    ],
)
def test_album_leads(label, confidence, track_labels, leads):
    assert album_leads(label, confidence, track_labels, GenrePolicy("fill", 0.5)) is leads


@pytest.mark.parametrize(
    "label_map, labels, unknown",
    [
        ({"hiphop": ["Rap"], "nonmusic": ["Spoken Word"]}, ["hiphop", "nonmusic"], []),
        ({"Hip Hop": ["Rap"]}, ["hiphop"], []),  # any spelling of a label
        ({"soul": ["Soul"], "hiphop": ["Rap"]}, ["hiphop", "rnb"], ["soul"]),
        ({"Shoegaze": ["Dream Pop"]}, ["rock", "Shoegaze"], []),  # a learned genre
        ({}, ["rock"], []),
    ],
)
def test_unknown_map_keys(label_map, labels, unknown):
    assert GenrePolicy(label_map=label_map).unknown_keys(labels) == unknown


def mood_head(size: int) -> MoodHead:
    zeros, ones = np.zeros(size, np.float32), np.ones(size, np.float32)
    return MoodHead(zeros, ones, np.eye(size, 4, dtype=np.float32), np.zeros(4, np.float32))


@pytest.mark.parametrize(
    "probabilities, has_mood",
    [((0.1, 0.7, 0.2), True), ((0.1, 0.2, 0.7), False)],  # music; not music
)
def test_not_music_gets_no_mood_and_loses_an_earlier_one(probabilities, has_mood):
    labeller = Labeller(["jazz", "rock", "nonmusic"], "m", "base", 0.5, mood_head=mood_head(4))
    decision = decide([], prediction(*probabilities), labeller, GenrePolicy("fill", 0.5))
    stored_moods = set(MOOD_FIELDS) & decision.fields().keys()
    assert stored_moods == (set(MOOD_FIELDS) if has_mood else set())
    assert decision.cleared() == (() if has_mood else MOOD_FIELDS)
