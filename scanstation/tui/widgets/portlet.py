"""The frame every station portlet shares, and the small pieces the detail portlets are built
from: text made safe from data, local times, stage colours, a label/value grid and a
width-aware table of one-line rows.

Portlets render frozen views handed to them (`show(...)`, or `show_details(...)` with the
details the station read for the shown serial); they never read the database, call the
service or start threads. Everything that came from data goes through `data_text()` (or
`Content` built from a plain string): it is never parsed as markup, and control characters are
made visible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar, Literal, Self

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Label, Static

from scanstation.domain.stages import STAGE_ABBREVIATIONS, Stage
from scanstation.domain.text import visible
from scanstation.domain.wording import site_label

if TYPE_CHECKING:
    from scanstation.tui.messages import DetailsLoaded

__all__ = [
    "DATE",
    "DATE_TIME",
    "MUTED",
    "SHORT_TIME",
    "STAGE_STYLES",
    "Bar",
    "Cell",
    "Column",
    "FieldGrid",
    "Portlet",
    "RowTable",
    "as_utc",
    "data_text",
    "local_time",
    "section_title",
    "stage_abbreviation",
    "stage_text",
    "update_static",
]

DATE_TIME = "%d %b %Y %H:%M"
"""Dates in the field grids: "05 Mar 2025 14:32", local time."""
DATE = "%d %b %Y"
"""Days without a time: "05 Mar 2025", local time."""
SHORT_TIME = "%d %b %H:%M"
"""Times in timelines and lists: "05 Mar 14:32", local time."""

MUTED = "$text-muted"
"""The style of secondary text: labels, notes, placeholders."""

# Green for a unit that is where it should be, amber for one on the road, red for one that is
# failed or gone; grey before it is a unit at all.
STAGE_STYLES: dict[Stage, str] = {
    Stage.NOT_REGISTERED: "$text-muted",
    Stage.REGISTERED: "bold $text-primary",
    Stage.NOT_VALIDATED: "bold $text-error",
    Stage.VALIDATED: "bold $text-success",
    Stage.DISPATCHED_FROM_PLANT: "bold $text-warning",
    Stage.RECEIVED_AT_GODOWN: "bold $text-success",
    Stage.DISPATCHED_FROM_GODOWN: "bold $text-warning",
    Stage.SCRAPPED: "bold $text-error strike",
}

# The bar colour that goes with each stage (a bar needs a solid colour, not a text colour).
STAGE_BAR_STYLES: dict[Stage, str] = {
    Stage.NOT_REGISTERED: "$foreground-muted",
    Stage.REGISTERED: "$primary",
    Stage.NOT_VALIDATED: "$error",
    Stage.VALIDATED: "$success",
    Stage.DISPATCHED_FROM_PLANT: "$warning",
    Stage.RECEIVED_AT_GODOWN: "$success",
    Stage.DISPATCHED_FROM_GODOWN: "$warning",
    Stage.SCRAPPED: "$error",
}


def data_text(value: str | None, style: str = "", *, placeholder: str = "—") -> Content:
    """`value` as literal, styled text: never markup, control characters shown as symbols.

    None or "" shows a muted placeholder, so an empty field never looks like a missing row.
    """
    if not value:
        return Content.styled(placeholder, MUTED)
    return Content.styled(visible(value), style)


def as_utc(at: datetime) -> datetime:
    """`at` with a zone: the store keeps UTC, so a naive value is taken as UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def local_time(at: datetime, fmt: str = DATE_TIME) -> str:
    """`at` in the terminal's local time (naive values are UTC)."""
    return as_utc(at).astimezone().strftime(fmt)


def stage_text(stage: Stage | None, *, short: bool = False, dot: bool = False) -> Content:
    """The stage in its colour (its abbreviation when `short`; after a "●" when `dot`)."""
    if stage is None:
        return Content.styled("—", MUTED)
    label = STAGE_ABBREVIATIONS[stage] if short else stage.value
    text = Content.styled(label, STAGE_STYLES[stage])
    if dot:
        return Content.assemble(("●", STAGE_BAR_STYLES[stage]), " ", text)
    return text


def stage_abbreviation(stage: Stage | None) -> str:
    return STAGE_ABBREVIATIONS[stage] if stage is not None else "new"


def section_title(title: str, note: Content | str = "") -> Content:
    """A heading inside a portlet, with an optional muted note after it."""
    if isinstance(note, str):
        note = Content.styled(note, MUTED) if note else Content()
    if not note:
        return Content.styled(title, "bold $text-accent")
    return Content.assemble((title, "bold $text-accent"), "  ", note)


def update_static(static: Static, content: Content) -> None:
    """Show `content` in `static`: nothing when it is unchanged, and no new layout of the
    screen when it takes as many lines as before (the common case: a value replaced by
    another that also fits on one line)."""
    old = static.content
    if isinstance(old, Content) and old == content:
        return
    width = static.size.width
    before = _line_count(old, width) if isinstance(old, Content) else None
    static.update(content, layout=before is None or before != _line_count(content, width))


def _line_count(content: Content, width: int) -> int | None:
    """How many lines `content` takes at `width`, when no line wraps; None when unsure."""
    if width <= 0:
        return None
    lines = content.plain.split("\n")
    if any(cell_len(line) > width for line in lines):
        return None
    return len(lines)


class Portlet(VerticalScroll, can_focus=True):
    """A bordered, titled, focusable pane of the station screen.

    The title sits in the border; a subclass sets `TITLE` and `PORTLET_ID` (its name in
    `[ui] portlets`). A focused portlet can be maximised with `screen.maximize(portlet)` and
    restored with `screen.minimize()` (or escape). It scrolls when its content is taller than
    its cell, and carries the class `-narrow` while it is narrower than `NARROW_WIDTH`
    cells, so label/value grids stack instead of squeezing their values.
    """

    PORTLET_ID: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    NARROW_WIDTH: ClassVar[int] = 44
    ALLOW_MAXIMIZE = True

    DEFAULT_CSS = """
    Portlet {
        height: 1fr;
        width: 1fr;
        padding: 0 1;
        background: $surface;
        border: round $foreground 25%;
        border-title-color: $text-muted;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        scrollbar-size-vertical: 1;
        scrollbar-gutter: auto;

        &:focus-within {
            border: round $border;
            border-title-color: $text;
            border-subtitle-color: $text;
            background-tint: $foreground 3%;
        }
        &.-maximized {
            height: 1fr;
            width: 1fr;
        }
        & > .portlet--placeholder {
            width: 1fr;
            height: 1fr;
            content-align: center middle;
            text-align: center;
            color: $text-muted;
            text-style: italic;
        }
        &.-empty > .portlet--body {
            display: none;
        }
        &.-shown > .portlet--placeholder {
            display: none;
        }
        & .portlet--body {
            height: auto;
        }
        & .portlet--section {
            width: 1fr;
            margin-top: 1;
        }
        /* Too narrow for labels beside values: stack them. */
        &.-narrow FieldGrid {
            grid-size: 1;
            grid-columns: 1fr;
            & > .field--value {
                padding-left: 2;
            }
        }
    }
    """

    def __init__(
        self,
        *children: Widget,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(*children, name=name, id=id, classes=classes, disabled=disabled)
        self.border_title = self.TITLE
        # Site code → name, filled by the station once the database has answered.
        self.site_names: Mapping[str, str] = {}

    def site_text(self, code: str | None, name: str | None = None) -> Content:
        """ "Nagpur Godown (G2)" when the name is known (or given), else the code."""
        if not code:
            return data_text(code)
        return data_text(site_label(code, self.site_names.get(code) or name))

    @classmethod
    def create(cls, *, id: str, scanned_rows: int) -> Self:
        """One for the station screen (`scanned_rows` is `[ui] scanned_rows`, for the list)."""
        return cls(id=id)

    def names_changed(self) -> None:
        """`site_names` was filled in: redraw what names a site."""

    def show_details(self, details: DetailsLoaded) -> None:
        """Show what this portlet takes from the details read for the shown serial (or the
        station's document); portlets that show something else ignore them."""

    @property
    def takes_details(self) -> bool:
        """Whether this portlet shows anything of a details read (overrides show_details)."""
        return type(self).show_details is not Portlet.show_details

    def set_shown(self, shown: bool) -> None:
        """Show the body (`.portlet--body`) or the placeholder (`.portlet--placeholder`)."""
        self.set_class(shown, "-shown")
        self.set_class(not shown, "-empty")

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < self.NARROW_WIDTH, "-narrow")

    @staticmethod
    def placeholder(text: str) -> Static:
        """The quiet line shown while there is nothing to show."""
        return Static(Content(text), classes="portlet--placeholder")


class FieldGrid(Widget):
    """Labels and values in two columns (stacked when the portlet is narrow).

    A plain Widget with a grid layout, not a `Grid`, so app CSS for `Grid` does not reach it.

    The rows are made once; `set()` changes a value in place.
    """

    DEFAULT_CSS = """
    FieldGrid {
        layout: grid;
        grid-size: 2;
        grid-columns: auto 1fr;
        grid-rows: auto;
        grid-gutter: 0 2;
        height: auto;
        width: 1fr;

        & > .field--label {
            color: $text-muted;
        }
        & > .field--value {
            width: 1fr;
        }
    }
    """

    def __init__(
        self,
        fields: Sequence[tuple[str, str]],
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`fields`: (key, label) pairs, in display order."""
        super().__init__(id=id, classes=classes)
        self._labels = [
            Label(Content(label), classes="field--label", id=f"label-{key}")
            for key, label in fields
        ]
        self._values = {
            key: Static(Content.styled("—", MUTED), classes="field--value", id=f"value-{key}")
            for key, _ in fields
        }

    def compose(self) -> ComposeResult:
        for label, value in zip(self._labels, self._values.values(), strict=True):
            yield label
            yield value

    def set(self, key: str, value: Content) -> None:
        update_static(self._values[key], value)

    def value(self, key: str) -> Content:
        """What the field shows now."""
        content = self._values[key].content
        return content if isinstance(content, Content) else Content(str(content))


@dataclass(frozen=True, slots=True)
class Bar:
    """A horizontal bar: `value` of `total`, drawn in the width its column gets."""

    value: int
    total: int
    style: str = "$primary"

    def render(self, width: int) -> Content:
        if width <= 0:
            return Content()
        share = 0.0 if self.total <= 0 else min(1.0, max(0.0, self.value / self.total))
        eighths = round(share * width * 8)
        full, part = divmod(eighths, 8)
        if self.value > 0 and eighths == 0:
            part = 1  # anything at all shows as a sliver, not as nothing
        bar = "█" * full + (_PARTIAL_BLOCKS[part] if part and full < width else "")
        rest = width - len(bar)
        return Content.assemble((bar, self.style), ("░" * rest, "$foreground 20%"))


_PARTIAL_BLOCKS = " ▏▎▍▌▋▊▉"

Cell = Content | Bar


@dataclass(frozen=True, slots=True)
class Column:
    """How one column of a `RowTable` is sized.

    A column is as wide as its widest cell, between `min_width` and `max_width`. A `flex`
    column starts at `min_width` and takes a share (by `flex`) of the width left over, up to
    its widest cell (a column of bars has no upper limit). When the row does not fit, the
    column with the highest `drop` is hidden first (0: never hidden).
    """

    min_width: int = 1
    max_width: int | None = None
    flex: int = 0
    align: Literal["left", "right"] = "left"
    drop: int = 0


class RowTable(Widget):
    """One-line rows in columns that fit the width the widget gets; cells are cropped with an
    ellipsis. Cheaper than a DataTable for a few dozen rows, and it re-flows on resize."""

    DEFAULT_CSS = """
    RowTable {
        height: auto;
        width: 1fr;
    }
    """

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        gap: int = 2,
        empty: str = "",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.columns = tuple(columns)
        self.gap = gap
        self.empty = empty
        self._rows: list[tuple[Cell, ...]] = []

    @property
    def rows(self) -> Sequence[tuple[Cell, ...]]:
        return self._rows

    def set_rows(self, rows: Iterable[Sequence[Cell]]) -> None:
        new_rows = [tuple(row) for row in rows]
        if new_rows == self._rows:
            return
        resized = len(new_rows) != len(self._rows)
        self._rows = new_rows
        self.refresh(layout=resized)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._rows) or (1 if self.empty else 0)

    def render(self) -> Content:
        return Content("\n").join(self.lines(self.size.width))

    def lines(self, width: int) -> list[Content]:
        """The rows laid out in `width` cells."""
        if not self._rows:
            return [Content.styled(self.empty, MUTED)] if self.empty else []
        shown, widths = self._layout(width)
        gap = " " * self.gap
        lines = []
        for row in self._rows:
            parts = [_fit(row[index], widths[index], self.columns[index].align) for index in shown]
            line = Content(gap).join(parts).rstrip()
            lines.append(line.truncate(width, ellipsis=True) if width > 0 else line)
        return lines

    def _layout(self, width: int) -> tuple[list[int], dict[int, int]]:
        natural: dict[int, int] = {}
        caps: dict[int, int | None] = {}
        for index, column in enumerate(self.columns):
            cells = [row[index] for row in self._rows if index < len(row)]
            has_bar = any(isinstance(cell, Bar) for cell in cells)
            content = max(
                (cell.cell_length for cell in cells if isinstance(cell, Content)), default=0
            )
            cap = (
                column.max_width if column.max_width is not None else (None if has_bar else content)
            )
            if column.flex:
                natural[index] = column.min_width
                caps[index] = cap
            else:
                wanted = max(column.min_width, content)
                natural[index] = wanted if cap is None else min(wanted, max(cap, column.min_width))
                caps[index] = natural[index]

        shown = list(range(len(self.columns)))

        def needed() -> int:
            return sum(natural[index] for index in shown) + self.gap * max(0, len(shown) - 1)

        while needed() > width:
            droppable = [index for index in shown if self.columns[index].drop > 0]
            if not droppable:
                break
            shown.remove(max(droppable, key=lambda index: self.columns[index].drop))

        widths = {index: natural[index] for index in shown}
        spare = width - needed()
        growing = [index for index in shown if self.columns[index].flex]
        while spare > 0 and growing:
            total_flex = sum(self.columns[index].flex for index in growing)
            given = 0
            for index in list(growing):
                share = max(1, spare * self.columns[index].flex // total_flex)
                cap = caps[index]
                room = share if cap is None else min(share, cap - widths[index])
                room = min(room, spare - given)
                if room > 0:
                    widths[index] += room
                    given += room
                if cap is not None and widths[index] >= cap:
                    growing.remove(index)
            if given == 0:
                break
            spare -= given
        return shown, widths


def _fit(cell: Cell, width: int, align: Literal["left", "right"]) -> Content:
    if isinstance(cell, Bar):
        return cell.render(width)
    if cell.cell_length > width:
        return cell.truncate(width, ellipsis=True)
    padding = width - cell.cell_length
    return cell.pad_left(padding) if align == "right" else cell.pad_right(padding)
