"""The header line: which station this is, where, in what mode, for whom, against which
document, the camera's state once it has been used, whether the database is saving, and the
time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from scanstation.domain.codes import visible

__all__ = ["HeaderState", "StationHeader"]

DB_STYLES: dict[str, str] = {
    "ok": "bold $text-success",
    "opening": "$text-muted",
    "not_saved": "bold $text-error",
    "failed": "bold $text-error",
    "offline": "bold $text-warning",  # scans go to the offline journal
}


@dataclass(frozen=True, slots=True)
class HeaderState:
    station: str = ""
    site: str = ""
    site_name: str = ""
    mode: str = ""
    operator: str = ""
    document: str | None = None
    reason: str | None = None
    db: str = "opening"  # a DB_STYLES key
    db_text: str = "db opening…"


class StationHeader(Horizontal):
    """One line: the station's identity on the left (cut with an ellipsis when narrow), the
    database state and the clock on the right (always shown)."""

    DEFAULT_CSS: ClassVar[str] = """
    StationHeader {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text;
        & > #header-left {
            width: 1fr;
            height: 1;
            text-wrap: nowrap;
            text-overflow: ellipsis;
            padding: 0 1;
        }
        & > #header-right {
            width: auto;
            height: 1;
            padding: 0 1;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = HeaderState()
        self.clock = ""
        self.camera: tuple[str, str] = ("", "")  # (text, style); no text: never started
        self._right_width = 0
        self._left = Static(id="header-left")
        self._right = Static(id="header-right")

    def compose(self) -> ComposeResult:
        yield self._left
        yield self._right

    def on_mount(self) -> None:
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

    def _paint(self) -> None:
        state = self.state
        site = visible(state.site)
        if state.site_name:
            site = f"{visible(state.site_name)} ({site})"
        parts: list[Content | tuple[str, str] | str] = [
            (visible(state.station), "bold"),
            " · ",
            site,
            " · ",
            (state.mode.upper(), "bold $text-accent"),
            " · ",
            f"operator {visible(state.operator)}",
        ]
        if state.document:
            parts += [" · ", (visible(state.document), "bold"), " open"]
        if state.reason:
            parts += [" · reason: ", visible(state.reason)]
        self._left.update(Content.assemble(*parts), layout=False)  # width 1fr, height 1
        camera_text, camera_style = self.camera
        right = Content.assemble(
            (camera_text, camera_style),
            " · " if camera_text else "",
            (visible(state.db_text), DB_STYLES.get(state.db, "")),
            " · " if self.clock else "",
            self.clock,
        )
        # Its width follows its text: lay out only when that changes (not every second).
        self._right.update(right, layout=right.cell_length != self._right_width)
        self._right_width = right.cell_length

    @property
    def text(self) -> str:
        return f"{self._left.content} {self._right.content}"
