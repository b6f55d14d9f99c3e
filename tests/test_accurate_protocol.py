"""The accurate model's checks: who is held out with whom, and what is counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")  # training.accurate imports the fast model's seeding

from training.accurate.data import NONMUSIC, Track  # noqa: E402
from training.accurate.evaluate import (  # noqa: E402
    Corpus,
    Judged,
    extra_sides,
    gtzan_sides,
    nonmusic_sides,
)
from training.accurate.mood import mood_metrics  # noqa: E402


def track(key: str, label: str, source: str, group: str, origin: str = "") -> Track:
    return Track(key, Path(key), label, source, group, origin or source)


def corpus() -> Corpus:
    gtzan = [track(f"g{i}", ["rock", "jazz"][i % 2], "gtzan", f"gtzan:{i % 3}") for i in range(12)]
    mixtures = [
        track(f"m{i}", gtzan[i].label, "gtzan", gtzan[i].group, "mixture") for i in range(0, 12, 4)
    ]
    extra = [
        track(f"e{i}", ["rock", "electronic"][i % 2], "extra", f"artist:{i // 2}")
        for i in range(20)
    ]
    nonmusic = [
        track(f"n{i}", NONMUSIC, "nonmusic", f"voice:{i % 6}", "nonmusic:speech") for i in range(18)
    ]
    return Corpus(gtzan, extra, nonmusic, mixtures)


@pytest.mark.parametrize("sides", [gtzan_sides, extra_sides, nonmusic_sides])
def test_no_group_is_on_both_sides_and_every_track_is_held_out_once(sides):
    found = corpus()
    held_out: list[str] = []
    for train, test in sides(found):
        assert not {t.group for t in train} & {t.group for t in test}
        held_out += [t.key for t in test]
    assert len(held_out) == len(set(held_out))
    expected = {
        gtzan_sides: found.gtzan + found.mixtures,
        extra_sides: found.extra,
        nonmusic_sides: found.nonmusic,
    }[sides]
    assert set(held_out) == {t.key for t in expected}


def test_gtzan_cv_trains_on_gtzan_and_not_music_only():
    found = corpus()
    for train, _ in gtzan_sides(found):
        assert {t.source for t in train} == {"gtzan", "nonmusic"}
        assert len([t for t in train if t.source == "nonmusic"]) == len(found.nonmusic)


def test_the_real_music_check_and_the_not_music_check_train_on_everything_else():
    found = corpus()
    for sides in (extra_sides, nonmusic_sides):
        for train, test in sides(found):
            assert len(train) + len(test) == len(found.everything)


def test_judged_counts_what_was_called_what():
    labels = ["electronic", "nonmusic", "rock"]
    tracks = [
        track("a", "rock", "extra", "x"),
        track("b", "rock", "extra", "x"),
        track("c", "electronic", "extra", "y"),
        track("d", "nonmusic", "nonmusic", "z", "nonmusic:noise"),
    ]
    called = {"a": [0, 0, 1], "b": [0, 1, 0], "c": [1, 0, 0], "d": [0, 1, 0]}
    judged = Judged(labels, {k: np.array(v, float) for k, v in called.items()})
    music = tracks[:3]
    assert judged.share_called(music, NONMUSIC) == pytest.approx(1 / 3)
    assert judged.share_right(music) == pytest.approx(2 / 3)
    found = judged.metrics(music)
    assert found["balanced_accuracy"] == pytest.approx(
        (0.5 + 1.0) / 2
    )  # rock 1 of 2, electronic 1 of 1
    assert judged.per_origin(tracks) == {
        "extra": {"tracks": 3, "accuracy": pytest.approx(2 / 3)},
        "nonmusic:noise": {"tracks": 1, "accuracy": 1.0},
    }


@pytest.mark.parametrize(
    "truth, probabilities, accuracy, arousal, valence",
    [
        # right quadrant, so right halves
        ([0, 1, 2, 3], np.eye(4), 1.0, 1.0, 1.0),
        # happy heard as relaxed: valence right, arousal wrong
        ([0], [[0.1, 0.1, 0.1, 0.7]], 0.0, 0.0, 1.0),
        # sad heard as aggressive: valence right (both negative), arousal wrong
        ([2], [[0.1, 0.6, 0.2, 0.1]], 0.0, 0.0, 1.0),
        # aggressive heard as happy: arousal right, valence wrong
        ([1], [[0.6, 0.3, 0.05, 0.05]], 0.0, 1.0, 0.0),
    ],
)
def test_mood_metrics_read_arousal_and_valence_off_the_quadrants(
    truth, probabilities, accuracy, arousal, valence
):
    found = mood_metrics(np.array(truth), np.array(probabilities, float))
    assert (found["accuracy"], found["arousal_accuracy"], found["valence_accuracy"]) == (
        accuracy,
        arousal,
        valence,
    )
    assert np.sum(found["confusion"]) == len(truth)
