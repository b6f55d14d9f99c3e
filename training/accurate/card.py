"""The musicnn genre model's card, from the metrics one run measured."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from training.accurate.finetune import START
from training.accurate.heads import CANDIDATES, REAL_WEIGHTS, SHIPPABLE
from training.common.cards import pct
from training.common.evaluate import confusion_text

DESCRIPTIONS = {
    "logreg-mean": "LogReg on the mean embedding (200-d)",
    "logreg-mean+tags": "LogReg on the mean embedding + 50 tag probabilities",
    "logreg-mean+tags/real-acc": "the same, real recordings weighted, chosen by accuracy on them",
    "logreg-mean+tags/real": "the same, real recordings weighted, chosen by log-loss on them",
    "logreg-mean+tags/real-prior": "the same, that choice also deciding whether genres count alike",
    "attention": "Attention pooling over patch embeddings",
    "attention+tags": "Attention pooling over patch embeddings + tags",
}
FAST_METRICS = "metrics.json"  # the fast model's run, beside this card
FINE_TUNING = "musicnn-finetune.json"  # training.accurate.finetune's figures, beside it too


def figures(metrics: dict) -> str:
    return f"{pct(metrics['accuracy'])} / {pct(metrics['macro_f1'])}"


def candidates_table(evaluation: dict, chosen: str, models: Path) -> str:
    rows = [
        "| head | GTZAN 3-fold CV acc. / macro-F1 % | extra CV (by artist) acc. / macro-F1 % "
        "| GTZAN only → extra acc. / macro-F1 % |",
        "|---|---|---|---|",
    ]
    for candidate in CANDIDATES:
        found = evaluation[candidate]
        name = DESCRIPTIONS[candidate] + (" **(shipped)**" if candidate == chosen else "")
        rows.append(
            f"| `{candidate}`: {name} | {figures(found['gtzan_cv'])} "
            f"| {figures(found['extra_cv'])} | {figures(found['gtzan_only_on_extra'])} |"
        )
    rows.append(fine_tuning_row(json.loads((models / FINE_TUNING).read_text())))
    rows.append(fast_model_row(json.loads((models / FAST_METRICS).read_text())))
    return "\n".join(rows)


def fine_tuning_row(fine_tuning: dict) -> str:
    """The START head with musicnn's last dense layer trained beside it."""
    found = fine_tuning["evaluation"]
    recipe = fine_tuning["recipe"]
    return (
        f"| `fine-tuned`: `{START}`, then musicnn's 1506→200 dense layer and "
        f"the head trained together ({recipe['epochs']} epochs, AdamW lr {recipe['learning_rate']:g}; "
        f"`training/accurate/finetune.py`, its own run) | {figures(found['gtzan_cv']['fine_tuned'])} "
        f"| {figures(found['extra_cv']['fine_tuned'])} | – |"
    )


def fine_tuning_note(fine_tuning: dict) -> str:
    """Whether training musicnn's last layers paid, against its own linear start."""
    found = fine_tuning["evaluation"]
    pays = all(
        found[p]["fine_tuned"]["accuracy"] > found[p]["linear"]["accuracy"]
        for p in ("gtzan_cv", "extra_cv")
    )
    return (
        f"Fine-tuning starts, in each fold, from the `{START}` head fitted on that training "
        "side; that linear start scores "
        f"{figures(found['gtzan_cv']['linear'])} (GTZAN CV) and "
        f"{figures(found['extra_cv']['linear'])} (extra CV) on the same folds, and fine-tuned "
        f"{figures(found['gtzan_cv']['fine_tuned'])} and {figures(found['extra_cv']['fine_tuned'])}: "
        + (
            "it pays; `make musicnn` does not ship it (the graph would need its dense weights)."
            if pays
            else "it does not pay, so the backbone ships as musicnn's authors trained it."
        )
    )


def fast_model_row(fast: dict) -> str:
    """The shipped fast (MFCC) model as its own training run measured it: the same
    extra folds; its GTZAN CV also trains on the extra recordings."""
    shipped = fast["evaluation"][fast["shipped_variant"]]
    return (
        f"| `fast`: MFCC model `{fast['name']}` v{fast['version']}, from its own run "
        f"(`models/metrics.json`) | {figures(shipped['gtzan_cv'])} (extra recordings in training) "
        f"| {figures(shipped['extra_cv'])} | – |"
    )


def per_source_table(evaluation: dict) -> str:
    sources = list(evaluation[next(iter(CANDIDATES))]["extra_cv_per_source"])
    rows = [
        "| source (labels.csv `source_repo`) | tracks | "
        + " | ".join(f"`{c}`" for c in CANDIDATES)
        + " |",
        "|---|---|" + "---|" * len(CANDIDATES),
    ]
    for source in sources:
        per = [evaluation[c]["extra_cv_per_source"][source] for c in CANDIDATES]
        rows.append(
            f"| {source} | {per[0]['tracks']} | "
            + " | ".join(pct(p["accuracy"]) for p in per)
            + " |"
        )
    return "\n".join(rows)


def speed_section(metrics: dict) -> str:
    levels = metrics["speed_ms_per_patch"]
    load = " / ".join(f"{x:.1f}" for x in metrics["load_average_before_speed"])
    int8 = metrics["int8"]
    return (
        "Milliseconds per 3 s patch, one onnxruntime thread, batches of 10 patches, median of 20 "
        "after a warm-up (`training/accurate/export.py`, `milliseconds_per_patch`); load average "
        f"of the shared machine before measuring (1/5/15 min): {load}:\n\n"
        "| graph | ms per patch |\n|---|---|\n"
        f"| backbone, optimisation off (`ORT_DISABLE_ALL`) | {levels['none']:.1f} |\n"
        f"| backbone, basic optimisation | {levels['basic']:.1f} |\n"
        f"| backbone, all optimisations (onnxruntime's default) | {levels['all']:.1f} |\n"
        "| backbone, dynamic int8 (weights int8, `quantize_dynamic`) "
        f"| {int8['backbone_ms_per_patch']:.1f} |\n"
        f"| shipped graph (`musicnn-genre.onnx`) | {metrics['shipped_ms_per_patch']:.1f} |\n\n"
        f"Dynamic int8: {int8['size_bytes'] / 1e6:.1f} MB; {int8_verdict(int8)}"
    )


def int8_verdict(int8: dict) -> str:
    if "accuracy_drop" not in int8:
        return (
            f"{int8['backbone_ms_per_patch']:.1f} ms per patch against "
            f"{int8['float_ms_per_patch']:.1f} for the float backbone in the same run: slower, so "
            "not kept and its accuracy not measured (the rule: faster, and no accuracy drop "
            "above one point)."
        )
    drop = int8["accuracy_drop"]
    verdict = "kept: the shipped backbone is int8" if int8["kept"] else "not kept"
    return (
        f"with the shipped head recipe, GTZAN CV accuracy {pct(int8['gtzan_cv']['accuracy'])} % "
        f"(drop {pct(drop['gtzan_cv'])} points), extra CV {pct(int8['extra_cv']['accuracy'])} % "
        f"(drop {pct(drop['extra_cv'])} points): {verdict} (the rule: faster, and no accuracy "
        "drop above one point)."
    )


def windows_table(metrics: dict) -> str:
    rows = [
        "| windows | patches per extra track (mean) | extra CV acc. / macro-F1 % "
        "| seconds for a 4-min FLAC (patches) |",
        "|---|---|---|---|",
    ]
    for name, found in metrics["windows"].items():
        speed = metrics["window_speed"][name]
        rows.append(
            f"| {name} | {found['mean_patches']:.1f} | {figures(found)} "
            f"| {speed['seconds']:.2f} ({speed['segments']}) |"
        )
    return "\n".join(rows)


def best_accuracy_note(metrics: dict) -> str:
    """Which candidate is most often right on the extra recordings, if not the shipped one."""
    evaluation = metrics["evaluation"]
    best = max(CANDIDATES, key=lambda c: evaluation[c]["extra_cv"]["accuracy"])
    if best == metrics["chosen"]:
        return ""
    found = evaluation[best]["extra_cv"]
    return (
        f"`{best}` has the best extra-CV accuracy ({pct(found['accuracy'])} %, "
        f"macro-F1 {pct(found['macro_f1'])} %) but pools patches itself, which this graph "
        "contract (per-patch probabilities) cannot express."
    )


def versus_fast_text(versus: dict) -> str:
    """The paired real-music check against the fast model (training.common.real_check)."""
    return (
        f"Against the fast model, track by track on the same {versus['tracks']} held-out "
        f"recordings (its out-of-fold predictions from its own run, same folds, whole excerpts): "
        f"this head {pct(versus['accurate_accuracy'])} %, the fast MFCC model "
        f"{pct(versus['fast_accuracy'])} %, **{versus['points_ahead']:+.1f} points**. Both right on "
        f"{versus['both_right']}, only this head on {versus['only_accurate_right']}, only the fast model "
        f"on {versus['only_fast_right']}, neither on {versus['neither_right']} (McNemar's exact "
        f"test p = {versus['mcnemar_p']:.1g})."
    )


def refit_note(metrics: dict) -> str:
    weight = metrics["chosen_real_weight"]
    genres = (
        "every genre weighted alike"
        if metrics["chosen_class_weight"] == "balanced"
        else "genres weighted as often as they occur in training"
    )
    if weight == 1:
        return f"C = {metrics['chosen_c']}, {genres}"
    return (
        f"C = {metrics['chosen_c']}, each real recording counting {weight:g} times a GTZAN clip, "
        f"{genres}"
    )


def coverage_note(calibration: dict) -> str:
    if calibration["coverage"] < 1:
        return ""
    return (
        " Every out-of-fold prediction already meets the target, so this threshold sets a genre on"
        " every track; a stricter target would let the plugin leave uncertain tracks alone."
    )


def card_from_files(metrics_path: Path, model_path: Path, card_path: Path) -> None:
    """Render the card again from a run's metrics and the model's own metadata."""
    import onnx

    from beetsplug.genreclf.model import METADATA_KEY

    properties = {p.key: p.value for p in onnx.load(str(model_path)).metadata_props}
    metadata = json.loads(properties[METADATA_KEY])
    write_card(json.loads(metrics_path.read_text()), metadata, card_path)


def write_card(metrics: dict, metadata: dict, path: Path) -> None:
    chosen = metrics["chosen"]
    best = metrics["evaluation"][chosen]
    calibration = metrics["calibration"]
    conversion = metrics["conversion"]
    notice = metadata["source"]["notice"]
    restored = conversion["restored"]
    outcome = (
        "reached" if calibration["reached"] else "not reached, the most precise threshold is used"
    )
    n_labels = len(metrics["labels"])
    text = f"""# Model card: `{metrics["name"]}` version {metrics["version"]}

Generated by `python -m training.accurate` (`training/accurate/card.py`); every figure is
what that run measured. Do not edit by hand: rerun the command.

[`musicnn-genre.onnx`](../beetsplug/genreclf/data/musicnn-genre.onnx) is musicnn's MSD tagger (Pons & Serra 2019), converted to ONNX, with a
genre head trained here on GTZAN and the extra recordings. Labels: {", ".join(metrics["labels"])}.
Recommended `min_confidence`: **{calibration["min_confidence"]}**.

## Contract

- Input `logmel`: float32 (batch, 187, 96), `beetsplug.genreclf.features.logmel_patches` with
  `LogMelParams()` (16 kHz mono, n_fft 512, hop 256, 96 mel bands, `log10(10000·power + 1)`,
  non-overlapping 3 s patches).
- Outputs per patch: `probabilities` (batch, {n_labels}), `embedding` (batch, 200:
  musicnn's penultimate layer), `tags` (batch, 50: musicnn's MSD tag probabilities).
- Metadata JSON under `genreclf`: format 2, name, version, labels, min_confidence,
  `frontend: "logmel"`, `features` (LogMelParams), `aggregation: "{metadata["aggregation"]}"` (track =
  softmax of the mean per-patch log-probability, which for this linear head equals the head on
  the track's mean embedding), `source` (musicnn 0.1.0 wheel sha256, ISC, notice).

## Reproduce

```
make convert   # TF checkpoint -> training/cache/musicnn/msd_musicnn.onnx (own venv)
make musicnn   # python -m training.accurate.finetune (the fine-tuned row), then
               # python -m training.accurate (everything else, this card)
```

The comparison with the fast model is recomputed after `make train` (`python -m
training.common.real_check`).

Seed {metrics["seed"]}. Wall time of this run: {metrics["wall_minutes"]:.1f} min on
{metrics["machine"]} (2 cores shared with other jobs: speeds are indicative). Patch features are
cached per backbone file under `training/cache/musicnn`: a rerun skips decoding and embedding.

## Where the backbone comes from

musicnn 0.1.0 (PyPI wheel, sha256 `{metadata["source"]["sha256"]}`), checkpoint `MSD_musicnn`:
trained by its authors on Million Song Dataset audio previews with Last.fm tags (50 most frequent
tags). Famous songs, possibly some of the extra recordings and GTZAN's own tracks, may have been in
that training data, which could flatter the figures below. The conversion restored
{restored["graph_variables"]} variables ({restored["weights"]:,} weights), each checked equal to the
checkpoint, and onnxruntime matched TensorFlow {conversion["tensorflow"]} to
{conversion["max_abs_difference_vs_tensorflow"]:.1e} (max abs difference over the embedding and tag
outputs, musicnn's own preprocessing of generated audio).

Licence of musicnn's code and weights (ISC), which applies to this model:

```
{notice}
```

## Data

{metrics["tracks"]["gtzan"]} GTZAN clips in the artist-filtered split lists (`../shared/gtzan`),
{metrics["tracks"]["extra"]} extra real recordings (`../shared/extra`, grouped by the artist
named in `raw_label`, by file where none is).

## Results

Each track is predicted from all its patches. GTZAN CV: each artist-filtered list held out in turn,
heads trained on the other two (GTZAN only). Extra CV: the extra recordings in 5 folds grouped
by artist, heads trained on all GTZAN clips plus the other extra folds. GTZAN only → extra:
trained on all GTZAN clips. Logistic regression's C is chosen by 3-fold cross-validation grouped
by artist on the training side only (balanced accuracy); for `/real`, C and the weight of a real
recording ({", ".join(f"{w:g}" for w in REAL_WEIGHTS)} times a GTZAN clip) are chosen together by
log-loss (`/real-acc`: accuracy) on the training side's real recordings, in 3 inner folds
grouped by artist with GTZAN always trained on (with none there, GTZAN CV and GTZAN only, as
the plain head). `/real-prior` makes the same choice over a third option: every genre weighted
alike (as every other head), or as often as it occurs in training, so that the head may learn
that real music is mostly pop and rock. The attention recipe is fixed. Every head but
`/real-prior` weights genres alike. The `/real` candidates were added after a diagnostic on these
same extra folds showed that weighting the real recordings up helps, and `/real-prior` after
four scratch runs of `/real` variants on them (the genre-weighting choice, and training on the
means of 2, 6 or 12 random runs of 1–10 patches per track besides the whole one: 69.8, 72.1 and
65.1 % whole-excerpt accuracy, noise around `/real`'s figure, so not adopted). Their inner
choices never see the held-out fold, but the decision to try them did, so their extra-CV
figures are somewhat optimistic.
Macro-F1 over the genres present. The `fast` row is the MFCC model's own training run (its card,
`models/README.md`): the same extra folds, tracks and windows (whole excerpts); every one of its
networks is trained per fold, which this run cannot repeat.

{candidates_table(metrics["evaluation"], chosen, path.parent)}

Shipped: `{chosen}` (the best extra-CV accuracy, then macro-F1, among the heads that are linear
on the mean embedding, {", ".join(f"`{c}`" for c in SHIPPABLE)}; the other candidates need
another graph contract), refitted on every track with {refit_note(metrics)}. {best_accuracy_note(metrics)}

{fine_tuning_note(json.loads((path.parent / FINE_TUNING).read_text()))}

{versus_fast_text(metrics["versus_fast"])}

Extra CV accuracy % per source:

{per_source_table(metrics["evaluation"])}

Extra CV confusion of the shipped head (rows truth, columns predicted):

```
{confusion_text(best["extra_cv"]["confusion"], metrics["labels"])}
```

### Calibration

`min_confidence` = **{calibration["min_confidence"]}**: the lowest top-1 probability at which the
pooled out-of-fold predictions of the shipped recipe (GTZAN CV and extra CV) reach a class-balanced
precision of {pct(calibration["target_precision"])} % (the fast model's rule, at least a tenth of the
tracks kept); {outcome}: precision {pct(calibration["precision"])} %, class-balanced
coverage {pct(calibration["coverage"])} %.{coverage_note(calibration)}

## Speed

{speed_section(metrics)}

## Seconds analysed

Extra CV of the shipped recipe when a track is analysed only in the plugin's windows
(`WindowPolicy`: windows spread evenly, away from intro and outro). The extra recordings are
30–90 s excerpts, so on them 3×30 s is the whole excerpt. Patches come from the whole
excerpt's 3 s grid: per window, as many as fit, from the first patch starting in it. Speed:
decoding, features and the shipped graph on a generated 4-minute 44.1 kHz stereo FLAC, one
thread, median of 3.

{windows_table(metrics)}

ONNX parity of the shipped graph against the scikit-learn head (per patch and per track):
{metrics["parity_max_abs_difference"]:.1e}.
"""
    path.write_text(text)


if __name__ == "__main__":  # python -m training.accurate.card models/musicnn-genre
    from beetsplug.genreclf.model import PACKAGED

    stem = Path(sys.argv[1])
    card_from_files(
        stem.with_name(stem.name + "-metrics.json"),
        PACKAGED["accurate"],
        stem.with_suffix(".md"),
    )
