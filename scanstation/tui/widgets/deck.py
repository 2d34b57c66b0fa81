"""The portlets of the station screen and how they are laid out.

At 120×40 and larger every configured portlet sits in a grid; on a handheld's 80×24 the
scanned list stays and one other portlet shows below it, switched with F6; F7 lets one take
the deck's whole room. The deck makes the portlets named in `[ui] portlets`, lays them out
for the screen's size, steps through them, and finds one by its class (typed: no string ids,
no casts).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, TypeVar

from textual.containers import Container
from textual.widget import Widget

from scanstation.tui.widgets.portlet import Portlet

if TYPE_CHECKING:
    from scanstation.domain.model import SiteView
    from scanstation.tui.messages import DetailsLoaded

__all__ = ["PORTLET_MODULES", "PortletDeck", "portlet_class"]

_log = logging.getLogger(__name__)

PortletT = TypeVar("PortletT", bound=Portlet)

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


def make_portlets(portlet_ids: list[str], *, scanned_rows: int) -> list[Portlet]:
    """The portlets `[ui] portlets` names, in its order; unknown names are skipped."""
    portlets: list[Portlet] = []
    for portlet_id in portlet_ids:
        cls = portlet_class(portlet_id)
        if cls is None:
            continue
        try:
            widget = cls.create(id=f"portlet-{portlet_id}", scanned_rows=scanned_rows)
        except TypeError:
            _log.warning("portlet %s cannot be made here", portlet_id)
            continue
        portlets.append(widget)
    return portlets


class PortletDeck(Container):
    """The portlets, in a grid (wide) or one beside the scanned list (narrow)."""

    def __init__(self, portlets: list[Portlet], *, id: str | None = None) -> None:
        super().__init__(*portlets, id=id)
        self.site_names: dict[str, str] = {}  # every site's name by code, once read
        for portlet in portlets:
            portlet.add_class("portlet")
            portlet.site_names = self.site_names
        self.portlets = list(portlets)
        self.others = [p for p in portlets if p.PORTLET_ID != "scanned"]
        self.current = 0  # which of `others` the handheld layout shows
        self.wide = False
        self.maximised: Portlet | None = None
        self._details: DetailsLoaded | None = None  # the newest read, being applied
        self._to_show: list[Portlet] = []  # the portlets yet to take it
        self._showing = False  # a portlet's turn is scheduled

    def find(self, cls: type[PortletT]) -> PortletT | None:
        """The portlet of this class, if the station shows one."""
        return next((p for p in self.portlets if isinstance(p, cls)), None)

    def portlet(self, portlet_id: str) -> Portlet | None:
        return next((p for p in self.portlets if portlet_id == p.PORTLET_ID), None)

    @property
    def home(self) -> Portlet | None:
        """Where the focus rests: the scanned list, or the first portlet."""
        return self.portlet("scanned") or (self.portlets[0] if self.portlets else None)

    def apply_layout(self, width: int, height: int) -> None:
        wide = width >= WIDE_MIN_WIDTH and height >= WIDE_MIN_HEIGHT
        self.wide = wide
        self.set_class(wide, "-wide")
        self.set_class(not wide, "-narrow")
        count = len(self.portlets)
        if wide and count:
            columns = 1 if count == 1 else 2
            # An odd count: the first portlet (the scanned list by default) takes two rows.
            span_first = count % 2 == 1 and count > 1
            rows = (count + (1 if span_first else 0)) // columns
            self.styles.grid_size_columns = columns
            self.styles.grid_size_rows = rows
            self.styles.grid_columns = "3fr 2fr" if columns == 2 else "1fr"
            for index, portlet in enumerate(self.portlets):
                portlet.styles.row_span = 2 if index == 0 and span_first else 1
        else:
            for portlet in self.portlets:
                portlet.styles.row_span = 1
        self._show_current()

    def _show_current(self) -> None:
        for index, portlet in enumerate(self.others):
            portlet.set_class(index == self.current, "-current")

    def step(self, step: int, focused: Widget | None) -> None:
        """F6 / shift+F6 from the `focused` widget, restoring a maximised portlet first. Wide:
        move the focus along the portlets. Narrow: show the next one and focus it."""
        self.restore()
        focused = self.portlet_of(focused)
        if self.wide:
            index = self.portlets.index(focused) if focused in self.portlets else -1
            self.portlets[(index + step) % len(self.portlets)].focus()
            return
        if not self.others:
            return
        self.current = (self.current + step) % len(self.others)
        self._show_current()
        self.others[self.current].focus()

    def add(self, portlet: Portlet) -> None:
        """Add a portlet the config did not name (the camera's, once the camera is started)."""
        if self.portlet(portlet.PORTLET_ID) is not None:
            return
        portlet.add_class("portlet")
        portlet.site_names = self.site_names
        self.portlets.append(portlet)
        self.others.append(portlet)
        self.mount(portlet)

    def name_sites(self, sites: list[SiteView]) -> None:
        """The portlets name sites beside their codes from now on."""
        self.site_names.update({site.code: site.name for site in sites})
        for portlet in self.portlets:
            portlet.names_changed()

    def bring(self, portlet_id: str) -> None:
        """Bring a portlet into view (the handheld layout shows one at a time)."""
        for index, portlet in enumerate(self.others):
            if portlet_id == portlet.PORTLET_ID:
                self.current = index
                self._show_current()

    def maximise(self, portlet: Portlet) -> None:
        """`portlet` alone takes the deck's room (F7). Unlike Textual's maximize, the rest of
        the screen (header, banner) stays."""
        self.restore()
        self.maximised = portlet
        portlet.add_class("-max")
        self.add_class("-maximised")

    def toggle_maximise(self, focused: Widget | None) -> None:
        """F7: the portlet `focused` sits in (or the one shown) takes the deck's room, or the
        maximised one gives it back."""
        if self.maximised is not None:
            self.restore()
            return
        target = self.portlet_of(focused) or self.shown_one()
        if target is not None:
            self.maximise(target)
            target.focus()

    def show_details(self, message: DetailsLoaded) -> None:
        """Each portlet takes what it shows from a details read, one portlet a frame.

        Applying a read to all four portlets and drawing them at once held the main thread
        10-20 ms, which a scan arriving mid-burst waited out; one at a time, a scan waits for
        one portlet at most. A newer read supersedes one half applied: every portlet takes
        the newest (those already showing it skip it), so all end on the same serial.
        """
        self._details = message
        self._to_show = [p for p in self.portlets if p.takes_details]
        if not self._showing:
            self._showing = True
            self._show_next()

    def _show_next(self) -> None:
        if not self._to_show or self._details is None or not self.is_attached:
            self._showing = False
            return
        self._to_show.pop(0).show_details(self._details)
        if self._to_show:
            # After the next frame: keys that came meanwhile are answered before the next one.
            self.call_after_refresh(self._show_next)
        else:
            self._showing = False

    def restore(self) -> None:
        if self.maximised is not None:
            self.maximised.remove_class("-max")
            self.maximised = None
            self.remove_class("-maximised")

    def shown_one(self) -> Portlet | None:
        """The portlet to maximise when none has the focus."""
        if not self.wide and self.others:
            return self.others[self.current]
        return self.portlet("scanned")

    @staticmethod
    def portlet_of(widget: Widget | None) -> Portlet | None:
        """The portlet `widget` sits in (itself, if it is one)."""
        node = widget
        while node is not None and not isinstance(node, Portlet):
            parent = node.parent
            node = parent if isinstance(parent, Widget) else None
        return node
