"""Smoke tests of the training pipeline on tiny generated audio (seconds)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile

pytest.importorskip("torch")

from beetsplug.genreclf.model import GenreModel  # noqa: E402
from training.__main__ import parse_args, run  # noqa: E402
from training.export import check_parity  # noqa: E402
from training.fit import TrainParams  # noqa: E402
from training.network import GenreLSTM  # noqa: E402
from training.pipeline import LSTMParams, Recipe, TaskKey  # noqa: E402

RATE = 22050
LABELS = ("buzz", "hum", "noise")


def synthetic_clip(label: str, index: int, seconds: float = 4.0) -> np.ndarray:
    """Distinct timbres: a sawtooth buzz, a low sine hum, filtered noise."""
    rng = np.random.default_rng(index)
    t = np.arange(int(seconds * RATE)) / RATE
    pitch = 150 * (1 + 0.1 * index)
    if label == "buzz":
        y = 2 * ((pitch * t) % 1) - 1
    elif label == "hum":
        y = np.sin(2 * np.pi * pitch / 2 * t)
    else:
        y = np.convolve(rng.standard_normal(len(t)), np.ones(4) / 4, mode="same")
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    for label in LABELS:
        (root / label).mkdir()
        for index in range(4):
            suffix = ".flac" if index % 2 else ".wav"
            soundfile.write(
                root / label / f"{label}.{index:05d}{suffix}", synthetic_clip(label, index), RATE
            )
    (root / "hum" / "broken.wav").write_bytes(b"RIFF\x00\x00not audio at all")
    return root


TINY = Recipe(
    n_augmented=1,
    lstm=LSTMParams(hidden_size=8, num_layers=1, embedding_size=8, dropout=0.1),
    train=TrainParams(batch_size=8, steps_per_epoch=3, max_epochs=3),
)


def train_tiny(dataset: Path, tmp_path: Path, name: str, capsys=None) -> tuple[dict, Path]:
    out = tmp_path / name
    args = parse_args(
        [
            "--data",
            str(dataset),
            "--out",
            str(out),
            "--cache",
            str(tmp_path / "cache"),
            "--runs",
            str(out / "runs"),
            "--jobs",
            "1",
        ]
    )
    return run(
        args, replace(TINY, seed=args.seed), "python -m training (test)", time.monotonic()
    ), out


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    return train_tiny(dataset, tmp, "first"), tmp


def test_pipeline_writes_a_loadable_model_card_and_metrics(trained):
    (metrics, out), _ = trained
    model = GenreModel(out / "genreclf.onnx")
    assert model.labels == list(LABELS)
    assert model.name == "gtzan-lstm" and model.version == "1"
    assert 0.0 <= model.min_confidence <= 1.0
    assert model.metadata["training_data"]["clips_per_genre"]["extra"] == {}
    assert model.metadata["training_data"]["artist_disjoint_folds"] is False
    assert set(model.metadata["metrics"]["gtzan"]) == {"lstm", "cnn", "logreg"}
    segments = (
        np.random.default_rng(0).standard_normal((2, 130, model.params.n_mfcc)).astype(np.float32)
    )
    [prediction] = model.predict_tracks([segments])
    assert prediction.probabilities.shape == (3,)
    card = (out / "README.md").read_text()
    assert "python -m training" in card and "NOT artist-disjoint" in card and "$" not in card
    assert (out / "confusion_cv.png").stat().st_size > 0
    saved = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= saved["evaluation"]["gtzan"]["lstm"]["pooled"]["accuracy"] <= 1.0
    assert saved["evaluation"]["gtzan"]["lstm"]["pooled"]["tracks"] == 12
    assert metrics["labels"] == list(LABELS)


def test_unreadable_clip_is_reported_and_skipped(trained, capsys):
    (metrics, _), _ = trained
    assert [entry.split(":")[0] for entry in metrics["skipped"]] == ["broken.wav"]


def test_same_seed_gives_the_same_metrics(dataset, trained):
    (first, _), tmp = trained
    second, _ = train_tiny(dataset, tmp, "second")
    assert second["evaluation"] == first["evaluation"]
    assert second["calibration"] == first["calibration"]


def test_a_task_trains_the_same_whatever_ran_before_it(tmp_path):
    """Workers run tasks in any order: a task's result (initial weights
    included) must depend on its seed only, not on the RNG state left behind."""
    import torch

    from training.data import Clip
    from training.extract import ClipFeatures
    from training.pipeline import Task, run_task

    rng = np.random.default_rng(0)
    clips = [Clip(Path(f"{label}{i}.wav"), label, f"{label}.{i}", "gtzan")
             for label in LABELS for i in range(3)]
    features = {
        clip: ClipFeatures([rng.standard_normal((150, 20)).astype(np.float32)], [])
        for clip in clips
    }
    task = Task(TaskKey.final("probe"), tuple(clips), epochs=1)

    def trained_weights() -> list[torch.Tensor]:
        result = run_task(task, features, list(LABELS), TINY, tmp_path)
        return [w.detach().clone() for w in result.network.parameters()]

    first = trained_weights()
    torch.rand(7)  # another task's leftovers
    second = trained_weights()
    assert all(torch.equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize(
    "key, name",
    [
        (TaskKey.curve("gtzan", "cnn", "train", "valid"), "gtzan-cnn-curve-train-on-valid"),
        (TaskKey.refit("gtzan+extra", "lstm", "test"), "gtzan+extra-lstm-test"),
        (TaskKey.final("gtzan"), "gtzan-lstm-final"),
    ],
)
def test_task_names_seed_tasks_as_when_the_shipped_model_was_trained(key, name):
    assert key.name == name


def test_the_shipped_min_confidence_is_recomputed_from_its_out_of_fold_predictions():
    from training.pipeline import calibrate

    metrics = json.loads((Path(__file__).parents[1] / "models" / "metrics.json").read_text())
    held_out = metrics["evaluation"][metrics["chosen"]]["lstm"]["out_of_fold"]
    recomputed = calibrate(
        np.array(held_out["truth"]), np.array(held_out["probabilities"]), Recipe().target_precision
    )
    assert recomputed == metrics["calibration"]


@pytest.mark.parametrize("hidden, layers", [(8, 1), (16, 2)])
def test_onnx_parity_at_several_lengths(tmp_path, hidden, layers):
    from beetsplug.genreclf.features import FeatureParams
    from training.export import export_onnx

    network = GenreLSTM(20, 3, hidden_size=hidden, num_layers=layers, embedding_size=8)
    path = tmp_path / "model.onnx"
    export_onnx(
        network, list(LABELS), FeatureParams(), path, name="t", version="0", min_confidence=0.5
    )
    assert check_parity(network, path) <= 1e-4
