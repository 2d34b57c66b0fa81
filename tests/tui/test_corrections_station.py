"""Issue 8 at the station: a worker's mistakes put right (ctrl+z voids the selected scan,
shift+F4 reopens a closed document) and receiving against a DC shows what arrived and what is
missing. Real app, real SQLite file (a copy of the demo database), scans as scanner bursts."""

from __future__ import annotations

from pathlib import Path

from test_station import (
    answer,
    burst,
    make_app,
    open_dialog,
    outcomes,
    ready,
    serial_stage,
    sn,
    wait_for,
)

from scanstation.domain.model import DocumentView
from scanstation.domain.outcome import OutcomeKind
from scanstation.service import StationService
from scanstation.tui.screens.confirm import ConfirmPrompt
from scanstation.tui.screens.document_picker import DocumentPicker
from scanstation.tui.widgets.invoice import InvoiceDetails

# The demo at G1: SN…101 is Received at Godown (dispatchable on the open invoice REF-88);
# REF-1042 is an open DC from P1 to G1 with 55 units dispatched on it and none received.


def document_of(db: Path, reference_no: str) -> DocumentView:
    service = StationService.open(str(db))
    try:
        document = service.document(reference_no)
        assert document is not None
        return document
    finally:
        service.close()


def scanned_on(db: Path, reference_no: str) -> int:
    return sum(line.scanned for line in document_of(db, reference_no).lines)


async def test_ctrl_z_voids_the_selected_scan_back_to_its_stage(demo_db: Path) -> None:
    app = make_app(demo_db, site="G1", mode="dispatch", document="REF-88")
    before = scanned_on(demo_db, "REF-88")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        burst(app, sn(101) + "\r")
        (dispatched,) = await outcomes(pilot, app, 1)
        assert dispatched.kind is OutcomeKind.OK
        assert scanned_on(demo_db, "REF-88") == before + 1
        prompt = await open_dialog(pilot, app, "ctrl+z", ConfirmPrompt)
        assert "Void this scan of SN0000000101?" in prompt.prompt_title
        await pilot.press("enter")
        station = app.station
        await wait_for(pilot, lambda: station.banner.kind == "voided", what="the void")
        assert "last change is voided — now Received at Godown" in station.banner.sentence
        scanned = station.scanned
        assert scanned is not None
        top = scanned.session[0]
        assert (top.serial, top.outcome) == (sn(101), "voided")
        assert scanned.counts["voided"] == 1 and scanned.counts["ok"] == 1
    assert serial_stage(demo_db, sn(101)) == "Received at Godown"
    assert scanned_on(demo_db, "REF-88") == before  # the line is freed


async def test_a_scan_that_changed_nothing_is_not_voided(demo_db: Path) -> None:
    app = make_app(demo_db, site="G1", mode="dispatch", document="REF-88")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        burst(app, "NOT-A-SERIAL\r")
        await outcomes(pilot, app, 1)
        await pilot.press("ctrl+z")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ConfirmPrompt)
        assert app.station.banner.kind != "voided"


async def test_shift_f4_reopens_a_closed_document(demo_db: Path) -> None:
    service = StationService.open(str(demo_db))
    try:
        service.close_document("REF-88", reason="truck left")
    finally:
        service.close()
    app = make_app(demo_db, site="G1", mode="lookup")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        picker = await open_dialog(pilot, app, "shift+f4", DocumentPicker)
        assert all(not d.is_open for d in picker.all_documents)
        refs = [d.reference_no for d in picker.documents]
        picker.options.highlighted = refs.index("REF-88")
        await pilot.press("enter")
        await answer(pilot, app, "Second truck came")
        await wait_for(pilot, lambda: document_of(demo_db, "REF-88").is_open, what="the reopen")


async def test_receiving_against_a_dc_shows_arrivals_and_what_is_missing(demo_db: Path) -> None:
    app = make_app(demo_db, site="G1", mode="receive", document="REF-1042")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        invoice = app.station.invoice
        assert isinstance(invoice, InvoiceDetails)
        await wait_for(pilot, lambda: invoice.progress is not None, what="the DC's arrivals")
        title = str(invoice._lines_title.content)
        assert "Received" in title and "0 of 55 dispatched" in title and "55 missing" in title
        assert "SN0000000181" in str(invoice._after.content)
        burst(app, "SN0000000181\r")
        (received,) = await outcomes(pilot, app, 1)
        assert received.kind is OutcomeKind.OK
        await wait_for(
            pilot,
            lambda: "1 of 55 dispatched" in str(invoice._lines_title.content),
            what="the arrival counted",
        )
        assert "SN0000000181" not in str(invoice._after.content)
