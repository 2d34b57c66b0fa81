"""Camera-like frames for benchmarks/decode.py, made deterministically (same seed, same pixels)
from label images: a symbol on a white label, laid on a scene photo at 1280×720 and put through
what a webcam and a hand do to it.

Conditions (each frame ends with `camera_like`: soft focus, sensor noise, MJPEG):
  clean        the label flat and square to the camera, the symbol ~1/3 of the frame high
  perspective  the same label turned away around a vertical axis (its far edge 35–55 %
               shorter) and rotated ±20° in the image plane
  motion blur  the frame smeared along a line of 7–13 px at a random angle (a moving hand)
  glare        a lamp's reflection on a glossy label: a blob with a saturated white core
               (the modules under it are gone) over part of the symbol
  small        the symbol's box only 2 % of the frame (a label held far away)

Only numpy, OpenCV and zxing-cpp's writer; nothing from scanstation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

Image = Any  # a 2-D uint8 numpy array (grey)
CONDITIONS = ("clean", "perspective", "motion blur", "glare", "small")
SMALL_AREA = 0.02  # the "small" symbol's box as a share of the frame's area


def camera_like(frame: Image, rng: np.random.Generator) -> Image:
    """What a USB webcam delivers at 720p: a soft image with sensor noise, MJPEG-compressed
    (USB 2 cannot carry raw 1280×720 at 30 frames/s)."""
    frame = cv2.GaussianBlur(frame, (3, 3), 0)
    frame = np.clip(frame + rng.normal(0, 3, frame.shape), 0, 255).astype(np.uint8)
    _, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)


def backgrounds(photos: Sequence[Image], size: tuple[int, int]) -> list[Image]:
    """Scenes without a symbol: the given photos stretched to the frame, or, without any, a
    deterministic grey gradient with texture (a bare bench top)."""
    width, height = size
    if photos:
        return [cv2.resize(p, size, interpolation=cv2.INTER_LINEAR) for p in photos]
    rng = np.random.default_rng(11)
    ramp = np.linspace(60, 180, width, dtype=np.float32)[None, :].repeat(height, 0)
    texture = cv2.GaussianBlur(rng.normal(0, 25, (height, width)).astype(np.float32), (0, 0), 4)
    return [np.clip(ramp + texture, 0, 255).astype(np.uint8)]


def render(text: str, fmt: Any, *, gs1: bool = False) -> Image:
    """A symbol as zxing-cpp's writer draws it, one pixel a module, quiet zone included."""
    import zxingcpp

    barcode = zxingcpp.create_barcode(text, fmt, gs1=True) if gs1 else None
    barcode = barcode or zxingcpp.create_barcode(text, fmt)
    return np.array(zxingcpp.write_barcode_to_image(barcode, scale=1))


def label(symbol: Image) -> Image:
    """The symbol on white paper with a margin of 8 % of its longer side."""
    margin = max(4, int(0.08 * max(symbol.shape)))
    return np.pad(symbol, margin, constant_values=255)


def _scale_to(image: Image, target_height: float, max_width: float) -> Image:
    factor = min(target_height / image.shape[0], max_width / image.shape[1])
    interpolation = cv2.INTER_NEAREST if factor >= 1 else cv2.INTER_AREA
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=interpolation)


def _paste(frame: Image, patch: Image, rng: np.random.Generator) -> tuple[Image, int, int]:
    """`patch` laid flat at a random place fully inside `frame`; the new frame and (y, x)."""
    height, width = frame.shape
    y = int(rng.integers(0, max(1, height - patch.shape[0])))
    x = int(rng.integers(0, max(1, width - patch.shape[1])))
    frame = frame.copy()
    frame[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    return frame, y, x


def _warp_into(frame: Image, patch: Image, corners: np.ndarray) -> Image:
    """`patch` mapped onto the quadrilateral `corners` (TL, TR, BR, BL) of `frame`."""
    h, w = patch.shape
    source = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    matrix = cv2.getPerspectiveTransform(source, corners.astype(np.float32))
    size = (frame.shape[1], frame.shape[0])
    warped = cv2.warpPerspective(patch, matrix, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full_like(patch, 255), matrix, size, flags=cv2.INTER_LINEAR)
    alpha = mask.astype(np.float32) / 255
    return (frame * (1 - alpha) + warped * alpha).astype(np.uint8)


def placed_label(symbol: Image, frame_size: tuple[int, int]) -> Image:
    """The label as the clean, perspective, blur and glare frames show it: a third of the
    frame high, at most 60 % of its width."""
    width, height = frame_size
    return _scale_to(label(symbol), height / 3, width * 0.6)


def _flat(symbol: Image, frame: Image, rng: np.random.Generator) -> tuple[Image, int, int, Image]:
    patch = placed_label(symbol, (frame.shape[1], frame.shape[0]))
    return (*_paste(frame, patch, rng), patch)


def clean(symbol: Image, frame: Image, rng: np.random.Generator) -> Image:
    return _flat(symbol, frame, rng)[0]


def perspective(symbol: Image, frame: Image, rng: np.random.Generator) -> Image:
    height, width = frame.shape
    patch = placed_label(symbol, (width, height))
    h, w = patch.shape
    # Turned away around a vertical axis: the far edge shorter and the label narrower ...
    tilt = float(rng.uniform(0.35, 0.55))
    shrink, narrow = tilt * h / 2, w * (1 - tilt / 2)
    if rng.integers(0, 2):
        corners = np.float32([[0, 0], [narrow, shrink], [narrow, h - shrink], [0, h]])
    else:
        corners = np.float32([[0, shrink], [narrow, 0], [narrow, h], [0, h - shrink]])
    # ... then turned in the image plane, and placed wholly inside the frame.
    angle = np.deg2rad(rng.uniform(-20, 20))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = (corners - corners.mean(axis=0)) @ rotation.T
    low, high = corners.min(axis=0), corners.max(axis=0)
    x = rng.uniform(-low[0], max(-low[0] + 1, width - high[0]))
    y = rng.uniform(-low[1], max(-low[1] + 1, height - high[1]))
    return _warp_into(frame, patch, corners + np.array([x, y]))


def motion_blur(symbol: Image, frame: Image, rng: np.random.Generator) -> Image:
    frame = clean(symbol, frame, rng)
    length = int(rng.integers(7, 14))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    turn = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), rng.uniform(0, 180), 1)
    kernel = cv2.warpAffine(kernel, turn, (length, length))
    return cv2.filter2D(frame, -1, kernel / kernel.sum())


def glare(symbol: Image, frame: Image, rng: np.random.Generator) -> Image:
    frame, y, x, patch = _flat(symbol, frame, rng)
    h, w = patch.shape
    # centred somewhere on the label's middle half, so it always covers part of the symbol
    cy, cx = y + h * rng.uniform(0.25, 0.75), x + w * rng.uniform(0.25, 0.75)
    sigma = float(rng.uniform(0.10, 0.18)) * max(h, w)
    yy, xx = np.mgrid[0 : frame.shape[0], 0 : frame.shape[1]].astype(np.float32)
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    # a saturated core (pure white: the modules under it are gone) fading out at the edges
    strength = np.minimum(1.0, float(rng.uniform(1.3, 1.8)) * blob)
    bright = frame.astype(np.float32) * (1 - strength) + 255 * strength
    return np.clip(bright, 0, 255).astype(np.uint8)


def small(symbol: Image, frame: Image, rng: np.random.Generator) -> Image:
    height, width = frame.shape
    h, w = symbol.shape
    factor = (SMALL_AREA * height * width / (h * w)) ** 0.5
    patch = cv2.resize(label(symbol), None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    return _paste(frame, patch, rng)[0]


MAKERS: dict[str, Callable[[Image, Image, np.random.Generator], Image]] = {
    "clean": clean,
    "perspective": perspective,
    "motion blur": motion_blur,
    "glare": glare,
    "small": small,
}


def frame_for(condition: str, symbol: Image, scene: Image, seed: int) -> Image:
    """One camera-like frame of `symbol` in `scene` under `condition`; same seed, same pixels."""
    rng = np.random.default_rng(seed)
    return camera_like(MAKERS[condition](symbol, scene, rng), rng)
