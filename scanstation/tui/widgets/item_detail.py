"""The Item Serial Number Details portlet: the item behind the shown serial, its generation
runs and where its serials stand."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from scanstation.domain.model import ItemView
from scanstation.domain.stages import Stage
from scanstation.tui.widgets.portlet import (
    DATE,
    MUTED,
    STAGE_BAR_STYLES,
    Bar,
    Column,
    FieldGrid,
    Portlet,
    RowTable,
    as_utc,
    data_text,
    local_time,
    section_title,
    stage_text,
    update_static,
)

if TYPE_CHECKING:
    from scanstation.tui.messages import DetailsLoaded

__all__ = ["ItemDetail"]

FIELDS: tuple[tuple[str, str], ...] = (
    ("sku", "SKU"),
    ("name", "Name"),
    ("model_no", "Model"),
    ("gtin", "GTIN"),
)

MAX_GENERATIONS = 20
"""Generation runs listed, newest first; the rest are counted."""

_STAGE_ORDER = {stage: index for index, stage in enumerate(Stage)}


class ItemDetail(Portlet):
    """SKU, name, model, GTIN; how many of its serials are in each stage (bars); its
    generation runs, newest first (generation no, count, site, date, by whom)."""

    PORTLET_ID: ClassVar[str] = "item_detail"
    TITLE: ClassVar[str] = "Item Serial Number Details"

    DEFAULT_CSS = """
    ItemDetail #value-name {
        text-style: bold;
    }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.item: ItemView | None = None
        self._fields = FieldGrid(FIELDS)
        self._stages_title = Static(classes="portlet--section")
        self._stages = RowTable(
            (
                Column(min_width=3),  # abbreviation
                Column(max_width=23, drop=1),  # the stage's full name
                Column(min_width=6, flex=1),  # bar
                Column(align="right"),  # count
            ),
            empty="No serials yet",
            id="item-stages",
        )
        self._runs_title = Static(classes="portlet--section")
        self._runs = RowTable(
            (
                Column(max_width=16),  # generation no
                Column(align="right"),  # count
                Column(max_width=10, drop=2),  # site
                Column(),  # date
                Column(min_width=4, max_width=14, flex=1, drop=1),  # by
            ),
            empty="No generation runs",
            id="item-runs",
        )
        self.set_shown(False)

    def compose(self) -> ComposeResult:
        yield self.placeholder("Scan a serial to see its item")
        with Vertical(classes="portlet--body"):
            yield self._fields
            yield self._stages_title
            yield self._stages
            yield self._runs_title
            yield self._runs

    def show_details(self, details: DetailsLoaded) -> None:
        self.show(details.item)

    def show(self, item: ItemView | None) -> None:
        """Show `item`, or the placeholder for None."""
        if item == self.item and item is not None:
            return
        self.item = item
        self.set_shown(item is not None)
        if item is None:
            self.border_subtitle = None
            return
        self.border_subtitle = data_text(item.sku)
        fields = self._fields
        fields.set("sku", data_text(item.sku))
        fields.set("name", data_text(item.name))
        fields.set("model_no", data_text(item.model_no))
        fields.set("gtin", data_text(item.gtin))

        counts = sorted(
            ((stage, count) for stage, count in item.stage_counts if count > 0),
            key=lambda pair: _STAGE_ORDER[pair[0]],
        )
        total = sum(count for _, count in counts)
        update_static(self._stages_title, section_title("Serials by stage", f"{total:,} in all"))
        self._stages.set_rows(
            (
                stage_text(stage, short=True),
                Content(stage.value),
                Bar(count, total, STAGE_BAR_STYLES[stage]),
                Content(f"{count:,}"),
            )
            for stage, count in counts
        )

        runs = sorted(item.generations, key=lambda run: as_utc(run.created_at), reverse=True)
        note = f"{len(runs)}" if len(runs) <= MAX_GENERATIONS else f"newest {MAX_GENERATIONS}"
        if len(runs) > MAX_GENERATIONS:
            note += f" of {len(runs)}"
        update_static(self._runs_title, section_title("Generation runs", note))
        self._runs.set_rows(
            (
                data_text(run.generation_no),
                Content(f"{run.count:,}"),
                data_text(run.site),
                Content.styled(local_time(run.created_at, DATE), MUTED),
                data_text(run.created_by, MUTED),
            )
            for run in runs[:MAX_GENERATIONS]
        )

    def field(self, key: str) -> Content:
        """What a field shows now (for tests and the app's own checks)."""
        return self._fields.value(key)
