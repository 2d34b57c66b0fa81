"""What the station looks like, pinned: 80×24 (a handheld) and 160×48 (a gate kiosk).

Deterministic on purpose: a small database built with fixed times and fixed secondary QR codes,
a fixed clock in the header, scans stamped with a fixed time, TZ=UTC. Update the pictures with
`pytest tests/tui/test_snapshots.py --snapshot-update` and look at them before committing.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from probed import ProbedStationApp
from textual import events
from textual._ansi_sequences import ANSI_SEQUENCES_KEYS
from textual.keys import _character_to_key
from textual.pilot import Pilot

from scanstation.config import Settings
from scanstation.domain.model import ScanEvent
from scanstation.domain.stages import DocumentKind, Mode, SiteKind
from scanstation.service import StationService, StationSetup
from scanstation.tui.widgets.activity import ActivityLog
from scanstation.tui.widgets.invoice import InvoiceDetails
from scanstation.tui.widgets.item_detail import ItemDetail
from scanstation.tui.widgets.serial_detail import SerialDetail

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
SCANNED_AT = datetime(2025, 3, 5, 14, 32, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="session")
def fixed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small database whose every shown value is fixed."""
    path = tmp_path_factory.mktemp("snap") / "fixed.db"
    service = StationService.open(str(path), create=True)
    try:
        service.add_site("P1", "Pune Plant", SiteKind.PLANT)
        service.add_site("G1", "Mumbai Godown", SiteKind.GODOWN)
        service.add_item("PUMP-1HP", "Pump 1HP Monoblock", "8901234500019", "MB-100")
        service.add_item("FAN-1200", "Ceiling Fan 1200mm", "8901234500040", "CF-1200")
        service.generate("PUMP-1HP", 10, "P1", by="planner", at=T0)
        service.generate("FAN-1200", 10, "P1", prefix="FN", by="planner", at=T0)
        service.add_document(
            kind=DocumentKind.DC,
            reference_no="REF-1042",
            from_site="P1",
            to="G1",
            lines=[("PUMP-1HP", 5), ("FAN-1200", 3)],
            dc_no="DC-1042",
            by="clerk-1",
        )
        minute = count(1)

        def scan(payload: str, setup: StationSetup) -> None:
            at = T0 + timedelta(hours=4, minutes=next(minute))
            service.scan(ScanEvent(payload, source="test", read_at=at), setup)

        serials = [f"SN{n:010d}" for n in range(1, 5)] + ["FN0000000001"]
        for mode, operator in ((Mode.REGISTER, "op-04"), (Mode.VALIDATE, "qc-02")):
            for serial in serials:
                scan(serial, StationSetup("PLANT-1", "P1", mode, operator))
        dock = StationSetup("P1-DOCK-1", "P1", Mode.DISPATCH, "op-17", document="REF-1042")
        for serial in serials[:3] + serials[4:]:
            scan(serial, dock)
    finally:
        service.close()
    # Secondary QR codes are random by design; pin them for the pictures.
    connection = sqlite3.connect(path)
    connection.execute("UPDATE serial SET secondary_qr = printf('QR%010d', id)")
    connection.commit()
    connection.close()  # the last connection out checkpoints the WAL: the copy sees it
    return path


@pytest.fixture
def fixed_db(fixed_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "fixed.db"
    shutil.copy(fixed_template, path)
    return path


def key_event(character: str) -> events.Key:
    sequence = ANSI_SEQUENCES_KEYS.get(character)
    if isinstance(sequence, tuple) and sequence:
        name = sequence[0].value
    elif character.isalnum() and character.isascii():
        name = character
    else:
        name = _character_to_key(character)
    return events.Key(name, character)


def station_app(db: Path) -> ProbedStationApp:
    settings = Settings()
    return ProbedStationApp(
        settings,
        database_url=str(db),
        station_id="GATE-7",
        site="G1",
        mode="receive",
        operator="op-23",
        now=lambda: SCANNED_AT,
        clock_text="14:32:05",
    )


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("timed out")


async def scan_three(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, ProbedStationApp)
    await wait_for(pilot, lambda: app.station.ready)
    for payload in ("SN0000000001", "SN0000000001", "[@click=app.quit]Q[/]", "SN0000000002"):
        for character in payload + "\r":
            app.post_message(key_event(character))
    await wait_for(pilot, lambda: len(app.probe.outcomes) == 4)
    station = app.station

    def shown() -> bool:
        serial = station.query_one(SerialDetail).serial
        return (
            serial is not None
            and serial.serial_no == "SN0000000002"
            and serial.stage.value == "Received at Godown"
            and station.query_one(ItemDetail).item is not None
            and station.query_one(InvoiceDetails).document is not None
            and station.query_one(ActivityLog).serial == serial
        )

    await wait_for(pilot, shown)
    await wait_for(pilot, lambda: not station.banner.flashing)  # the new answer's flash is over
    await pilot.pause(0.2)


def test_station_80x24(snap_compare: Any, fixed_db: Path) -> None:
    assert snap_compare(station_app(fixed_db), terminal_size=(80, 24), run_before=scan_three)


def test_station_160x48(snap_compare: Any, fixed_db: Path) -> None:
    assert snap_compare(station_app(fixed_db), terminal_size=(160, 48), run_before=scan_three)


def test_station_80x24_next_pane(snap_compare: Any, fixed_db: Path) -> None:
    async def then_invoice(pilot: Pilot[Any]) -> None:
        await scan_three(pilot)
        await pilot.press("f6", "f6")  # serial details → item → invoice
        await pilot.pause(0.1)

    assert snap_compare(station_app(fixed_db), terminal_size=(80, 24), run_before=then_invoice)
