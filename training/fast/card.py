"""The fast model's card, metrics file and figures, from a run's metrics.

``python -m training.fast.card [DIR]`` re-renders them from ``DIR/metrics.json``
(default ``models``), e.g. after a change to the template."""

from __future__ import annotations

import json
from pathlib import Path
from string import Template

from training.common.calibration import save_reliability_png
from training.common.cards import markdown_table, pct
from training.common.evaluate import confusion_text, save_confusion_png
from training.fast import teacher
from training.fast.network import EMBEDDING_SIZE
from training.fast.pipeline import ENSEMBLE, MEMBERS, networks_of
from training.fast.search import Config

TEMPLATE = Path(__file__).with_name("card_template.md")
ARCHITECTURE_NAMES = {"lstm": "LSTM", "statistics": "statistics perceptron", "conv": "convolution"}
TEACHING_NAMES = {None: "true labels", "real": "real teacher", "mixed": "mixed teacher"}
ROWS = {
    **{
        name: f"{ARCHITECTURE_NAMES[m.architecture]}, {TEACHING_NAMES[m.teacher]}"
        + (f", real recordings ×{m.real_weight:g}" if m.real_weight != 1 else "")
        for name, m in MEMBERS.items()
    },
    "ensemble": f"**ensemble of {len(ENSEMBLE)}**: " + ", ".join(f"`{m}`" for m in ENSEMBLE),
    "baseline": "LogReg (MFCC mean/var)",
}
GOAL_MARGIN = 0.05  # the goal: beat the baseline's GTZAN-CV macro-F1 by 5 points
GOAL_REAL = 0.60  # and 60 % accuracy on the real-music check


def config_change(config: dict) -> str:
    """What a candidate changes from the v1 recipe."""
    base = Config("v1").to_dict()
    changed = [f"{k}={v}" for k, v in config.items() if k != "name" and base[k] != v]
    return ", ".join(changed) or "(the v1 recipe)"


def search_table(metrics: dict) -> str:
    lists = [n for n in metrics["data"]["per_block"] if n.startswith("gtzan:")]
    header = ["candidate", "changes", "all six curves: score % (epochs)"] + [
        f"'{n[6:]}' held out" for n in lists
    ]
    rows = []
    for name, found in metrics["search"].items():
        scores = found["scores"]
        rows.append(
            [
                f"`{name}`",
                config_change(found["config"]),
                f"{pct(scores['all']['score'])} ({scores['all']['epochs']})",
            ]
            + [f"{pct(scores[n]['score'])} ({scores[n]['epochs']})" for n in lists]
        )
    return markdown_table(header, rows)


def results_table(evaluation: dict) -> str:
    rows = [
        [ROWS[v]]
        + [
            pct(evaluation[v][p][m])
            for p in ("gtzan_cv", "extra_cv")
            for m in ("accuracy", "macro_f1")
        ]
        for v in ROWS
    ]
    header = [
        "model",
        "GTZAN CV acc. %",
        "GTZAN CV macro-F1 %",
        "real music acc. %",
        "real music macro-F1 %",
    ]
    return markdown_table(header, rows)


def blocks_table(evaluation: dict) -> str:
    names = [n for p in ("gtzan_cv", "extra_cv") for n in evaluation["baseline"][p]["blocks"]]

    def cell(variant: str, name: str) -> str:
        protocol = "gtzan_cv" if name.startswith("gtzan:") else "extra_cv"
        m = evaluation[variant][protocol]["blocks"][name]
        return f"{pct(m['accuracy'])} / {pct(m['macro_f1'])} / {m['tracks']}"

    return markdown_table(
        ["model"] + names, [[ROWS[v]] + [cell(v, n) for n in names] for v in ROWS]
    )


def verdict(metrics: dict) -> str:
    evaluation, shipped = metrics["evaluation"], metrics["shipped_variant"]
    model, baseline = evaluation[shipped], evaluation["baseline"]
    margin = model["gtzan_cv"]["macro_f1"] - baseline["gtzan_cv"]["macro_f1"]
    windows = metrics["recommended_windows"]
    real = metrics["windows"][windows]["accuracy"]
    return (
        f"Shipped: the **{shipped}** variant (the best mean of GTZAN-CV macro-F1 and real-music "
        f"accuracy). Its GTZAN-CV macro-F1 is {100 * margin:+.1f} points against the baseline's "
        f"(goal: +{100 * GOAL_MARGIN:.0f}: **{'met' if margin >= GOAL_MARGIN else 'not met'}**); "
        f"its real-music accuracy is {pct(model['extra_cv']['accuracy'])} % on whole excerpts and "
        f"{pct(real)} % at the recommended windows, {windows} (goal: {100 * GOAL_REAL:.0f} %: "
        f"**{'met' if real >= GOAL_REAL else 'not met'}**)."
    )


def per_genre_table(found: dict) -> str:
    rows = []
    for label, g in found["gtzan_cv"]["per_class"].items():
        e = found["extra_cv"]["per_class"][label]
        rows.append(
            [
                label,
                pct(g["precision"]),
                pct(g["recall"]),
                g["support"],
                pct(e["precision"]),
                pct(e["recall"]),
                e["support"],
            ]
        )
    header = [
        "genre",
        "GTZAN precision %",
        "GTZAN recall %",
        "GTZAN tracks",
        "real precision %",
        "real recall %",
        "real tracks",
    ]
    return markdown_table(header, rows)


def data_table(data: dict, labels: list[str]) -> str:
    names = list(data["per_block"])
    rows = [[label] + [data["per_block"][n].get(label, 0) for n in names] for label in labels]
    rows.append(["**total**"] + [sum(data["per_block"][n].values()) for n in names])
    return markdown_table(["genre"] + names, rows)


def reliability_table(calibration: dict) -> str:
    rows = []
    for protocol, title in (("extra_cv", "real music"), ("gtzan_cv", "GTZAN")):
        for state in ("uncalibrated", "calibrated"):
            for b in calibration[protocol][state]["bins"]:
                rows.append(
                    [
                        title,
                        state,
                        f"{b['low']:.1f}–{b['high']:.1f}",
                        b["tracks"],
                        pct(b["confidence"]),
                        pct(b["accuracy"]),
                    ]
                )
    return markdown_table(
        [
            "tracks",
            "predictions",
            "confidence bin",
            "tracks in bin",
            "mean confidence %",
            "share right %",
        ],
        rows,
    )


def calibration_text(calibration: dict) -> str:
    extra, gtzan = calibration["extra_cv"], calibration["gtzan_cv"]
    threshold = calibration["threshold"]
    high = [b for b in extra["calibrated"]["bins"] if b["low"] >= 0.7]
    high_text = (
        ", ".join(
            f"{b['low']:.1f}–{b['high']:.1f}: {pct(b['accuracy'])} % right of {b['tracks']}"
            for b in high
        )
        or "no track"
    )
    return (
        f"Temperature scaling on the out-of-block track predictions: T = {calibration['temperature']:.3f} "
        f"(logits divided by T in the shipped graph; the per-block temperatures fitted without each block "
        f"range {min(calibration['cross_fitted_temperatures'].values()):.2f}–"
        f"{max(calibration['cross_fitted_temperatures'].values()):.2f}). Expected calibration error on the "
        f"real-music check: {pct(extra['uncalibrated']['ece'])} % uncalibrated, "
        f"{pct(extra['calibrated']['ece'])} % calibrated (cross-fitted); on GTZAN CV "
        f"{pct(gtzan['uncalibrated']['ece'])} % and {pct(gtzan['calibrated']['ece'])} %. "
        f"Calibrated real-music bins at 0.7 and above: {high_text}.\n\n"
        f"`min_confidence` = **{threshold['min_confidence']}**: the lowest calibrated confidence at which "
        f"the out-of-block predictions of all {extra['calibrated']['tracks'] + gtzan['calibrated']['tracks']} "
        f"tracks reach a class-balanced precision of {pct(threshold['target_precision'])} % (each genre "
        f"weighted equally, at least a tenth of the tracks kept): precision {pct(threshold['precision'])} %, "
        f"class-balanced coverage {pct(threshold['coverage'])} %"
        + (
            "."
            if threshold["reached"]
            else " (target not reached: the most precise threshold found)."
        )
    )


def windows_table(metrics: dict) -> str:
    seconds = {"1×30 s": 30, "2×30 s": 60, "3×30 s": 90, "3×15 s": 45}
    rows = [
        [
            f"**{name}**" if name == metrics["recommended_windows"] else name,
            seconds[name],
            pct(found["accuracy"]),
            pct(found["macro_f1"]),
            f"{metrics['window_speed'][name]['seconds']:.3f}",
            metrics["window_speed"][name]["segments"],
        ]
        for name, found in metrics["windows"].items()
    ]
    return markdown_table(
        [
            "windows",
            "seconds analysed (at most)",
            "real music acc. %",
            "real music macro-F1 %",
            "s per 4-min track",
            "segments",
        ],
        rows,
    )


def recorded_text(metrics: dict) -> str:
    """No extra track is new to the previous model: its own run's out-of-block
    figures on these blocks stand in for it."""
    recorded = metrics.get("previous_model_recorded")
    if recorded is None:
        return " No extra track is new to it and its run's figures are not here: not compared."
    verdict = (
        "This model replaces it."
        if metrics["ships"]
        else "This model does **not** beat it and was not shipped."
    )
    ours = metrics["evaluation"][metrics["shipped_variant"]]
    return (
        f" No extra track is new to it, so it is judged by its own run's out-of-block figures on "
        f"these blocks: GTZAN-CV macro-F1 {pct(recorded['gtzan_cv']['macro_f1'])} %, real-music "
        f"accuracy {pct(recorded['extra_cv']['accuracy'])} % (this run's shipped variant: "
        f"{pct(ours['gtzan_cv']['macro_f1'])} % and {pct(ours['extra_cv']['accuracy'])} %). "
        + verdict
    )


def heard_rows(rows: int | None) -> str:
    """How many extra tracks the previous model was trained on (None: all)."""
    return "all of them" if rows is None else f"the first {rows} of them"


def previous_text(metrics: dict) -> str:
    previous = metrics["previous_model_on_extra"]
    if previous is None:
        return ""
    text = (
        f"The model shipped before (`{metrics['previous_model']}`), on all "
        f"{previous['all']['tracks']} extra tracks as the plugin hears them: accuracy "
        f"{pct(previous['all']['accuracy'])} % (flattering: it was trained on "
        f"{heard_rows(metrics['previous_extra_rows'])})."
    )
    if previous["unseen"] is None:
        return text + recorded_text(metrics)
    return text + (
        f" On the {previous['unseen']['tracks']} it never heard: "
        f"{pct(previous['unseen']['accuracy'])} % (macro-F1 {pct(previous['unseen']['macro_f1'])} %), "
        f"against {pct(previous['new_on_unseen']['accuracy'])} % "
        f"(macro-F1 {pct(previous['new_on_unseen']['macro_f1'])} %) for this recipe, out of block. "
        + (
            "This model replaces it."
            if metrics["ships"]
            else "This model does **not** beat it and was not shipped."
        )
    )


def epochs_note(metrics: dict) -> str:
    """How many chosen epoch counts hit the most the curves ran."""
    most = metrics["train"]["max_epochs"]
    counts = [c["epochs"] for per in metrics["chosen"].values() for c in per.values()]
    at_most = counts.count(most)
    return (
        f"{at_most} of the {len(counts)} chosen epoch counts are the most the curves ran "
        f"({most} epochs of {metrics['train']['steps_per_epoch']} batches)"
        + (": longer training may pay." if at_most else ".")
    )


def members_text() -> str:
    """How each network learns, from ``pipeline.MEMBERS``."""
    lines = []
    for name, member in MEMBERS.items():
        if member.teacher is None:
            how = "the (smoothed) true labels alone"
        else:
            how = (
                f"{100 * (1 - member.teacher_weight):.0f} % the smoothed true label, "
                f"{100 * member.teacher_weight:.0f} % the **{member.teacher}** teacher's probabilities"
            )
        if member.real_weight != 1:
            how += f"; a real recording is drawn {member.real_weight:g}× as often as a GTZAN clip"
        lines.append(f"  - `{name}`: the {ARCHITECTURE_NAMES[member.architecture]}; {how}.")
    lines.append(
        f"  - `ensemble`: the mean of the logits of {', '.join(f'`{m}`' for m in ENSEMBLE)}."
    )
    return "\n".join(lines)


def network_text(config: dict) -> str:
    """One network of a recipe, in words."""
    if config["architecture"] == "statistics":
        return (
            f"a perceptron ({config['hidden_size']} units) on each coefficient's mean and "
            "standard deviation over the segment"
        )
    if config["architecture"] == "conv":
        return (
            f"three convolutions along time ({config['hidden_size']} channels, widths 5, 5 and 3, "
            "the first two followed by halving), each channel's mean and maximum over the segment"
        )
    layers = f"{config['hidden_size']} units × {config['num_layers']} layer(s)"
    return (
        f"{'a bidirectional' if config['bidirectional'] else 'an'} LSTM ({layers}, "
        f"{config['pooling']} pooling over time)"
    )


def networks_text(networks: dict[str, dict]) -> str:
    """The shipped networks, those of one recipe named together."""
    names_of: dict[str, list[str]] = {}
    for name, found in networks.items():
        names_of.setdefault(network_text(found["config"]), []).append(f"`{name}`")
    return "; ".join(f"{text} ({', '.join(names)})" for text, names in names_of.items())


def shipped_networks(metrics: dict) -> dict[str, dict]:
    """Each shipped network's final choice: config (as searched) and epochs."""
    final = metrics["chosen"]["final"]
    return {
        name: {
            "config": metrics["search"][final[MEMBERS[name].architecture]["config"]]["config"],
            "epochs": final[MEMBERS[name].architecture]["epochs"],
        }
        for name in networks_of(metrics["shipped_variant"])
    }


def chosen_text(chosen: dict) -> str:
    return "; ".join(
        f"{block}: " + ", ".join(f"`{c['config']}` {c['epochs']}" for c in per.values())
        for block, per in chosen.items()
    )


def card_values(metrics: dict) -> dict:
    chosen = metrics["chosen"]
    networks = shipped_networks(metrics)
    final = next(iter(networks.values()))["config"]  # every network reads the same features
    evaluation, data = metrics["evaluation"], metrics["data"]
    augment, train = metrics["augment"], metrics["train"]
    shipped = metrics["shipped_variant"]
    described = networks_text(networks)
    return {
        "name": metrics["name"],
        "version": metrics["version"],
        "segment_seconds": f"{final['segment_frames'] * 512 / 22050:.1f}",
        "n_mfcc": final["n_mfcc"],
        "segment_frames": final["segment_frames"],
        "deltas_note": " and their deltas (computed in the graph)" if final["deltas"] else "",
        "deltas_recipe": ", deltas computed inside the graph" if final["deltas"] else ", no deltas",
        "network_note": f"{len(networks)} networks whose logits are averaged: {described}"
        if len(networks) > 1
        else described,
        "embedding_size": EMBEDDING_SIZE * len(networks),
        "members": members_text(),
        "real_c": teacher.REAL_RECIPE.c,
        "real_teacher_weight": f"{teacher.REAL_RECIPE.real_weight:g}",
        "temperature": f"{metrics['calibration']['temperature']:.3f}",
        "labels": ", ".join(metrics["labels"]),
        "min_confidence": metrics["calibration"]["threshold"]["min_confidence"],
        "windows": metrics["recommended_windows"],
        "command": metrics["command"],
        "seed": metrics["seed"],
        "jobs": metrics["jobs"],
        "wall_time": f"{metrics['wall_time_s']['total'] / 60:.1f} min (features {metrics['wall_time_s']['extract'] / 60:.1f} min of it)",
        "machine": metrics["machine"],
        "load_end": ", ".join(f"{x:.2f}" for x in metrics["load_average_end"]),
        "coverage": (
            f"GTZAN: {data['split_list_clips_present']} of the split lists' {data['split_list_clips']} clips "
            f"are in `../shared/gtzan` (clips in no list are not used); extra: "
            f"{sum(n for b, c in data['per_block'].items() if b.startswith('extra:') for n in c.values())} "
            f"recordings. Many GTZAN clips of disco, hiphop, jazz, pop, reggae and rock are 2–3 s excerpts "
            f"(see `../shared/gtzan/manifest.csv`): each counts as one track."
        ),
        "data_table": data_table(data, metrics["labels"]),
        "skipped": "Unreadable: " + "; ".join(metrics["skipped"])
        if metrics["skipped"]
        else "Every track was readable.",
        "search_note": (
            "Each LSTM candidate changes the v1 recipe along one or two axes; `statistics` and `conv` "
            "are the other two architectures, on the same features as `deltas-40`. Each candidate is "
            "trained on one GTZAN "
            "list and validated on another after every epoch (balanced track accuracy over the genres it "
            "was trained on), for the six ordered pairs; a score is the best epoch of the mean curve "
            "(3-epoch moving average). For a held-out GTZAN list only the two curves between the other "
            "lists count; extra folds and the shipped model use all six (no curve touches an extra track). "
            + epochs_note(metrics)
        ),
        "search_table": search_table(metrics),
        "chosen_blocks": chosen_text(chosen),
        "n_augmented": metrics["augmentations"],
        "max_offset": augment["max_offset_s"],
        "pitch": augment["pitch_semitones"],
        "stretch_pct": f"{100 * augment['stretch']:.0f}",
        "gain": augment["gain_db"],
        "snr": "–".join(f"{x:.0f}" for x in augment["snr_db"]),
        "codec_p": augment["codec_probability"],
        "augmented_note": ""
        if final["augmented"]
        else " — computed, but the chosen recipe trains on the clean versions only",
        "lr": train["learning_rate"],
        "wd": train["weight_decay"],
        "batch": train["batch_size"],
        "steps": train["steps_per_epoch"],
        "final_epochs": ", ".join(f"{c['epochs']} (`{n}`)" for n, c in networks.items()),
        "label_smoothing": final["label_smoothing"],
        "mixup_note": f", mixup (Beta({final['mixup_alpha']}, {final['mixup_alpha']}))"
        if final["mixup_alpha"]
        else "",
        "teacher_grid": ", ".join(str(c) for c in teacher.C_GRID),
        "teacher_folds": teacher.INNER_FOLDS,
        "results_table": results_table(evaluation),
        "verdict": verdict(metrics),
        "blocks_table": blocks_table(evaluation),
        "previous": previous_text(metrics),
        "shipped_variant": shipped,
        "per_genre_table": per_genre_table(evaluation[shipped]),
        "extra_confusion": confusion_text(
            evaluation[shipped]["extra_cv"]["confusion"], metrics["labels"]
        ),
        "gtzan_confusion": confusion_text(
            evaluation[shipped]["gtzan_cv"]["confusion"], metrics["labels"]
        ),
        "calibration_text": calibration_text(metrics["calibration"]),
        "reliability_table": reliability_table(metrics["calibration"]),
        "windows_text": (
            f"Real-music check accuracy when the plugin analyses only the windows of each policy (the "
            f"same out-of-block networks; most extra tracks are excerpts of 30 s or less, which every "
            f"policy hears whole, so only the longer ones, up to 90 s, differ), and the time to decode, "
            f"analyse and classify a generated 4-minute 44.1 kHz stereo FLAC (one thread, median of 3, "
            f"load average {metrics['load_average_before_speed']:.2f} when timing began). "
            f"Recommended: the fastest "
            f"policy within a point of the best accuracy, **{metrics['recommended_windows']}**."
        ),
        "windows_table": windows_table(metrics),
    }


def write_outputs(out: Path, metrics: dict) -> None:
    """``metrics.json``, the reliability diagram, confusion PNG and ``README.md``."""
    calibration = metrics["calibration"]
    save_reliability_png(
        {
            "real music, uncalibrated": calibration["extra_cv"]["uncalibrated"],
            "real music, calibrated": calibration["extra_cv"]["calibrated"],
            "GTZAN CV, calibrated": calibration["gtzan_cv"]["calibrated"],
        },
        out / "reliability.png",
    )
    shipped = metrics["evaluation"][metrics["shipped_variant"]]
    save_confusion_png(
        shipped["extra_cv"]["confusion"],
        metrics["labels"],
        "real-music check (out of block)",
        out / "confusion_real.png",
    )
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True) + "\n")
    (out / "README.md").write_text(Template(TEMPLATE.read_text()).substitute(card_values(metrics)))


if __name__ == "__main__":
    import sys

    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "models")
    write_outputs(folder, json.loads((folder / "metrics.json").read_text()))
