"""Generators of bad (and merely unusual) audio files for tests/test_bad_input.py.

Every file is generated on the fly; nothing here is a checked-in fixture.
Each ``make_*`` function writes one file into ``directory`` and returns its
path (``bytes`` where the name is not valid UTF-8).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import soundfile

from tests.audiogen import synthesize, write_audio

RATE = 44100


# Valid files, then damaged.


def make_valid(path: Path, seconds: float = 6.0, seed: int = 0, **kwargs) -> Path:
    """A music-like file in the format of ``path``'s extension."""
    return write_audio(path, synthesize("chords", seconds, seed=seed), **kwargs)


def make_empty(directory: Path) -> Path:
    path = directory / "empty.mp3"
    path.write_bytes(b"")
    return path


def make_truncated(directory: Path, suffix: str, fraction: float) -> Path:
    """A valid file cut to ``fraction`` of its bytes (mid-frame)."""
    path = make_valid(directory / f"cut-{int(fraction * 100)}{suffix}")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction) | 1])  # odd: never on a boundary
    return path


def make_header_only(directory: Path, suffix: str) -> Path:
    """A valid file cut right after its headers: metadata, no audio frames."""
    path = make_valid(directory / f"header-only{suffix}")
    data = path.read_bytes()
    path.write_bytes(data[: _audio_offset(data, suffix)])
    return path


def _audio_offset(data: bytes, suffix: str) -> int:
    """Where the first audio frame starts (after every header)."""
    if suffix == ".flac":
        offset = 4  # b"fLaC", then metadata blocks
        while True:
            flags, length = data[offset], int.from_bytes(data[offset + 1 : offset + 4], "big")
            offset += 4 + length
            if flags & 0x80:  # last metadata block
                return offset
    if suffix == ".ogg":
        offset = 0  # pages; Vorbis header pages have granule position 0
        while True:
            assert data[offset : offset + 4] == b"OggS"
            granule = struct.unpack_from("<q", data, offset + 6)[0]
            if granule > 0:
                return offset
            count = data[offset + 26]
            table = data[offset + 27 : offset + 27 + count]
            offset += 27 + count + sum(table)
    if suffix == ".mp3":
        offset = _id3v2_size(data)
        return offset + _mp3_frame_length(data[offset : offset + 4])  # the Xing/Info frame
    raise ValueError(suffix)


def _id3v2_size(data: bytes) -> int:
    if data[:3] != b"ID3":
        return 0
    size = data[6:10]
    return 10 + (size[0] << 21 | size[1] << 14 | size[2] << 7 | size[3])


def _mp3_frame_length(header: bytes) -> int:
    """Length of an MPEG-1 Layer III frame from its 4-byte header."""
    bitrates = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
    rates = [44100, 48000, 32000]
    assert header[0] == 0xFF and header[1] & 0xFE == 0xFA, "not MPEG-1 Layer III"
    bitrate = bitrates[header[2] >> 4] * 1000
    rate = rates[(header[2] >> 2) & 3]
    return 144 * bitrate // rate + ((header[2] >> 1) & 1)


# Not audio at all.


def make_text_as_mp3(directory: Path) -> Path:
    path = directory / "notes.mp3"
    path.write_text("These are my notes, not a song.\n" * 200)
    return path


def make_png_as_mp3(directory: Path) -> Path:
    """A PNG signature and IHDR chunk followed by noise, named .mp3."""
    path = directory / "cover.mp3"
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + b"\0\0\0\0"
    noise = np.random.default_rng(7).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + noise)
    return path


def make_video_only(directory: Path, suffix: str = ".mp4") -> Path:
    """A valid container holding only a video stream."""
    import av

    path = directory / f"video-only{suffix}"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(20):
            image = np.full((48, 64, 3), index * 10, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def make_unknown_codec_wav(directory: Path, format_tag: int = 0x1234) -> Path:
    """A RIFF/WAVE whose fmt chunk declares a codec nobody knows."""
    path = directory / "unknown-codec.wav"
    channels, bits = 2, 16
    fmt = struct.pack(
        "<HHIIHH", format_tag, channels, RATE, RATE * channels * bits // 8, channels * bits // 8, bits
    )
    data = np.random.default_rng(3).integers(0, 256, RATE * 4, dtype=np.uint8).tobytes()
    path.write_bytes(_riff([(b"fmt ", fmt), (b"data", data)]))
    return path


def _riff(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(name + struct.pack("<I", len(data)) + data for name, data in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


# Valid but hard: silence, too short, non-finite samples, odd formats.


def make_silence(directory: Path, suffix: str = ".wav", seconds: float = 6.0) -> Path:
    path = directory / f"silence{suffix}"
    return write_audio(path, np.zeros(int(seconds * RATE), np.float32))


def make_clip(directory: Path, seconds: float) -> Path:
    return make_valid(directory / f"clip-{seconds:g}s.wav", seconds=seconds)


def make_non_finite(directory: Path, value: float) -> Path:
    """A 32-bit float WAV whose music has ``value`` (NaN/inf) sprinkled all over it."""
    name = {True: "nan"}.get(bool(np.isnan(value)), "inf" if value > 0 else "-inf")
    path = directory / f"{name}.wav"
    audio = synthesize("chords", 6.0)
    audio[::1000] = value
    soundfile.write(path, np.stack([audio, audio], axis=1), RATE, subtype="FLOAT")
    return path


def make_format(directory: Path, suffix: str, sample_rate: int, channels: int) -> Path:
    """Music at an unusual sample rate or channel count."""
    path = directory / f"{sample_rate}Hz-{channels}ch{suffix}"
    audio = synthesize("beats", 6.0, sample_rate=sample_rate)
    return write_audio(path, audio, sample_rate=sample_rate, channels=channels)


# Long audio without the disk: a sparse WAV.


def make_sparse_long_wav(
    path: Path, seconds: float, spans: list[tuple[float, float]], channels: int = 2
) -> Path:
    """A 16-bit WAV declaring ``seconds`` of audio, sparse on disk: only the
    regions in ``spans`` ((start, length) in seconds) hold real music, the
    rest is holes (digital silence)."""
    block = channels * 2
    data_size = int(seconds * RATE) * block
    fmt = struct.pack("<HHIIHH", 1, channels, RATE, RATE * block, block, 16)
    header = _riff([(b"fmt ", fmt)]) + b"data" + struct.pack("<I", data_size)
    header = header[:4] + struct.pack("<I", len(header) - 8 + data_size) + header[8:]
    with open(path, "wb") as out:
        out.write(header)
        out.truncate(len(header) + data_size)
        for start, length in spans:
            music = synthesize("beats", length, seed=int(start))
            pcm = (np.repeat(music[:, None], channels, axis=1) * 32767).astype("<i2")
            out.seek(len(header) + int(start * RATE) * block)
            out.write(pcm.tobytes())
    return Path(path)


# Awkward names.


def make_named(directory: Path, name: str | bytes, suffix: str = ".flac") -> str | bytes:
    """A valid file whose name is ``name`` (bytes for non-UTF-8 names)."""
    if isinstance(name, bytes):
        target = os.fsencode(directory) + b"/" + name + suffix.encode()
        source = make_valid(directory / f"named-source{suffix}")
        os.rename(source, target)
        return target
    return str(make_valid(directory / f"{name}{suffix}"))


# Complete, playable audio whose header states a wrong length.

LENGTH_LIES = ("zero", "huge", "missing")


def make_length_lie(directory: Path, suffix: str, lie: str, seconds: float = 6.0) -> Path:
    """A valid file whose header says its length is zero, huge, or unknown."""
    path = make_valid(directory / f"length-{lie}{suffix}", seconds=seconds)
    path.write_bytes(misstate_length(path.read_bytes(), suffix, lie))
    return path


def misstate_length(data: bytes, suffix: str, lie: str) -> bytes:
    """``data`` (a file of format ``suffix``) with its length field changed."""
    return _LENGTH_LIARS[suffix](bytearray(data), lie)


def _flac_length(data: bytearray, lie: str) -> bytes:
    if lie == "missing":  # no metadata at all: bare frames
        return bytes(data[_audio_offset(data, ".flac") :])
    field = 18  # STREAMINFO bytes 10-17: rate, channels, bits, 36-bit total_samples
    packed = int.from_bytes(data[field : field + 8], "big") & ~(2**36 - 1)
    packed |= 0 if lie == "zero" else 2**36 - 1
    data[field : field + 8] = packed.to_bytes(8, "big")
    return bytes(data)


def _mp3_length(data: bytearray, lie: str) -> bytes:
    """The Xing frame's frame count; "missing": no Xing frame (bitrate estimate)."""
    xing = data.index(b"Xing")
    if lie == "missing":
        data[xing : xing + 4] = b"\0\0\0\0"
    else:
        data[xing + 8 : xing + 12] = struct.pack(">I", 0 if lie == "zero" else 0xFFFFFFF0)
    return bytes(data)


def _wav_length(data: bytearray, lie: str) -> bytes:
    """The data chunk's size; "missing": 0xFFFFFFFF, as streaming writers leave it."""
    size = data.index(b"data") + 4
    value = {"zero": 0, "huge": 0x7FFFFFFF, "missing": 0xFFFFFFFF}[lie]
    data[size : size + 4] = struct.pack("<I", value)
    return bytes(data)


def _ogg_length(data: bytearray, lie: str) -> bytes:
    """The last page's granule position (-1: no packet ends there), CRC fixed."""
    last = data.rindex(b"OggS")
    granule = {"zero": 0, "huge": 2**62, "missing": -1}[lie]
    struct.pack_into("<q", data, last + 6, granule)
    struct.pack_into("<I", data, last + 22, 0)
    struct.pack_into("<I", data, last + 22, _ogg_crc(bytes(data[last:])))
    return bytes(data)


def _ogg_crc(page: bytes) -> int:
    """Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected, no final xor)."""
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = (crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _m4a_length(data: bytearray, lie: str) -> bytes:
    """The movie's and the track's duration (mvhd, mdhd; version 0 boxes);
    "missing": all ones, which the format reserves for "unknown"."""
    value = {"zero": 0, "huge": 0x7FFFFFFF, "missing": 0xFFFFFFFF}[lie]
    for box in (b"mvhd", b"mdhd"):
        start = data.index(box) + 4
        assert data[start] == 0, "version 1 box"
        struct.pack_into(">I", data, start + 16, value)  # after version/flags, 2 dates, timescale
    return bytes(data)


_LENGTH_LIARS = {
    ".flac": _flac_length,
    ".mp3": _mp3_length,
    ".wav": _wav_length,
    ".ogg": _ogg_length,
    ".m4a": _m4a_length,
}


def make_glitchy_mp3(directory: Path, seconds: float = 20.0) -> Path:
    """A playable MP3 with bytes overwritten in its frames: libmpg123
    complains on stderr ("dequantization failed", "big_values too large")
    and decodes the rest."""
    path = make_valid(directory / "glitchy.mp3", seconds=seconds)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(5)
    for position in rng.integers(len(data) // 4, len(data) - 100, 40):
        data[position] = rng.integers(0, 256)
    path.write_bytes(data)
    return path


def make_damaged_mp3(directory: Path, seconds: float = 30.0) -> Path:
    """A playable MP3 with two damaged frames in the middle, which players
    and ffmpeg pass over: one frame's header claims 48 kHz (libmpg123 stops
    there), another's side information is garbage (FFmpeg cannot decode
    that frame)."""
    path = make_valid(directory / "damaged.mp3", seconds=seconds)
    data = bytearray(path.read_bytes())
    frames = _mp3_frame_offsets(data)
    header = frames[len(frames) * 2 // 5]
    data[header + 2] = data[header + 2] & 0xF3 | 0x04  # sampling rate index 1: 48 kHz
    side_info = frames[len(frames) * 3 // 5] + 4
    data[side_info : side_info + 16] = bytes(range(200, 216))
    path.write_bytes(data)
    return path


def _mp3_frame_offsets(data: bytes) -> list[int]:
    """Where each MPEG-1 Layer III frame starts (the Xing/Info frame first)."""
    offsets, offset = [], _id3v2_size(data)
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        offsets.append(offset)
        offset += _mp3_frame_length(data[offset : offset + 4])
    return offsets


def make_undecodable_mp3(directory: Path) -> Path:
    """An MP3 whose every audio frame's header claims 48 kHz, unlike its
    first (Xing) frame: no decoder gets a sample of it."""
    path = make_valid(directory / "undecodable.mp3", seconds=30.0)
    data = bytearray(path.read_bytes())
    for frame in _mp3_frame_offsets(data)[1:]:
        data[frame + 2] = data[frame + 2] & 0xF3 | 0x04
    path.write_bytes(data)
    return path


def make_overwritten(directory: Path, suffix: str, seconds: float = 30.0) -> Path:
    """A playable file with one byte overwritten at 40 % and at 60 % of it
    (inside audio frames): a bad frame or two."""
    path = make_valid(directory / f"overwritten{suffix}", seconds=seconds)
    data = bytearray(path.read_bytes())
    for share in (0.4, 0.6):
        data[int(len(data) * share)] ^= 0xFF
    path.write_bytes(data)
    return path
