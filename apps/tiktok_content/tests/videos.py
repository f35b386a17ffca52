"""Test video files: real MP4 headers (``ftyp``, ``moov/mvhd``) padded to an exact size."""

from __future__ import annotations

import struct
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

MiB = 1024 * 1024


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_header(*, duration_s: float = 12.0, timescale: int = 1000) -> bytes:
    """``ftyp`` then ``moov`` holding a version-0 ``mvhd`` with the duration."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    mvhd = _box(
        b"mvhd",
        b"\x00\x00\x00\x00"  # version 0, flags
        + struct.pack(">IIII", 0, 0, timescale, int(duration_s * timescale))
        + b"\x00" * 80,
    )
    return ftyp + _box(b"moov", mvhd)


def mp4_bytes(size: int, *, duration_s: float = 12.0) -> bytes:
    """An MP4 of exactly ``size`` bytes: the header, then an ``mdat`` of filler."""
    header = mp4_header(duration_s=duration_s)
    filler = size - len(header) - 8
    if filler < 0:
        raise ValueError(f"An MP4 needs at least {len(header) + 8} bytes.")
    # A byte pattern, not zeros, so a chunk cut at the wrong offset shows.
    pattern = bytes(range(256))
    body = (pattern * (filler // 256 + 1))[:filler]
    return header + struct.pack(">I", 8 + filler) + b"mdat" + body


def mp4_upload(size: int, *, name: str = "clip.mp4", duration_s: float = 12.0):
    return SimpleUploadedFile(name, mp4_bytes(size, duration_s=duration_s), "video/mp4")


def write_mp4(path: Path, size: int, *, duration_s: float = 12.0) -> Path:
    path.write_bytes(mp4_bytes(size, duration_s=duration_s))
    return path
