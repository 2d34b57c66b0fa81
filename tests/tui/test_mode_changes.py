"""Issue 8 at the station: no scan is applied in a mode the worker is leaving, closing a
document asks first, and a document is found by search or by scanning its number. Real app,
real SQLite file (a copy of the demo database), scans typed as scanner bursts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from probed import ProbedStationApp
from test_station import (
    answer,
    burst,
    events_of,
    key_event,
    make_app,
    open_dialog,
    outcomes,
    pick,
    ready,
    serial_stage,
    settle,
    sn,
    wait_for,
)
from textual.pilot import Pilot

from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import DocumentKind, Mode, Stage
from scanstation.service import StationService
from scanstation.tui.screens.confirm import ConfirmPrompt
from scanstation.tui.screens.document_form import DocumentForm
from scanstation.tui.screens.document_picker import DocumentPicker
from scanstation.tui.screens.mode_picker import ModePicker
from scanstation.tui.screens.reason import ReasonPrompt

# At G1: SN…101 is Received at Godown (dispatchable on the open invoice REF-88, from G1).


async def type_slowly(pilot: Pilot[Any], app: ProbedStationApp, text: str) -> None:
    """A person's keys, 90 ms apart: never taken for a scanner's burst."""
    for character in text:
        app.post_message(key_event(character))
        await asyncio.sleep(0.09)


def pick_document(picker: DocumentPicker, reference_no: str) -> None:
    refs = [d.reference_no for d in picker.documents]
    picker.options.highlighted = refs.index(reference_no)


async def test_a_scan_during_a_mode_change_waits_for_the_document_chosen(demo_db: Path) -> None:
    """The issue's scenario: from SCRAP, F2 → DISPATCH → "+ New document…", a scan while the
    form is open, Escape out of the form, then an existing invoice: the held scan is
    dispatched on that invoice, and nothing was scrapped."""
    app = make_app(demo_db, site="G1", mode="receive")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        await pick(pilot, app, Mode.SCRAP)
        await answer(pilot, app, "Crushed")
        assert app.station.state.mode is Mode.SCRAP

        await pick(pilot, app, Mode.DISPATCH)
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentPicker), what="documents")
        picker = app.screen
        assert isinstance(picker, DocumentPicker)
        picker.options.highlighted = len(picker.documents)  # + New document…
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentForm), what="the form")
        form = app.screen
        assert isinstance(form, DocumentForm)

        burst(app, sn(101) + "\r")  # a scan while the form is open
        await wait_for(pilot, lambda: app.station.intake.held == 1, what="the scan held")
        await pilot.pause(0.3)
        assert not app.probe.outcomes  # not applied in SCRAP, nor anywhere yet
        assert "1 scan waiting" in str(form.waiting.content) and form.waiting.has_class("-shown")
        banner = app.station.banner
        assert banner.kind == "held" and "1 SCAN WAITING" in banner.text

        await pilot.press("escape")  # out of the form: back to the documents
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentPicker), what="the picker")
        picker = app.screen
        assert isinstance(picker, DocumentPicker)
        assert "1 scan waiting" in str(picker.waiting.content)
        assert app.station.state.mode is Mode.SCRAP and not app.probe.outcomes
        pick_document(picker, "REF-88")
        await pilot.press("enter")

        [dispatched] = await outcomes(pilot, app, 1)
        assert dispatched.kind is OutcomeKind.OK, dispatched.message
        assert dispatched.stage_after is Stage.DISPATCHED_FROM_GODOWN
        assert app.station.state.mode is Mode.DISPATCH
        assert app.station.state.document == "REF-88"
    assert serial_stage(demo_db, sn(101)) == "Dispatch from Godown"
    assert all(to_stage != "Scrapped" for _, _, to_stage in events_of(demo_db))


async def test_scans_held_by_the_mode_picker_go_in_order_in_the_mode_chosen(
    demo_db: Path,
) -> None:
    app = make_app(demo_db, site="P1", mode="register")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        picker = await open_dialog(pilot, app, "f2", ModePicker)
        burst(app, sn(46) + "\r" + sn(47) + "\r")  # Registered at Plant, both
        await wait_for(pilot, lambda: app.station.intake.held == 2, what="two scans held")
        assert "2 scans waiting" in str(picker.waiting.content)
        assert "2 SCANS WAITING" in app.station.banner.text
        await pilot.pause(0.2)
        assert not app.probe.outcomes
        picker.options.highlighted = picker.modes.index(Mode.VALIDATE)
        await pilot.press("enter")
        done = await outcomes(pilot, app, 2)
        assert [o.event.payload for o in done] == [sn(46), sn(47)]
        assert all(o.stage_after is Stage.VALIDATED for o in done), [o.message for o in done]
    assert [(p, s) for p, _, s in events_of(demo_db)] == [
        (sn(46), "Validated at Plant"),
        (sn(47), "Validated at Plant"),
    ]


async def test_escape_keeps_the_mode_and_applies_held_scans_in_it(demo_db: Path) -> None:
    app = make_app(demo_db, site="P1", mode="register")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        picker = await open_dialog(pilot, app, "f2", ModePicker)
        burst(app, sn(1) + "\r")
        await wait_for(pilot, lambda: app.station.intake.held == 1)
        assert "Escape keeps REGISTER" in str(picker.waiting.content)
        await pilot.press("escape")
        [registered] = await outcomes(pilot, app, 1)
        assert registered.stage_after is Stage.REGISTERED
        assert app.station.intake.held == 0


# -- closing a document ----------------------------------------------------------------------


async def test_f4_asks_before_closing_a_document(demo_db: Path) -> None:
    app = make_app(demo_db, site="G1", mode="dispatch", document="REF-88")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPrompt), what="a question")
        await pilot.press("escape")  # keep it open
        await wait_for(pilot, lambda: app.screen is app.station)
        await pilot.pause(0.3)
        assert app.station.state.document == "REF-88"
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPrompt))
        await pilot.press("enter")  # close: it is short, so a reason is asked next
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonPrompt), what="a reason")
        prompt = app.screen
        assert isinstance(prompt, ReasonPrompt)
        prompt.input.value = "Customer took part"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.station.state.document is None, what="the close")
    service = StationService.open(str(demo_db))
    try:
        closed = service.document("REF-88")
        assert closed is not None and closed.state == "closed"
    finally:
        service.close()


# -- finding a document ----------------------------------------------------------------------


async def test_the_picker_lists_this_sites_open_documents_first_and_searches(
    demo_db: Path,
) -> None:
    app = make_app(demo_db, site="G1", mode="receive")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        picker = await open_dialog(pilot, app, "f3", DocumentPicker)
        listed = picker.documents
        here = [d for d in listed if d.is_open and "G1" in (d.from_site, d.to_site)]
        assert listed[: len(here)] == here and here  # G1's open documents come first
        rank = [0 if d in here else 1 if d.is_open else 2 for d in listed]
        assert rank == sorted(rank)
        await pilot.pause(0.2)  # a person reads the list first
        await type_slowly(pilot, app, "5531")  # a person: the list narrows as they type
        # The capture holds a person's last key a moment (its timer runs late on a loaded
        # machine).
        await wait_for(
            pilot, lambda: [d.reference_no for d in picker.documents] == ["REF-88"], what="INV-5531"
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.station.state.document == "REF-88")


async def test_the_picker_reaches_every_document(demo_db: Path) -> None:
    service = StationService.open(str(demo_db))
    try:
        for number in range(250):  # more than any first page
            service.add_document(
                kind=DocumentKind.INVOICE,
                reference_no=f"BULK-{number:04d}",
                from_site="G2",
                to="Customer",
                lines=[("PUMP-1HP", 1)],
                invoice_no=f"INV-B{number:04d}",
                by="clerk",
            )
    finally:
        service.close()
    app = make_app(demo_db, site="G1", mode="lookup")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        picker = await open_dialog(pilot, app, "f3", DocumentPicker)
        assert len(picker.all_documents) >= 252
        assert len(picker.documents) <= 50  # a page on screen, the rest by search
        await pilot.pause(0.2)
        await type_slowly(pilot, app, "B0000")
        # The capture holds a person's last key a moment (its timer runs late on a loaded
        # machine).
        await wait_for(
            pilot,
            lambda: [d.reference_no for d in picker.documents] == ["BULK-0000"],  # the oldest
            what="BULK-0000 alone",
        )


async def test_a_scanned_document_number_picks_it_in_the_picker(demo_db: Path) -> None:
    app = make_app(demo_db, site="G1", mode="receive")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentPicker))
        burst(app, "DC-1042\r")  # the DC's number, scanned off the paper
        await wait_for(pilot, lambda: app.station.state.document == "REF-1042", what="REF-1042")
        assert app.screen is app.station
        await settle(pilot)
        assert not app.probe.outcomes  # it chose the document; it was not a scan
    assert events_of(demo_db) == []


async def test_a_scan_that_is_a_document_number_chooses_that_document(demo_db: Path) -> None:
    app = make_app(demo_db, site="G1", mode="receive")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        assert app.station.state.document is None
        burst(app, "INV-5531\r")  # no serial: the invoice number of REF-88
        [unknown] = await outcomes(pilot, app, 1)
        assert unknown.kind is OutcomeKind.UNKNOWN
        await wait_for(pilot, lambda: app.station.state.document == "REF-88", what="REF-88")
        banner = app.station.banner
        assert "REF-88" in banner.text and "INV-5531" in banner.text
        assert app.station.state.mode is Mode.RECEIVE
