"""An image's size read from its file header, before anything is decoded.

A 30000×30000 PNG of a few megabytes took 37 s and 3.7 GB to decode; a label photo needs a
tiny fraction of that. So an image larger than MAX_IMAGE_PIXELS (50 megapixels: every phone
camera's full resolution fits) is refused from its header alone. PNG, JPEG, GIF, BMP, WebP
and TIFF headers are read here; for the rest OpenCV applies the same limit itself
(`OPENCV_IO_MAX_IMAGE_PIXELS`, set before cv2 is first imported), also before decoding.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

__all__ = ["MAX_IMAGE_PIXELS", "image_size", "oversize"]

MAX_IMAGE_PIXELS = 50_000_000

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # DHT, JPG and DAC are not frames


def oversize(path: str | Path) -> str:
    """Why this image is refused before decoding ("" when it is not)."""
    size = image_size(path)
    if size is None or size[0] * size[1] <= MAX_IMAGE_PIXELS:
        return ""
    return (
        f"{path} is {size[0]}×{size[1]} pixels, above the limit of "
        f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels: not decoded"
    )


def image_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) from the header of a PNG, JPEG, GIF, BMP, WebP or TIFF file; None for
    another format or a header too damaged to say (the decoder then decides)."""
    try:
        with open(path, "rb") as handle:
            return _size(handle)
    except (OSError, struct.error, ValueError):
        return None


def _size(handle: BinaryIO) -> tuple[int, int] | None:
    head = handle.read(32)
    if head.startswith(_PNG) and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return width, height
    if head[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", head[6:10])
        return width, height
    if head.startswith(b"BM"):
        if struct.unpack("<I", head[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER
            width, height = struct.unpack("<HH", head[18:22])
            return width, height
        width, height = struct.unpack("<ii", head[18:26])
        return abs(width), abs(height)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _webp(head)
    if head.startswith(b"\xff\xd8"):
        return _jpeg(handle)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff(handle, "<" if head[:2] == b"II" else ">")
    return None


def _webp(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 ":  # lossy: 14-bit sizes after the frame tag and start code
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":  # lossless: 14-bit width-1 and height-1 packed after the signature
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit canvas width-1 and height-1
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


def _jpeg(handle: BinaryIO) -> tuple[int, int] | None:
    """Walk the marker segments (skipping EXIF and the like) to the frame header."""
    handle.seek(2)
    while True:
        byte = handle.read(1)
        while byte == b"\xff":  # fill bytes before a marker
            byte = handle.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue  # no length follows
        length = struct.unpack(">H", handle.read(2))[0]
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">xHH", handle.read(5))
            return width, height
        if marker == 0xDA or length < 2:  # image data before any frame header: damaged
            return None
        handle.seek(length - 2, 1)


def _tiff(handle: BinaryIO, order: str) -> tuple[int, int] | None:
    """ImageWidth (256) and ImageLength (257) from the first directory."""
    handle.seek(4)
    handle.seek(struct.unpack(f"{order}I", handle.read(4))[0])
    count = struct.unpack(f"{order}H", handle.read(2))[0]
    found: dict[int, int] = {}
    for _ in range(min(count, 4096)):
        tag, kind, _n, value = struct.unpack(f"{order}HHI4s", handle.read(12))
        if tag in (256, 257):
            fmt, size = ("H", 2) if kind == 3 else ("I", 4)  # SHORT or LONG
            found[tag] = struct.unpack(f"{order}{fmt}", value[:size])[0]
    if 256 in found and 257 in found:
        return found[256], found[257]
    return None
