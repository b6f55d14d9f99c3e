"""musicnn's MSD tagger as an ONNX backbone, converted reproducibly.

``python -m training.accurate.convert convert`` downloads the pinned musicnn wheel
(checked against its sha256), rebuilds the MSD_musicnn graph with musicnn's
own ``models`` module, restores the checkpoint and checks that every variable
came from it, exports the inference graph to ONNX (log-mel patches in, 200-d
penultimate ``embedding`` and 50 ``tags`` sigmoids out) and compares
onnxruntime with TensorFlow on generated audio. ``reference`` writes the
test fixture of musicnn's own preprocessing. Both run in the environment of
``training/accurate/requirements-convert.txt`` (``make convert``), never at run time.

musicnn: Pons & Serra, "musicnn: pre-trained convolutional neural networks
for music audio tagging", ISMIR 2019 LBD; code and weights ISC, MTG-UPF 2019.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

PACKAGE = "musicnn"
VERSION = "0.1.0"
WHEEL_NAME = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
CHECKPOINT = "MSD_musicnn"
LICENCE_PATH = f"{PACKAGE}-{VERSION}.dist-info/LICENSE.md"
CACHE = Path(__file__).parents[1] / "cache" / "musicnn"
BACKBONE_PATH = CACHE / "msd_musicnn.onnx"
REPORT_PATH = CACHE / "conversion.json"
FIXTURE_PATH = Path(__file__).parents[2] / "tests" / "data" / "musicnn_logmel_reference.npz"
INPUT_NAME = "logmel"
OUTPUT_NAMES = ("embedding", "tags")
PARITY_TOLERANCE = 1e-4  # tag probabilities and embedding, ORT vs TF
OPSET = 17
PATCH_FRAMES = 187  # musicnn's 3 s input; LogMelParams.patch_frames
SAMPLE_RATE = 16000


def download_wheel(cache: Path) -> Path:
    """The pinned musicnn wheel, downloaded once; raises if its hash differs."""
    wheel = cache / WHEEL_NAME
    if not wheel.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                f"{PACKAGE}=={VERSION}",
                "--dest",
                str(cache),
            ],
            check=True,
        )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise RuntimeError(f"{wheel}: sha256 {digest}, expected {WHEEL_SHA256}")
    return wheel


def unpack(wheel: Path, cache: Path) -> Path:
    """The wheel's files under ``cache/unpacked``; returns that folder."""
    target = cache / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def licence_notice(unpacked: Path) -> str:
    return (unpacked / LICENCE_PATH).read_text().strip()


def build_graph(unpacked: Path, patch_frames: int):
    """musicnn's MSD_musicnn inference graph in a fresh tf.Graph.

    Returns (graph, input placeholder, embedding, tags); batch norm and
    dropout are built in inference mode (``is_training`` a Python False).
    """
    import tensorflow as tf

    sys.path.insert(0, str(unpacked))
    from musicnn import configuration, models

    graph = tf.Graph()
    with graph.as_default(), tf.name_scope("model"):
        logmel = tf.compat.v1.placeholder(
            tf.float32, [None, patch_frames, configuration.N_MELS], name=INPUT_NAME
        )
        outputs = models.define_model(logmel, False, CHECKPOINT, len(configuration.MSD_LABELS))
        logits, penultimate = outputs[0], outputs[-1]
        embedding = tf.identity(penultimate, name=OUTPUT_NAMES[0])
        tags = tf.identity(tf.nn.sigmoid(logits), name=OUTPUT_NAMES[1])
    return graph, logmel, embedding, tags


def restore_checked(session, checkpoint_prefix: str) -> dict:
    """Restore every graph variable from the checkpoint and prove it.

    Raises if a variable is missing from the checkpoint, differs in shape,
    or holds other values after the restore. Returns counts for the report.
    """
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(checkpoint_prefix)
    stored = reader.get_variable_to_shape_map()
    variables = session.graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
    problems = [
        f"{v.op.name}: graph {v.shape.as_list()}, checkpoint {stored.get(v.op.name, 'none')}"
        for v in variables
        if stored.get(v.op.name) != v.shape.as_list()
    ]
    if problems:
        raise RuntimeError("checkpoint does not fit the graph: " + "; ".join(problems))
    tf.compat.v1.train.Saver(variables).restore(session, checkpoint_prefix)
    for variable, value in zip(variables, session.run(variables)):
        if not np.array_equal(value, reader.get_tensor(variable.op.name)):
            raise RuntimeError(f"{variable.op.name} was not restored")
    return {
        "graph_variables": len(variables),
        "weights": int(sum(np.prod(v.shape.as_list()) for v in variables)),
        "checkpoint_entries_unused": len(stored) - len(variables),  # optimiser slots
    }


def export_backbone(session, output_tensors, path: Path) -> None:
    """Freeze the restored graph and write it as ONNX with plain value names."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    output_ops = [t.op.name for t in output_tensors]
    frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
        session, session.graph.as_graph_def(), output_ops
    )
    model, _ = tf2onnx.convert.from_graph_def(
        frozen,
        input_names=[f"model/{INPUT_NAME}:0"],
        output_names=[f"{op}:0" for op in output_ops],
        opset=OPSET,
    )
    renames = {f"model/{INPUT_NAME}:0": INPUT_NAME}
    renames.update({f"{op}:0": name for op, name in zip(output_ops, OUTPUT_NAMES)})
    rename_values(model, renames)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def rename_values(model, renames: dict[str, str]) -> None:
    """Rename graph inputs/outputs and every node reference to them, in place."""
    for value in [*model.graph.input, *model.graph.output]:
        value.name = renames.get(value.name, value.name)
    for node in model.graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]


def parity_audio(sample_rate: int, seconds: float, seed: int) -> np.ndarray:
    """Generated music-like test audio: decaying harmonic notes over noise,
    quiet enough that musicnn's float16 compression stays finite."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * sample_rate)) / sample_rate
    audio = 0.005 * rng.standard_normal(len(time))
    for onset in np.arange(0, seconds, 0.25):
        pitch = 110 * 2 ** (rng.integers(0, 36) / 12)
        note = time >= onset
        decay = np.exp(-6 * (time[note] - onset))
        for harmonic in range(1, 6):
            audio[note] += (
                0.02 / harmonic * decay * np.sin(2 * np.pi * pitch * harmonic * time[note])
            )
    return audio.astype(np.float32)


def musicnn_patches(unpacked: Path, audio: np.ndarray, cache: Path) -> np.ndarray:
    """musicnn's own preprocessing (``extractor.batch_data``) of ``audio``."""
    import soundfile

    sys.path.insert(0, str(unpacked))
    from musicnn.extractor import batch_data

    wav = cache / "generated.wav"
    soundfile.write(wav, audio, SAMPLE_RATE, subtype="FLOAT")
    patches, _ = batch_data(str(wav), PATCH_FRAMES, PATCH_FRAMES)
    if not np.all(np.isfinite(patches)):
        raise AssertionError("musicnn's float16 compression overflowed: quieter audio needed")
    return patches.astype(np.float32)


def check_against_tensorflow(
    session, tensors, onnx_path: Path, unpacked: Path, cache: Path
) -> float:
    """Max abs difference ORT vs TF over both outputs, on musicnn's own
    log-mel patches of generated audio (1, 4 and 10 patches)."""
    import onnxruntime

    logmel, embedding, tags = tensors
    ort = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for seed, seconds in ((0, 3.1), (1, 12.0), (2, 30.0)):
        patches = musicnn_patches(unpacked, parity_audio(SAMPLE_RATE, seconds, seed), cache)
        expected = session.run([embedding, tags], {logmel: patches})
        actual = ort.run(list(OUTPUT_NAMES), {INPUT_NAME: patches})
        worst = max([worst, *(float(np.max(np.abs(e - a))) for e, a in zip(expected, actual))])
    if worst > PARITY_TOLERANCE:
        raise AssertionError(f"ONNX differs from TensorFlow by {worst:.2e}")
    return worst


def convert(cache: Path = CACHE) -> dict:
    """The whole conversion; writes BACKBONE_PATH and a JSON report."""
    import tensorflow as tf

    unpacked = unpack(download_wheel(cache), cache)
    graph, *tensors = build_graph(unpacked, PATCH_FRAMES)
    with tf.compat.v1.Session(graph=graph) as session:
        restored = restore_checked(session, str(unpacked / PACKAGE / CHECKPOINT) + "/")
        export_backbone(session, tensors[1:], BACKBONE_PATH)
        difference = check_against_tensorflow(session, tensors, BACKBONE_PATH, unpacked, cache)
    report = {
        "source": source_record(unpacked),
        "restored": restored,
        "onnx": str(BACKBONE_PATH.relative_to(Path.cwd())),
        "onnx_sha256": hashlib.sha256(BACKBONE_PATH.read_bytes()).hexdigest(),
        "opset": OPSET,
        "max_abs_difference_vs_tensorflow": difference,
        "tensorflow": tf.__version__,
    }
    REPORT_PATH.write_text(json.dumps(report, indent=1) + "\n")
    return report


def source_record(unpacked: Path) -> dict:
    """What the ONNX metadata says about where the weights come from."""
    return {
        "package": PACKAGE,
        "version": VERSION,
        "sha256": WHEEL_SHA256,
        "checkpoint": CHECKPOINT,
        "licence": "ISC",
        "notice": licence_notice(unpacked),
    }


def reference_signal() -> np.ndarray:
    """The fixture's input: 3.5 s of generated audio at SAMPLE_RATE."""
    return parity_audio(SAMPLE_RATE, 3.5, seed=7)


def write_reference(cache: Path = CACHE, path: Path = FIXTURE_PATH) -> None:
    """musicnn's own log-mel patches of ``reference_signal``, for the tests."""
    patches = musicnn_patches(unpack(download_wheel(cache), cache), reference_signal(), cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, patches=patches.astype(np.float16))  # musicnn's own precision


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    parser = argparse.ArgumentParser(
        prog="python -m training.accurate.convert", description=__doc__
    )
    parser.add_argument("step", choices=["convert", "reference"])
    step = parser.parse_args().step
    if step == "convert":
        print(json.dumps({k: v for k, v in convert().items() if k != "source"}, indent=1))
    else:
        write_reference()
        print(f"wrote {FIXTURE_PATH}")


if __name__ == "__main__":
    main()
