"""The station's actions, once: their keys (the screen's bindings and the footer), what F1
says about them, and how the command palette names them. One table, so the three never drift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.app import SystemCommand
from textual.binding import Binding

from scanstation.tui.screens.mode_picker import available_modes, mode_summary

if TYPE_CHECKING:
    from scanstation.tui.screens.station import StationScreen

__all__ = ["STATION_ACTIONS", "StationAction", "palette_commands", "station_bindings"]


@dataclass(frozen=True, slots=True)
class StationAction:
    action: str  # an action of the station screen (`action_<name>`)
    key: str
    label: str  # the footer's word (80 columns: short)
    help: str  # what F1 says, and the palette's line under the title
    palette: str = ""  # the palette's title; "" keeps it out of the palette
    show: bool = True  # in the footer
    palette_on: str = ""  # the palette's title while what it toggles is on

    def palette_title(self, on: bool) -> str:
        return self.palette_on if on and self.palette_on else self.palette

    def binding(self) -> Binding:
        return Binding(self.key, self.action, self.label, show=self.show, tooltip=self.help)


STATION_ACTIONS: tuple[StationAction, ...] = (
    StationAction("help", "f1", "Help", "This list of keys", "Help: keys"),
    StationAction("pick_mode", "f2", "Mode", "Scan mode (asks what the mode needs)", "Mode: pick"),
    StationAction(
        "pick_document",
        "f3",
        "Document",
        "Pick, create or clear the document",
        "Document: pick or create",
    ),
    StationAction(
        "close_document",
        "f4",
        "Close doc",
        "Close the document (a shortfall asks why)",
        "Document: close",
    ),
    StationAction(
        "reopen_document",
        "shift+f4",
        "Reopen doc",
        "Reopen a closed document (asks why)",
        "Document: reopen a closed one",
        show=False,
    ),
    StationAction(
        "void",
        "ctrl+z",
        "Void",
        "Void the scan selected in the scanned list (your own, within the void window)",
        "Void the selected scan",
        show=False,
    ),
    StationAction(
        "toggle_camera",
        "f5",
        "Camera",
        "Start / stop the camera as a scanner",
        "Camera: start",
        palette_on="Camera: stop",
    ),
    StationAction(
        "next_portlet", "f6", "Pane", "Next portlet (80×24: switch the one shown)", "Pane: next"
    ),
    StationAction("previous_portlet", "shift+f6", "Previous pane", "Previous portlet", show=False),
    StationAction(
        "toggle_maximise",
        "f7",
        "Maximise",
        "Maximise / restore the portlet",
        "Pane: maximise / restore",
    ),
    StationAction(
        "comment", "f8", "Comment", "Comment on the shown serial", "Comment on the shown serial"
    ),
    StationAction(
        "print_labels",
        "ctrl+l",
        "Print label",
        "Print the shown serial's label on [labels] printer",
        "Print the shown serial's label",
        show=False,
    ),
    StationAction(
        "print_run",
        "ctrl+g",
        "Print run",
        "Print every label of the shown serial's generation run (a supervisor's reprint)",
        "Print the shown serial's generation run",
        show=False,
    ),
    StationAction("retry", "f9", "Retry", "Retry NOT SAVED scans now", "Retry unsaved scans now"),
    StationAction(
        "override",
        "ctrl+o",
        "Override",
        "Receive a refused serial here, with a reason",
        "Override: receive here",
    ),
    StationAction(
        "refused",
        "ctrl+r",
        "Refused scans",
        "Scans saved offline that the rules refused on replay (the journal)",
        "Journal: refused scans",
        show=False,
    ),
    StationAction(
        "find",
        "ctrl+f",
        "Find",
        "Find serials by serial, QR, SKU, stage, site, document, date",
        "Supervisor: find serials",
        show=False,
    ),
    StationAction(
        "overview",
        "ctrl+e",
        "Overview",
        "Where everything stands: stages, scans, transit, aging, exceptions",
        "Supervisor: overview",
        show=False,
    ),
    StationAction(
        "documents",
        "ctrl+k",
        "Documents",
        "Every document with its progress; open one",
        "Supervisor: documents",
        show=False,
    ),
    StationAction(
        "sign_out", "f12", "Sign out", "Sign out now (the next person signs in)", "Sign out"
    ),
    StationAction("focus_manual", "slash", "Type a code", "Type a code by hand", show=False),
    StationAction("leave_manual", "escape", "Back to the list", "Back to the list", show=False),
)


def station_bindings() -> list[Binding]:
    return [action.binding() for action in STATION_ACTIONS]


def palette_commands(station: StationScreen) -> Iterator[SystemCommand]:
    """The command palette: every mode allowed here, then every action of the table that can
    run now."""
    kind = station.state.site_kind
    for mode in available_modes(kind, station.settings.station.allowed_modes):
        yield SystemCommand(
            f"Mode: {mode.value}", mode_summary(mode, kind), partial(station.enter_mode, mode)
        )
    for entry in STATION_ACTIONS:
        if entry.palette and station.check_action(entry.action, ()):
            run: Callable[[], Any] = partial(station.run_action, entry.action)
            on = entry.action == "toggle_camera" and station.camera.on
            yield SystemCommand(entry.palette_title(on), entry.help, run)
