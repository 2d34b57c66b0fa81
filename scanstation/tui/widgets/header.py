"""The header line: which station this is, where, in what mode, for whom, against which
document, the camera's state once it has been used, whether the database is saving, and the
time.

One line at any width: when everything does not fit, parts go in a fixed order — the station
id first, then the operator, the clock, the site's name (its code stays), the camera, the
reason, the site, the database state's detail — so the mode and the document stay longest
(80×24 keeps both; 40×12 keeps the mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from textual.content import Content
from textual.widgets import Static

from scanstation.domain.text import visible

__all__ = ["HeaderState", "StationHeader"]

DB_STYLES: dict[str, str] = {
    "ok": "bold $text-success",
    "opening": "$text-muted",
    "not_saved": "bold $text-error",
    "failed": "bold $text-error",
    "offline": "bold $text-warning",  # scans go to the offline journal
}

SEPARATOR = " · "
# What goes first when the line is too narrow; the mode, the document and the database
# state are never dropped (the document and the database state are shortened last).
DROP_ORDER = (
    "station",
    "clock",
    "site_name",
    "operator",
    "camera",
    "reason",
    "site",
    "db_detail",  # "db ok (sqlite)" → "db ok"
)


@dataclass(frozen=True, slots=True)
class HeaderState:
    station: str = ""
    site: str = ""
    site_name: str = ""
    mode: str = ""
    operator: str = ""
    who: str = ""  # with people: who is signed in, or why nobody is ("" : the operator name)
    document: str | None = None
    reason: str | None = None
    db: str = "opening"  # a DB_STYLES key
    db_text: str = "db opening…"


class StationHeader(Static):
    """One line: the station's identity on the left, the camera, the database state and the
    clock on the right."""

    DEFAULT_CSS: ClassVar[str] = """
    StationHeader {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, *, clock_text: str | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = HeaderState()
        self.clock = ""
        self._fixed_clock = clock_text  # tests and screenshots: a clock that never moves
        self.camera: tuple[str, str] = ("", "")  # (text, style); no text: never started
        self.dropped: tuple[str, ...] = ()  # what the width left out, for tests

    def on_mount(self) -> None:
        self._tick_clock()
        self._paint()
        if self._fixed_clock is None:
            self.set_interval(1.0, self._tick_clock)

    def on_resize(self) -> None:
        self._paint()

    def set_state(self, state: HeaderState) -> None:
        if state != self.state:
            self.state = state
            self._paint()

    def set_camera(self, text: str, style: str = "") -> None:
        """The camera's state ("cam running at 30 fps"); "" hides it."""
        if (text, style) != self.camera:
            self.camera = (text, style)
            self._paint()

    def set_clock(self, text: str) -> None:
        if text != self.clock:
            self.clock = text
            self._paint()

    def _tick_clock(self) -> None:
        fixed = self._fixed_clock
        self.set_clock(datetime.now().strftime("%H:%M:%S") if fixed is None else fixed)

    def _parts(self, dropped: set[str]) -> tuple[list[Content], list[Content]]:
        state = self.state
        left: list[Content] = []
        if "station" not in dropped:
            left.append(Content.styled(visible(state.station), "bold"))
        if "site" not in dropped:
            site = visible(state.site)
            if state.site_name and "site_name" not in dropped:
                site = f"{visible(state.site_name)} ({site})"
            left.append(Content(site))
        left.append(Content.styled(state.mode.upper(), "bold $text-accent"))
        if state.who and "operator" not in dropped:
            left.append(Content.styled(visible(state.who), "bold"))
        elif "operator" not in dropped:
            left.append(Content(f"operator {visible(state.operator)}"))
        if state.document:
            left.append(Content.assemble((visible(state.document), "bold"), " open"))
        if state.reason and "reason" not in dropped:
            left.append(Content(f"reason: {visible(state.reason)}"))
        right: list[Content] = []
        camera_text, camera_style = self.camera
        if camera_text and "camera" not in dropped:
            right.append(Content.styled(camera_text, camera_style))
        db_text = visible(state.db_text)
        if "db_detail" in dropped:
            db_text = db_text.split(" · ")[0].split(" (")[0]
        right.append(Content.styled(db_text, DB_STYLES.get(state.db, "")))
        if self.clock and "clock" not in dropped:
            right.append(Content(self.clock))
        return left, right

    def line(self, width: int) -> Content:
        """The header for `width` cells, dropping parts in DROP_ORDER until it fits."""
        dropped: set[str] = set()
        for next_drop in (*DROP_ORDER, None):
            left, right = self._parts(dropped)
            left_text = Content(SEPARATOR).join(left)
            right_text = Content(SEPARATOR).join(right)
            room = width - left_text.cell_length - right_text.cell_length
            if room >= 2 or next_drop is None:
                break
            dropped.add(next_drop)
        self.dropped = tuple(name for name in DROP_ORDER if name in dropped)
        if room >= 2:
            return Content.assemble(left_text, " " * room, right_text)
        # Still too narrow: the mode and the document first, the database state after them.
        return Content.assemble(left_text, "  ", right_text)

    def _paint(self) -> None:
        width = self.content_region.width or self.size.width or 80
        self.update(self.line(width), layout=False)  # width 1fr, height 1

    @property
    def text(self) -> str:
        return str(self.content)
