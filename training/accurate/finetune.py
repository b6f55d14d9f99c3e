"""Does fine-tuning musicnn's last layers pay? A candidate for the accurate model.

    python -m training.accurate.finetune --gtzan ../shared/gtzan --extra ../shared/extra

musicnn's back end pools its front end's feature maps over time (mean and
max, 1506 values per 3 s patch), then: batch norm, dense 1506 -> 200, ReLU,
batch norm -> the 200-d ``embedding``; a dense layer and a sigmoid give the
50 tags. This candidate exposes the pooled features (cached like the patch
embeddings), starts from the shipped recipe's head (``/real-prior``, fitted
with its inner choices on the training side) and trains the 1506 -> 200
dense layer and the head together, the batch norms and the tag layer fixed,
on each training track's mean per-patch logits (what the plugin computes)
with the head's own weighting of real recordings and genres. The recipe is
fixed, not tuned on held-out data. Same protocols and folds as
``training.accurate.evaluate``; the figures go to
``models/musicnn-finetune.json``, which the card reports.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from beetsplug.genreclf.features import LogMelParams
from training.accurate.convert import BACKBONE_PATH, CACHE
from training.accurate.data import (
    Track,
    backbone_outputs,
    cached_per_track,
    embed_tracks,
    extra_tracks,
    gtzan_tracks,
)
from training.accurate.evaluate import (
    extra_folds,
    fitted_head,
    gtzan_folds,
    is_real,
    sequences_for,
)
from training.accurate.heads import LogRegHead, random_crop
from training.common.data import data_parser
from training.common.evaluate import track_metrics
from training.common.seeding import make_deterministic

POOLED = "model/flatten/Reshape:0"  # mean and max over time of the front end, (batch, 1506)
LAYERS = {  # the back end after pooling, as the converted graph names its constants
    "bn_in_scale": "model/batch_normalization_9/batchnorm/mul:0",
    "bn_in_shift": "model/batch_normalization_9/batchnorm/sub:0",
    "dense_weight": "model/dense/MatMul/ReadVariableOp:0",
    "dense_bias": "model/dense/BiasAdd/ReadVariableOp:0",
    "bn_out_scale": "model/batch_normalization_10/batchnorm/mul:0",
    "bn_out_shift": "model/batch_normalization_10/batchnorm/sub:0",
    "tags_weight": "model/dense_1/MatMul/ReadVariableOp:0",
    "tags_bias": "model/dense_1/BiasAdd/ReadVariableOp:0",
}


@dataclass(frozen=True)
class Recipe:
    epochs: int = 30
    batch_size: int = 32
    max_crop: int = 10  # patches per track per step (tracks are heard in 1..30)
    learning_rate: float = 1e-4
    weight_decay: float = 1e-4


def backbone_constants(backbone: Path) -> dict[str, np.ndarray]:
    values = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(backbone)).graph.initializer}
    return {key: values[name].astype(np.float32) for key, name in LAYERS.items()}


def with_pooled_output(backbone: Path, target: Path) -> Path:
    model = onnx.load(str(backbone))
    model.graph.output.append(
        onnx.helper.make_tensor_value_info(POOLED, onnx.TensorProto.FLOAT, None)
    )
    onnx.save(model, str(target))
    return target


def track_pooled(path: Path, backbone: Path, params: LogMelParams) -> np.ndarray | str:
    found = backbone_outputs(path, backbone, params, [POOLED])
    return found if isinstance(found, str) else found[0]


def pooled_features(tracks: list[Track], jobs: int) -> dict[str, np.ndarray]:
    """(n_patches, 1506) per readable track, cached per backbone file."""
    key = hashlib.sha256(BACKBONE_PATH.read_bytes()).hexdigest()[:12]
    backbone = with_pooled_output(BACKBONE_PATH, CACHE / "msd_musicnn.pooled.onnx")
    compute = partial(track_pooled, backbone=backbone, params=LogMelParams())
    return cached_per_track(CACHE / f"pooled-{key}.joblib", tracks, compute, "pooling", jobs)


class BackEnd(nn.Module):
    """Pooled features -> musicnn's embedding and tags -> genre logits, per patch."""

    def __init__(self, constants: dict[str, np.ndarray], head: LogRegHead) -> None:
        super().__init__()
        fixed = {k: torch.from_numpy(v) for k, v in constants.items()}
        for name in ("bn_in_scale", "bn_in_shift", "bn_out_scale", "bn_out_shift"):
            self.register_buffer(name, fixed[name])
        self.register_buffer("tags_weight", fixed["tags_weight"])
        self.register_buffer("tags_bias", fixed["tags_bias"])
        self.dense = nn.Linear(1506, 200)
        self.dense.weight.data = fixed["dense_weight"].T.clone()
        self.dense.bias.data = fixed["dense_bias"].clone()
        mean, scale, weights, bias = (
            torch.from_numpy(a.astype(np.float32)) for a in head.linear_form()
        )
        self.register_buffer("input_mean", mean)
        self.register_buffer("input_scale", scale)
        self.head = nn.Linear(len(mean), len(bias))
        self.head.weight.data = weights.T.clone()
        self.head.bias.data = bias.clone()

    def embedding(self, pooled: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.dense(pooled * self.bn_in_scale + self.bn_in_shift))
        return hidden * self.bn_out_scale + self.bn_out_shift

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        embedding = self.embedding(pooled)
        tags = torch.sigmoid(embedding @ self.tags_weight + self.tags_bias)
        inputs = torch.cat([embedding, tags], dim=-1)
        return self.head((inputs - self.input_mean) / self.input_scale)


START = "logreg-mean+tags/real-prior"  # the shipped recipe's head, where fine-tuning starts


def fine_tuned(train: list[Track], features, pooled, constants, labels, seed: int, recipe: Recipe):
    """The START head fitted on ``train``, then its back end and head trained together."""
    head = fitted_head(START, sequences_for(features, START), train, labels, seed)
    truth = np.array([labels.index(t.label) for t in train])
    make_deterministic(seed)
    network = BackEnd(constants, head)
    train_back_end(
        network,
        [pooled[t.key] for t in train],
        truth,
        loss_weights(head, train, truth),
        seed,
        recipe,
    )
    return head, network


def loss_weights(head: LogRegHead, train: list[Track], truth: np.ndarray) -> np.ndarray:
    """Per track, the weight the head's own fit gave it (real recordings, genres)."""
    weights = np.where(is_real(train), head.chosen_real_weight, 1.0)
    if head.chosen_class_weight == "balanced":
        counts = np.bincount(truth)
        weights = weights * len(truth) / (np.count_nonzero(counts) * counts[truth])
    return weights


def train_back_end(
    network: BackEnd,
    sequences: list[np.ndarray],
    truth: np.ndarray,
    weights: np.ndarray,
    seed: int,
    recipe: Recipe,
) -> None:
    """Weighted cross-entropy of each track's mean per-patch logits over a
    random run of its patches, in batches of tracks."""
    optimiser = torch.optim.AdamW(
        network.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay
    )
    rng = np.random.default_rng(seed)
    network.train()
    for _ in range(recipe.epochs):
        shuffled = rng.permutation(len(sequences))
        for start in range(0, len(sequences), recipe.batch_size):
            order = shuffled[start : start + recipe.batch_size]
            crops = [random_crop(sequences[i], recipe.max_crop, rng) for i in order]
            logits = torch.stack([network(torch.from_numpy(c)).mean(0) for c in crops])
            losses = nn.functional.cross_entropy(
                logits, torch.from_numpy(truth[order]), reduction="none"
            )
            batch_weights = torch.from_numpy(weights[order]).float()
            loss = (losses * batch_weights).sum() / batch_weights.sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()


def predict(network: BackEnd, sequences: list[np.ndarray]) -> np.ndarray:
    """Track probabilities: softmax of the mean per-patch logits."""
    network.eval()
    with torch.no_grad():
        return np.stack(
            [network(torch.from_numpy(s)).mean(0).softmax(-1).numpy() for s in sequences]
        )


def held_out_splits(gtzan: list[Track], extra: list[Track]):
    """(protocol, training tracks, held-out tracks): training.accurate.evaluate's folds."""
    for train, test in gtzan_folds(gtzan):
        yield "gtzan_cv", train, [gtzan[i] for i in test]
    for train, test in extra_folds(gtzan, extra):
        yield "extra_cv", train, [extra[i] for i in test]


def evaluate(gtzan, extra, features, pooled, labels, seed: int, recipe: Recipe) -> dict:
    """The linear head and its fine-tuned form, on the same folds."""
    constants = backbone_constants(BACKBONE_PATH)
    index = {label: i for i, label in enumerate(labels)}
    found: dict[str, dict[str, list]] = {}
    for protocol, train, test in held_out_splits(gtzan, extra):
        head, network = fine_tuned(train, features, pooled, constants, labels, seed, recipe)
        rows = found.setdefault(protocol, {"truth": [], "linear": [], "fine_tuned": []})
        rows["truth"] += [index[t.label] for t in test]
        rows["linear"] += list(head.predict(sequences_for(features, START)(test)))
        rows["fine_tuned"] += list(predict(network, [pooled[t.key] for t in test]))
        print(f"{protocol}: a fold done", file=sys.stderr, flush=True)
    return {
        protocol: {
            model: track_metrics(np.array(rows["truth"]), np.stack(rows[model]), labels)
            for model in ("linear", "fine_tuned")
        }
        for protocol, rows in found.items()
    }


def main() -> None:
    parser = data_parser("python -m training.accurate.finetune", __doc__)
    parser.add_argument("--out", type=Path, default=Path("models/musicnn-finetune.json"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    gtzan, extra = gtzan_tracks(args.gtzan), extra_tracks(args.extra)
    features = embed_tracks(gtzan + extra, BACKBONE_PATH, LogMelParams(), CACHE, args.jobs)
    pooled = pooled_features([t for t in gtzan + extra if t.key in features], args.jobs)
    labels = sorted({t.label for t in gtzan})
    gtzan = [t for t in gtzan if t.key in pooled]
    extra = [t for t in extra if t.key in pooled and t.label in labels]
    recipe = Recipe()
    figures = evaluate(gtzan, extra, features, pooled, labels, args.seed, recipe)
    result = {"recipe": asdict(recipe), "seed": args.seed, "evaluation": figures}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        json.dumps(
            {p: {m: round(f["accuracy"], 3) for m, f in v.items()} for p, v in figures.items()}
        )
    )


if __name__ == "__main__":
    main()
