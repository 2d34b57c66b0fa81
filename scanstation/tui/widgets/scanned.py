"""The Scanned Serial Numbers portlet: this session's scans, newest first, with running counts
per outcome in the border title and repeats within the session marked.

Only a bounded number of rows is kept (`limit`, from `[ui] scanned_rows`) and only the rows in
view are drawn, so hours of scanning cost the same as a minute. Older scans are paged in from
the database on request (`OlderRequested`); the station answers with `add_history`.
"""

from __future__ import annotations

import operator
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import ClassVar, Self

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget
from textual.widgets import Static

from scanstation.domain.outcome import OutcomeKind, ScanOutcome
from scanstation.domain.stages import Stage
from scanstation.domain.text import visible
from scanstation.tui.messages import HistoryRow
from scanstation.tui.widgets.portlet import MUTED, Portlet, local_time

__all__ = ["ScanRow", "ScannedList", "ScannedRows"]

OUTCOME_LOOKS: dict[str, tuple[str, str]] = {
    OutcomeKind.OK: ("✔ ok", "bold $text-success"),
    "lookup": ("◆ lookup", "bold $text-primary"),
    OutcomeKind.ALREADY: ("● already", "bold $text-warning"),
    OutcomeKind.QUEUED: ("… queued", "bold $text-warning"),
    "voided": ("↶ voided", "bold $text-warning"),
    OutcomeKind.REJECTED: ("✖ rejected", "bold $text-error"),
    OutcomeKind.UNKNOWN: ("? unknown", "bold $text-error"),
    OutcomeKind.CONFLICT: ("⚠ conflict", "bold $text-error"),
    OutcomeKind.NOT_GENUINE: ("✖ not genuine", "bold $text-error"),
}
COUNT_ORDER = (
    "ok",
    "lookup",
    "already",
    "queued",
    "voided",
    "rejected",
    "unknown",
    "conflict",
    "not_genuine",
)
TIME_FORMAT = "%H:%M:%S"


@dataclass(frozen=True, slots=True)
class ScanRow:
    at: datetime
    serial: str | None  # the serial it matched, if any
    payload: str  # as read; shown (made visible) when no serial matched
    sku: str | None
    outcome: str  # an OutcomeKind value, or "lookup" (an OK in lookup mode: nothing recorded)
    stage: Stage | None  # the stage after the scan
    event_id: int | None  # the event it wrote (None: lookup, ALREADY, not yet known)
    repeat: int = 1  # the nth scan of this serial in the session
    history: bool = False  # read back from the database, not scanned in this session
    scan_id: str | None = None  # this session's scans: to settle a queued one on replay

    @property
    def key(self) -> str:
        return self.serial or self.payload


class _Marker(str):
    """A line of the list that is not a scan (a gap, the "load older" line)."""


class ScannedRows(Widget):
    """The list's body: one line per row in view, each drawn once and kept.

    Every scan shifts the rows down by one, so every line of the body changes at each frame,
    and Textual's own cache of finished lines (kept by line number) is void each time. A
    scanned row's text never changes once answered, so its finished line (styled, filtered)
    is kept by the row instead: a frame draws the new row and the cursor's, not every row.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[Content] = []
        # Content compares by text only (not style), so lines are kept by identity: a row's
        # Content is made once (`_row` is cached), the cursor's line anew at each paint.
        self._strips: dict[int, tuple[Content, Strip]] = {}
        self._drawn_for: tuple[object, ...] | None = None  # what the kept lines were drawn for

    @property
    def content(self) -> Content:
        """What the body shows, as text."""
        return Content("\n").join(self._lines)

    def show(self, lines: list[Content]) -> None:
        if len(lines) == len(self._lines) and all(map(operator.is_, lines, self._lines)):
            return
        self._lines = lines
        # Keep only the lines still in view: the cache never outgrows the body.
        self._strips = {id(line): kept for line in lines if (kept := self._strips.get(id(line)))}
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        width = self.size.width
        lines = self._lines
        if (
            self.text_selection is not None  # a selection spans lines: Textual draws it
            or crop.x
            or crop.width != width
            or crop.bottom > len(lines)
            or any(self.styles.gutter)  # a line's look would depend on where it is
        ):
            return super().render_lines(crop)
        drawn_for = (
            width,
            self.visual_style,
            self.background_colors,
            tuple(self.get_line_filters()),
            self.opacity,
        )
        if drawn_for != self._drawn_for:
            self._drawn_for = drawn_for
            self._strips.clear()
        kept = self._strips
        missing = [y for y in crop.line_range if id(lines[y]) not in kept]
        if missing:
            first, last = missing[0], missing[-1]
            drawn = super().render_lines(Region(0, first, width, last - first + 1))
            for y in missing:
                kept[id(lines[y])] = (lines[y], drawn[y - first])
        return [kept[id(lines[y])][1] for y in crop.line_range]

    def render_line(self, y: int) -> Strip:
        style = self.visual_style
        if y >= len(self._lines):
            return Strip.blank(self.size.width, style.rich_style)
        if self.text_selection is not None:
            return Visual.to_strips(self, self.content, self.size.width, None, style)[y]
        return Visual.to_strips(self, self._lines[y], self.size.width, 1, style)[0]


class ScannedList(Portlet):
    """Time, serial (or the payload, literally), SKU, outcome, stage after; newest on top.

    ↑/↓ move the cursor and show that serial in the other portlets; ↓ on the last line loads
    older scans from the database; Home jumps back to the newest."""

    PORTLET_ID: ClassVar[str] = "scanned"
    TITLE: ClassVar[str] = "Scanned Serial Numbers"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "newest", "Newest", show=False),
        Binding("end", "oldest", "Oldest", show=False),
        Binding("enter", "select", "Show serial", show=False),
    ]

    DEFAULT_CSS = """
    ScannedList {
        overflow-y: hidden;
        & > #scanned-head {
            height: 1;
            color: $text-muted;
            text-style: bold;
            text-wrap: nowrap;
        }
        & > #scanned-body {
            height: 1fr;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
    }
    """

    @dataclass(eq=False)
    class SerialSelected(Message):
        """Show this serial in the other portlets (a newer pick supersedes it: ↓ held down
        reads only where the cursor stops)."""

        serial_no: str

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ScannedList.SerialSelected)

    @dataclass(eq=False)
    class OlderRequested(Message):
        """Page older scans in from the database: those with an event id below `before_id`."""

        before_id: int | None

    def __init__(self, *, limit: int = 200, id: str | None = None) -> None:
        super().__init__(id=id)
        self.limit = limit
        self.session: list[ScanRow] = []  # newest first, at most `limit`
        self.history: list[ScanRow] = []  # older, from the database, at most `limit`
        self.counts: Counter[str] = Counter()
        self.total = 0
        # Scans per serial (or payload) this session, to mark repeats: one small entry per
        # distinct code, so a long shift costs kilobytes, not rows on screen.
        self._seen: Counter[str] = Counter()
        self._gap = 0  # rows between the session and the history that are not in memory
        self._history_done = False
        self._history_loading = False
        self.cursor = 0
        self._top = 0
        self._layout: _Layout | None = None
        self._head = Static(id="scanned-head")
        self._body = ScannedRows(id="scanned-body")
        self.set_shown(True)

    @classmethod
    def create(cls, *, id: str, scanned_rows: int) -> Self:
        return cls(limit=scanned_rows, id=id)

    def compose(self) -> ComposeResult:
        yield self._head
        yield self._body

    def on_mount(self) -> None:
        self._update_title()
        self._paint()

    def on_resize(self, event: events.Resize) -> None:
        super().on_resize(event)
        self._paint()
        self.call_after_refresh(self._paint)  # the body has its new size by then

    # -- data -------------------------------------------------------------------------------

    def add_scan(
        self,
        outcome: ScanOutcome,
        event_id: int | None,
        at: datetime,
        *,
        kind: str | None = None,
        paint: bool = True,
    ) -> ScanRow:
        """A scan of this session, on top; the cursor follows it. `kind` is how the station
        answered it (default: the outcome's kind). With `paint=False` the caller paints once
        after a batch (`refresh_rows`)."""
        row = _scan_row(outcome, event_id, at, kind)
        self._seen[row.key] += 1
        if self._seen[row.key] > 1:
            row = replace(row, repeat=self._seen[row.key])
        self.session.insert(0, row)
        if len(self.session) > self.limit:
            self.session.pop()  # still in the database: paging older reads it back
            if self.history:
                self._gap += 1  # it now sits between the session and the paged history
        self.counts[row.outcome] += 1
        self.total += 1
        self.cursor = 0
        self._top = 0
        if paint:
            self.refresh_rows()
        return row

    def settle_queued(self, outcome: ScanOutcome, event_id: int | None) -> bool:
        """A scan shown as queued (saved offline) was decided on replay: its row shows the
        outcome now, in place. False when its row is not in this session's list."""
        scan_id = outcome.event.scan_id
        index = next(
            (
                i
                for i, row in enumerate(self.session)
                if row.scan_id == scan_id and row.outcome == OutcomeKind.QUEUED
            ),
            None,
        )
        if index is None:
            return False
        queued = self.session[index]
        settled = _scan_row(outcome, event_id, queued.at)
        self._seen[queued.key] -= 1
        self._seen[settled.key] += 1
        self.session[index] = replace(settled, repeat=max(1, self._seen[settled.key]))
        self.counts[queued.outcome] -= 1
        self.counts[settled.outcome] += 1
        return True

    def refresh_rows(self) -> None:
        """Redraw the title and the rows in view."""
        self._update_title()
        self._paint()

    def add_history(self, rows: list[HistoryRow], exhausted: bool) -> None:
        """A page of older scans (newest first), below what is shown."""
        self._history_loading = False
        self._history_done = exhausted
        page = []
        for found in rows:
            event = found.event
            page.append(
                ScanRow(
                    at=event.at,
                    serial=event.serial_no,
                    payload=event.payload or "",
                    sku=found.sku,
                    outcome=event.outcome,
                    stage=event.to_stage or event.from_stage,
                    event_id=found.event_id,
                    history=True,
                )
            )
        self.history.extend(page)
        overflow = len(self.history) - self.limit
        if overflow > 0:
            # Slide the window: the newer history rows leave memory (they are in the database).
            del self.history[:overflow]
            self._gap += overflow
        if page:
            self.cursor = next(i for i, line in enumerate(self._lines()) if line is page[0])
        self._paint()

    def older_boundary(self) -> int | None:
        """The event id below which the next page of older scans starts (None: the newest).

        Every recorded scan not in view is older than every row in view, so the lowest id in
        view is the boundary; with none in view, paging starts from the newest event.
        """
        ids = [row.event_id for row in (self.history or self.session) if row.event_id is not None]
        return min(ids) if ids else None

    @property
    def selected(self) -> ScanRow | None:
        lines = self._lines()
        line = lines[self.cursor] if 0 <= self.cursor < len(lines) else None
        return line if isinstance(line, ScanRow) else None

    # -- keys -------------------------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        lines = self._lines()
        if step > 0 and self.cursor >= len(lines) - 1:
            self._request_older()
            return
        self._move(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor + direction * max(1, self._body.size.height - 1))

    def action_newest(self) -> None:
        self._move(0)

    def action_oldest(self) -> None:
        self._move(len(self._lines()) - 1)

    def action_select(self) -> None:
        lines = self._lines()
        line = lines[self.cursor] if 0 <= self.cursor < len(lines) else None
        if isinstance(line, ScanRow):
            if line.serial:
                self.post_message(self.SerialSelected(line.serial))
        elif isinstance(line, _Marker) and line.startswith("▼"):
            self._request_older()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self._body)
        if offset is None:
            return
        self._move(self._top + offset.y)
        self.action_select()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self._scroll(3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self._scroll(-3)

    def _scroll(self, step: int) -> None:
        height = max(1, self._body.size.height)
        self._top = max(0, min(self._top + step, len(self._lines()) - height))
        self.cursor = max(self._top, min(self.cursor, self._top + height - 1))
        self._paint()

    def _move(self, cursor: int) -> None:
        lines = self._lines()
        cursor = max(0, min(cursor, len(lines) - 1))
        if cursor == self.cursor:
            return
        self.cursor = cursor
        self._paint()
        row = self.selected
        if row is not None and row.serial:
            self.post_message(self.SerialSelected(row.serial))

    def _request_older(self) -> None:
        if self._history_done or self._history_loading:
            return
        self._history_loading = True
        self._paint()
        self.post_message(self.OlderRequested(self.older_boundary()))

    # -- drawing ----------------------------------------------------------------------------

    def _lines(self) -> list[ScanRow | _Marker]:
        lines: list[ScanRow | _Marker] = list(self.session)
        if not self.session and not self.history:
            lines.append(_Marker("No scans yet in this session"))
        if self._gap and self.history:
            lines.append(_Marker(f"⋯ {self._gap:,} rows not shown · Home: newest"))
        lines.extend(self.history)
        if self._history_loading:
            lines.append(_Marker("… reading older scans"))
        elif not self._history_done:
            lines.append(_Marker("▼ older scans: ↓ or Enter here loads them from the database"))
        else:
            lines.append(_Marker("— no older scans at this station —"))
        return lines

    def _update_title(self) -> None:
        counts = " · ".join(
            f"{kind.replace('_', ' ')} {self.counts[kind]:,}"
            for kind in COUNT_ORDER
            if self.counts[kind]
        )
        title = Content.styled(self.TITLE, "bold")
        if counts:
            title = Content.assemble(title, "  ", (counts, ""))
        if not self.is_mounted or not self.outer_size.width:
            self.border_title = title
            return
        # The counts change at every scan. Textual's border_title setter repaints every line of
        # the portlet, and with it every widget under it; the title is the border's top line,
        # so only that line is repainted. `_border_title` is what the setter stores
        # (textual==8.2.8, pinned).
        self._border_title = title
        # refresh() takes regions of the content area, which starts inside the border.
        inset = self.content_offset
        self.refresh(Region(-inset.x, -inset.y, self.outer_size.width, 1))

    def _paint(self) -> None:
        if not self.is_mounted:
            return
        width = max(20, self._body.size.width or self.size.width - 4)
        height = max(1, self._body.size.height)
        layout = _Layout.fit(width)
        if layout != self._layout:
            self._layout = layout
            self._head.update(layout.head(), layout=False)
        lines = self._lines()
        self.cursor = max(0, min(self.cursor, len(lines) - 1))
        if self.cursor < self._top:
            self._top = self.cursor
        elif self.cursor >= self._top + height:
            self._top = self.cursor - height + 1
        self._top = max(0, min(self._top, max(0, len(lines) - height)))
        focused = self.has_focus_within
        drawn = []
        for index in range(self._top, min(len(lines), self._top + height)):
            line = lines[index]
            text = _row(layout, line) if isinstance(line, ScanRow) else Content.styled(line, MUTED)
            if index == self.cursor:
                text = text.pad_right(max(0, width - text.cell_length)).stylize(
                    "reverse" if focused else "underline"
                )
            drawn.append(text)
        self._body.show(drawn)

    def on_focus(self) -> None:
        self._paint()

    def on_blur(self) -> None:
        self._paint()


def _scan_row(
    outcome: ScanOutcome, event_id: int | None, at: datetime, kind: str | None = None
) -> ScanRow:
    serial = outcome.serial
    return ScanRow(
        at=at,
        serial=serial.serial_no if serial else None,
        payload=outcome.event.payload,
        sku=serial.sku if serial else None,
        outcome=kind or outcome.kind.value,
        stage=outcome.stage_after or (serial.stage if serial else None),
        event_id=event_id,
        scan_id=outcome.event.scan_id,
    )


@dataclass(frozen=True, slots=True)
class _Layout:
    """Column widths for a given width; the stage and then the SKU go first when narrow."""

    serial: int
    sku: int
    stage: int

    @classmethod
    def fit(cls, width: int) -> _Layout:
        fixed = 8 + 1 + 10  # time, gap, outcome
        serial = 22 if width >= 90 else 16
        serial = max(8, min(serial, width - fixed - 1))
        rest = width - fixed - serial - 2
        sku = 14 if width >= 100 else 10
        if rest - sku - 1 < 12:
            sku = 0 if rest < 22 else sku
        stage = rest - (sku + 1 if sku else 0)
        return cls(serial, sku, stage if stage >= 8 else 0)

    def head(self) -> Content:
        cells = [_cell("Time", 8), _cell("Serial", self.serial)]
        if self.sku:
            cells.append(_cell("SKU", self.sku))
        cells.append(_cell("Outcome", 10))
        if self.stage:
            cells.append(_cell("Stage after", self.stage))
        return Content(" ").join(cells)

    def row(self, row: ScanRow) -> Content:
        label, style = OUTCOME_LOOKS.get(row.outcome, (row.outcome, "bold"))
        subject = Content(visible(row.serial or row.payload))
        if row.repeat > 1:
            mark = Content.styled(f" ×{row.repeat}", "bold $text-warning")
            room = max(1, self.serial - mark.cell_length)
            subject = Content.assemble(_crop(subject, room), mark)
        muted = MUTED if row.history else ""
        cells = [
            _cell(Content.styled(local_time(row.at, TIME_FORMAT), MUTED), 8),
            _cell(subject.stylize(muted) if muted else subject, self.serial),
        ]
        if self.sku:
            cells.append(_cell(Content.styled(visible(row.sku or "—"), muted or ""), self.sku))
        cells.append(_cell(Content.styled(label, style), 10))
        if self.stage:
            stage = row.stage.value if row.stage else "—"
            cells.append(_cell(Content.styled(stage, muted), self.stage))
        return Content(" ").join(cells)


@lru_cache(maxsize=512)
def _row(layout: _Layout, row: ScanRow) -> Content:
    """A row's text for a layout; cached, as the rows in view are redrawn on every scan."""
    return layout.row(row)


def _crop(text: Content, width: int) -> Content:
    return text.truncate(width, ellipsis=True) if text.cell_length > width else text


def _cell(text: Content | str, width: int) -> Content:
    content = Content(text) if isinstance(text, str) else text
    content = _crop(content, width)
    return content.pad_right(width - content.cell_length)
