"""Whether a file is a genreclf model, told without loading it.

``genreclf.model`` is checked when beets loads the plugin, on every ``beet``
command, so it must cost next to nothing: no onnxruntime session, not even
the ``onnx`` package. An ONNX file is a protobuf ``ModelProto``; this reads
its top-level fields only, seeking past the graph, and looks for our entry
among its ``metadata_props`` (field 14: key, field 2 of the entry: value).
What the entry holds is checked when the model is loaded (model.py).
"""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

METADATA_KEY = "genreclf"  # the model's JSON metadata entry
METADATA_PROPS = 14  # ModelProto.metadata_props
ENTRY_KEY = 1  # StringStringEntryProto.key
MAX_ENTRY = 1 << 20  # bytes: a metadata entry larger than this is not ours
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class NotAModel(ValueError):
    """The file is missing, not ONNX, or an ONNX model without our metadata."""


def check_model_file(path: str | Path) -> None:
    """Raises NotAModel, saying why, unless ``path`` is an ONNX file with
    genreclf's metadata."""
    try:
        with open(path, "rb") as file:
            keys = _metadata_keys(file, os.fstat(file.fileno()).st_size)
    except FileNotFoundError:
        raise NotAModel("no such file") from None
    except IsADirectoryError:
        raise NotAModel("a folder, not a file") from None
    except OSError as exc:
        raise NotAModel(f"cannot be read ({exc.strerror})") from None
    if METADATA_KEY not in keys:
        raise NotAModel(f"an ONNX model, but not genreclf's (no '{METADATA_KEY}' metadata)")


def _metadata_keys(file: BinaryIO, size: int) -> set[str]:
    """The keys of the model's metadata_props; NotAModel if the file is not
    a protobuf message."""
    keys: set[str] = set()
    fields = 0
    while file.tell() < size:
        number, kind = _field(file)
        fields += 1
        if number == METADATA_PROPS and kind == LENGTH:
            keys.add(_entry_key(_read(file, _varint(file), min(size, file.tell() + MAX_ENTRY))))
        else:
            _skip(file, kind, size)
    if not fields:
        raise NotAModel("empty, not an ONNX model")
    return keys


def _entry_key(entry: bytes) -> str:
    """The key of a StringStringEntryProto."""
    stream = BytesIO(entry)
    while stream.tell() < len(entry):
        number, kind = _field(stream)
        if number == ENTRY_KEY and kind == LENGTH:
            raw = _read(stream, _varint(stream), len(entry))
            try:
                return raw.decode()
            except UnicodeDecodeError:
                raise NotAModel("not an ONNX model") from None
        _skip(stream, kind, len(entry))
    return ""


def _field(file: BinaryIO) -> tuple[int, int]:
    tag = _varint(file)
    number, kind = tag >> 3, tag & 7
    if number == 0 or kind not in (VARINT, FIXED64, LENGTH, FIXED32):
        raise NotAModel("not an ONNX model")
    return number, kind


def _skip(file: BinaryIO, kind: int, size: int) -> None:
    if kind == VARINT:
        _varint(file)
        return
    length = {FIXED64: 8, FIXED32: 4}.get(kind)
    if length is None:
        length = _varint(file)
    end = file.tell() + length
    if end > size:
        raise NotAModel("not an ONNX model (cut short)")
    file.seek(end)


def _read(file: BinaryIO, length: int, limit: int) -> bytes:
    if file.tell() + length > limit:
        raise NotAModel("not an ONNX model (cut short)")
    return file.read(length)


def _varint(file: BinaryIO) -> int:
    value = 0
    for shift in range(0, 64, 7):
        byte = file.read(1)
        if not byte:
            raise NotAModel("not an ONNX model (cut short)")
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
    raise NotAModel("not an ONNX model")
