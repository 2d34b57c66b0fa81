"""Picks the station's scan mode; only the modes that do something at this kind of site."""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from scanstation.domain.stages import TRANSITIONS, Mode, SiteKind, Stage, modes_needing_reason
from scanstation.tui.screens.dialog import StationDialog

__all__ = ["ModePicker", "available_modes", "mode_summary"]

NEEDS_NOTE = {
    Mode.DISPATCH: "asks for a document",
}


def available_modes(site_kind: SiteKind | None, allowed: Collection[str] = ()) -> list[Mode]:
    """Lookup, and every mode with a transition at this kind of site (all when unknown);
    only those `allowed` (`[station] allowed_modes`) when it names any."""
    modes = [Mode.LOOKUP]
    for mode in Mode:
        if mode is Mode.LOOKUP:
            continue
        if site_kind is None or any(
            row.mode is mode and row.site_kind in (None, site_kind) for row in TRANSITIONS
        ):
            modes.append(mode)
    return [mode for mode in modes if not allowed or mode.value in allowed]


def mode_summary(mode: Mode, site_kind: SiteKind | None) -> str:
    """ "register: Not Registered at Plant → Registered at Plant" and the like."""
    if mode is Mode.LOOKUP:
        return "show a serial's details; changes nothing"
    rows = [
        row
        for row in TRANSITIONS
        if row.mode is mode and (site_kind is None or row.site_kind in (None, site_kind))
    ]
    targets = sorted({row.to_stage.value for row in rows})
    from_stages = {row.from_stage for row in rows}
    if from_stages == set(Stage) - {Stage.SCRAPPED}:
        source = "any stage but Scrapped"
    else:
        source = " or ".join(stage.value for stage in Stage if stage in from_stages)
    text = f"{source} → {', '.join(targets)}"
    if mode in modes_needing_reason():
        text += " · asks for a reason"
    if mode in NEEDS_NOTE:
        text += f" · {NEEDS_NOTE[mode]}"
    return text


class ModePicker(StationDialog[Mode | None]):
    """Enter picks the highlighted mode; Escape keeps the current one."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    ModePicker {
        align: center middle;
        & > Vertical {
            width: 84;
            max-width: 95%;
            height: auto;
            max-height: 90%;
            border: thick $accent;
            background: $surface;
            padding: 0 1;
        }
        #mode-title {
            text-style: bold;
            padding: 1 0 0 1;
        }
        OptionList {
            height: auto;
            max-height: 20;
            border: none;
        }
    }
    """

    def __init__(
        self, current: Mode, site_kind: SiteKind | None, allowed: Collection[str] = ()
    ) -> None:
        super().__init__()
        self.current = current
        self.modes = available_modes(site_kind, allowed)
        self.options = OptionList(
            *(
                Option(
                    Content.assemble(
                        (f"{mode.value.upper():<9}", "bold"),
                        "  ",
                        (mode_summary(mode, site_kind), "$text-muted"),
                    ),
                    id=mode.value,
                )
                for mode in self.modes
            ),
            id="mode-options",
        )

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                Content("Scan mode — Enter picks, Escape keeps the current one"), id="mode-title"
            )
            yield self.waiting
            yield self.options

    def on_mount(self) -> None:
        if self.current in self.modes:
            self.options.highlighted = self.modes.index(self.current)
        self.options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.dismiss(Mode(event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)
