"""The detail portlets (serial, item, invoice, activity): what the user sees for hand-built
views, that data is never markup, the placeholders, the comment request, and snapshots."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.containers import Grid
from textual.content import Content
from textual.widget import Widget

from scanstation.domain.model import (
    DocumentLineView,
    DocumentView,
    EventView,
    GenerationView,
    ItemView,
    SerialView,
)
from scanstation.domain.stages import DocumentKind, Stage
from scanstation.tui.widgets.activity import ActivityLog
from scanstation.tui.widgets.invoice import InvoiceDetails
from scanstation.tui.widgets.item_detail import ItemDetail
from scanstation.tui.widgets.portlet import Bar, Column, Portlet, RowTable
from scanstation.tui.widgets.serial_detail import SerialDetail

T0 = datetime(2025, 3, 5, 9, 15, tzinfo=UTC)
HOSTILE_NAME = "[@click=app.quit]Q[/]"
HOSTILE_COMMENT = "[/] closing tag"
ESCAPE = "\x1b[31mred"

SERIAL = SerialView(
    serial_no="SN0000421",
    sku="SKU-1",
    item_name="Pump 1HP",
    gtin="08901234567896",
    generation_no="G-0007",
    secondary_qr="QR7XK2M9PA4B",
    stage=Stage.RECEIVED_AT_GODOWN,
    site="G1",
    document="DC-1042",
    created_at=T0,
    created_by="op-01",
    updated_at=T0 + timedelta(days=2, hours=5, minutes=17),
    updated_by="op-17",
    version=4,
)

ITEM = ItemView(
    sku="SKU-1",
    name="Pump 1HP",
    gtin="08901234567896",
    model_no="PMP-1H-2025",
    generations=(
        GenerationView("G-0006", "SKU-1", 500, "P1", T0 - timedelta(days=30), "op-01"),
        GenerationView("G-0007", "SKU-1", 1000, "P1", T0, "op-01"),
    ),
    stage_counts=(
        (Stage.NOT_REGISTERED, 640),
        (Stage.VALIDATED, 420),
        (Stage.RECEIVED_AT_GODOWN, 375),
        (Stage.NOT_VALIDATED, 15),
        (Stage.DISPATCHED_FROM_PLANT, 50),
        (Stage.SCRAPPED, 0),
    ),
)

DOCUMENT = DocumentView(
    reference_no="REF-88",
    kind=DocumentKind.INVOICE,
    dc_no="DC-1042",
    invoice_no="INV-5531",
    from_site="G1",
    to_site=None,
    to_name="Acme Traders",
    state="open",
    lines=(
        DocumentLineView("SKU-1", "Pump 1HP", 50, 25),
        DocumentLineView("SKU-2", "Motor 2HP", 20, 0),
        DocumentLineView("SKU-3", "Control Panel 3-phase", 10, 10),
    ),
    created_at=T0,
)


def event(
    minutes: int,
    from_stage: Stage | None,
    to_stage: Stage | None,
    *,
    outcome: str = "ok",
    by: str = "op-17",
    station: str = "GATE-7",
    document: str | None = None,
    comment: str | None = None,
) -> EventView:
    return EventView(
        at=T0 + timedelta(minutes=minutes),
        by=by,
        station=station,
        site="G1",
        outcome=outcome,
        from_stage=from_stage,
        to_stage=to_stage,
        document=document,
        comment=comment,
        payload="SN0000421",
        serial_no="SN0000421",
    )


# Oldest first, as the store gives them.
EVENTS = (
    event(0, None, Stage.NOT_REGISTERED, by="op-01", station="PLANT-2"),
    event(60, Stage.NOT_REGISTERED, Stage.REGISTERED, by="op-04", station="PLANT-2"),
    event(90, Stage.REGISTERED, Stage.VALIDATED, by="op-04", station="PLANT-2"),
    event(600, Stage.VALIDATED, Stage.DISPATCHED_FROM_PLANT, by="op-04", station="PLANT-2",
          document="DC-1042"),
    event(3000, Stage.DISPATCHED_FROM_PLANT, None, outcome="rejected", document="INV-9"),
    event(3077, Stage.DISPATCHED_FROM_PLANT, Stage.RECEIVED_AT_GODOWN, document="DC-1042"),
    event(3080, None, None, comment="Box dented on the left side", by="sup-2"),
)  # fmt: skip


@pytest.fixture
def utc() -> Iterator[None]:
    """Local time is UTC, so times on screen and in snapshots do not depend on the host."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


class PortletApp(App[None]):
    """Mounts the given portlets (in a grid when there are several) and records the comment
    requests they post."""

    CSS = """
    #portlets { grid-size: 2; }
    """

    def __init__(self, *portlets: Portlet, columns: str = "1fr 1fr") -> None:
        super().__init__()
        self.portlets = portlets
        self.columns = columns
        self.requests: list[str] = []

    def compose(self) -> ComposeResult:
        if len(self.portlets) == 1:
            yield self.portlets[0]
        else:
            grid = Grid(*self.portlets, id="portlets")
            grid.styles.grid_columns = self.columns
            yield grid

    def on_activity_log_comment_requested(self, message: ActivityLog.CommentRequested) -> None:
        self.requests.append(message.serial_no)


def screen_text(app: App[Any]) -> str:
    """The screen as plain text, the way a user reads it."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def screen_links(app: App[Any]) -> list[object]:
    """Every click action or hyperlink on the screen."""
    found: list[object] = []
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            style = segment.style
            if style is None:
                continue
            if style.link:
                found.append(style.link)
            if style.meta and "@click" in style.meta:
                found.append(style.meta["@click"])
    return found


def descendants(widget: Widget) -> list[Widget]:
    return list(widget.query("*"))


# --- Serial Number Details ------------------------------------------------------------------


async def test_serial_detail_shows_every_field(utc: None) -> None:
    portlet = SerialDetail()
    app = PortletApp(portlet)
    async with app.run_test(size=(80, 24)) as pilot:
        portlet.show(SERIAL)
        await pilot.pause()
        text = screen_text(app)
        assert "Serial Number Details" in text
        for label in (
            "SKU",
            "Secondary QR Code",
            "Created Date",
            "Generation No",
            "Item Name",
            "Created By",
            "Serial No",
            "Stage",
        ):
            assert label in text
        for value in (
            "SN0000421",
            "SKU-1",
            "QR7XK2M9PA4B",
            "05 Mar 2025 09:15",
            "G-0007",
            "Pump 1HP",
            "op-01",
            "Received at Godown",
            "DC-1042",
        ):
            assert value in text
        assert "Scan a serial" not in text


async def test_serial_detail_colours_the_stage(utc: None) -> None:
    portlet = SerialDetail()
    async with PortletApp(portlet).run_test() as pilot:
        styles = {}
        for stage in (Stage.SCRAPPED, Stage.DISPATCHED_FROM_PLANT, Stage.VALIDATED):
            portlet.show(replace(SERIAL, stage=stage))
            await pilot.pause()
            shown = portlet.field("stage")
            assert stage.value in shown.plain
            styles[stage] = " ".join(str(span.style) for span in shown.spans)
        assert "error" in styles[Stage.SCRAPPED]
        assert "warning" in styles[Stage.DISPATCHED_FROM_PLANT]
        assert "success" in styles[Stage.VALIDATED]


async def test_serial_detail_placeholder_for_none(utc: None) -> None:
    portlet = SerialDetail()
    app = PortletApp(portlet)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "Scan a serial to see its details" in screen_text(app)
        portlet.show(SERIAL)
        await pilot.pause()
        portlet.show(None)
        await pilot.pause()
        text = screen_text(app)
        assert "Scan a serial to see its details" in text
        assert "SN0000421" not in text


async def test_serial_detail_shows_markup_and_controls_literally(utc: None) -> None:
    portlet = SerialDetail()
    app = PortletApp(portlet)
    hostile = replace(
        SERIAL,
        serial_no="[/]",
        item_name=HOSTILE_NAME,
        sku="SKU\x1d01",
        created_by=ESCAPE,
        secondary_qr="[b]bold[/b]",
    )
    async with app.run_test(size=(100, 30)) as pilot:
        portlet.show(hostile)
        await pilot.pause()
        text = screen_text(app)
        assert HOSTILE_NAME in text
        assert "[/]" in text
        assert "SKU␝01" in text
        assert "␛[31mred" in text
        assert "[b]bold[/b]" in text
        assert screen_links(app) == []
        assert portlet.border_subtitle is not None
        assert "[/]" in portlet.field("serial_no").plain
        await pilot.click(SerialDetail, offset=(25, 4))
        await pilot.pause()
        assert app.is_running


async def test_show_updates_in_place(utc: None) -> None:
    """A new serial changes the existing widgets: nothing is mounted or removed per scan."""
    serial, item, invoice, activity = SerialDetail(), ItemDetail(), InvoiceDetails(), ActivityLog()
    async with PortletApp(serial, item, invoice, activity).run_test() as pilot:
        serial.show(SERIAL)
        item.show(ITEM)
        invoice.show(DOCUMENT)
        activity.show(SERIAL, EVENTS)
        await pilot.pause()
        before = [descendants(portlet) for portlet in (serial, item, invoice, activity)]
        other = replace(SERIAL, serial_no="SN0000422", stage=Stage.VALIDATED)
        serial.show(other)
        item.show(replace(ITEM, name="Pump 2HP", generations=ITEM.generations[:1]))
        invoice.show(replace(DOCUMENT, lines=(replace(DOCUMENT.lines[0], scanned=26),)))
        activity.show(other, EVENTS[:3])
        await pilot.pause()
        after = [descendants(portlet) for portlet in (serial, item, invoice, activity)]
        assert before == after
        assert "SN0000422" in serial.field("serial_no").plain


async def test_show_before_mount() -> None:
    """The app may fill a portlet before it is on screen."""
    portlet = SerialDetail()
    portlet.show(SERIAL)
    app = PortletApp(portlet)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "SN0000421" in screen_text(app)


async def test_portlet_can_be_maximised_and_restored() -> None:
    serial, invoice = SerialDetail(), InvoiceDetails()
    app = PortletApp(serial, invoice)
    async with app.run_test(size=(120, 40)) as pilot:
        invoice.focus()
        await pilot.pause()
        assert invoice.can_focus and invoice.allow_maximize
        assert app.screen.maximize(invoice)
        await pilot.pause()
        assert invoice.is_maximized
        assert invoice.region.width == 120
        app.screen.minimize()
        await pilot.pause()
        assert not invoice.is_maximized
        assert invoice.region.width < 120


def test_portlet_ids() -> None:
    assert SerialDetail.PORTLET_ID == "serial_detail"
    assert ItemDetail.PORTLET_ID == "item_detail"
    assert InvoiceDetails.PORTLET_ID == "invoice"
    assert ActivityLog.PORTLET_ID == "activity"
    assert SerialDetail().border_title == "Serial Number Details"
    assert ItemDetail().border_title == "Item Serial Number Details"
    assert InvoiceDetails().border_title == "Invoice Details"
    assert ActivityLog().border_title == "Activity Log"


async def test_local_time_follows_the_terminal_zone() -> None:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"
    time.tzset()
    try:
        portlet = SerialDetail()
        async with PortletApp(portlet).run_test() as pilot:
            portlet.show(SERIAL)  # 09:15 UTC
            await pilot.pause()
            assert portlet.field("created_at").plain == "05 Mar 2025 14:45"
            portlet.show(replace(SERIAL, created_at=T0.replace(tzinfo=None)))  # naive → UTC
            await pilot.pause()
            assert portlet.field("created_at").plain == "05 Mar 2025 14:45"
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


async def test_narrow_portlet_stacks_labels(utc: None) -> None:
    portlet = SerialDetail()
    app = PortletApp(portlet)
    async with app.run_test(size=(36, 30)) as pilot:
        portlet.show(replace(SERIAL, item_name="Submersible Pump 1HP Heavy Duty"))
        await pilot.pause()
        assert portlet.has_class("-narrow")
        text = screen_text(app)
        assert "Secondary QR Code" in text
        assert "QR7XK2M9PA4B" in text
        assert "Submersible Pump" in text


async def test_a_longer_value_gets_the_lines_it_needs(utc: None) -> None:
    """A value replaced in place still re-flows when it wraps onto more lines."""
    portlet = SerialDetail()
    app = PortletApp(portlet)
    long_name = "Submersible Pump 1HP Heavy Duty Stainless Steel Body, Export Model"
    async with app.run_test(size=(60, 30)) as pilot:
        portlet.show(SERIAL)
        await pilot.pause()
        portlet.show(replace(SERIAL, item_name=long_name))
        await pilot.pause()
        lines = screen_text(app).splitlines()
        item_row = next(i for i, line in enumerate(lines) if "Item Name" in line)
        assert "Export Model" in lines[item_row + 1] or "Export Model" in lines[item_row + 2]
        assert any("Generation No" in line for line in lines[item_row + 2 : item_row + 4])
        portlet.show(SERIAL)
        await pilot.pause()
        lines = screen_text(app).splitlines()
        assert "Generation No" in lines[item_row + 1]


# --- Item Serial Number Details -------------------------------------------------------------


async def test_item_detail_shows_item_runs_and_stage_counts(utc: None) -> None:
    portlet = ItemDetail()
    app = PortletApp(portlet)
    async with app.run_test(size=(80, 40)) as pilot:
        portlet.show(ITEM)
        await pilot.pause()
        text = screen_text(app)
        for value in ("Item Serial Number Details", "SKU-1", "Pump 1HP", "PMP-1H-2025"):
            assert value in text
        assert "08901234567896" in text
        assert "1,500 in all" in text
        assert "Not Registered at Plant" in text and "640" in text
        assert "Received at Godown" in text and "375" in text
        assert "Scrapped" not in text  # zero counts are left out
        # Generation runs newest first, with count, site and date.
        assert text.index("G-0007") < text.index("G-0006")
        assert "1,000" in text and "05 Mar 2025" in text and "03 Feb 2025" in text
        portlet.show(None)
        await pilot.pause()
        assert "Scan a serial to see its item" in screen_text(app)


async def test_item_detail_stage_bars_in_stage_order(utc: None) -> None:
    portlet = ItemDetail()
    async with PortletApp(portlet).run_test() as pilot:
        portlet.show(ITEM)
        await pilot.pause()
        rows = portlet.query_one("#item-stages", RowTable).rows
        abbreviations = [row[0].plain for row in rows if isinstance(row[0], Content)]
        assert abbreviations == ["NRP", "NVP", "VP", "DFP", "RAG"]
        assert rows[0][2] == Bar(640, 1500, "$foreground-muted")


async def test_item_detail_markup_literal(utc: None) -> None:
    portlet = ItemDetail()
    app = PortletApp(portlet)
    hostile = replace(
        ITEM,
        name=HOSTILE_NAME,
        model_no="[/]",
        generations=(GenerationView(ESCAPE, "SKU-1", 5, "[i]P1", T0, "[/b]"),),
    )
    async with app.run_test(size=(100, 30)) as pilot:
        portlet.show(hostile)
        await pilot.pause()
        text = screen_text(app)
        assert HOSTILE_NAME in text
        assert "[/]" in text
        assert "␛[31mred" in text
        assert "[i]P1" in text
        assert "[/b]" in text
        assert screen_links(app) == []


# --- Invoice Details ------------------------------------------------------------------------


async def test_invoice_shows_header_and_line_progress(utc: None) -> None:
    portlet = InvoiceDetails()
    app = PortletApp(portlet)
    async with app.run_test(size=(80, 24)) as pilot:
        portlet.show(DOCUMENT)
        await pilot.pause()
        text = screen_text(app)
        for label in ("Reference No", "DC No", "Invoice No", "From → To", "State"):
            assert label in text
        assert "REF-88 · DC-1042 · INV-5531" in text  # the border subtitle
        assert "G1 → Acme Traders" in text
        assert "open" in text
        assert "25/50" in text
        assert "0/20" in text
        assert "10/10" in text
        assert "35/80 scanned · 45 to go" in text
        assert "Motor 2HP" in text
        assert "█" in text and "░" in text


async def test_invoice_bar_follows_progress() -> None:
    portlet = InvoiceDetails()
    async with PortletApp(portlet).run_test() as pilot:
        portlet.show(DOCUMENT)
        await pilot.pause()
        bars = [row[2] for row in portlet.query_one("#invoice-lines", RowTable).rows]
        assert all(isinstance(bar, Bar) for bar in bars)
        half, empty, full = (bar for bar in bars if isinstance(bar, Bar))
        assert half == Bar(25, 50, "$primary")
        assert half.render(20).plain == "█" * 10 + "░" * 10
        assert empty.render(8).plain == "░" * 8
        assert full.render(8).plain == "█" * 8
        assert full.style == "$success"


async def test_invoice_placeholder_and_closed_document(utc: None) -> None:
    portlet = InvoiceDetails()
    app = PortletApp(portlet)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "No open document — F3 to pick or create one" in screen_text(app)
        assert portlet.border_subtitle is None
        portlet.show(replace(DOCUMENT, state="closed", closed_reason="short: [/] truck full"))
        await pilot.pause()
        text = screen_text(app)
        assert "closed" in text
        assert "short: [/] truck full" in text
        portlet.show(None)
        await pilot.pause()
        assert "No open document" in screen_text(app)
        assert portlet.border_subtitle is None


async def test_invoice_markup_literal(utc: None) -> None:
    portlet = InvoiceDetails()
    app = PortletApp(portlet)
    hostile = replace(
        DOCUMENT,
        reference_no=HOSTILE_NAME,
        dc_no="[/]",
        invoice_no=ESCAPE,
        to_name="[red]X",
        lines=(DocumentLineView("[/]", HOSTILE_NAME, 4, 1),),
    )
    async with app.run_test(size=(100, 24)) as pilot:
        portlet.show(hostile)
        await pilot.pause()
        text = screen_text(app)
        assert HOSTILE_NAME in text
        assert f"{HOSTILE_NAME} · [/] · ␛[31mred" in text  # the subtitle, literally
        assert "[red]X" in text
        assert "1/4" in text
        assert screen_links(app) == []


# --- Activity Log ---------------------------------------------------------------------------


async def test_activity_shows_fields_comments_and_timeline(utc: None) -> None:
    portlet = ActivityLog()
    app = PortletApp(portlet)
    async with app.run_test(size=(80, 40)) as pilot:
        portlet.show(SERIAL, EVENTS)
        await pilot.pause()
        text = screen_text(app)
        for label in (
            "Created Date",
            "Created By",
            "Last Updated Date",
            "Last Updated By",
            "Status",
            "Comments",
            "Time-Line",
        ):
            assert label in text
        assert "05 Mar 2025 09:15" in text  # created
        assert "07 Mar 2025 14:32" in text  # last updated
        assert "op-17" in text
        assert "Received at Godown" in text
        assert "Box dented on the left side" in text
        assert "7 events" in text
        lines = text.splitlines()

        def line_of(fragment: str) -> int:
            return next(index for index, line in enumerate(lines) if fragment in line)

        # Newest first: the receipt above the refused scan above the dispatch from the plant.
        assert line_of("DFP→RAG") < line_of("REJECTED") < line_of("VP→DFP") < line_of("new→NRP")
        assert "07 Mar 12:32" in lines[line_of("DFP→RAG")]
        assert "GATE-7" in lines[line_of("DFP→RAG")]
        assert "INV-9" in lines[line_of("REJECTED")]


async def test_activity_timeline_is_bounded(utc: None) -> None:
    many = tuple(
        event(minute, Stage.REGISTERED, Stage.VALIDATED, document=f"D-{minute}")
        for minute in range(130)
    )
    portlet = ActivityLog()
    app = PortletApp(portlet)
    async with app.run_test(size=(80, 24)) as pilot:
        portlet.show(SERIAL, many)
        await pilot.pause()
        rows = portlet.query_one("#activity-timeline", RowTable).rows
        assert len(rows) == 50
        assert rows[0][4].plain == "D-129"  # type: ignore[union-attr]
        assert "newest 50 of 130" in screen_text(app)


async def test_activity_comment_key_posts_request() -> None:
    portlet = ActivityLog()
    app = PortletApp(portlet)
    async with app.run_test() as pilot:
        portlet.focus()
        await pilot.press("c")  # nothing shown: nothing to comment on
        assert app.requests == []
        portlet.show(SERIAL, EVENTS)
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert app.requests == ["SN0000421"]


async def test_activity_comment_button_posts_request() -> None:
    portlet = ActivityLog()
    app = PortletApp(portlet)
    messages: list[object] = []
    async with app.run_test(size=(80, 40), message_hook=messages.append) as pilot:
        portlet.show(SERIAL, EVENTS)
        await pilot.pause()
        await pilot.click("#activity-add-comment")
        await pilot.pause()
        # The hook sees a message at each node it bubbles through: count distinct messages.
        requests = {id(m): m for m in messages if isinstance(m, ActivityLog.CommentRequested)}
        assert [request.serial_no for request in requests.values()] == ["SN0000421"]
        assert app.requests == ["SN0000421"]


async def test_activity_markup_literal(utc: None) -> None:
    portlet = ActivityLog()
    app = PortletApp(portlet)
    hostile_events = (
        event(1, None, None, comment=HOSTILE_NAME, by="[b]op"),
        event(2, None, None, comment=HOSTILE_COMMENT),
        event(3, None, None, comment=ESCAPE, station="[/]"),
        event(4, Stage.VALIDATED, None, outcome="[/]", document="[link=x]D[/link]"),
    )
    async with app.run_test(size=(100, 40)) as pilot:
        portlet.show(replace(SERIAL, updated_by="[/]", serial_no="[/i]"), hostile_events)
        await pilot.pause()
        text = screen_text(app)
        assert HOSTILE_NAME in text
        assert HOSTILE_COMMENT in text
        assert "␛[31mred" in text
        assert "[b]op" in text
        assert "[link=x]D[/link]" in text
        assert screen_links(app) == []
        await pilot.press("c")
        await pilot.pause()
        assert app.is_running


async def test_activity_placeholder_for_none() -> None:
    portlet = ActivityLog()
    app = PortletApp(portlet)
    async with app.run_test() as pilot:
        portlet.show(SERIAL, EVENTS)
        await pilot.pause()
        portlet.show(None, ())
        await pilot.pause()
        text = screen_text(app)
        assert "Scan a serial to see its activity" in text
        assert "GATE-7" not in text


# --- RowTable -------------------------------------------------------------------------------


def test_row_table_drops_and_crops_columns_to_fit() -> None:
    table = RowTable(
        (
            Column(),
            Column(max_width=8, drop=1),
            Column(min_width=4, flex=1),
            Column(align="right"),
        )
    )
    table.set_rows([(Content("SKU-1"), Content("A long item name"), Bar(1, 2), Content("1/2"))])
    wide = table.lines(40)[0].plain
    assert wide.startswith("SKU-1  A long …  ")
    assert wide.endswith("1/2") and len(wide) == 40
    narrow = table.lines(16)[0].plain
    assert "A long" not in narrow and narrow.startswith("SKU-1  ")
    assert narrow.endswith("1/2") and len(narrow) == 16
    assert all(len(line.plain) <= 6 for line in table.lines(6))


# --- Snapshots ------------------------------------------------------------------------------


def _all_four() -> PortletApp:
    serial, item, invoice, activity = SerialDetail(), ItemDetail(), InvoiceDetails(), ActivityLog()
    serial.show(SERIAL)
    item.show(ITEM)
    invoice.show(DOCUMENT)
    activity.show(SERIAL, EVENTS)
    return PortletApp(serial, item, invoice, activity)


def test_snapshot_all_portlets_160x48(utc: None, snap_compare: object) -> None:
    assert snap_compare(_all_four(), terminal_size=(160, 48))  # type: ignore[operator]


def test_snapshot_narrow_cells_120x40(utc: None, snap_compare: object) -> None:
    """A wide left column and a narrow right one, as in the station grid at 120×40."""
    app = _all_four()
    app.columns = "2fr 1fr"
    app.portlets = (app.portlets[2], app.portlets[0], app.portlets[1], app.portlets[3])
    assert snap_compare(app, terminal_size=(120, 40))  # type: ignore[operator]


def test_snapshot_activity_80x24(utc: None, snap_compare: object) -> None:
    activity = ActivityLog()
    activity.show(SERIAL, EVENTS)
    assert snap_compare(PortletApp(activity), terminal_size=(80, 24))  # type: ignore[operator]


def test_snapshot_invoice_80x24(utc: None, snap_compare: object) -> None:
    invoice = InvoiceDetails()
    invoice.show(DOCUMENT)
    assert snap_compare(PortletApp(invoice), terminal_size=(80, 24))  # type: ignore[operator]


def test_snapshot_placeholders_80x24(utc: None, snap_compare: object) -> None:
    app = PortletApp(SerialDetail(), ItemDetail(), InvoiceDetails(), ActivityLog())
    assert snap_compare(app, terminal_size=(80, 24))  # type: ignore[operator]
