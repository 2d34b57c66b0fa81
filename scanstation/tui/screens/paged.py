"""A search box over a table that pages from the database: what Find and Documents share.

A page is as many rows as the table shows; PageDown reads the next page after the last key
shown (keyset pagination: one short query on an index however deep), PageUp goes back to
where the previous page started. Enter on a row closes the screen with that row's value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from scanstation.domain.text import visible
from scanstation.tui.screens.dialog import StationDialog
from scanstation.tui.supervisor import StationSource, read_then

if TYPE_CHECKING:
    from scanstation.station import Station

__all__ = ["Page", "PagedScreen"]

KeyT = TypeVar("KeyT")
SEARCH_DELAY_S = 0.3  # typing: the search runs once the keys pause this long


@dataclass(frozen=True, slots=True)
class Page(Generic[KeyT]):
    rows: list[tuple[str, Sequence[str | Text]]]  # (the value Enter gives, cells)
    last_key: KeyT | None  # where the next page starts after
    full: bool  # as many rows as asked for: there may be more


class PageTable(DataTable[Any]):
    """A table that says when its height changed (the page follows what it shows)."""

    class Resized(Message):
        pass

    def on_resize(self, event: events.Resize) -> None:
        self.post_message(self.Resized())


class PagedScreen(StationDialog[str | None], Generic[KeyT]):
    """Subclasses give the title, the columns, how the box's text becomes a query and how a
    page is read."""

    TITLE_TEXT: ClassVar[str] = ""
    HINT: ClassVar[str] = ""
    PLACEHOLDER: ClassVar[str] = ""
    GROUP: ClassVar[str] = "paged"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("pagedown", "next_page", "Next page", priority=True),
        Binding("pageup", "previous_page", "Previous page", priority=True),
        Binding("down", "to_table", "Rows", show=False),
        Binding("slash", "to_search", "Search", show=False),
    ]

    DEFAULT_CSS: ClassVar[str] = """
    PagedScreen {
        align: center top;
        & > #paged-box {
            width: 100%;
            height: 1fr;
            padding: 0 1;
            border: thick $accent;
            background: $surface;
        }
        #paged-title { text-style: bold; width: 1fr; }
        #paged-hint, #paged-status { color: $text-muted; width: 1fr; height: auto; }
        #paged-query { margin: 0; }
        #paged-table { height: 1fr; }
    }
    """

    def __init__(self, station: StationSource) -> None:
        super().__init__()
        self.station = station
        self.query_box = Input(placeholder=self.PLACEHOLDER, id="paged-query", compact=True)
        self.table = PageTable(id="paged-table", cursor_type="row")
        self.status = Static("", id="paged-status", markup=False)
        self.hint = Static(self.HINT, id="paged-hint", markup=False)
        self._starts: list[KeyT | None] = []  # where each page before this one started
        self._start: KeyT | None = None  # where this page starts after
        self._page: Page[KeyT] | None = None
        self._criteria: Any = None
        self._timer: Any = None

    def compose(self) -> ComposeResult:
        with Vertical(id="paged-box"):
            yield Static(self.TITLE_TEXT, id="paged-title", markup=False)
            yield self.waiting
            yield self.query_box
            yield self.hint
            yield self.table
            yield self.status

    def on_mount(self) -> None:
        self.prepare()
        for label, width in self.columns():
            self.table.add_column(label, width=width)
        self.query_box.focus()
        self.call_after_refresh(self.search)  # once laid out: a page is what the table shows

    # -- what a subclass gives ------------------------------------------------------------------

    def prepare(self) -> None:
        """Read what `fetch` needs from the UI (it runs on a reader thread)."""

    def columns(self) -> list[tuple[str, int | None]]:
        raise NotImplementedError

    def criteria(self, text: str) -> Any:
        """The query the box's text asks for; ValueError with a sentence when it cannot be."""
        raise NotImplementedError

    def fetch(self, door: Station, criteria: Any, after: KeyT | None, limit: int) -> Page[KeyT]:
        """One page (on a reader thread)."""
        raise NotImplementedError

    # -- searching and paging -------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(SEARCH_DELAY_S, self.search)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.search():
            self.table.focus()

    def search(self) -> bool:
        """Read the first page of what the box asks for; False (said why) when it cannot."""
        try:
            self._criteria = self.criteria(self.query_box.value)
        except ValueError as error:
            self._failed(str(error))
            return False
        self._starts = []
        self._load(None)
        return True

    def search_for(self, criteria: Any, shown: str) -> None:
        """Read the first page of `criteria`, made elsewhere than the box (a scan); the box
        shows `shown` and is not read again until it is edited."""
        if self._timer is not None:
            self._timer.stop()
        with self.query_box.prevent(Input.Changed):
            self.query_box.value = shown
        self._criteria = criteria
        self._starts = []
        self._load(None)

    def page_size(self) -> int:
        return max(5, self.table.size.height - 1)  # less the header row

    def _load(self, start: KeyT | None) -> None:
        criteria, limit = self._criteria, self.page_size()
        self.status.update("Reading…")
        read_then(
            self,
            self.station,
            lambda door: self.fetch(door, criteria, start, limit),
            lambda page: self._show(start, page, limit),
            self._failed,
            group=self.GROUP,
        )

    def _show(self, start: KeyT | None, page: Page[KeyT], limit: int) -> None:
        self._start, self._page = start, page
        self.table.clear()
        for value, cells in page.rows:
            self.table.add_row(*cells, key=value)
        number = len(self._starts) + 1
        more = "PgDn: next page" if page.full else "the last page"
        back = " · PgUp: previous" if self._starts else ""
        shown = f"{len(page.rows)} row(s)" if page.rows else "Nothing found"
        self.status.update(f"Page {number} · {shown} · {more}{back} · Enter: open · Esc: close")
        if limit != self.page_size():  # the table was resized while this page was read
            self._fit()

    def _failed(self, sentence: str) -> None:
        self.table.clear()  # nothing shown is what was asked for
        self._page = None
        self.status.update(visible(sentence))
        self.query_box.focus()

    def action_next_page(self) -> None:
        page = self._page
        if page is not None and page.full and page.last_key is not None:
            self._starts.append(self._start)
            self._load(page.last_key)

    def action_previous_page(self) -> None:
        if self._starts:
            self._load(self._starts.pop())

    def action_to_table(self) -> None:
        self.table.focus()

    def action_to_search(self) -> None:
        self.query_box.focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.dismiss(str(event.row_key.value))

    def on_page_table_resized(self, event: PageTable.Resized) -> None:
        """The table shows more or fewer rows now: read this page again at its new size."""
        self._fit()

    def _fit(self) -> None:
        page = self._page
        size = self.page_size()
        if page is not None and (len(page.rows) > size or (page.full and len(page.rows) < size)):
            self._load(self._start)
