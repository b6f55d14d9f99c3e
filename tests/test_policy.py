"""The pure parts, in tables: genre policy, decisions, aggregation, summaries."""

from __future__ import annotations

import numpy as np
import pytest

from beetsplug.genreclf.model import TrackPrediction, aggregate
from beetsplug.genreclf.policy import (
    APPLIED_FIELD,
    Decision,
    GenrePolicy,
    Labeller,
    album_decision,
    album_supported,
    decide,
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


@pytest.mark.parametrize(
    "mode, current, confidence, expected",
    [
        ("fill", [], 0.9, ["rock"]),
        ("fill", ["Jazz"], 0.9, ["Jazz"]),
        ("fill", [], 0.3, []),  # below min_confidence
        ("off", [], 0.9, []),
        ("replace", [], 0.9, ["rock"]),
    ],
)
def test_refilled(mode, current, confidence, expected):
    assert refilled(GenrePolicy(mode, 0.5), current, "rock", confidence) == expected
