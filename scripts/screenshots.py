"""Regenerate the README's screenshots: the station app exports them itself (SVG).

    python scripts/screenshots.py [--out docs/screenshots] [--db DEMO.db]

Builds the demo database (or copies --db), starts the station headless at 120×40 and 80×24
as a godown gate receiving a dispatch, scans a few labels through the real key capture, and
saves what the screen shows; then the supervisor's Overview (ctrl+e) at 160×48;
then, with people in the database, the sign-in dialog (a scan read before sign-in waiting,
a badge scanned, the PIN being typed) and a supervisor's approval of an operator's refused
scrap.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from pathlib import Path

import msgspec
from textual import events

from scanstation.config import Settings, StationSettings
from scanstation.demo import build_demo
from scanstation.domain.roles import Role
from scanstation.station import open_station
from scanstation.tui.app import ScanStationApp
from scanstation.tui.probe import StationProbe
from scanstation.tui.screens.credentials import CredentialsPrompt
from scanstation.tui.screens.overview import OverviewScreen
from scanstation.tui.screens.reason import ReasonPrompt
from scanstation.tui.widgets.activity import ActivityLog
from scanstation.tui.widgets.invoice import InvoiceDetails
from scanstation.tui.widgets.serial_detail import SerialDetail

ROOT = Path(__file__).resolve().parent.parent
# Two arrive as planned, one is scanned twice, one label is unreadable rubbish.
SCANS = ("SN0000000181", "SN0000000182", "SN0000000182", "PUMP-??", "SN0000000183")


def key_event(character: str) -> events.Key:
    if character == "\r":
        return events.Key("enter", "\r")
    return events.Key(character if character.isalnum() else "question_mark", character)


async def shoot(
    db: Path, out: Path, size: tuple[int, int], name: str, pane: int = 0, overview: bool = False
) -> Path:
    probe = StationProbe()
    app = ScanStationApp(
        Settings(),
        database_url=str(db),
        station_id="G1-GATE-2",
        site="G1",
        mode="receive",
        operator="op-23",
        hooks=probe,
    )
    async with app.run_test(size=size) as pilot:
        while not app.station.ready:
            await pilot.pause(0.05)
        for payload in SCANS:
            for character in payload + "\r":
                app.post_message(key_event(character))
            await pilot.pause(0.25)  # a scanner at dock pace, not a flood
        station = app.station
        while (
            station.query_one(SerialDetail).serial is None
            or station.query_one(InvoiceDetails).document is None
            or station.query_one(ActivityLog).serial is None
            or len(probe.outcomes) < len(SCANS)
        ):
            await pilot.pause(0.05)
        for _ in range(pane):
            await pilot.press("f6")
        if overview:  # the supervisor's Overview (ctrl+e) over the station, once it is read
            await pilot.press("ctrl+e")
            screen = app.screen
            while not isinstance(screen, OverviewScreen) or screen.data is None:
                await pilot.pause(0.05)
        await pilot.pause(0.5)
        path = out / f"{name}.svg"
        app.save_screenshot(path.name, str(out))
    return path


# Screenshot people: never real ones. Their PINs are typed on screen as dots.
PEOPLE = (
    ("admin-1", Role.ADMIN, None, "90817263"),
    ("sup-anita", Role.SUPERVISOR, "BADGE-0042", "4455"),
    ("op-23", Role.OPERATOR, "BADGE-0023", "271828"),
)


def add_people(db: Path) -> None:
    with open_station(Settings(), database_url=str(db)) as station:
        if station.has_users():
            return
        admin = None
        for name, role, badge, pin in PEOPLE:
            station.add_user(name, role, badge, by=admin)
            station.set_pin(name, pin, by=admin)
            admin = admin or station.user(name)


async def shoot_people(db: Path, out: Path, name: str, *, approval: bool) -> Path:
    """The sign-in dialog with a scan waiting; or, at a scrap station, an operator's scrap
    refused for want of a supervisor and the supervisor approving it on the spot."""
    mode = "scrap" if approval else "receive"
    app = ScanStationApp(
        msgspec.structs.replace(Settings(), station=StationSettings(mode=mode)),
        database_url=str(db),
        station_id="G1-GATE-2",
        site="G1",
        mode=mode,
    )

    async def typed(text: str) -> None:
        for character in text:
            await pilot.press(character)
            await pilot.pause(0.08)  # a person's pace, not a scanner's
        await pilot.pause(0.2)

    def scanned(payload: str) -> None:
        for character in payload + "\r":
            app.post_message(key_event(character))

    async def prompt_at_pin() -> CredentialsPrompt:
        while not isinstance(app.screen, CredentialsPrompt) or not app.screen.at_pin:
            await pilot.pause(0.05)
        return app.screen

    async with app.run_test(size=(80, 24)) as pilot:
        while not isinstance(app.screen, CredentialsPrompt):
            await pilot.pause(0.05)
        if approval:
            scanned("BADGE-0023")
            await prompt_at_pin()
            await typed("271828")
            await pilot.press("enter")
            while not isinstance(app.screen, ReasonPrompt):  # scrap asks why
                await pilot.pause(0.05)
            await typed("crushed")
            await pilot.press("enter")
            while app.screen is not app.station:
                await pilot.pause(0.05)
            scanned("SN0000000101")  # received at G1: an operator may not scrap it
            while not isinstance(app.screen, CredentialsPrompt):
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            scanned("BADGE-0042")
            await prompt_at_pin()
            await typed("4455")
        else:
            scanned(SCANS[0])  # read before sign-in: held
            await pilot.pause(0.4)
            scanned("BADGE-0023")
            await prompt_at_pin()
            await typed("2718")
        await pilot.pause(0.5)
        path = out / f"{name}.svg"
        app.save_screenshot(path.name, str(out))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--db", type=Path, help="a demo database to copy instead of building one")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        template = Path(scratch) / "demo.db"
        if args.db:
            shutil.copy(args.db, template)
        else:
            with open_station(Settings(), database_url=str(template), create=True) as station:
                build_demo(station)
        shots = (
            ((120, 40), "station-120x40", 0, False),
            ((80, 24), "station-80x24", 0, False),
            ((80, 24), "station-80x24-invoice", 2, False),
            ((160, 48), "overview-160x48", 0, True),
        )
        for size, name, pane, overview in shots:
            db = Path(scratch) / f"{name}.db"
            shutil.copy(template, db)
            path = asyncio.run(shoot(db, args.out, size, name, pane, overview))
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        for name, approval in (("station-sign-in", False), ("station-approval", True)):
            db = Path(scratch) / f"{name}.db"
            shutil.copy(template, db)
            add_people(db)
            path = asyncio.run(shoot_people(db, args.out, name, approval=approval))
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
