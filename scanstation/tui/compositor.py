"""A compositor that, for a partial update, draws only the widgets (and the rows of them) that
an update touches.

Textual's compositor draws a partial update by taking the rectangle around every region that
changed and asking each widget whose clip overlaps that rectangle for all its visible lines,
then keeping the lines that changed. At a scan the banner (top rows) and the scanned list (the
left half, down to row ~27) change, so the rectangle is most of the screen: the header, the
manual row, every detail portlet on the right and every label in them were drawn again and
thrown away, ~45 widgets a frame, about half of the main thread's time at 50 scans/s.

Here a widget is drawn only if its visible part overlaps a changed region, and only its rows
that do, and not where a widget in front of it, already drawn, covers that part. What reaches
the terminal is the same: a changed cell is always covered by a widget overlapping the changed
region, and the front-most such widget is the one drawn there.

It overrides `Compositor._get_renders`, which is private: Textual is pinned (pyproject), and
tests/tui compare painted screens and snapshots, which fail if what is written goes wrong.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.strip import Strip

__all__ = ["ChangedRowsCompositor"]


COVERAGE_CHECKS = 8  # changed regions up to which a part hidden behind a drawn widget is skipped


def _bands(parts: list[Region]) -> list[tuple[int, int]]:
    """The rows (start, end) the parts take, merged."""
    merged: list[tuple[int, int]] = []
    for top, bottom in sorted((part.y, part.bottom) for part in parts):
        if merged and top <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], bottom))
        else:
            merged.append((top, bottom))
    return merged


class ChangedRowsCompositor(Compositor):
    """Textual's compositor, drawing a partial update from the widgets it touches only."""

    _changed: list[Region] | None = None  # set while a partial update is drawn

    def render_partial_update(self) -> ChopsUpdate | None:
        self._changed = list(self._dirty_regions)
        try:
            return super().render_partial_update()
        finally:
            self._changed = None

    def _get_renders(
        self, crop: Region | None = None
    ) -> Iterable[tuple[Region, Region, list[Strip]]]:
        changed = self._changed
        if changed is None or crop is None:
            yield from super()._get_renders(crop)
            return
        # In the compositor's order (front-most first): the first strip for a cell wins, so a
        # changed part inside a widget already drawn (the screen and the containers behind
        # the banner and the list) needs nothing from the widgets behind it.
        check = len(changed) <= COVERAGE_CHECKS
        drawn: list[Region] = []
        for widget, (region, clip) in self.visible_widgets.items():
            shown = region.intersection(clip)
            if not shown:
                continue
            parts = [
                part
                for changed_region in changed
                if (part := shown.intersection(changed_region))
                and not (check and any(front.contains_region(part) for front in drawn))
            ]
            if not parts:
                continue
            if check:
                drawn.append(shown)
            for top, bottom in _bands(parts):
                band = Region(shown.x, top, shown.width, bottom - top)
                lines = Region(band.x - region.x, top - region.y, band.width, band.height)
                yield region, band, widget.render_lines(lines)
