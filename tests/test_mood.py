"""Mood: the quadrant probabilities, what they say, and the head a model carries."""

from __future__ import annotations

import json

import numpy as np
import pytest

from beetsplug.genreclf.model import PACKAGED, GenreModel
from beetsplug.genreclf.mood import MOOD_LABELS, Mood, MoodHead


@pytest.mark.parametrize(
    "probabilities, label, arousal, valence",
    [
        ([0.7, 0.1, 0.1, 0.1], "happy", 0.8, 0.8),
        ([0.1, 0.6, 0.2, 0.1], "aggressive", 0.7, 0.2),
        ([0.05, 0.15, 0.5, 0.3], "sad", 0.2, 0.35),
        ([0.2, 0.0, 0.2, 0.6], "relaxed", 0.2, 0.8),
        ([0.25, 0.25, 0.25, 0.25], "happy", 0.5, 0.5),  # a tie: the first quadrant
    ],
)
def test_mood_reads_label_arousal_and_valence_off_the_quadrants(
    probabilities, label, arousal, valence
):
    mood = Mood(np.array(probabilities))
    assert (mood.label, mood.arousal, mood.valence) == (label, arousal, valence)
    assert mood.fields() == {
        "genreclf_mood": label,
        "genreclf_mood_confidence": round(max(probabilities), 4),
        "genreclf_arousal": arousal,
        "genreclf_valence": valence,
    }


def head_entry(size: int = 3, **changes) -> dict:
    entry = {
        "labels": list(MOOD_LABELS),
        "mean": [0.0] * size,
        "scale": [1.0] * size,
        "weights": np.eye(size, 4).tolist(),
        "bias": [0.0] * 4,
    }
    return {**entry, **changes}


@pytest.mark.parametrize(
    "entry, complaint",
    [
        ("not a dict", "labels"),
        (head_entry(labels=["happy", "sad"]), "labels"),
        (head_entry(bias=[0.0] * 3), "shapes"),
        (head_entry(weights=[[1.0]]), "shapes"),
        ({k: v for k, v in head_entry().items() if k != "scale"}, "unreadable"),
        (head_entry(mean=["x", 1, 2]), "unreadable"),
    ],
)
def test_a_bad_mood_head_is_refused_saying_why(entry, complaint):
    with pytest.raises(ValueError, match=complaint):
        MoodHead.from_metadata(entry, embedding_size=3)


def test_the_head_is_a_softmax_of_the_standardised_linear_form():
    head = MoodHead.from_metadata(head_entry(), embedding_size=3)
    found = head.probabilities(np.array([2.0, 0.0, 0.0]))
    expected = np.exp([2.0, 0, 0, 0]) / np.exp([2.0, 0, 0, 0]).sum()
    np.testing.assert_allclose(found, expected, rtol=1e-6)
    both = head.probabilities(np.array([[2.0, 0, 0], [0, 0, 2.0]]))
    assert both.shape == (2, 4) and np.allclose(both.sum(axis=1), 1)


def test_the_default_model_carries_a_mood_head_on_its_embedding():
    model = GenreModel(PACKAGED["accurate"])
    assert model.mood_head is not None
    assert model.mood_head.weights.shape == (200, len(MOOD_LABELS))


def test_a_model_whose_mood_head_is_damaged_fails_to_load(tmp_path):
    import onnx  # a training dependency, which `make test` installs

    from beetsplug.genreclf.model import METADATA_KEY, ModelError

    model = onnx.load(str(PACKAGED["accurate"]))
    properties = {p.key: p for p in model.metadata_props}
    metadata = json.loads(properties[METADATA_KEY].value)
    metadata["mood"]["bias"] = [0.0]
    properties[METADATA_KEY].value = json.dumps(metadata)
    path = tmp_path / "damaged.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match="damaged.onnx: mood head shapes"):
        GenreModel(path)
