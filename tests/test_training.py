"""Smoke tests of the fast model's training pipeline on tiny generated audio."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile

pytest.importorskip("torch")

import training.fast.__main__ as main  # noqa: E402
from beetsplug.genreclf.features import FeatureParams  # noqa: E402
from beetsplug.genreclf.model import METADATA_KEY, PACKAGED, GenreModel  # noqa: E402
from training.accurate.data import PatchFeatures  # noqa: E402
from training.common.views import POLICIES  # noqa: E402
from training.fast.export import check_parity, export_onnx  # noqa: E402
from training.fast.fit import TrainParams  # noqa: E402
from training.fast.network import Deltas, GenreConv, GenreLSTM, GenreStatistics  # noqa: E402

RATE = 22050
LABELS = ("buzz", "hum", "noise")
EXTRA_ONLY = "whistle"  # a genre only the real recordings have, as electronic and rnb
LISTS = ("train", "valid", "test")


def synthetic_clip(label: str, index: int, seconds: float = 4.0) -> np.ndarray:
    """Distinct timbres: a sawtooth buzz, a low sine hum, filtered noise, a high whistle."""
    rng = np.random.default_rng(index)
    t = np.arange(int(seconds * RATE)) / RATE
    pitch = 150 * (1 + 0.1 * index)
    if label == "buzz":
        y = 2 * ((pitch * t) % 1) - 1
    elif label == "hum":
        y = np.sin(2 * np.pi * pitch / 2 * t)
    elif label == EXTRA_ONLY:
        y = np.sin(2 * np.pi * pitch * 12 * t)
    else:
        y = np.convolve(rng.standard_normal(len(t)), np.ones(4) / 4, mode="same")
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path]:
    """A GTZAN-like folder (audio, artist lists; one broken clip) and an
    extra folder of eight tracks by eight artists with its labels.csv."""
    gtzan, extra = tmp_path_factory.mktemp("gtzan"), tmp_path_factory.mktemp("extra")
    (gtzan / "splits").mkdir()
    listed = {name: [] for name in LISTS}
    for label in LABELS:
        (gtzan / "audio" / label).mkdir(parents=True)
        for index in range(6):
            name = f"{label}.{index:05d}"
            suffix = ".flac" if index % 2 else ".wav"
            soundfile.write(
                gtzan / "audio" / label / f"{name}{suffix}", synthetic_clip(label, index), RATE
            )
            listed[LISTS[index // 2]].append(f"{label}/{name}.wav")
    (gtzan / "audio" / "hum" / "hum.00099.wav").write_bytes(b"RIFF\x00\x00not audio at all")
    listed["train"].append("hum/hum.00099.wav")
    for name, lines in listed.items():
        (gtzan / "splits" / f"{name}_filtered.txt").write_text("\n".join(lines) + "\n")
    rows = []
    for i, label in enumerate(LABELS * 2 + (EXTRA_ONLY,) * 2):
        (extra / label).mkdir(exist_ok=True)
        file = f"{label}/track{i}.wav"
        soundfile.write(extra / file, synthetic_clip(label, 10 + i, 6.0), RATE)
        rows.append(
            {"file": file, "genre": label, "raw_label": f"x (artist: A{i})", "source_repo": "test"}
        )
    with open(extra / "labels.csv", "w", newline="") as table:
        writer = csv.DictWriter(table, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return gtzan, extra


def fake_patches(tracks, backbone, params, cache, jobs) -> dict[str, PatchFeatures]:
    """Stand-in musicnn features (the backbone is not in CI): a label-dependent
    mean, so the teacher has something to learn."""
    found = {}
    for track in tracks:
        rng = np.random.default_rng(len(track.key))
        shift = (*LABELS, EXTRA_ONLY).index(track.label)
        found[track.key] = PatchFeatures(
            (rng.standard_normal((3, 200)) + shift).astype(np.float32),
            rng.random((3, 50)).astype(np.float32),
        )
    return found


def train_tiny(dataset, out: Path, monkeypatch) -> dict:
    gtzan, extra = dataset
    monkeypatch.setattr(main, "embed_tracks", fake_patches)
    monkeypatch.setattr(main, "BASE", TrainParams(batch_size=8))
    argv = [
        "--gtzan",
        str(gtzan),
        "--extra",
        str(extra),
        "--out",
        str(out / "card"),
        "--model",
        str(out / "model" / "genreclf.onnx"),
        "--runs",
        str(out / "runs"),
        "--cache",
        str(out.parent / "cache"),
        "--jobs",
        "1",
        "--max-epochs",
        "2",
        "--steps-per-epoch",
        "2",
        "--augmentations",
        "1",
    ]
    return main.run(main.parse_args(argv), "python -m training.fast (test)", time.monotonic())


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    out = tmp_path_factory.mktemp("first")
    yield train_tiny(dataset, out, monkeypatch), out
    monkeypatch.undo()


def test_pipeline_writes_a_loadable_model_card_and_metrics(trained):
    metrics, out = trained
    model = GenreModel(out / "model" / "genreclf.onnx")
    assert model.labels == sorted((*LABELS, EXTRA_ONLY))
    assert model.name == "gtzan-mfcc" and model.version == "5"
    assert 0.0 <= model.min_confidence <= 1.0
    assert model.metadata["temperature"] > 0
    windows = model.metadata["windows"]
    assert (windows["count"], windows["seconds"]) in {
        (p.max_windows, p.window_seconds) for p in POLICIES.values()
    }
    segments = np.random.default_rng(0).standard_normal((2, 130, model.params.n_mfcc))
    [prediction] = model.predict_tracks([segments.astype(np.float32)])
    assert prediction.probabilities.shape == (4,)
    card = (out / "card" / "README.md").read_text()
    assert "python -m training.fast (test)" in card and "$" not in card
    assert (out / "card" / "reliability.png").stat().st_size > 0
    saved = json.loads((out / "card" / "metrics.json").read_text())
    for variant in (*main.VARIANTS, "baseline"):
        assert saved["evaluation"][variant]["gtzan_cv"]["tracks"] == 18
        assert saved["evaluation"][variant]["extra_cv"]["tracks"] == 8
    assert set(saved["search"]) == {c.name for c in main.results.GRID}


def test_unreadable_clip_is_reported_and_skipped(trained):
    metrics, _ = trained
    assert [entry.split(":")[0] for entry in metrics["skipped"]] == ["hum/hum.00099"]


def trained_part(path: Path) -> tuple[bytes, dict]:
    """The graph and the metadata, less the recommended windows: those are
    the fastest of the equally accurate policies, timed on a shared machine."""
    import onnx

    model = onnx.load(str(path))
    metadata = json.loads({p.key: p.value for p in model.metadata_props}[METADATA_KEY])
    del metadata["windows"]
    return model.graph.SerializeToString(), metadata


def test_same_seed_gives_the_same_model(dataset, trained, tmp_path, monkeypatch):
    first, out = trained
    second = train_tiny(dataset, tmp_path / "second", monkeypatch)
    assert trained_part(tmp_path / "second" / "model" / "genreclf.onnx") == trained_part(
        out / "model" / "genreclf.onnx"
    )
    assert second["evaluation"] == first["evaluation"]
    assert second["calibration"] == first["calibration"]


def test_a_task_trains_the_same_whatever_ran_before_it():
    """Workers run tasks in any order: a task's result (initial weights
    included) must depend on its seed only, not on the RNG state left behind."""
    import torch

    from training.fast.pipeline import Task, run_task
    from training.fast.search import GRID

    rng = np.random.default_rng(0)
    keys = [f"{label}.{i}" for label in LABELS for i in range(3)]
    sequences = {k: [rng.standard_normal((150, 20)).astype(np.float32)] for k in keys}
    label_of = {k: LABELS.index(k.split(".")[0]) for k in keys}
    task = Task("probe", GRID[0], tuple(keys), epochs=1)
    base = TrainParams(batch_size=8, steps_per_epoch=3)

    def trained_weights() -> list[torch.Tensor]:
        result = run_task(task, sequences, label_of, len(LABELS), base, seed=0)
        return [w.detach().clone() for w in result.network.parameters()]

    first = trained_weights()
    torch.rand(7)  # another task's leftovers
    second = trained_weights()
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_no_soft_label_comes_from_a_teacher_that_saw_the_held_out_block(monkeypatch):
    """Cross-fitting: a training track of block B, with block H held out, is
    labelled by a teacher fitted without H and without B."""
    from training.fast import teacher
    from training.common.blocks import Blocks
    from training.accurate.data import Track

    tracks = tuple(
        Track(f"{b}{i}", Path("x"), "buzz", "gtzan", b, "gtzan") for b in "ABC" for i in range(2)
    )
    blocks = Blocks(tracks, {t.key: t.group for t in tracks})
    monkeypatch.setattr(
        teacher, "fit_teacher", lambda f, b, excluded, labels, seed, kind: (kind, excluded)
    )
    monkeypatch.setattr(teacher, "patch_probabilities", lambda fitted, patches: fitted)
    monkeypatch.setattr(teacher, "patch_inputs", lambda features, key: None)
    soft = teacher.cross_fitted_soft_labels({}, blocks, ["buzz"], seed=0, jobs=1)
    assert set(soft) == set(teacher.KINDS)
    for kind, per_held_out in soft.items():
        assert set(per_held_out) == {None, "A", "B", "C"}
        for held_out, labelled in per_held_out.items():
            assert {k[0] for k in labelled} == set("ABC") - {held_out}
            for key, fitted in labelled.items():
                assert fitted == (kind, frozenset({held_out, key[0]} - {None}))


def test_shipped_min_confidence_is_recomputed_from_its_calibrated_predictions():
    from training.fast.pipeline import calibrate

    metrics = json.loads((Path(__file__).parents[1] / "models" / "metrics.json").read_text())
    calibration = metrics["calibration"]
    held_out = calibration["out_of_block"]
    recomputed = calibrate(
        np.array(held_out["truth"]),
        np.array(held_out["probabilities"]),
        calibration["threshold"]["target_precision"],
    )
    assert recomputed == calibration["threshold"]
    model = GenreModel(PACKAGED["mfcc"])
    assert model.min_confidence == calibration["threshold"]["min_confidence"]


def test_deltas_are_the_slope_inside_the_sequence():
    import torch

    ramp = torch.arange(20.0).reshape(20, 1, 1) * 3.0  # (time, batch, features)
    found = Deltas()(ramp)
    assert torch.allclose(found[4:-4, 0, 1], torch.full((12,), 3.0))
    assert torch.equal(found[..., :1], ramp)


@pytest.mark.parametrize(
    "options",
    [
        {"hidden_size": 8, "num_layers": 1},
        {"hidden_size": 16, "num_layers": 2},
        {"hidden_size": 8, "bidirectional": True, "pooling": "attention", "deltas": True},
    ],
)
def test_onnx_parity_at_several_lengths(tmp_path, options):
    network = GenreLSTM(20, 3, embedding_size=8, **options)
    assert_exports_with_parity(network, tmp_path)


@pytest.mark.parametrize(
    "make",
    [
        lambda: GenreStatistics(20, 3, hidden_size=16, embedding_size=8),
        lambda: GenreStatistics(20, 3, hidden_size=16, embedding_size=8, deltas=False),
        lambda: GenreConv(20, 3, hidden_size=8, embedding_size=8),
    ],
    ids=["statistics", "statistics-no-deltas", "conv"],
)
def test_other_architectures_export_with_parity(tmp_path, make):
    import torch

    torch.manual_seed(0)
    network = make()
    for _ in range(2):  # batch-norm statistics that are not the identity
        network.train()(torch.randn(4, 130, 20))
    assert_exports_with_parity(network, tmp_path)


def assert_exports_with_parity(network, tmp_path: Path) -> None:
    network.temperature.fill_(0.7)
    path = tmp_path / "model.onnx"
    export_onnx(
        network, list(LABELS), FeatureParams(), path, name="t", version="0", min_confidence=0.5
    )
    assert check_parity(network, path) <= 1e-4


def test_recipe_grid_entries_are_distinct():
    from training.fast.search import GRID

    assert len({replace(c, name="").to_dict().__repr__() for c in GRID}) == len(GRID)


def test_ensemble_exports_the_mean_of_its_members_logits(tmp_path):
    import torch

    from training.fast.network import GenreEnsemble

    torch.manual_seed(0)
    members = [
        GenreStatistics(20, 3, hidden_size=8, embedding_size=8),
        GenreConv(20, 3, hidden_size=8, embedding_size=8),
    ]
    ensemble = GenreEnsemble(members).eval()
    ensemble.temperature.fill_(1.3)
    path = tmp_path / "ensemble.onnx"
    export_onnx(
        ensemble, list(LABELS), FeatureParams(), path, name="t", version="0", min_confidence=0.5
    )
    assert check_parity(ensemble, path) <= 1e-4
    mfcc = torch.randn(2, 130, 20)
    probabilities, embedding = GenreModel(path).run(mfcc.numpy())
    with torch.no_grad():
        mean_logits = (members[0](mfcc) + members[1](mfcc)) / 2
    assert np.allclose(probabilities, torch.softmax(mean_logits / 1.3, -1).numpy(), atol=1e-5)
    assert embedding.shape == (2, 16)  # the members' embeddings side by side


def test_the_real_teacher_is_the_accurate_models_shipped_head():
    from training.fast.teacher import REAL_RECIPE

    card = json.loads(Path("models/musicnn-genre-metrics.json").read_text())
    assert (card["chosen_c"], card["chosen_real_weight"], card["chosen_class_weight"]) == (
        REAL_RECIPE.c,
        REAL_RECIPE.real_weight,
        REAL_RECIPE.class_weight,
    )


@pytest.mark.parametrize(
    "real_weight, real_share",
    [
        (1.0, 1 / 4),  # one real clip among four of the genre: drawn as often as each
        (3.0, 1 / 2),  # 3 / (3 + 3)
        (9.0, 3 / 4),  # 9 / (9 + 3)
    ],
)
def test_real_recordings_are_drawn_real_weight_times_as_often(real_weight, real_share):
    from training.fast.fit import Examples, pick_clip

    real = np.array([True, False, False, False, True])
    examples = Examples([[np.zeros((4, 1))]] * 5, np.array([0, 0, 0, 0, 1]), None, real)
    rng = np.random.default_rng(0)
    drawn = np.array([pick_clip(examples, 0, real_weight, rng) for _ in range(20000)])
    assert set(drawn) <= {0, 1, 2, 3}
    assert abs(np.mean(drawn == 0) - real_share) < 0.015


def flat_curve(peak_epoch: int, peak: float, epochs: int = 6) -> list[float]:
    return [peak if e == peak_epoch else 0.1 for e in range(1, epochs + 1)]


@pytest.mark.parametrize(
    "architecture, peaks, expected",
    [
        # each architecture's best candidate, whatever the others score
        ("lstm", {"v1": 0.3, "deltas-40": 0.5, "statistics": 0.9}, "deltas-40"),
        ("statistics", {"v1": 0.9, "statistics": 0.4}, "statistics"),
        ("conv", {"conv": 0.2, "statistics": 0.9}, "conv"),
        # equal scores: the first grid entry
        ("lstm", {"v1": 0.5, "deltas-40": 0.5}, "v1"),
    ],
)
def test_the_search_chooses_within_each_architecture(architecture, peaks, expected):
    from itertools import permutations

    from training.fast.search import GRID, choose

    lists = ["gtzan:train", "gtzan:valid"]
    curves = {
        (c.name, a, b): flat_curve(3, peaks.get(c.name, 0.1))
        for c in GRID
        for a, b in permutations(lists, 2)
    }
    found = choose(curves, lists, architecture)
    assert (found.config.name, found.config.architecture) == (expected, architecture)


def test_the_networks_of_one_model_must_read_the_same_features():
    from training.fast.pipeline import member_recipes, shared_features
    from training.fast.search import GRID, Choice

    by_name = {c.name: c for c in GRID}
    chosen = {
        "lstm": Choice(by_name["v1"], 3, 0.5),  # 20 MFCCs
        "statistics": Choice(by_name["statistics"], 4, 0.5),  # 40
        "conv": Choice(by_name["conv"], 5, 0.5),  # 40
    }
    ensemble = member_recipes(chosen, "ensemble")
    assert shared_features(ensemble).n_mfcc == 40
    assert member_recipes(chosen, "lstm-real") == {"lstm-real": chosen["lstm"]}
    with pytest.raises(ValueError, match="different features"):
        shared_features({**ensemble, "lstm-plain": chosen["lstm"]})


@pytest.mark.parametrize("rows, text", [(None, "all of them"), (86, "the first 86 of them")])
def test_the_card_says_how_many_extra_tracks_the_previous_model_heard(rows, text):
    assert main.card.heard_rows(rows) == text
