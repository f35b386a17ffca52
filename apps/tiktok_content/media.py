"""What the hub can tell about a video file before sending it: its container and duration.

Pure Python and reads only headers (seeking over the media data), so checking a
file costs no provider call and no more than a few kilobytes of reading. MP4
and MOV (ISO base media files) carry their duration in ``moov/mvhd``; WebM's
duration is not read (TikTok checks it on its side).
"""

from __future__ import annotations

import contextlib
import struct
from typing import BinaryIO

#: The container families TikTok accepts (contract §4.3), by ``Content-Type``.
MP4_FAMILY = frozenset({"video/mp4", "video/quicktime"})
WEBM = "video/webm"
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
#: Boxes visited at most, so a hostile file cannot keep the check busy.
MAX_BOXES = 10_000


def sniff_container(head: bytes) -> str | None:
    """``"iso"`` (MP4/MOV, an ``ftyp`` box first), ``"webm"`` (EBML header), or None."""
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "iso"
    if head.startswith(EBML_MAGIC):
        return "webm"
    return None


def container_matches(content_type: str, head: bytes) -> bool:
    """Whether the first bytes are the container the ``Content-Type`` names."""
    family = sniff_container(head)
    if content_type in MP4_FAMILY:
        return family == "iso"
    if content_type == WEBM:
        return family == "webm"
    return False


def _boxes(stream: BinaryIO, start: int, end: int | None):
    """``(type, payload_start, box_end)`` of the boxes between ``start`` and ``end``."""
    position = start
    for _ in range(MAX_BOXES):
        if end is not None and position + 8 > end:
            return
        stream.seek(position)
        header = stream.read(8)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header)
        payload = position + 8
        if size == 1:  # 64-bit size follows the type
            large = stream.read(8)
            if len(large) < 8:
                return
            (size,) = struct.unpack(">Q", large)
            payload += 8
        elif size == 0:  # to the end of the enclosing box or the file
            if end is None:
                stream.seek(0, 2)
                size = stream.tell() - position
            else:
                size = end - position
        if size < payload - position:
            return
        yield kind, payload, position + size
        position += size


def iso_duration_seconds(stream: BinaryIO) -> float | None:
    """Duration from ``moov/mvhd`` of an MP4/MOV file, or None when it cannot be read."""
    try:
        for kind, payload, box_end in _boxes(stream, 0, None):
            if kind != b"moov":
                continue
            for inner, inner_payload, _inner_end in _boxes(stream, payload, box_end):
                if inner != b"mvhd":
                    continue
                stream.seek(inner_payload)
                version = stream.read(4)[:1]
                if version == b"\x01":
                    stream.seek(16, 1)  # creation and modification times, 64-bit
                    data = stream.read(12)
                    if len(data) < 12:
                        return None
                    timescale, duration = struct.unpack(">IQ", data)
                else:
                    stream.seek(8, 1)
                    data = stream.read(8)
                    if len(data) < 8:
                        return None
                    timescale, duration = struct.unpack(">II", data)
                return duration / timescale if timescale else None
            return None
    except (OSError, struct.error, ValueError):
        return None
    finally:
        with contextlib.suppress(OSError, ValueError):
            stream.seek(0)
    return None
