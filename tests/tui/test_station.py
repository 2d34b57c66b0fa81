"""The station app end to end through Pilot: real service, real SQLite file (a copy of the demo
database), real key capture. Key events are posted straight to the app so that a burst arrives
the way a scanner's does — `pilot.press` waits for idle after every key and cannot."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from probed import ProbedStationApp
from textual import events
from textual._ansi_sequences import ANSI_SEQUENCES_KEYS
from textual._compositor import ChopsUpdate, Compositor
from textual._time import get_time
from textual.command import Command, CommandList, CommandPalette
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget

from scanstation.config import FeedbackSettings, Settings, UISettings
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode, Stage
from scanstation.service import StationService
from scanstation.tui.compositor import ChangedRowsCompositor
from scanstation.tui.feedback import BELL_SPACING_S
from scanstation.tui.intake import split_paste
from scanstation.tui.messages import DetailsLoaded
from scanstation.tui.screens.comment import CommentPrompt
from scanstation.tui.screens.confirm import ConfirmPrompt
from scanstation.tui.screens.document_form import DocumentForm
from scanstation.tui.screens.document_picker import DocumentPicker
from scanstation.tui.screens.help import HelpScreen
from scanstation.tui.screens.mode_picker import ModePicker
from scanstation.tui.screens.reason import ReasonPrompt
from scanstation.tui.widgets.activity import ActivityLog
from scanstation.tui.widgets.invoice import InvoiceDetails
from scanstation.tui.widgets.item_detail import ItemDetail
from scanstation.tui.widgets.scanned import ScannedList, ScannedRows
from scanstation.tui.widgets.serial_detail import SerialDetail

STATION = "T-GATE"


# -- helpers ---------------------------------------------------------------------------------


def key_event(character: str) -> events.Key:
    """The Key event a terminal produces for one character (the driver's own table)."""
    sequence = ANSI_SEQUENCES_KEYS.get(character)
    if isinstance(sequence, tuple) and sequence:
        key = sequence[0].value
    elif character.isalnum() and character.isascii():
        key = character
    else:
        key = _character_to_key(character)
    return events.Key(key, character)


def burst(app: ProbedStationApp, text: str) -> None:
    """Post every key of `text` at once, like a scanner typing it, stamped as one read of the
    terminal (microseconds apart). Stamped as they were made, a thread switch or a loaded
    machine that paused this loop between two keys made a gap no scanner made: an ESC that
    starts a payload then came alone, as a person's Escape."""
    at = get_time()
    for index, character in enumerate(text):
        key = key_event(character)
        key.time = at + index * 2e-6
        app.post_message(key)


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 10.0, what: str = ""
) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what or condition}")


async def outcomes(pilot: Pilot[Any], app: ProbedStationApp, count: int) -> list[Any]:
    await wait_for(pilot, lambda: len(app.probe.outcomes) >= count, what=f"{count} outcomes")
    await pilot.pause(0.05)
    return list(app.probe.outcomes)


async def settle(pilot: Pilot[Any]) -> None:
    """Let a held key be released (the capture holds a lone key up to 50 ms)."""
    await pilot.pause(0.12)


def make_app(db: Path, **kw: Any) -> ProbedStationApp:
    settings: Settings = kw.pop("settings", Settings())
    kw.setdefault("station_id", STATION)
    kw.setdefault("operator", "op-test")
    return ProbedStationApp(settings, database_url=str(db), **kw)


async def ready(pilot: Pilot[Any], app: ProbedStationApp) -> None:
    await wait_for(
        pilot, lambda: app.station.ready or app.station.failed is not None, what="the database"
    )
    assert app.station.failed is None, app.station.failed
    await pilot.pause(0.05)


def events_of(db: Path, station: str = STATION) -> list[tuple[str, str, str | None]]:
    """(payload, outcome, to_stage) of this station's scan events, oldest first."""
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT payload, outcome, to_stage FROM event WHERE station = ? AND kind = 'scan' "
            "ORDER BY id",
            (station,),
        ).fetchall()


def serial_stage(db: Path, serial_no: str) -> str:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT stage FROM serial WHERE serial_no = ?", (serial_no,)
        ).fetchone()[0]


Run = Callable[[Pilot[Any], ProbedStationApp], Awaitable[None]]


@pytest.fixture
def run_station(demo_db: Path) -> Iterator[Callable[..., Awaitable[ProbedStationApp]]]:
    """Run the app on a fresh copy of the demo database, then `body(pilot, app)`."""

    async def run(body: Run, *, size: tuple[int, int] = (120, 40), **kw: Any) -> ProbedStationApp:
        app = make_app(demo_db, **kw)
        async with app.run_test(size=size) as pilot:
            await ready(pilot, app)
            await body(pilot, app)
        return app

    yield run


def sn(number: int) -> str:
    return f"SN{number:010d}"


ScreenT = TypeVar("ScreenT", bound=Screen[Any])


async def open_dialog(
    pilot: Pilot[Any], app: ProbedStationApp, key: str, kind: type[ScreenT]
) -> ScreenT:
    """Press `key` and wait for the screen of `kind` it opens."""
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, kind), what=kind.__name__)
    screen = app.screen
    assert isinstance(screen, kind)
    return screen


async def pick(pilot: Pilot[Any], app: ProbedStationApp, mode: Mode) -> None:
    """F2, then `mode`."""
    picker = await open_dialog(pilot, app, "f2", ModePicker)
    picker.options.highlighted = picker.modes.index(mode)
    await pilot.press("enter")


async def answer(pilot: Pilot[Any], app: ProbedStationApp, text: str) -> None:
    """Type `text` into the reason prompt that is opening, and save it."""
    await wait_for(pilot, lambda: isinstance(app.screen, ReasonPrompt), what="a reason")
    prompt = app.screen
    assert isinstance(prompt, ReasonPrompt)
    prompt.input.value = text
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen is app.station)


# -- portlets --------------------------------------------------------------------------------


async def test_after_a_burst_every_portlet_shows_its_last_serial(run_station: Any) -> None:
    # Mid-burst the portlets may lag (they follow once scanning pauses); the banner and the
    # list's row never do, and once the burst pauses every portlet shows its last serial.
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        station = app.station
        scanned = station.query_one(ScannedList)
        shown: list[tuple[int | None, str, str | None]] = []
        record = app.probe.scans_shown

        def scans_shown(tickets: Any, done: Any) -> None:
            top = scanned.session[0].serial
            shown.append((station.banner.number, station.banner.subject, top))
            assert (station.banner.number, station.banner.subject) == (tickets[-1], top)
            record(tickets, done)

        app.probe.scans_shown = scans_shown  # type: ignore[method-assign]
        assert station.worker is not None
        read = station.worker._details

        def slow_read(*args: Any) -> None:
            time.sleep(0.5)  # a busy database: the next scans come while a read is out
            read(*args)

        station.worker._details = slow_read  # type: ignore[method-assign]
        for count in range(1, 9):
            burst(app, sn(count) + "\r")
            # 50 scans/s, with one pause after the 4th: its serial is read meanwhile
            await pilot.pause(0.3 if count == 4 else 0.02)
        done = await outcomes(pilot, app, 8)
        assert [o.serial_no for o in done] == [sn(n) for n in range(1, 9)]
        assert shown[-1] == (8, sn(8), sn(8))
        detail = station.query_one(SerialDetail)
        activity = station.query_one(ActivityLog)
        item = station.query_one(ItemDetail)

        def portlets_show() -> tuple[str | None, str | None, str | None]:
            return (
                detail.serial.serial_no if detail.serial else None,
                activity.serial.serial_no if activity.serial else None,
                item.item.sku if item.item else None,
            )

        last = (sn(8), sn(8), done[-1].serial.sku)
        await wait_for(pilot, lambda: portlets_show() == last, what="the last serial")
        await pilot.pause(0.3)  # and nothing older is drawn over it
        assert portlets_show() == last
        assert str(detail.field("serial_no")) == sn(8)

    await run_station(body, site="P1", mode="register")


async def test_a_newer_read_supersedes_one_half_applied(run_station: Any) -> None:
    # The portlets take a read one a frame; a newer read arriving meanwhile must reach every
    # portlet, also those the older one already reached, so none is left on an older serial.
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        station = app.station
        deck = station.deck
        reads: list[DetailsLoaded] = []
        show_details = deck.show_details

        def record(message: DetailsLoaded) -> None:
            reads.append(message)
            show_details(message)

        deck.show_details = record  # type: ignore[method-assign]
        detail = station.query_one(SerialDetail)
        item = station.query_one(ItemDetail)
        activity = station.query_one(ActivityLog)

        def portlets_show() -> tuple[str | None, str | None]:
            return (
                detail.serial.serial_no if detail.serial else None,
                activity.serial.serial_no if activity.serial else None,
            )

        for serial_no in (sn(1), sn(2)):
            burst(app, serial_no + "\r")
            shows = (serial_no, serial_no)
            await wait_for(pilot, lambda: portlets_show() == shows, what=serial_no)  # noqa: B023
        first, second = (
            next(r for r in reads if r.serial is not None and r.serial.serial_no == sn(n))
            for n in (1, 2)
        )
        deck.show_details = show_details  # type: ignore[method-assign]
        await wait_for(pilot, lambda: not deck._showing, what="the last read applied")

        # The deck's frames are stepped by hand: waiting on the clock let a loaded machine run
        # several frames between two looks, and the older read reached every portlet first.
        next_frames: list[Callable[[], object]] = []

        def hold_frame(callback: Callable[[], object], *args: Any, **kwargs: Any) -> bool:
            next_frames.append(callback)
            return True

        deck.call_after_refresh = hold_frame  # type: ignore[method-assign]
        deck.show_details(first)  # an older read: the first portlet takes it at once
        assert portlets_show() == (sn(1), sn(2))
        while item.item != first.item:
            assert next_frames, "the older read stopped before the item portlet"
            next_frames.pop(0)()
        assert activity.serial is not None and activity.serial.serial_no == sn(2)
        deck.show_details(second)  # the newest, before the older one reached the last portlet
        del deck.call_after_refresh  # back to the real frames
        for frame in next_frames:
            frame()
        await wait_for(pilot, lambda: portlets_show() == (sn(2), sn(2)), what="the newest")
        await pilot.pause(0.3)  # and nothing of the older read is drawn over it
        assert portlets_show() == (sn(2), sn(2))
        assert item.item == second.item
        assert str(detail.field("serial_no")) == sn(2)

    await run_station(body, site="P1", mode="register")


async def test_a_scan_fills_every_portlet(run_station: Any, demo_db: Path) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        burst(app, sn(181) + "\r")  # dispatched from P1 on REF-1042 to G1
        [outcome] = await outcomes(pilot, app, 1)
        assert outcome.kind is OutcomeKind.OK
        station = app.station
        serial = station.query_one(SerialDetail)
        item = station.query_one(ItemDetail)
        invoice = station.query_one(InvoiceDetails)
        activity = station.query_one(ActivityLog)
        # The deck fills one portlet a frame: every one is waited for (a loaded machine ran
        # the frames after the serial's and the invoice's late, and the activity was empty).
        await wait_for(
            pilot,
            lambda: (
                serial.serial is not None
                and item.item is not None
                and invoice.document is not None
                and activity.serial is not None
            ),
            what="every portlet",
        )
        assert str(serial.field("serial_no")) == sn(181)
        assert "Received at Godown" in str(serial.field("stage"))
        assert item.item is not None and item.item.sku == "PUMP-1HP"
        assert str(item.field("name")) == "Pump 1HP Monoblock"
        assert invoice.document is not None and invoice.document.reference_no == "REF-1042"
        assert activity.serial is not None and activity.serial.serial_no == sn(181)
        assert [e.to_stage for e in activity.events][-1] is Stage.RECEIVED_AT_GODOWN
        scanned = station.query_one(ScannedList)
        assert [row.serial for row in scanned.session] == [sn(181)]
        assert "ok 1" in str(scanned.border_title)
        assert "OK" in app.station.banner.text and sn(181) in app.station.banner.text
        assert app.station.banner.has_class("-ok")
        assert "G1" in app.station.header.text and "RECEIVE" in app.station.header.text

    await run_station(body, site="G1", mode="receive")
    assert events_of(demo_db)[-1] == (sn(181), "ok", "Received at Godown")


async def test_selecting_a_row_shows_that_serial(run_station: Any) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        burst(app, sn(1) + "\r" + sn(2) + "\r")
        await outcomes(pilot, app, 2)
        scanned = app.station.query_one(ScannedList)
        detail = app.station.query_one(SerialDetail)
        await wait_for(
            pilot, lambda: detail.serial is not None and detail.serial.serial_no == sn(2)
        )
        scanned.focus()
        await pilot.press("down")  # the older row: SN…1
        await wait_for(
            pilot, lambda: detail.serial is not None and detail.serial.serial_no == sn(1)
        )
        await pilot.press("up", "enter")
        await wait_for(
            pilot, lambda: detail.serial is not None and detail.serial.serial_no == sn(2)
        )
        # Click the second data row (line 0 of the body is the newest).
        await pilot.click(scanned.query_one("#scanned-body"), offset=(2, 1))
        await wait_for(
            pilot, lambda: detail.serial is not None and detail.serial.serial_no == sn(1)
        )

    await run_station(body, site="P1", mode="register")


async def test_older_rows_are_paged_from_the_database(demo_db: Path) -> None:
    settings = Settings(ui=UISettings(scanned_rows=10))
    app = make_app(demo_db, settings=settings, site="P1", mode="register")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        burst(app, "".join(sn(n) + "\r" for n in range(1, 16)))
        await outcomes(pilot, app, 15)
        scanned = app.station.query_one(ScannedList)
        assert len(scanned.session) == 10  # bounded: the five oldest left memory
        assert scanned.total == 15 and scanned.counts["ok"] == 15
        scanned.focus()
        await pilot.press("end", "down")  # past the end: page older rows in
        await wait_for(pilot, lambda: len(scanned.history) >= 5, what="a page of history")
        assert [row.serial for row in scanned.history[:5]] == [sn(n) for n in range(5, 0, -1)]
        assert all(row.history for row in scanned.history)


# -- modes -----------------------------------------------------------------------------------


async def test_modes_from_the_picker_through_the_real_service(
    run_station: Any, demo_db: Path
) -> None:
    async def scan(pilot: Pilot[Any], app: ProbedStationApp, serial: str) -> Any:
        before = len(app.probe.outcomes)
        burst(app, serial + "\r")
        await wait_for(pilot, lambda: len(app.probe.outcomes) > before, what=f"scan {serial}")
        return app.probe.outcomes[-1]

    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        assert app.station.state.mode is Mode.LOOKUP
        looked = await scan(pilot, app, sn(46))
        assert looked.kind is OutcomeKind.OK and "Registered at Plant" in looked.message

        await pick(pilot, app, Mode.REGISTER)
        assert app.station.state.mode is Mode.REGISTER
        assert (await scan(pilot, app, sn(1))).stage_after is Stage.REGISTERED
        assert (await scan(pilot, app, sn(1))).kind is OutcomeKind.ALREADY

        await pick(pilot, app, Mode.VALIDATE)
        assert (await scan(pilot, app, sn(46))).stage_after is Stage.VALIDATED

        await pick(pilot, app, Mode.REJECT)
        await answer(pilot, app, "Casing dent")
        assert app.station.state.mode is Mode.REJECT and app.station.state.reason == "Casing dent"
        assert "Casing dent" in app.station.header.text
        assert (await scan(pilot, app, sn(47))).stage_after is Stage.NOT_VALIDATED

        await pick(pilot, app, Mode.SCRAP)
        await answer(pilot, app, "Dropped from the forklift")
        assert (await scan(pilot, app, sn(48))).stage_after is Stage.SCRAPPED

        await pick(pilot, app, Mode.DISPATCH)
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentPicker), what="documents")
        picker = app.screen
        assert isinstance(picker, DocumentPicker)
        refs = [d.reference_no for d in picker.documents]
        assert refs == ["REF-1042", "REF-1043"]  # open DCs from this plant only
        picker.options.highlighted = 0
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.station.state.document == "REF-1042")
        assert app.station.state.mode is Mode.DISPATCH
        dispatched = await scan(pilot, app, sn(21))
        assert dispatched.stage_after is Stage.DISPATCHED_FROM_PLANT, dispatched.message
        invoice = app.station.query_one(InvoiceDetails)
        await wait_for(
            pilot,
            lambda: (
                invoice.document is not None
                and invoice.document.line_for("PUMP-1HP") is not None
                and invoice.document.line_for("PUMP-1HP").scanned == 26
            ),  # type: ignore[union-attr]
            what="the DC's progress",
        )
        assert app.probe.bells_rung > 0

    await run_station(body, site="P1", mode="lookup")
    stages = {sn(1): "Registered at Plant", sn(46): "Validated at Plant"}
    stages |= {sn(47): "Not Validated at Plant", sn(48): "Scrapped"}
    stages |= {sn(21): "Dispatch from Plant"}
    for serial, stage in stages.items():
        assert serial_stage(demo_db, serial) == stage
    with sqlite3.connect(demo_db) as connection:
        comment = connection.execute(
            "SELECT comment FROM event e JOIN serial s ON s.id = e.serial_id "
            "WHERE s.serial_no = ? ORDER BY e.id DESC",
            (sn(47),),
        ).fetchone()[0]
    assert comment == "Casing dent"


async def test_dispatch_at_a_godown_and_receive(run_station: Any, demo_db: Path) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        burst(app, sn(181) + "\r")  # receive: on REF-1042, addressed to G1
        await outcomes(pilot, app, 1)
        app.station.enter_mode(Mode.DISPATCH)
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentPicker))
        picker = app.screen
        assert isinstance(picker, DocumentPicker)
        assert [d.reference_no for d in picker.documents] == ["REF-88"]
        picker.options.highlighted = 0
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.station.state.document == "REF-88")
        burst(app, sn(101) + "\r")
        done = await outcomes(pilot, app, 2)
        assert done[-1].stage_after is Stage.DISPATCHED_FROM_GODOWN, done[-1].message

    await run_station(body, site="G1", mode="receive")
    assert serial_stage(demo_db, sn(181)) == "Received at Godown"
    assert serial_stage(demo_db, sn(101)) == "Dispatch from Godown"


async def test_receive_elsewhere_needs_an_override_with_a_reason(
    run_station: Any, demo_db: Path
) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        burst(app, sn(181) + "\r")  # addressed to G1, scanned at G2
        [refused] = await outcomes(pilot, app, 1)
        assert refused.kind is OutcomeKind.REJECTED
        assert app.station.banner.has_class("-error")
        await pilot.press("ctrl+o")
        await settle(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonPrompt), what="a reason")
        prompt = app.screen
        assert isinstance(prompt, ReasonPrompt)
        prompt.input.value = "Truck diverted"
        await pilot.press("enter")
        done = await outcomes(pilot, app, 2)
        assert done[-1].kind is OutcomeKind.OK, done[-1].message

    await run_station(body, site="G2", mode="receive")
    assert serial_stage(demo_db, sn(181)) == "Received at Godown"


async def test_a_return_cites_its_original_invoice(run_station: Any, demo_db: Path) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        burst(app, sn(73) + "\r")  # left G1 on invoice REF-5001: a return
        [refused] = await outcomes(pilot, app, 1)
        assert refused.kind is OutcomeKind.REJECTED and "REF-5001" in refused.message
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentPicker))
        picker = app.screen
        assert isinstance(picker, DocumentPicker)
        refs = [d.reference_no for d in picker.documents]
        assert "REF-5001" in refs  # closed documents can be cited
        picker.options.highlighted = refs.index("REF-5001")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.station.state.document == "REF-5001")
        assert app.station.state.mode is Mode.RECEIVE
        burst(app, sn(73) + "\r")
        done = await outcomes(pilot, app, 2)
        assert done[-1].kind is OutcomeKind.OK, done[-1].message

    await run_station(body, site="G1", mode="receive")
    assert serial_stage(demo_db, sn(73)) == "Received at Godown"


async def test_create_a_document_then_close_it_with_a_reason(
    run_station: Any, demo_db: Path
) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        app.station.enter_mode(Mode.DISPATCH)  # from register: dispatch asks for a document first
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentPicker))
        picker = app.screen
        assert isinstance(picker, DocumentPicker)
        picker.options.highlighted = len(picker.documents)  # "+ New document…"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentForm))
        form = app.screen
        assert isinstance(form, DocumentForm)
        form.fields["reference_no"].value = "REF-2001"
        form.fields["dc_no"].value = "DC-2001"
        form.fields["to"].value = "G2"
        form.fields["lines"].value = "PUMP-1HP=2, FAN-1200=1"
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: app.station.state.document == "REF-2001", what="the new document"
        )
        assert app.station.state.mode is Mode.DISPATCH
        burst(app, sn(22) + "\r")
        [outcome] = await outcomes(pilot, app, 1)
        assert outcome.kind is OutcomeKind.OK, outcome.message
        await pilot.press("f4")  # closing asks first
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPrompt), what="a question")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonPrompt), what="a reason")
        prompt = app.screen
        assert isinstance(prompt, ReasonPrompt)
        assert "2 short" in prompt.prompt_title
        prompt.input.value = "Truck full"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.station.state.document is None, what="the close")

    await run_station(body, site="P1", mode="register")
    service = StationService.open(str(demo_db))
    try:
        closed = service.document("REF-2001")
        assert closed is not None and closed.state == "closed"
        assert closed.closed_reason == "Truck full"
    finally:
        service.close()


async def test_dispatch_asks_for_a_document_at_start(run_station: Any) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentPicker))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.station)

    await run_station(body, site="P1", mode="dispatch")


async def test_comment_from_the_activity_log(run_station: Any, demo_db: Path) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        burst(app, sn(71) + "\r")
        await outcomes(pilot, app, 1)
        activity = app.station.query_one(ActivityLog)
        await wait_for(pilot, lambda: activity.serial is not None)
        activity.focus()
        await pilot.press("c")
        await settle(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, CommentPrompt), what="the prompt")
        prompt = app.screen
        assert isinstance(prompt, CommentPrompt)
        prompt.input.value = "Box [red]wet[/] on arrival"
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: any(e.comment == "Box [red]wet[/] on arrival" for e in activity.events),
            what="the comment in the log",
        )

    await run_station(body, site="G1", mode="lookup")


def palette_lists(app: ProbedStationApp, title: str) -> bool:
    """The command palette lists `title` where Enter picks it: alone, or highlighted."""
    screen = app.screen
    if not isinstance(screen, CommandPalette) or not screen._list_visible:
        return False
    commands = screen.query_one(CommandList)
    index = commands.highlighted
    if index is None and commands.option_count == 1:
        index = 0
    if index is None:
        return False
    option = commands.get_option_at_index(index)
    return isinstance(option, Command) and str(option.hit.text) == title


async def test_command_palette_switches_mode(run_station: Any) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        titles = [c.title for c in app.get_system_commands(app.station)]
        assert {"Mode: register", "Mode: validate", "Mode: scrap", "Help: keys"} <= set(titles)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await wait_for(pilot, lambda: app.screen is not app.station, what="the palette")
        app.post_message(events.Paste("Mode: validate"))
        # Enter picks a command only once the palette's search has listed it (Textual searches
        # in a worker); before that it does nothing, and a loaded machine searches slowly.
        await wait_for(pilot, lambda: palette_lists(app, "Mode: validate"), what="the hit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.station.state.mode is Mode.VALIDATE, what="validate mode")

    await run_station(body, site="P1", mode="register")


async def test_help_lists_every_key(run_station: Any) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        text = str(screen.text())
        for key in ("f1", "f2", "f3", "f4", "f6", "f7", "f8", "f9", "^o", "^q", "^p", "esc"):
            assert key in text, key
        assert "Retry NOT SAVED scans now" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.station)

    await run_station(body, site="G1", mode="receive")


async def test_handheld_layout_switches_and_maximises(run_station: Any) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        station = app.station
        assert not station.wide
        shown = [p.PORTLET_ID for p in station.portlets if p.display and p.region.height > 0]
        assert shown == ["scanned", "serial_detail"]
        await pilot.press("f6")
        # Laid out at the next refresh, which a loaded machine runs late.
        await wait_for(
            pilot,
            lambda: (
                [p.PORTLET_ID for p in station.portlets if p.display and p.region.height > 0]
                == ["scanned", "item_detail"]
            ),
            what="the item portlet laid out in place of the serial's",
        )
        await pilot.press("f7")
        await wait_for(
            pilot,
            lambda: station.deck.maximised is station.portlet("item_detail"),
            what="the item portlet maximised",
        )
        await pilot.press("f7")
        assert station.deck.maximised is None
        await pilot.press("f7", "escape")
        await settle(pilot)  # escape produces a character, so the capture holds it briefly
        assert station.deck.maximised is None

    await run_station(body, site="G1", mode="receive", size=(80, 24))


async def test_wide_layout_shows_every_portlet(run_station: Any) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        assert app.station.wide
        for portlet in app.station.portlets:
            assert portlet.region.height >= 5 and portlet.region.width >= 30, portlet

    await run_station(body, site="G1", mode="receive", size=(160, 48))


async def test_portlets_follow_the_config(demo_db: Path) -> None:
    settings = Settings(ui=UISettings(portlets=["activity", "scanned", "invoice"]))
    app = make_app(demo_db, settings=settings, site="G1", mode="receive")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        assert [p.PORTLET_ID for p in app.station.portlets] == ["activity", "scanned", "invoice"]
        assert not app.station.query(SerialDetail)


# -- input -----------------------------------------------------------------------------------


async def test_burst_of_20_scans_gets_20_outcomes_in_order(run_station: Any, demo_db: Path) -> None:
    serials = [sn(n) for n in range(1, 21)]

    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        burst(app, "".join(serial + "\r" for serial in serials))  # no idle between keys
        done = await outcomes(pilot, app, 20)
        assert [o.event.payload for o in done] == serials
        assert all(o.kind is OutcomeKind.OK for o in done), [o.message for o in done]
        assert all(o.event.source == "wedge" for o in done)
        assert app.station.manual.value == ""  # nothing leaked into the focused field
        scanned = app.station.query_one(ScannedList)
        assert [row.serial for row in scanned.session] == serials[::-1]

    await run_station(body, site="P1", mode="register")
    assert [payload for payload, _, _ in events_of(demo_db)] == serials


def screen_text(app: ProbedStationApp) -> str:
    """What the terminal shows now: the screen's lines as painted, cached lines included."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_the_scanned_lists_counts_are_repainted_at_each_scan(run_station: Any) -> None:
    # The counts repaint only the title's line: a line left stale would show the old count.
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        for count in (1, 2, 3):
            burst(app, sn(count) + "\r")
            await outcomes(pilot, app, count)
            assert f"Scanned Serial Numbers  ok {count}" in screen_text(app)
        burst(app, "NOPE-1\r")
        await outcomes(pilot, app, 4)
        assert "Scanned Serial Numbers  ok 3 · unknown 1" in screen_text(app)

    await run_station(body, site="P1", mode="register")


def drawn(written: str) -> str:
    """What a frame draws: its bytes less the cursor moves that draw nothing after them."""
    return re.sub(r"\x1b\[\d+;\d+H(?=\x1b\[\d+;\d+H|\n|$)", "", written)


async def test_each_frame_writes_what_textuals_own_compositor_would(run_station: Any) -> None:
    # The station's compositor draws a frame from the widgets a change touches only; what it
    # writes to the terminal must be what Textual's would, frame by frame, or a cell is stale.
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        compositor = app.station._compositor
        assert isinstance(compositor, ChangedRowsCompositor)
        frames: list[tuple[str, str]] = []

        def checked() -> ChopsUpdate | None:
            changed = set(compositor._dirty_regions)
            update = ChangedRowsCompositor.render_partial_update(compositor)
            compositor._dirty_regions.update(changed)
            textuals = Compositor.render_partial_update(compositor)
            if update is not None and textuals is not None:
                frames.append(
                    (
                        drawn(update.render_segments(app.console)),
                        drawn(textuals.render_segments(app.console)),
                    )
                )
            return update

        compositor.render_partial_update = checked  # type: ignore[method-assign]
        for count in range(1, 7):
            burst(app, sn(count) + "\r" + ("NOPE-1\r" if count == 3 else ""))
            await pilot.pause(0.01)
        await outcomes(pilot, app, 7)
        await wait_for(pilot, lambda: app.station.shown_serial == sn(6), what="details")
        await pilot.pause(0.3)  # the portlets are drawn with the last serial
        await pilot.press("f7")  # maximised and back
        await pilot.pause(0.1)
        await pilot.press("escape")
        await pilot.pause(0.1)
        del compositor.render_partial_update
        assert len(frames) >= 5
        for index, (written, expected) in enumerate(frames):
            assert written == expected, f"frame {index} differs"
        # The list's rows are kept drawn as they move down: each as Textual would draw it now.
        rows = app.station.query_one(ScannedRows)
        whole = rows.size.region
        kept = rows.render_lines(whole)
        rows._styles_cache.clear()
        assert kept == Widget.render_lines(rows, whole)
        assert sn(6) in kept[0].text and sn(1) in kept[6].text

    await run_station(body, site="P1", mode="register")


async def test_burst_while_the_manual_field_has_focus(run_station: Any, demo_db: Path) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        app.station.manual.focus()
        await pilot.pause(0.05)
        burst(app, sn(1) + "\r" + sn(2) + "\r" + sn(3) + "\r")
        done = await outcomes(pilot, app, 3)
        assert [o.event.payload for o in done] == [sn(1), sn(2), sn(3)]
        assert app.station.manual.value == ""

    await run_station(body, site="P1", mode="register")


# As a scanner types them (at least 4 characters, not one key repeated: the wedge's rules).
HOSTILE = [
    "[@click=app.quit]Q[/]",
    "[/]x",
    "[bold red]LOUD[/bold red]",
    "\x1b[31mRED\x1b[0m\x1b]0;title\x07",
    "AB\x11CD\x03EF",  # DC1 (ctrl+q) and ETX (ctrl+c) inside a burst
    "]C1010950600013435221SER\x1d10LOT\x1e\x04",
    "XY" * 300,  # longer than max_payload: rejected whole
]


async def test_hostile_payloads_are_shown_literally(run_station: Any, demo_db: Path) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        # One scan at a time, as a scanner sends them: all seven queued at once (some 700 keys)
        # left a loaded machine so far behind that the capture's timer ran between the ESC
        # starting a payload and the keys queued right after it (CI, load 8).
        for count, payload in enumerate(HOSTILE, 1):
            burst(app, payload + "\r")
            done = await outcomes(pilot, app, count)
        assert [o.event.payload for o in done] == HOSTILE
        assert app.is_running and app.return_code is None
        scanned = app.station.query_one(ScannedList)
        banner = app.station.banner
        assert [row.payload for row in scanned.session] == HOSTILE[::-1]
        rows = str(scanned.query_one("#scanned-body", ScannedRows).content)
        assert "[@click=app.qui" in rows  # cropped to the column, but literal
        # Control characters are shown as symbols, never sent to the terminal.
        assert "\x1b" not in rows and "\x11" not in rows
        assert "␛[31mRED" in rows and "AB␑CD␃EF" in rows
        assert "XY" * 10 in banner.text and "too long" in banner.text
        # Too short for a scanner burst, so pasted: "[/]" alone must not raise either.
        app.post_message(events.Paste("[/]\n[@click=app.quit]Q[/]"))
        await outcomes(pilot, app, len(HOSTILE) + 2)
        assert "[@click=app.quit]Q[/]" in banner.text and banner.has_class("-error")
        assert scanned.session[1].payload == "[/]"
        app.station.banner.show_outcome("unknown", "[/]\x1b[2J\x9b", "[@click=app.quit]x[/]")
        await pilot.pause(0.05)
        assert "[/]␛[2J\\x9b" in banner.text and "[@click=app.quit]x[/]" in banner.text
        app.notify  # noqa: B018 - the app is still alive and answering
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))

    await run_station(body, site="G1", mode="receive")
    logged = events_of(demo_db)
    assert len(logged) == len(HOSTILE) + 2
    assert all("\x1b" not in (payload or "") for payload, _, _ in logged)


async def test_a_person_typing_slowly_reaches_the_manual_field(
    run_station: Any, demo_db: Path
) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        manual = app.station.manual
        manual.focus()
        await pilot.pause(0.05)
        typed = sn(5)
        for character in typed:
            app.post_message(key_event(character))
            await asyncio.sleep(0.09)  # 90 ms a key: a quick typist, not a scanner
        # The last key is let go by the hold's timer, which a loaded machine runs late.
        await wait_for(pilot, lambda: manual.value == typed, what="the typed serial")
        assert not app.probe.outcomes  # not taken as a scan
        app.post_message(key_event("\r"))
        [outcome] = await outcomes(pilot, app, 1)
        assert outcome.event.source == "manual" and outcome.kind is OutcomeKind.OK
        assert manual.value == ""

    await run_station(body, site="P1", mode="register")
    assert events_of(demo_db)[-1][0] == sn(5)


async def test_a_scan_glued_to_a_persons_keys(run_station: Any) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        manual = app.station.manual
        manual.focus()
        await pilot.pause(0.05)
        person = key_event("x")
        app.post_message(person)  # a person's key...
        await asyncio.sleep(0.06)
        # ...and 60 ms later a scan, its keys 3 ms apart as a USB scanner types them. (Read
        # all at once, a pause before them may be the terminal's: then "x" would be a scan's
        # first key let go during that pause, and taken back, see test_capture.)
        for index, character in enumerate(sn(6) + "\r"):
            key = key_event(character)
            key.time = person.time + 0.06 + index * 0.003
            app.post_message(key)
        await asyncio.sleep(0.06)
        app.post_message(key_event("y"))  # and a key 60 ms after it
        [outcome] = await outcomes(pilot, app, 1)
        assert outcome.event.payload == sn(6) and outcome.kind is OutcomeKind.OK
        # "y" is let go by the hold's timer, which a loaded machine runs late.
        await wait_for(pilot, lambda: manual.value == "xy", what="x and y typed")

    await run_station(body, site="P1", mode="register")


async def test_tab_and_lf_end_a_scan(run_station: Any) -> None:
    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        scanned = app.station.query_one(ScannedList)
        scanned.focus()
        await pilot.pause(0.05)
        burst(app, sn(7) + "\t" + sn(8) + "\n")
        done = await outcomes(pilot, app, 2)
        assert [o.event.payload for o in done] == [sn(7), sn(8)]
        assert app.focused is scanned  # the Tab was swallowed, focus did not move

    await run_station(body, site="P1", mode="register")


async def test_paste_is_one_scan_a_line(run_station: Any, demo_db: Path) -> None:
    gs1 = "]C1010890123450001921SN0000000011\x1d10LOT7"

    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        app.post_message(events.Paste(f"{sn(9)}\n{sn(10)}\r\n\n{gs1}\r{sn(12)}"))
        done = await outcomes(pilot, app, 4)
        assert [o.event.payload for o in done] == [sn(9), sn(10), gs1, sn(12)]
        assert all(o.event.source == "paste" for o in done)
        assert done[2].serial_no == sn(11)  # GS kept: the GS1 code was read whole

    await run_station(body, site="P1", mode="register")
    assert [p for p, _, _ in events_of(demo_db)][:2] == [sn(9), sn(10)]


def test_split_paste_keeps_group_separators() -> None:
    assert split_paste("A\x1dB\x1eC\nD\r\nE\rF\n \n") == ["A\x1dB\x1eC", "D", "E", "F"]


async def test_human_ctrl_q_quits_but_not_inside_a_burst(demo_db: Path) -> None:
    app = make_app(demo_db, site="P1", mode="register")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        burst(app, "AB\x11CD\r")
        await outcomes(pilot, app, 1)
        assert app.is_running
        await pilot.pause(0.1)
        app.post_message(key_event("\x11"))
        await wait_for(pilot, lambda: not app.is_running, what="quit")
    assert app.return_code == 0


# -- failures --------------------------------------------------------------------------------


async def test_not_saved_then_retry(
    run_station: Any, demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scanstation.store.repository as repository

    # Give up fast while the file is locked (the store's retry budget is seconds).
    for name, fast in (("WRITE_BUDGET_S", 0.3), ("WRITE_ATTEMPTS", 2)):
        if hasattr(repository, name):
            monkeypatch.setattr(repository, name, fast)
    blocker = sqlite3.connect(demo_db, timeout=5)

    async def body(pilot: Pilot[Any], app: ProbedStationApp) -> None:
        blocker.execute("BEGIN EXCLUSIVE")
        burst(app, sn(13) + "\r" + sn(14) + "\r")
        banner = app.station.banner
        await wait_for(pilot, lambda: banner.kind == "not_saved", what="NOT SAVED")
        assert "NOT SAVED" in banner.text and sn(13) in banner.text
        assert banner.has_class("-error")
        assert "NOT SAVED" in app.station.header.text
        assert not app.probe.outcomes
        blocker.rollback()
        await pilot.press("f9")
        done = await outcomes(pilot, app, 2)
        assert [o.event.payload for o in done] == [sn(13), sn(14)]
        assert all(o.kind is OutcomeKind.OK for o in done)
        assert banner.kind == "ok" and "db ok" in app.station.header.text

    try:
        await run_station(body, site="P1", mode="register")
    finally:
        blocker.close()
    assert [p for p, _, _ in events_of(demo_db)] == [sn(13), sn(14)]


async def test_bells_follow_the_feedback_settings(demo_db: Path) -> None:
    settings = Settings(feedback=FeedbackSettings(bells_ok=1, bells_already=2, bells_error=3))
    app = make_app(demo_db, settings=settings, site="P1", mode="register")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        patterns = ((sn(15), 1), (sn(15), 2), ("NOPE-1", 3))  # OK, ALREADY, UNKNOWN
        for index, (payload, rung) in enumerate(patterns):
            before = app.probe.bells_rung
            burst(app, payload + "\r")
            await outcomes(pilot, app, index + 1)
            # The pattern's bells are spaced out by timers, which a loaded machine runs late:
            # waited for, then no more may come.
            rang = before + rung
            await wait_for(pilot, lambda: app.probe.bells_rung >= rang, what=payload)  # noqa: B023
            await pilot.pause(2 * BELL_SPACING_S)
            assert app.probe.bells_rung - before == rung, payload
    quiet = make_app(demo_db, settings=Settings(feedback=FeedbackSettings(bell=False)), site="P1")
    async with quiet.run_test(size=(80, 24)) as pilot:
        await ready(pilot, quiet)
        burst(quiet, "NOPE-2\r")
        await outcomes(pilot, quiet, 1)
        assert quiet.probe.bells_rung == 0


async def test_unknown_site_exits_with_the_reason(demo_db: Path) -> None:
    app = make_app(demo_db, site="ZZ", mode="receive")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.station.failed is not None and not app.is_running)
    assert app.return_code == 2
    assert "ZZ" in (app.station.failed or "")


async def test_missing_database_exits_with_the_reason(tmp_path: Path) -> None:
    app = make_app(tmp_path / "none.db", site="G1")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.station.failed is not None and not app.is_running)
    assert app.return_code == 2
    assert "No database" in (app.station.failed or "")


def test_run_station_needs_a_site(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from scanstation.tui.launch import run_station

    assert run_station(Settings(), database_url=str(tmp_path / "x.db")) == 2
    assert "--site" in capsys.readouterr().err
