"""Ctrl+G: where everything stands. Serials per stage for each SKU (a stage funnel), scans per
hour for each station over the shift (bars drawn in Rich: they read at 80×24 and at 160×48
alike), units in transit, aging at the godowns and the latest exceptions. Refreshed live:
a thread waits on the station's change feed and the figures are read again (at most once a
RELOAD_EVERY_S) when any station commits."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical, VerticalScroll
from textual.widgets import Static
from textual.worker import get_current_worker

from scanstation.domain.reports import (
    AGING_BUCKETS,
    AgingRow,
    ExceptionRow,
    ReportFilter,
    StageCount,
    ThroughputRow,
    TransitUnit,
)
from scanstation.domain.stages import STAGE_ABBREVIATIONS, Stage
from scanstation.domain.text import visible
from scanstation.tui.screens.dialog import StationDialog
from scanstation.tui.supervisor import StationSource, read_then

if TYPE_CHECKING:
    from scanstation.station import Station

__all__ = ["OverviewData", "OverviewScreen", "hour_bars"]

SHIFT_HOURS = 12
LISTED = 6  # rows of the transit and exception lists
RELOAD_EVERY_S = 1.0
WIDE = 140  # columns from which the sections sit side by side
STAGE_STYLES = {
    Stage.NOT_REGISTERED: "grey50",
    Stage.REGISTERED: "cyan",
    Stage.NOT_VALIDATED: "red",
    Stage.VALIDATED: "blue",
    Stage.DISPATCHED_FROM_PLANT: "yellow",
    Stage.RECEIVED_AT_GODOWN: "green",
    Stage.DISPATCHED_FROM_GODOWN: "white",
    Stage.SCRAPPED: "bright_black",
}
_TICKS = " ▁▂▃▄▅▆▇█"
MUTED = "grey58"  # a colour, not "dim": dim text vanishes on some terminals' dark grounds


@dataclass(frozen=True, slots=True)
class OverviewData:
    now: datetime
    stages: list[StageCount]
    hours: list[ThroughputRow]
    transit: list[TransitUnit]
    in_transit: int
    aging: list[AgingRow]
    exceptions: list[ExceptionRow]

    @classmethod
    def read(cls, door: Station, now: datetime) -> OverviewData:
        everything = ReportFilter()
        units = door.transit_report(everything, now)
        transit = list(islice(units, LISTED))
        in_transit = len(transit) + sum(1 for _ in units)
        return cls(
            now=now,
            stages=door.stage_report(everything),
            hours=door.throughput_report(
                ReportFilter(since=now - timedelta(hours=SHIFT_HOURS - 1, minutes=now.minute))
            ),
            transit=transit,
            in_transit=in_transit,
            aging=door.aging_report(everything, now),
            exceptions=list(islice(door.exception_report(everything), LISTED)),
        )


def stage_funnel(counts: list[StageCount], width: int) -> RenderableType:
    """Per SKU, one bar split by stage (the funnel from the plant to the godowns)."""
    by_sku: dict[str, dict[Stage, int]] = defaultdict(lambda: defaultdict(int))
    for count in counts:
        by_sku[count.sku][Stage(count.stage)] += count.count
    if not by_sku:
        return Text("No serials yet", style=MUTED)
    widest = max(sum(stages.values()) for stages in by_sku.values())
    bar_width = max(10, width - 22)
    lines = []
    for sku in sorted(by_sku):
        stages = by_sku[sku]
        total = sum(stages.values())
        line = Text(f"{visible(sku)[:12]:<12} ")
        length = round(bar_width * total / widest)
        used = 0
        so_far = 0
        for stage in Stage:  # in the order of the funnel
            so_far += stages.get(stage, 0)
            cells = round(length * so_far / total) - used
            line.append("█" * cells, style=STAGE_STYLES[stage])
            used += cells
        line.append(f" {total}")
        lines.append(line)
        detail = "  ".join(f"{STAGE_ABBREVIATIONS[s]} {stages[s]}" for s in Stage if stages.get(s))
        lines.append(Text(f"{'':12} {detail}", style=MUTED))
    legend = Text()
    for stage in Stage:
        legend.append("█", style=STAGE_STYLES[stage])
        legend.append(f"{STAGE_ABBREVIATIONS[stage]} ")
    return Group(*lines, legend)


def hour_bars(rows: list[ThroughputRow], now: datetime) -> RenderableType:
    """Per station, scans in each hour of the shift as a bar of block characters."""
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=SHIFT_HOURS - 1)
    hours = [(first + timedelta(hours=n)).strftime("%Y-%m-%dT%H") for n in range(SHIFT_HOURS)]
    stations: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for row in rows:
        ok_refused = stations[row.station].setdefault(row.hour, [0, 0])
        ok_refused[0] += row.ok
        ok_refused[1] += row.refused
    if not stations:
        return Text(f"No scans in the last {SHIFT_HOURS} hours", style=MUTED)
    peak = max(ok + no for per_hour in stations.values() for ok, no in per_hour.values())
    table = Table.grid(padding=(0, 1))
    for station in sorted(stations):
        per_hour = stations[station]
        bars = Text()
        for hour in hours:
            ok, refused = per_hour.get(hour, (0, 0))
            if not ok + refused:
                bars.append("·", style=MUTED)  # an hour without scans, on the time line
                continue
            tick = _TICKS[max(1, round((len(_TICKS) - 1) * (ok + refused) / peak))]
            bars.append(tick, style="red" if refused else "green")
        ok_total = sum(ok for ok, _ in per_hour.values())
        refused_total = sum(no for _, no in per_hour.values())
        table.add_row(
            Text(visible(station)[:14]), bars, Text(f"{ok_total} ok, {refused_total} refused")
        )
    start = first.astimezone().strftime("%H:%M")
    return Group(table, Text(f"one bar an hour from {start} (UTC hours)", style=MUTED))


def transit_table(data: OverviewData) -> RenderableType:
    if not data.transit:
        return Text("Nothing in transit", style=MUTED)
    table = Table.grid(padding=(0, 1))
    for unit in data.transit:
        table.add_row(
            visible(unit.serial_no),
            visible(unit.sku)[:12],
            visible(unit.document or "-"),
            visible(f"{unit.from_site}→{unit.to_site}"),
            Text(f"{unit.days} d", style="bold red" if unit.days > 7 else ""),
        )
    more = data.in_transit - len(data.transit)
    tail = f"{data.in_transit} units in transit, oldest first" + (
        f" ({more} more: `scanstation report transit`)" if more > 0 else ""
    )
    return Group(table, Text(tail, style=MUTED))


def aging_table(rows: list[AgingRow]) -> RenderableType:
    if not rows:
        return Text("Nothing at the godowns", style=MUTED)
    labels = [label for label, _, _ in AGING_BUCKETS]
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        totals[row.site][row.bucket] += row.count
    table = Table("Godown", *(f"{label} d" for label in labels), box=None, padding=(0, 1))
    for site in sorted(totals):
        table.add_row(visible(site), *(str(totals[site].get(label, 0)) for label in labels))
    return table


def exception_table(rows: list[ExceptionRow]) -> RenderableType:
    if not rows:
        return Text("No exceptions", style=MUTED)
    table = Table.grid(padding=(0, 1))
    for row in rows:
        table.add_row(
            row.at.astimezone().strftime("%m-%d %H:%M"),
            Text(row.kind, style="red"),
            visible(row.serial_no or row.payload or "-")[:16],
            visible(f"{row.operator}@{row.station}")[:20],
            Text(visible(row.reason or ""), overflow="ellipsis", no_wrap=True),
        )
    return table


class OverviewScreen(StationDialog[None]):
    HOLDS_SCANS_AS = "Overview"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,ctrl+e", "close", "Close"),
        Binding("r", "reload", "Read again"),
    ]

    DEFAULT_CSS: ClassVar[str] = """
    OverviewScreen {
        align: center top;
        & > #overview-box {
            width: 100%;
            height: 1fr;
            padding: 0 1;
            border: thick $accent;
            background: $surface;
        }
        #overview-grid { grid-size: 1; grid-gutter: 1 2; grid-rows: auto; height: auto; }
        #overview-grid.-wide { grid-size: 2; }
        .overview-section { height: auto; }
        .overview-section > .title { text-style: bold; color: $accent; }
        #overview-status { color: $text-muted; height: auto; }
    }
    """

    def __init__(self, station: StationSource, now: Callable[[], datetime]) -> None:
        super().__init__()
        self.station = station
        self.now = now
        self.sections = {
            name: Static("Reading…", classes="body")
            for name in ("stages", "hours", "transit", "aging", "exceptions")
        }
        self.status = Static("", id="overview-status", markup=False)
        self.data: OverviewData | None = None
        self._dirty = False
        self._loading = False

    def compose(self) -> ComposeResult:
        titles = {
            "stages": "Serials per stage, by SKU",
            "hours": f"Scans per hour, by station (last {SHIFT_HOURS} h)",
            "transit": "In transit",
            "aging": "At the godowns, days since received",
            "exceptions": "Latest exceptions",
        }
        with VerticalScroll(id="overview-box"):
            yield self.waiting
            with Grid(id="overview-grid"):
                for name, body in self.sections.items():
                    title = Static(titles[name], classes="title")
                    yield Vertical(title, body, classes="overview-section")
            yield self.status

    def on_mount(self) -> None:
        self._layout(self.app.size.width)
        self.reload()
        self.set_interval(RELOAD_EVERY_S, self._reload_if_changed)
        self.run_worker(self._watch, thread=True, group="overview-feed", exit_on_error=False)

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)
        if self.data is not None:
            self._draw(self.data)

    def _layout(self, width: int) -> None:
        self.query_one("#overview-grid").set_class(width >= WIDE, "-wide")

    def reload(self) -> None:
        self._dirty, self._loading = False, True
        now = self.now()
        read_then(
            self,
            self.station,
            lambda door: OverviewData.read(door, now),
            self._loaded,
            self._failed,
            group="overview",
        )

    def _loaded(self, data: OverviewData) -> None:
        self._loading = False
        self.data = data
        self._draw(data)
        self.status.update(
            f"As of {data.now.astimezone():%H:%M:%S} · live · r: read again · Esc: close"
        )

    def _draw(self, data: OverviewData) -> None:
        wide = self.app.size.width >= WIDE
        width = (self.app.size.width - 8) // (2 if wide else 1)
        self.sections["stages"].update(stage_funnel(data.stages, width))
        self.sections["hours"].update(hour_bars(data.hours, data.now))
        self.sections["transit"].update(transit_table(data))
        self.sections["aging"].update(aging_table(data.aging))
        self.sections["exceptions"].update(exception_table(data.exceptions))

    def _failed(self, sentence: str) -> None:
        self._loading = False
        self.status.update(visible(f"Could not read the figures: {sentence}"))

    def _reload_if_changed(self) -> None:
        if self._dirty and not self._loading:
            self.reload()

    def _changed(self) -> None:
        self._dirty = True

    def _watch(self) -> None:
        """On a thread: wait for commits (any station's) and mark the figures stale."""
        door = self.station()
        if door is None:
            return
        feed = door.change_feed()
        worker = get_current_worker()
        try:
            while not worker.is_cancelled:
                try:
                    serials, documents = feed.wait(0.5)
                except Exception:  # the database is away: wait, the feed starts over
                    time.sleep(0.5)
                    continue
                if (serials or documents) and not worker.is_cancelled:
                    self.app.call_from_thread(self._changed)
        finally:
            feed.close()

    def action_reload(self) -> None:
        self.reload()

    def action_close(self) -> None:
        self.dismiss(None)
