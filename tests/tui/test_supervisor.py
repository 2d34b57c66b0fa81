"""The supervisor's screens over the station, at a handheld's 80×24 and a kiosk's 160×48: Find
pages from the database and opens a serial in the portlets, Documents opens one in Invoice
Details, Overview shows the figures and follows another station's scan live. Pictures pinned
like the station's (update with --snapshot-update, look at them before committing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import test_snapshots as pictures
from textual.pilot import Pilot
from textual.widgets import DataTable

from scanstation.domain.model import ScanEvent
from scanstation.domain.stages import Mode
from scanstation.service import StationService, StationSetup
from scanstation.tui.screens.documents import DocumentsScreen
from scanstation.tui.screens.find import FindScreen, parse_search
from scanstation.tui.screens.overview import OverviewScreen
from scanstation.tui.screens.paged import PagedScreen
from scanstation.tui.widgets.invoice import InvoiceDetails
from scanstation.tui.widgets.serial_detail import SerialDetail

# The fixed database, the app on it and the UTC clock of the station's own pictures.
fixed_template, fixed_db, _utc = pictures.fixed_template, pictures.fixed_db, pictures._utc
station_app, wait_for = pictures.station_app, pictures.wait_for
SIZES = [(80, 24), (160, 48)]


def everything(db: Path) -> list[Any]:
    service = StationService.open(str(db))
    try:
        return list(service.export())
    finally:
        service.close()


async def ready(pilot: Pilot[Any]) -> None:
    await wait_for(pilot, lambda: pilot.app.station.ready)


async def rows_shown(pilot: Pilot[Any], screen: Any) -> list[str]:
    # Shown, and at the table's height once the box has moved below the banner.
    box = screen.query_one("#paged-box")
    await wait_for(pilot, lambda: box.styles.margin.top > 0 and page_settled(screen))
    table: DataTable[Any] = screen.table
    return [str(key.value) for key in table.rows]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
async def test_find_pages_from_the_database_and_opens_the_serial(
    fixed_db: Path, size: tuple[int, int]
) -> None:
    app = station_app(fixed_db)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+f")
        screen = app.screen
        assert isinstance(screen, FindScreen)
        first = await rows_shown(pilot, screen)
        every = [view.serial_no for view in everything(fixed_db)]  # in the order made
        page = screen.page_size()
        assert first == every[:page]  # one page: as many rows as the table shows
        if len(every) > page:  # 80×24: more than a page; 160×48 shows all twenty
            screen.status.update("")
            await pilot.press("pagedown")
            second = await rows_shown(pilot, screen)
            assert second == every[page : 2 * page]
            screen.status.update("")
            await pilot.press("pageup")
            assert await rows_shown(pilot, screen) == first
        screen.query_box.value = "sku:PUMP-1HP stage:VP"
        screen.status.update("")
        await pilot.press("enter")
        validated = await rows_shown(pilot, screen)
        assert validated == ["SN0000000004"]  # SN1-3 left on REF-1042, SN5-10 never registered
        await pilot.press("enter")  # the table has the focus: opens the serial
        await wait_for(pilot, lambda: app.screen is app.station)
        detail = app.station.query_one(SerialDetail)
        await wait_for(
            pilot, lambda: detail.serial is not None and detail.serial.serial_no == "SN0000000004"
        )


async def test_find_says_what_it_cannot_read(fixed_db: Path) -> None:
    app = station_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+f")
        screen = app.screen
        assert isinstance(screen, FindScreen)
        await rows_shown(pilot, screen)
        screen.query_box.value = "stage:XYZ"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Unknown stage" in str(screen.status.visual))
        assert screen.query_box.has_focus and screen.table.row_count == 0
        screen.query_box.value = "site:\x1b[2JNOPE"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Unknown site" in str(screen.status.visual))
        assert "\x1b" not in str(screen.status.visual)


def test_the_search_words() -> None:
    search = parse_search("sn0000000001 sku:PUMP-1HP stage:rag site:G1 doc:DC-1042 from:2025-03-01")
    assert (search.text, search.sku, search.stage, search.site, search.document) == (
        "sn0000000001", "PUMP-1HP", "Received at Godown", "G1", "DC-1042",
    )  # fmt: skip
    assert search.since is not None and search.since.tzinfo is not None
    assert parse_search('stage:"Validated at Plant"').stage == "Validated at Plant"
    with pytest.raises(ValueError, match="One serial"):
        parse_search("SN1 SN2")


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
async def test_documents_show_progress_and_open_in_invoice_details(
    fixed_db: Path, size: tuple[int, int]
) -> None:
    app = station_app(fixed_db)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+k")
        screen = app.screen
        assert isinstance(screen, DocumentsScreen)
        assert await rows_shown(pilot, screen) == ["REF-1042"]
        cells = [str(cell) for cell in screen.table.get_row("REF-1042")]
        assert "3/8" in cells[4] and "0/3" in cells[5]  # 3 of 8 dispatched, none received
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.screen is app.station)
        invoice = app.station.query_one(InvoiceDetails)
        await wait_for(
            pilot,
            lambda: invoice.document is not None and invoice.document.reference_no == "REF-1042",
        )


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
async def test_overview_shows_the_figures_and_follows_another_station(
    fixed_db: Path, size: tuple[int, int]
) -> None:
    app = station_app(fixed_db)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+e")
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        await wait_for(pilot, lambda: screen.data is not None)
        data = screen.data
        assert data is not None
        assert sum(c.count for c in data.stages) == 20 and data.in_transit == 3
        assert [u.serial_no for u in data.transit] == [
            "SN0000000001",
            "SN0000000002",
            "SN0000000003",
        ]
        peer = StationService.open(str(fixed_db))
        try:
            peer.scan(
                ScanEvent("SN0000000001"), StationSetup("G1-GATE-2", "G1", Mode.RECEIVE, "op-9")
            )
        finally:
            peer.close()
        await wait_for(pilot, lambda: screen.data is not None and screen.data.in_transit == 2)
        assert screen.data is not None and screen.data.aging[0].count == 1


def snapshot_of(keys: str, ready_when: Any) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press(keys)
        screen = pilot.app.screen
        await wait_for(pilot, lambda: ready_when(screen))
        # The box has moved below the header and the banner (the station's own timer).
        box = screen.query_one("#overview-box, #paged-box")
        await wait_for(pilot, lambda: box.styles.margin.top > 0)
        if isinstance(screen, PagedScreen):  # the page read again at the table's new height
            await wait_for(pilot, lambda: page_settled(screen))
            screen.table.focus()  # no blinking cursor in the search box to catch mid-blink
        await pilot.pause(0.2)

    return run_before


def page_settled(screen: PagedScreen[Any]) -> bool:
    page = screen._page
    return (
        page is not None
        and (len(page.rows) == screen.page_size() or not page.full)
        and "Page" in str(screen.status.visual)
    )


def _overview_read(screen: Any) -> bool:
    return isinstance(screen, OverviewScreen) and screen.data is not None


def _table_read(screen: Any) -> bool:
    return "Page" in str(getattr(screen, "status", None) and screen.status.visual)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_snapshot_overview(snap_compare: Any, fixed_db: Path, size: tuple[int, int]) -> None:
    run_before = snapshot_of("ctrl+e", _overview_read)
    assert snap_compare(station_app(fixed_db), terminal_size=size, run_before=run_before)


def test_snapshot_documents_160x48(snap_compare: Any, fixed_db: Path) -> None:
    run_before = snapshot_of("ctrl+k", _table_read)
    assert snap_compare(station_app(fixed_db), terminal_size=(160, 48), run_before=run_before)
