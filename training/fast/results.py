"""From a run's out-of-block predictions to the figures of the card."""

from __future__ import annotations

from collections import Counter

import numpy as np

from beetsplug.genreclf.model import GenreModel
from training.common.blocks import Blocks
from training.common.calibration import cross_fitted, fit_temperature, reliability, scaled
from training.common.evaluate import in_order, track_metrics
from training.common.views import POLICIES, WHOLE, all_views
from training.fast.extract import ClipFeatures
from training.fast.pipeline import VARIANTS, TrainingResult, calibrate, track_probabilities
from training.fast.search import GRID, smoothed

TARGET_PRECISION = 0.5  # class-balanced, as the accurate model's threshold


def protocols(blocks: Blocks) -> dict[str, list[str]]:
    """Which blocks pool into which reported figure."""
    return {"gtzan_cv": blocks.gtzan_lists(), "extra_cv": blocks.extra_folds()}


def evaluate(blocks: Blocks, probabilities: dict[str, np.ndarray], labels: list[str]) -> dict:
    """GTZAN CV and real-music check, pooled and per block."""
    index = {label: i for i, label in enumerate(labels)}
    found = {}
    for protocol, names in protocols(blocks).items():
        tracks = [t for n in names for t in blocks.inside(n)]
        truth = np.array([index[t.label] for t in tracks])
        found[protocol] = track_metrics(
            truth, np.stack([probabilities[t.key] for t in tracks]), labels
        )
        found[protocol]["blocks"] = {}
        for name in names:
            inside = blocks.inside(name)
            found[protocol]["blocks"][name] = track_metrics(
                np.array([index[t.label] for t in inside]),
                np.stack([probabilities[t.key] for t in inside]),
                labels,
            )
    return found


def view_probabilities(result: TrainingResult, variant: str, view: str) -> dict[str, np.ndarray]:
    return {k: track_probabilities(v[view]) for k, v in result.logits[variant].items()}


def search_table(result: TrainingResult, blocks: Blocks) -> dict:
    """Every candidate's curves and best smoothed score, over all six
    curves and over each held-out list's two."""
    lists = blocks.gtzan_lists()
    table = {}
    for config in GRID:
        curves = {n: c for n, c in result.curves.items() if n.startswith(f"curve-{config.name}-")}
        scores = {"all": best(list(curves.values()))}
        for held_out in lists:
            tag = held_out.replace(":", "-")
            scores[held_out] = best([c for n, c in curves.items() if tag not in n])
        table[config.name] = {"config": config.to_dict(), "scores": scores, "curves": curves}
    return table


def best(curves: list[list[float]]) -> dict:
    curve = smoothed(curves)
    return {"score": float(curve.max()), "epochs": int(np.argmax(curve)) + 1}


def calibration(result: TrainingResult, variant: str, blocks: Blocks, labels: list[str]) -> dict:
    """The shipped temperature, cross-fitted reliability before and after,
    and min_confidence from the calibrated out-of-block predictions."""
    index = {label: i for i, label in enumerate(labels)}
    tracks = list(blocks.tracks)
    truth = np.array([index[t.label] for t in tracks])
    logits = [result.logits[variant][t.key][WHOLE] for t in tracks]
    of_block = [blocks.of_track[t.key] for t in tracks]
    temperature = fit_temperature(logits, truth)
    calibrated, per_block = cross_fitted(logits, truth, of_block)
    raw = scaled(logits, 1.0)
    found = {"temperature": temperature, "cross_fitted_temperatures": per_block}
    for protocol, names in protocols(blocks).items():
        inside = np.isin(of_block, names)
        found[protocol] = {
            "uncalibrated": reliability(raw[inside], truth[inside]),
            "calibrated": reliability(calibrated[inside], truth[inside]),
        }
    shipped = scaled(logits, temperature)
    found["threshold"] = calibrate(truth, shipped, TARGET_PRECISION)
    found["out_of_block"] = {"truth": truth.tolist(), "probabilities": shipped.tolist()}
    return found


def merit(found: dict) -> float:
    """What a variant is judged on: GTZAN-CV macro-F1 plus real-music accuracy."""
    return found["gtzan_cv"]["macro_f1"] + found["extra_cv"]["accuracy"]


def shipped_variant(evaluation: dict) -> str:
    """The variant with the best mean of GTZAN-CV macro-F1 and real-music
    accuracy (chosen on the reported figures: see the card); ties: the
    first in ``VARIANTS``."""
    return max(VARIANTS, key=lambda v: merit(evaluation[v]))


def previous_model_on_extra(
    model: GenreModel,
    blocks: Blocks,
    features: dict[str, ClipFeatures],
    labels: list[str],
    unseen: set[str],
    new: dict[str, np.ndarray],
) -> dict:
    """The model shipped before, on the extra tracks as the plugin hears them:
    on all, and on those it was not trained on (``unseen``) beside this
    run's out-of-block predictions (``new``) for the same tracks."""
    extra = [t for n in blocks.extra_folds() for t in blocks.inside(n)]
    params = model.params
    segments = [
        all_views(features[t.key].sliced(params.n_mfcc, False)[0], params)[WHOLE] for t in extra
    ]
    previous = np.stack(
        [in_order(p.probabilities, model.labels, labels) for p in model.predict_tracks(segments)]
    )
    index = {label: i for i, label in enumerate(labels)}
    truth = np.array([index[t.label] for t in extra])
    kept = np.array([t.key in unseen for t in extra])
    ours = np.stack([new[t.key] for t in extra])
    return {
        "all": track_metrics(truth, previous, labels),
        "unseen": track_metrics(truth[kept], previous[kept], labels) if kept.any() else None,
        "new_on_unseen": track_metrics(truth[kept], ours[kept], labels) if kept.any() else None,
    }


def data_counts(blocks: Blocks, listed: int, present: int) -> dict:
    """Tracks per genre and block, and how much of the split lists we hold."""
    return {
        "per_block": {
            n: dict(sorted(Counter(t.label for t in blocks.inside(n)).items()))
            for n in blocks.names
        },
        "split_list_clips": listed,
        "split_list_clips_present": present,
    }


def views_table(result: TrainingResult, variant: str, blocks: Blocks, labels: list[str]) -> dict:
    """Real-music check accuracy under each window policy."""
    found = {}
    for view in POLICIES:
        metrics = evaluate(blocks, view_probabilities(result, variant, view), labels)["extra_cv"]
        found[view] = {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}
    return found
