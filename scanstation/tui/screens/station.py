"""The station screen: header, banner, the manual entry field, the portlets and the footer.

At 120×40 and larger every configured portlet sits in a grid; on a handheld's 80×24 the
banner and the scanned list stay and one other portlet shows below them, switched with F6.
Any portlet can be maximised (F7) and restored (F7 or Escape). The screen only lays out and
shows; the app owns the station's state, the capture and the worker.
"""

from __future__ import annotations

import importlib
import logging
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Label

from scanstation.tui.widgets.banner import Banner
from scanstation.tui.widgets.header import StationHeader
from scanstation.tui.widgets.portlet import Portlet

__all__ = ["PORTLET_MODULES", "StationScreen"]

_log = logging.getLogger(__name__)

# [ui] portlets name → the module holding the Portlet subclass with that PORTLET_ID.
PORTLET_MODULES: dict[str, str] = {
    "scanned": "scanstation.tui.widgets.scanned",
    "serial_detail": "scanstation.tui.widgets.serial_detail",
    "item_detail": "scanstation.tui.widgets.item_detail",
    "invoice": "scanstation.tui.widgets.invoice",
    "activity": "scanstation.tui.widgets.activity",
    "camera": "scanstation.tui.widgets.camera",
}

# The grid needs room for every portlet; below this the handheld layout is used. A little
# under 120×40 so that a 120×40 terminal with a status line (tmux, screen) still gets it.
WIDE_MIN_WIDTH = 110
WIDE_MIN_HEIGHT = 34


def portlet_class(portlet_id: str) -> type[Portlet] | None:
    module_name = PORTLET_MODULES.get(portlet_id)
    if module_name is None:
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        _log.warning("portlet %s is not available", portlet_id)
        return None
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, Portlet)
            and getattr(value, "PORTLET_ID", "") == portlet_id
        ):
            return value
    return None


class _StationFooter(Footer):
    """The stock Footer rebuilds all its keys on every bindings signal; the station signals
    after every scan (and the portlets do when they change), so rebuild only on a change."""

    _shown: tuple[tuple[str, str, bool], ...] | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        if not (screen.app.app_focus and self.is_attached and screen is self.screen):
            super().bindings_changed(screen)  # nothing is rebuilt in these cases
            return
        shown = tuple(
            (key, active.binding.description, active.enabled)
            for key, active in screen.active_bindings.items()
            if active.binding.show
        )
        if shown != self._shown:
            self._shown = shown
            super().bindings_changed(screen)


class StationScreen(Screen[None]):
    """The one screen a station shows all day."""

    AUTO_FOCUS = None  # the app focuses the scanned list once it is mounted

    # Footer text is short (80 columns); the tooltip is what F1 shows.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "app.help", "Help", tooltip="This list of keys"),
        Binding("f2", "app.pick_mode", "Mode", tooltip="Scan mode (asks what the mode needs)"),
        Binding(
            "f3", "app.pick_document", "Document", tooltip="Pick, create or clear the document"
        ),
        Binding(
            "f4",
            "app.close_document",
            "Close doc",
            tooltip="Close the document (a shortfall asks why)",
        ),
        Binding(
            "f5", "app.toggle_camera", "Camera", tooltip="Start / stop the camera as a scanner"
        ),
        Binding("f6", "next_portlet", "Pane", tooltip="Next portlet (80×24: switch the one shown)"),
        Binding("shift+f6", "previous_portlet", "Previous pane", show=False),
        Binding("f7", "toggle_maximise", "Maximise", tooltip="Maximise / restore the portlet"),
        Binding("f8", "app.comment", "Comment", tooltip="Comment on the shown serial"),
        Binding("f9", "app.retry", "Retry", tooltip="Retry NOT SAVED scans now"),
        Binding(
            "ctrl+o",
            "app.override",
            "Override",
            tooltip="Receive a refused serial here, with a reason",
        ),
        Binding("slash", "focus_manual", "Type a code", show=False),
        Binding("escape", "leave_manual", "Back to the list", show=False),
    ]

    def __init__(self, portlet_ids: list[str], *, scanned_rows: int = 200) -> None:
        super().__init__(id="station")
        self.header = StationHeader(id="header")
        self.banner = Banner(id="banner")
        self.manual = Input(
            placeholder="type a serial by hand, then Enter (scans need no click here)",
            id="manual",
            compact=True,
            max_length=4096,
        )
        self.portlets: list[Portlet] = []
        for portlet_id in portlet_ids:
            cls = portlet_class(portlet_id)
            if cls is None:
                continue
            try:
                widget = (
                    cls(limit=scanned_rows, id=f"portlet-{portlet_id}")  # type: ignore[call-arg]
                    if portlet_id == "scanned"
                    else cls(id=f"portlet-{portlet_id}")
                )
            except TypeError:
                _log.warning("portlet %s cannot be made here", portlet_id)
                continue
            widget.add_class("portlet")
            self.portlets.append(widget)
        self.others = [p for p in self.portlets if p.PORTLET_ID != "scanned"]
        self.current = 0  # which of `others` the handheld layout shows
        self.wide = False

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.banner
        with Horizontal(id="manual-row"):
            yield Label(Content("Manual entry ›"), id="manual-label")
            yield self.manual
        with Container(id="portlets"):
            yield from self.portlets
        yield _StationFooter()

    def portlet(self, portlet_id: str) -> Portlet | None:
        return next((p for p in self.portlets if portlet_id == p.PORTLET_ID), None)

    def on_mount(self) -> None:
        self._apply_layout(self.size.width, self.size.height)
        first = self.portlet("scanned") or (self.portlets[0] if self.portlets else None)
        if first is not None:
            first.focus()
        else:
            self.manual.focus()

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        wide = width >= WIDE_MIN_WIDTH and height >= WIDE_MIN_HEIGHT
        self.wide = wide
        box = self.query_one("#portlets", Container)
        box.set_class(wide, "-wide")
        box.set_class(not wide, "-narrow")
        self.banner.set_class(wide, "-roomy")
        footer = self.query_one(_StationFooter)
        footer.compact = width < 100
        footer.show_command_palette = width >= 100
        count = len(self.portlets)
        if wide and count:
            columns = 1 if count == 1 else 2
            # An odd count: the first portlet (the scanned list by default) takes two rows.
            span_first = count % 2 == 1 and count > 1
            rows = (count + (1 if span_first else 0)) // columns
            box.styles.grid_size_columns = columns
            box.styles.grid_size_rows = rows
            box.styles.grid_columns = "3fr 2fr" if columns == 2 else "1fr"
            for index, portlet in enumerate(self.portlets):
                portlet.styles.row_span = 2 if index == 0 and span_first else 1
        else:
            for portlet in self.portlets:
                portlet.styles.row_span = 1
        self._show_current()

    def _show_current(self) -> None:
        for index, portlet in enumerate(self.others):
            portlet.set_class(index == self.current, "-current")
        self.refresh_bindings()

    # -- actions ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next_portlet", "previous_portlet"):
            return True if len(self.portlets) > 1 else None
        return True

    def action_next_portlet(self) -> None:
        self._step_portlet(1)

    def action_previous_portlet(self) -> None:
        self._step_portlet(-1)

    def _step_portlet(self, step: int) -> None:
        if self.maximized is not None:
            self.minimize()
        if self.wide:
            # All are shown: move the focus along them.
            focused = self._focused_portlet()
            index = self.portlets.index(focused) if focused in self.portlets else -1
            target = self.portlets[(index + step) % len(self.portlets)]
            target.focus()
            return
        if not self.others:
            return
        self.current = (self.current + step) % len(self.others)
        self._show_current()
        self.others[self.current].focus()

    def add_portlet(self, portlet: Portlet) -> None:
        """Add a portlet the config did not name (the camera's, once the camera is started)."""
        if self.portlet(portlet.PORTLET_ID) is not None:
            return
        portlet.add_class("portlet")
        self.portlets.append(portlet)
        self.others.append(portlet)
        self.query_one("#portlets", Container).mount(portlet)
        self._apply_layout(self.size.width, self.size.height)

    def show_portlet(self, portlet_id: str) -> None:
        """Bring a portlet into view (the handheld layout shows one at a time)."""
        for index, portlet in enumerate(self.others):
            if portlet_id == portlet.PORTLET_ID:
                self.current = index
                self._show_current()

    def _focused_portlet(self) -> Portlet | None:
        node: Widget | None = self.focused
        while node is not None and not isinstance(node, Portlet):
            parent = node.parent
            node = parent if isinstance(parent, Widget) else None
        return node

    def action_toggle_maximise(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        target = self._focused_portlet()
        if target is None:
            target = (
                self.others[self.current]
                if not self.wide and self.others
                else self.portlet("scanned")
            )
        if target is not None:
            self.maximize(target, container=False)
            target.focus()

    def action_focus_manual(self) -> None:
        self.manual.focus()

    def action_leave_manual(self) -> None:
        if self.focused is self.manual:
            target = self.portlet("scanned") or (self.portlets[0] if self.portlets else None)
            if target is not None:
                target.focus()
