"""An image's size from its header alone (sources/image_size.py), for every format the
decode command refuses above the pixel limit without decoding."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from scanstation.sources.decoders import ImageTooLarge, load_image
from scanstation.sources.image_size import MAX_IMAGE_PIXELS, image_size, oversize


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".webp", ".tif", ".gif"])
def test_the_header_gives_the_size(tmp_path: Path, suffix: str) -> None:
    image = np.full((37, 53, 3), 200, np.uint8)
    path = tmp_path / f"image{suffix}"
    if suffix == ".gif":
        # OpenCV writes no GIF: the 13-byte header and an end, enough for the header read.
        path.write_bytes(
            b"GIF89a" + (53).to_bytes(2, "little") + (37).to_bytes(2, "little") + b"\0\0\0;"
        )
    else:
        ok, data = cv2.imencode(
            suffix, image, [cv2.IMWRITE_WEBP_QUALITY, 101] if suffix == ".webp" else []
        )
        assert ok
        path.write_bytes(data.tobytes())
    assert image_size(path) == (53, 37)
    assert oversize(path) == ""


def test_lossy_webp_and_a_jpeg_with_exif_ahead_of_the_frame(tmp_path: Path) -> None:
    image = np.full((41, 29), 128, np.uint8)
    _ok, data = cv2.imencode(".webp", image, [cv2.IMWRITE_WEBP_QUALITY, 80])
    lossy = tmp_path / "lossy.webp"
    lossy.write_bytes(data.tobytes())
    assert image_size(lossy) == (29, 41)
    _ok, data = cv2.imencode(".jpg", image)
    jpeg = data.tobytes()
    exif = b"\xff\xe1" + (2 + 4000).to_bytes(2, "big") + b"Exif\0\0" + b"\0" * 3994
    with_exif = tmp_path / "exif.jpg"
    with_exif.write_bytes(jpeg[:2] + exif + jpeg[2:])
    assert image_size(with_exif) == (29, 41)


def test_unknown_or_damaged_headers_are_left_to_the_decoder(tmp_path: Path) -> None:
    for name, data in {"text.txt": b"hello", "empty.png": b"", "cut.jpg": b"\xff\xd8\xff"}.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert image_size(path) is None and oversize(path) == ""
    assert image_size(tmp_path / "missing.png") is None


def test_a_header_above_the_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    # A PNG whose header claims 8000×8000 and whose data is nonsense: only the header is read.
    side = int(MAX_IMAGE_PIXELS**0.5) + 1
    _ok, data = cv2.imencode(".png", np.zeros((2, 2), np.uint8))
    raw = bytearray(data.tobytes())
    raw[16:24] = side.to_bytes(4, "big") * 2
    path = tmp_path / "claims-big.png"
    path.write_bytes(bytes(raw))
    assert image_size(path) == (side, side)
    with pytest.raises(ImageTooLarge, match=f"is {side}×{side} pixels, above the limit of 50"):
        load_image(path)
