"""The station's "print labels" (ctrl+l): the shown serial's label goes to the configured
printer through the same job as `scanstation labels`, and the print is recorded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from test_sign_in import people_db  # noqa: F401 - the fixture
from test_station import burst, make_app, open_dialog, outcomes, ready, sn, wait_for

from scanstation.config import LabelSettings, Settings, StationSettings
from scanstation.tui.screens.confirm import ConfirmPrompt
from tests.cli.test_labels_cli import FakePrinter


def _print_count(db: Path, serial_no: str) -> int:
    with sqlite3.connect(db) as connection:
        row = connection.execute(
            "SELECT print_count FROM serial WHERE serial_no = ?", (serial_no,)
        ).fetchone()
    connection.close()
    return int(row[0])


async def test_ctrl_l_prints_the_shown_serials_label(demo_db: Path) -> None:
    printer = FakePrinter()
    try:
        settings = Settings(labels=LabelSettings(printer=f"tcp://127.0.0.1:{printer.port}"))
        app = make_app(demo_db, settings=settings, site="G1")
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot, app)
            burst(app, sn(181) + "\r")
            await outcomes(pilot, app, 1)
            await wait_for(pilot, lambda: app.station.details.serial_no == sn(181))
            await pilot.press("ctrl+l")
            await wait_for(pilot, lambda: bool(printer.jobs), what="the printer's job")
            await wait_for(pilot, lambda: _print_count(demo_db, sn(181)) == 1, what="the record")
        [job] = printer.jobs
        assert job.startswith(b"^XA") and f"^FD{sn(181)}^FS".encode() in job
    finally:
        printer.close()


def _run_of(db: Path, serial_no: str) -> list[str]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT serial_no FROM serial WHERE generation_id = "
            "(SELECT generation_id FROM serial WHERE serial_no = ?) ORDER BY id",
            (serial_no,),
        ).fetchall()
    connection.close()
    return [serial for (serial,) in rows]


async def test_ctrl_g_asks_then_prints_the_whole_generation_run(demo_db: Path) -> None:
    run = _run_of(demo_db, sn(181))
    printer = FakePrinter()
    try:
        settings = Settings(labels=LabelSettings(printer=f"tcp://127.0.0.1:{printer.port}"))
        app = make_app(demo_db, settings=settings, site="G1")
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot, app)
            burst(app, sn(181) + "\r")
            await outcomes(pilot, app, 1)
            await wait_for(pilot, lambda: app.station.details.serial_no == sn(181))
            await open_dialog(pilot, app, "ctrl+g", ConfirmPrompt)
            await pilot.press("enter")
            await wait_for(pilot, lambda: bool(printer.jobs), timeout=60, what="the run's job")
            await wait_for(
                pilot, lambda: _print_count(demo_db, run[-1]) == 1, timeout=60, what="records"
            )
        [job] = printer.jobs
        assert job.count(b"^XA") == len(run) > 1
        assert all(_print_count(demo_db, serial) == 1 for serial in run)
    finally:
        printer.close()


async def test_without_a_printer_ctrl_l_says_what_to_set(demo_db: Path) -> None:
    app = make_app(demo_db, site="G1")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        burst(app, sn(181) + "\r")
        await outcomes(pilot, app, 1)
        await wait_for(pilot, lambda: app.station.details.serial_no == sn(181))
        await pilot.press("ctrl+l")  # a control character: the capture holds it a moment
        await wait_for(
            pilot,
            lambda: any("[labels] printer" in str(n.message) for n in app._notifications),
            what="the sentence naming [labels] printer",
        )
    assert _print_count(demo_db, sn(181)) == 0


async def test_a_kiosk_prints_no_labels(demo_db: Path) -> None:
    printer = FakePrinter()
    try:
        settings = Settings(
            station=StationSettings(kiosk=True),
            labels=LabelSettings(printer=f"tcp://127.0.0.1:{printer.port}"),
        )
        app = make_app(demo_db, settings=settings, site="G1")
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot, app)
            burst(app, sn(181) + "\r")
            await outcomes(pilot, app, 1)
            await wait_for(pilot, lambda: app.station.details.serial_no == sn(181))
            await pilot.press("ctrl+l")
            await pilot.press("ctrl+g")
            # Each key is refused in words (once the capture lets it go, late on a loaded
            # machine); then nothing may be sent to the printer.
            await wait_for(
                pilot,
                lambda: sum("kiosk" in str(n.message) for n in app._notifications) >= 2,
                what="both keys refused",
            )
            await pilot.pause(0.5)
        assert printer.jobs == [] and _print_count(demo_db, sn(181)) == 0
    finally:
        printer.close()


async def test_with_users_a_run_is_printed_with_a_supervisors_approval(
    people_db: Path,  # noqa: F811
) -> None:
    """The operator signed in prints the shown serial's label; the whole run waits for a
    supervisor, and its print events name both."""
    from test_sign_in import PINS, prompt_of, sign_in, type_text

    run = _run_of(people_db, sn(181))
    printer = FakePrinter()
    try:
        settings = Settings(
            station=StationSettings(mode="receive", idle_signout_min=15),
            labels=LabelSettings(printer=f"tcp://127.0.0.1:{printer.port}"),
        )
        app = make_app(people_db, settings=settings, site="G1", operator="")
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot, app)
            await sign_in(pilot, app, "olu")
            await wait_for(pilot, lambda: app.screen is app.station, what="the station")
            burst(app, sn(181) + "\r")
            await outcomes(pilot, app, 1)
            await wait_for(pilot, lambda: app.station.details.serial_no == sn(181))
            await pilot.press("ctrl+l")  # one label: an operator may
            await wait_for(pilot, lambda: _print_count(people_db, sn(181)) == 1, what="one")
            await open_dialog(pilot, app, "ctrl+g", ConfirmPrompt)
            await pilot.press("enter")
            prompt = await prompt_of(pilot, app)
            assert "generation run" in prompt.prompt_title
            assert "needs a supervisor" in prompt.prompt_title
            await pilot.pause(0.3)
            assert len(printer.jobs) == 1  # nothing more sent before the approval
            burst(app, "BADGE-SAM-01\r")
            await wait_for(pilot, lambda: prompt.at_pin, what="the PIN step")
            await type_text(pilot, PINS["sam"])
            await pilot.press("enter")
            await wait_for(
                pilot, lambda: _print_count(people_db, run[-1]) == 1, timeout=60, what="the run"
            )
        assert len(printer.jobs) == 2 and printer.jobs[1].count(b"^XA") == len(run) > 1
        with sqlite3.connect(people_db) as connection:
            rows = connection.execute(
                "SELECT e.outcome, e.operator, e.approved_by FROM event e JOIN serial s "
                "ON s.id = e.serial_id WHERE e.kind = 'print' AND s.serial_no = ? ORDER BY e.id",
                (sn(181),),
            ).fetchall()
        connection.close()
        assert rows == [("printed", "olu", None), ("reprinted", "olu", "sam")]
    finally:
        printer.close()
