"""The Camera portlet: a small live picture, so a worker can aim a label at the webcam.

Each terminal cell shows two pixels as "▀" (foreground the upper pixel, background the lower
one), in grey levels; the outline of the symbol just read is drawn over the picture in green,
and its text is shown literally below. The portlet never decodes: a timer (~10/s) asks the
camera for its newest frame already shrunk to the portlet's size (`Camera.latest_preview`),
and redraws only when that changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, ClassVar, Final

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from scanstation.domain.text import visible
from scanstation.sources.camera import CameraState, CameraStatus
from scanstation.tui.widgets.portlet import MUTED, Portlet, update_static

if TYPE_CHECKING:
    import numpy.typing as npt
    from textual.timer import Timer

    from scanstation.sources.camera import Camera, Preview

__all__ = ["CameraPortlet", "CameraPreview", "half_block_lines", "status_style"]

PREVIEW_EVERY_S: Final = 0.1  # the picture is for aiming: 10 frames/s is plenty
HALF_BLOCK: Final = "▀"
OFF_TEXT: Final = "Camera off — F5 to start"

# 32 grey levels are indistinguishable from 256 at this size, and they keep the style cache
# small (every cell's style is one of (LEVELS + 2)² objects, made once).
LEVELS: Final = 32
OUTLINE: Final = LEVELS  # a pixel on the symbol's outline
NO_PIXEL: Final = LEVELS + 1  # below the picture's last row (odd height): the background
_CODES: Final = LEVELS + 2
OUTLINE_RGB: Final = (0, 230, 118)

STATUS_STYLES: dict[CameraState, str] = {
    CameraState.OFF: MUTED,
    CameraState.STARTING: MUTED,
    CameraState.RUNNING: "bold $text-success",
    CameraState.LOST: "bold $text-error",
    CameraState.STOPPED: "$text-warning",
}


def status_style(state: CameraState) -> str:
    return STATUS_STYLES.get(state, "")


def _code_colour(code: int) -> str | None:
    if code == OUTLINE:
        return "#{:02x}{:02x}{:02x}".format(*OUTLINE_RGB)
    if code == NO_PIXEL:
        return None
    grey = code * 255 // (LEVELS - 1)
    return f"#{grey:02x}{grey:02x}{grey:02x}"


_STYLES: dict[int, Style] = {}


def _cell_style(key: int) -> Style:
    style = _STYLES.get(key)
    if style is None:
        upper, lower = divmod(key, _CODES)
        style = _STYLES[key] = Style(color=_code_colour(upper), bgcolor=_code_colour(lower))
    return style


def _outline_mask(
    shape: tuple[int, int], outline: Sequence[tuple[float, float]]
) -> npt.NDArray[np.bool_]:
    """The pixels on the closed polygon `outline` (x, y in pixels), clipped to `shape`."""
    rows, cols = shape
    mask = np.zeros(shape, dtype=bool)
    points = list(outline)
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
        steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 2
        xs = np.rint(np.linspace(x0, x1, steps)).astype(int)
        ys = np.rint(np.linspace(y0, y1, steps)).astype(int)
        inside = (xs >= 0) & (xs < cols) & (ys >= 0) & (ys < rows)
        mask[ys[inside], xs[inside]] = True
    return mask


def half_block_lines(
    image: npt.NDArray[np.uint8],
    outline: Sequence[tuple[float, float]] | None,
    width: int,
    height: int,
    background: Style | None = None,
) -> list[Strip]:
    """`height` strips of `width` cells: the grey `image` (at most width × 2·height pixels)
    centred, two pixels a cell, with the pixels along `outline` in green. `background` is the
    widget's style, for the cells around the picture."""
    if width <= 0 or height <= 0:
        return []
    codes = (image[: height * 2, :width] >> 3).astype(np.int16)  # 256 → 32 levels
    if outline:
        codes[_outline_mask(codes.shape, outline)] = OUTLINE
    if codes.shape[0] % 2:
        codes = np.vstack([codes, np.full((1, codes.shape[1]), NO_PIXEL, np.int16)])
    keys = codes[0::2] * _CODES + codes[1::2]  # one style key per cell
    rows, cols = keys.shape
    left = (width - cols) // 2
    right = width - cols - left
    top = (height - rows) // 2
    background = background or Style()
    blank = Strip.blank(width, background)
    lines = [blank] * top
    for index, row in enumerate(keys):
        # one segment per run of equal cells: a still background costs a single segment
        starts = [0, *(np.flatnonzero(np.diff(row)) + 1).tolist(), cols]
        values = row.tolist()
        # Every pixel cell sets both its colours: only the margins and a missing lower pixel
        # (odd height, last row) take the widget's background, so no strip needs restyling.
        last = index == rows - 1 and codes[-1, 0] == NO_PIXEL
        segments = [Segment(" " * left, background)] if left else []
        segments += [
            Segment(
                HALF_BLOCK * (end - start),
                background + _cell_style(values[start]) if last else _cell_style(values[start]),
            )
            for start, end in pairwise(starts)
        ]
        if right:
            segments.append(Segment(" " * right, background))
        lines.append(Strip(segments, width))
    lines += [blank] * (height - len(lines))
    return lines


class CameraPreview(Widget):
    """The half-block picture; `show()` takes a preview already sized to this widget."""

    DEFAULT_CSS = """
    CameraPreview {
        width: 1fr;
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[Strip] = []
        self._shown: tuple[bytes, tuple[int, ...], object, tuple[int, int]] | None = None

    @property
    def pixels(self) -> tuple[int, int]:
        """The picture size (width, height in pixels) that fills this widget."""
        return self.size.width, self.size.height * 2

    @property
    def lines(self) -> list[Strip]:
        return self._lines

    def show(self, preview: Preview | None) -> None:
        size = (self.size.width, self.size.height)
        if preview is None:
            if self._lines:
                self._lines, self._shown = [], None
                self.refresh()
            return
        image = preview.image
        shown = (image.tobytes(), image.shape, preview.outline, size)
        if shown == self._shown:
            return  # the same frame (a stream that paused, a video that ended)
        self._shown = shown
        style = self.visual_style.rich_style
        self._lines = half_block_lines(image, preview.outline, *size, background=style)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        if y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)


class CameraPortlet(Portlet):
    """The camera's state, its picture with the last symbol's outline, and what it read."""

    PORTLET_ID: ClassVar[str] = "camera"
    TITLE: ClassVar[str] = "Camera"

    DEFAULT_CSS = """
    CameraPortlet {
        overflow-y: hidden;
        & > #camera-body {
            height: 1fr;
        }
        & #camera-status, & #camera-read {
            height: 1;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
    }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.camera: Camera | None = None
        self.last_payload: str | None = None
        self.status_line = Static(id="camera-status")
        self.preview = CameraPreview(id="camera-preview")
        self.read_line = Static(id="camera-read")
        self._timer: Timer | None = None
        self.set_shown(False)

    def compose(self) -> ComposeResult:
        yield self.placeholder(OFF_TEXT)
        with Vertical(classes="portlet--body", id="camera-body"):
            yield self.status_line
            yield self.preview
            yield self.read_line

    def on_mount(self) -> None:
        self._timer = self.set_interval(PREVIEW_EVERY_S, self.tick, pause=self.camera is None)

    def attach(self, camera: Camera | None) -> None:
        """Show `camera`'s picture from now on; None: the camera is off."""
        self.camera = camera
        self.set_shown(camera is not None)
        if camera is None:
            self.preview.show(None)
            self.border_subtitle = None
        if self._timer is not None:
            if camera is None:
                self._timer.pause()
            else:
                self._timer.resume()
                self.call_after_refresh(self.tick)  # the status at once, not 100 ms later

    def tick(self) -> None:
        camera = self.camera
        if camera is None or not self.is_attached:
            return
        self._show_status(camera.status)
        if not self.display:
            return  # the handheld layout shows another portlet: no picture to draw
        width, height = self.preview.pixels
        preview = camera.latest_preview(width, height) if width and height else None
        self.preview.show(preview)
        fresh = preview is not None and preview.payload is not None
        if fresh and preview is not None:
            self.last_payload = preview.payload
        if self.last_payload is None:
            read = Content.styled("hold a label in front of the camera", MUTED)
        else:
            # what the camera read, literally: a label is data, never markup
            read = Content.assemble(
                ("read ", MUTED),
                (visible(self.last_payload), "bold $text-success" if fresh else ""),
            )
        update_static(self.read_line, read)

    def _show_status(self, status: CameraStatus) -> None:
        self.border_subtitle = visible(status.source) if status.source else None
        style = status_style(status.state)
        if status.state is CameraState.LOST and status.message:
            line = Content.styled(visible(status.message), style)  # says what and when
        elif status.state is CameraState.STOPPED and status.message:
            line = Content.assemble((status.label, style), " · ", visible(status.message))
        else:
            line = Content.styled(status.label, style)
        update_static(self.status_line, line)
