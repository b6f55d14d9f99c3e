"""A digest of a file's audio payload: its bytes without the tag blocks.

Whoever rewrites a file's tags (beets, another plugin, a tag editor) changes
its size and modification time, and may move its audio within the file, but
not the audio itself. The digest reads only the bytes that carry audio, found
per container from its magic bytes, without decoding anything:

- MP3 and other framed streams (AAC, APE, WavPack, Musepack): all but the
  ID3v2 tags in front and the ID3v1, APEv2 and Lyrics3 tags at the end;
- FLAC: the frames after the metadata blocks;
- Ogg (Vorbis, Opus, Speex, FLAC): every packet of each stream but its
  second, the comment packet (packets, not pages: a tag write repaginates);
- MP4 (M4A): the contents of the ``mdat`` atoms;
- WAV and AIFF: the sound data chunk.

Anything else, or a container this cannot make sense of, is digested whole:
a tag edit then means a new analysis, never a wrong match.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

BLOCK = 1 << 20  # bytes read at a time
Region = tuple[int, int]  # (offset, length) of audio bytes


class NotThisFormat(Exception):
    """The bytes do not parse as the container their magic said."""


def audio_digest(path: bytes | str) -> bytes | None:
    """16 bytes that change with the audio and not with the tags; None for a
    file that cannot be read."""
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            try:
                return _digest(_payload(file, size))
            except (NotThisFormat, struct.error):
                return _digest(_read(file, [(0, size)]))
    except OSError:
        return None


def _digest(chunks: Iterator[bytes]) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for chunk in chunks:
        digest.update(chunk)
    return digest.digest()


def _payload(file: BinaryIO, size: int) -> Iterator[bytes]:
    """The audio bytes; NotThisFormat where the container is not understood."""
    head = file.read(12)
    if head.startswith(b"OggS"):
        return _ogg_packets(file)
    return _read(file, _regions(file, head, size))


def _regions(file: BinaryIO, head: bytes, size: int) -> list[Region]:
    if head[4:8] == b"ftyp":
        return _mp4_regions(file, size)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _chunk_regions(file, size, "<", b"data")
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _chunk_regions(file, size, ">", b"SSND")
    start = _after_id3v2(file)
    end = _before_trailing_tags(file, start, size)
    file.seek(start)
    if file.read(4) == b"fLaC":
        start = _after_flac_metadata(file, start + 4)
    if start > end:
        raise NotThisFormat
    return [(start, end - start)]


def _read(file: BinaryIO, regions: list[Region]) -> Iterator[bytes]:
    for offset, length in regions:
        file.seek(offset)
        while length > 0:
            chunk = file.read(min(BLOCK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk


def _after_id3v2(file: BinaryIO) -> int:
    """Where the ID3v2 tags in front of the stream (if any) end."""
    offset = 0
    while True:
        file.seek(offset)
        header = file.read(10)
        if len(header) < 10 or header[:3] != b"ID3":
            return offset
        footer = 10 if header[5] & 0x10 else 0
        offset += 10 + _syncsafe(header[6:10]) + footer


def _syncsafe(data: bytes) -> int:
    value = 0
    for byte in data:
        value = (value << 7) | (byte & 0x7F)
    return value


def _before_trailing_tags(file: BinaryIO, start: int, end: int) -> int:
    """Where the stream ends: before ID3v1, APEv2 and Lyrics3v2 tags, which
    can follow each other in any order."""
    while True:
        tag = _trailing_tag_size(file, end)
        if not tag or end - tag < start:
            return end
        end -= tag


def _trailing_tag_size(file: BinaryIO, end: int) -> int:
    """The size of the tag that ends at ``end`` (0: none)."""
    if end >= 128:
        file.seek(end - 128)
        if file.read(3) == b"TAG":
            return 128
    if end >= 32:
        file.seek(end - 32)
        footer = file.read(32)
        if footer[:8] == b"APETAGEX":
            size, _, flags = struct.unpack("<III", footer[12:24])
            return size + (32 if flags & 0x80000000 else 0)
    if end >= 15:
        file.seek(end - 15)
        trailer = file.read(15)
        if trailer[6:] == b"LYRICS200" and trailer[:6].isdigit():
            return int(trailer[:6]) + 15
    return 0


def _after_flac_metadata(file: BinaryIO, offset: int) -> int:
    """Where FLAC's frames start: after the last metadata block."""
    while True:
        file.seek(offset)
        header = file.read(4)
        if len(header) < 4:
            raise NotThisFormat
        offset += 4 + int.from_bytes(header[1:4], "big")
        if header[0] & 0x80:  # the last block
            return offset


def _mp4_regions(file: BinaryIO, size: int) -> list[Region]:
    """The contents of the top-level ``mdat`` atoms."""
    regions, offset = [], 0
    while offset + 8 <= size:
        file.seek(offset)
        length, kind = struct.unpack(">I4s", file.read(8))
        header = 8
        if length == 1:
            (length,) = struct.unpack(">Q", file.read(8))
            header = 16
        elif length == 0:  # up to the end of the file
            length = size - offset
        if length < header:
            raise NotThisFormat
        if kind == b"mdat":
            regions.append((offset + header, length - header))
        offset += length
    if not regions:
        raise NotThisFormat
    return regions


def _chunk_regions(file: BinaryIO, size: int, order: str, audio: bytes) -> list[Region]:
    """The ``audio`` chunk of a RIFF (``order`` '<') or IFF ('>') file."""
    offset = 12
    while offset + 8 <= size:
        file.seek(offset)
        kind, length = struct.unpack(f"{order}4sI", file.read(8))
        if kind == audio:
            return [(offset + 8, min(length, size - offset - 8))]
        offset += 8 + length + (length & 1)  # chunks are padded to even sizes
    raise NotThisFormat


def _ogg_packets(file: BinaryIO) -> Iterator[bytes]:
    """Every packet of each logical stream but its second (the comments)."""
    from mutagen.ogg import OggPage, error

    file.seek(0)
    partial: dict[int, bytes] = {}  # serial -> a packet continued on the next page
    counts: dict[int, int] = {}  # serial -> packets seen
    while True:
        try:
            page = OggPage(file)
        except EOFError:
            break
        except error as exc:
            raise NotThisFormat from exc
        packets = list(page.packets)
        if page.continued and packets:
            packets[0] = partial.pop(page.serial, b"") + packets[0]
        if packets and not page.complete:
            partial[page.serial] = packets.pop()
        for packet in packets:
            index = counts.get(page.serial, 0)
            counts[page.serial] = index + 1
            if index != 1:
                yield packet
