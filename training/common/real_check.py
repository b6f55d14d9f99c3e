"""The real-music check of both models, track by track.

Both training runs hold out the same five folds of the extra recordings
(``training.common.blocks`` builds the fast model's from the accurate model's
functions), so each extra track has an out-of-fold prediction from each
model: the accurate model's from this run, the fast model's from its own
run's ``models/metrics.json`` (``calibration.out_of_block``, in the order of
``Blocks.tracks``). This pairs them per track: the accuracy gap on exactly
the same tracks, and how often each model is right where the other is not
(with McNemar's exact test). ``python -m training.common.real_check`` pairs them
again after the fast model is retrained.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from beetsplug.genreclf.model import PACKAGED
from training.accurate.card import FAST_METRICS, card_from_files
from training.accurate.data import Track, extra_tracks, gtzan_tracks
from training.common.blocks import make_blocks
from training.common.data import data_parser
from training.common.evaluate import in_order


class MismatchedRuns(ValueError):
    """The fast model's run did not predict the same tracks."""


def fast_model_predictions(
    fast_metrics: dict, gtzan: list[Track], extra: list[Track], labels: list[str]
) -> dict[str, np.ndarray]:
    """The fast model's out-of-block probabilities per extra track key, in
    columns of ``labels`` (0 for a label it lacks, such as not music)."""
    tracks = make_blocks(gtzan, extra).tracks
    found = fast_metrics["calibration"]["out_of_block"]
    fast_labels = fast_metrics["labels"]
    truth = [fast_labels[i] for i in found["truth"]]
    if truth != [t.label for t in tracks]:
        raise MismatchedRuns("the fast model's run predicted other tracks: retrain it (make train)")
    extra_keys = {t.key for t in extra}
    return {
        t.key: in_order(np.array(p), fast_labels, labels)
        for t, p in zip(tracks, found["probabilities"])
        if t.key in extra_keys
    }


def paired_comparison(
    accurate: dict[str, list[float]],
    fast: dict[str, np.ndarray],
    extra: list[Track],
    labels: list[str],
) -> dict:
    """Accuracy of both models on the same extra tracks, and their disagreements."""
    truth = np.array([labels.index(t.label) for t in extra])
    accurate_right = np.array([np.argmax(accurate[t.key]) for t in extra]) == truth
    fast_right = np.array([np.argmax(fast[t.key]) for t in extra]) == truth
    only_accurate = int(np.sum(accurate_right & ~fast_right))
    only_fast = int(np.sum(fast_right & ~accurate_right))
    disagreements = only_accurate + only_fast
    return {
        "tracks": len(extra),
        "accurate_accuracy": float(accurate_right.mean()),
        "fast_accuracy": float(fast_right.mean()),
        "points_ahead": float(100 * (accurate_right.mean() - fast_right.mean())),
        "both_right": int(np.sum(accurate_right & fast_right)),
        "only_accurate_right": only_accurate,
        "only_fast_right": only_fast,
        "neither_right": int(np.sum(~accurate_right & ~fast_right)),
        "mcnemar_p": float(binomtest(only_accurate, disagreements).pvalue)
        if disagreements
        else 1.0,
    }


def refresh(models: Path, gtzan_root: Path, extra_root: Path) -> dict:
    """Pair the accurate model's stored predictions with the fast model's
    current run, and write the accurate model's metrics and card again."""
    metrics_path = models / "musicnn-genre-metrics.json"
    metrics = json.loads(metrics_path.read_text())
    accurate = metrics["extra_out_of_fold"]
    extra = [t for t in extra_tracks(extra_root) if t.key in accurate]
    try:
        fast = fast_model_predictions(
            json.loads((models / FAST_METRICS).read_text()),
            gtzan_tracks(gtzan_root),
            extra,
            metrics["labels"],
        )
        metrics["versus_fast"] = paired_comparison(accurate, fast, extra, metrics["labels"])
    except MismatchedRuns as exc:
        metrics["versus_fast"] = {"not_paired": str(exc)}
    metrics_path.write_text(json.dumps(metrics, indent=1) + "\n")
    card_from_files(metrics_path, PACKAGED["accurate"], models / "musicnn-genre.md")
    return metrics["versus_fast"]


def main() -> None:
    parser = data_parser("python -m training.common.real_check", __doc__)
    parser.add_argument("--models", type=Path, default=Path("models"))
    args = parser.parse_args()
    print(json.dumps(refresh(args.models, args.gtzan, args.extra)))


if __name__ == "__main__":  # after `make train`, without rerunning `make musicnn`
    main()
