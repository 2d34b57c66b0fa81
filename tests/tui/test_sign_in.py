"""People at the station: a database with users opens on sign-in (a badge scanned or a name
typed, then the PIN); scans read before sign-in are held and offered to whoever signs in,
never applied anonymously and never lost unless they discard them; the signed-in person is
the operator on every event; F12 and the idle time sign out. Real app, real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import msgspec
import pytest
from probed import ProbedStationApp
from test_station import answer, burst, key_event, make_app, outcomes, ready, settle, sn, wait_for
from textual.pilot import Pilot

from scanstation.config import Settings, StationSettings
from scanstation.demo import DEMO_PEOPLE
from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.roles import Role
from scanstation.domain.stages import Mode
from scanstation.service import StationService, StationSetup
from scanstation.station import OnlineStation
from scanstation.store.journal import Journal
from scanstation.tui.screens.confirm import ConfirmPrompt
from scanstation.tui.screens.credentials import CredentialsPrompt
from scanstation.tui.screens.reason import ReasonPrompt
from scanstation.tui.screens.refused import RefusedScreen

PINS = {"ada": "908172", "sam": "4455", "olu": "271828"}  # admin, supervisor, operator
STATION = "G1-GATE-9"


@pytest.fixture
def people_db(demo_db: Path) -> Path:
    """The demo database with people: an admin, a supervisor with a badge, an operator with
    a badge."""
    with OnlineStation(StationService.open(f"sqlite:///{demo_db}")) as door:
        door.add_user("ada", Role.ADMIN)
        door.set_pin("ada", PINS["ada"])
        ada = door.user("ada")
        door.add_user("sam", Role.SUPERVISOR, "BADGE-SAM-01", by=ada)
        door.set_pin("sam", PINS["sam"], by=ada)
        door.add_user("olu", Role.OPERATOR, "BADGE-OLU-07", by=ada)
        door.set_pin("olu", PINS["olu"], by=ada)
    return demo_db


def gate(
    db: Path, *, idle_min: float = 15, kiosk: bool = False, mode: str = "receive", **kw: Any
) -> ProbedStationApp:
    station = StationSettings(mode=mode, idle_signout_min=idle_min, kiosk=kiosk)  # type: ignore[arg-type]
    settings = msgspec.structs.replace(Settings(), station=station)
    return make_app(db, settings=settings, site="G1", station_id=STATION, operator="", **kw)


def scan_rows(db: Path) -> list[tuple[str, str, str]]:
    """(payload, outcome, operator) of this station's scan events, oldest first."""
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT payload, outcome, operator FROM event WHERE station = ? AND kind = 'scan' "
            "ORDER BY id",
            (STATION,),
        ).fetchall()


async def prompt_of(pilot: Pilot[Any], app: ProbedStationApp) -> CredentialsPrompt:
    await wait_for(pilot, lambda: isinstance(app.screen, CredentialsPrompt), what="sign-in")
    screen = app.screen
    assert isinstance(screen, CredentialsPrompt)
    return screen


async def type_text(pilot: Pilot[Any], text: str) -> None:
    """A person typing: one key at a time, slower than a scanner."""
    for character in text:
        await pilot.press(key_event(character).key)
        await pilot.pause(0.07)
    await settle(pilot)


async def sign_in(pilot: Pilot[Any], app: ProbedStationApp, name: str) -> None:
    prompt = await prompt_of(pilot, app)
    await type_text(pilot, name)
    await pilot.press("enter")
    await wait_for(pilot, lambda: prompt.at_pin, what="the PIN step")
    await type_text(pilot, PINS[name])
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.station.people.user is not None, what="signed in")


async def test_a_database_without_users_is_an_open_station(demo_db: Path) -> None:
    app = gate(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        assert app.screen is app.station
        assert "open station — no users" in app.station.header.text
        burst(app, sn(181) + "\r")
        [outcome] = await outcomes(pilot, app, 1)
        assert outcome.kind is OutcomeKind.OK


async def test_a_scan_before_sign_in_is_held_then_applied_as_the_person(
    people_db: Path,
) -> None:
    app = gate(people_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        prompt = await prompt_of(pilot, app)
        assert "signed out" in app.station.header.text
        burst(app, sn(181) + "\r")  # a serial, not a badge: held
        await wait_for(pilot, lambda: app.station.intake.held == 1, what="the held scan")
        await pilot.pause(0.3)
        assert not app.probe.outcomes and scan_rows(people_db) == []
        assert prompt.waiting.count == 1
        assert "WAITING" in app.station.banner.text
        burst(app, "BADGE-OLU-07\r")  # the badge fills the name
        await wait_for(pilot, lambda: prompt.at_pin, what="the PIN step")
        assert prompt.name_input.value == "BADGE-OLU-07"
        await type_text(pilot, PINS["olu"])
        assert prompt.pin_input.password and prompt.pin_input.value == PINS["olu"]
        assert PINS["olu"] not in app.export_screenshot()  # masked on the screen
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPrompt), what="the offer")
        await pilot.press("enter")  # apply them
        [outcome] = await outcomes(pilot, app, 1)
        assert outcome.kind is OutcomeKind.OK
        assert "olu (operator)" in app.station.header.text
        burst(app, sn(182) + "\r")
        await outcomes(pilot, app, 2)
    assert scan_rows(people_db) == [(sn(181), "ok", "olu"), (sn(182), "ok", "olu")]


async def test_the_demo_station_says_where_its_pins_are_and_they_sign_in(demo_db: Path) -> None:
    """`scanstation demo`'s people: the PINs it printed are hidden behind the station as it
    opens (README's set-up command), so sign-in says where they are and how to get new ones."""
    with OnlineStation(StationService.open(f"sqlite:///{demo_db}")) as door:
        pins = {user.name: pin for user, pin in door.add_demo_people(DEMO_PEOPLE)}
    app = gate(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        prompt = await prompt_of(pilot, app)
        assert "`scanstation demo` printed" in prompt.note
        assert "scanstation demo --new-pins" in prompt.note
        burst(app, "BADGE-OP-23\r")
        await wait_for(pilot, lambda: prompt.at_pin, what="the PIN step")
        await type_text(pilot, pins["op-23"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.station.people.user is not None, what="signed in")
        burst(app, sn(181) + "\r")
        [outcome] = await outcomes(pilot, app, 1)
        assert outcome.kind is OutcomeKind.OK
    assert scan_rows(demo_db) == [(sn(181), "ok", "op-23")]


async def test_a_demo_kiosk_does_not_offer_ctrl_q_to_read_the_pins(demo_db: Path) -> None:
    """A kiosk is left only with a supervisor's PIN: its sign-in hint must not send a passer-by
    to ctrl+q, and still says how to get new PINs."""
    with OnlineStation(StationService.open(f"sqlite:///{demo_db}")) as door:
        door.add_demo_people(DEMO_PEOPLE)
    app = gate(demo_db, kiosk=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        prompt = await prompt_of(pilot, app)
        assert "scanstation demo --new-pins" in prompt.note
        assert "ctrl+q" not in prompt.note


async def test_people_not_the_demos_get_no_demo_hint(people_db: Path) -> None:
    app = gate(people_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        prompt = await prompt_of(pilot, app)
        assert "demo" not in prompt.note


async def test_a_wrong_pin_is_refused_and_held_scans_can_be_discarded(people_db: Path) -> None:
    app = gate(people_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        prompt = await prompt_of(pilot, app)
        burst(app, sn(181) + "\r")
        await wait_for(pilot, lambda: app.station.intake.held == 1, what="the held scan")
        await type_text(pilot, "olu")
        await pilot.press("enter")
        await type_text(pilot, "0000")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not prompt.checking, what="the refusal")
        refusal = str(prompt.error.render())
        assert refusal and "0000" not in refusal
        assert app.station.people.user is None and app.screen is prompt
        await type_text(pilot, PINS["olu"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPrompt), what="the offer")
        await pilot.press("escape")  # discard them
        await wait_for(pilot, lambda: app.screen is app.station, what="the station")
        await pilot.pause(0.3)
        assert app.station.intake.held == 0 and not app.probe.outcomes
        activity = app.station.activity
        assert activity is not None
        assert any(sn(181) in str(note) for note in activity._notes)
    assert scan_rows(people_db) == []


async def test_f12_and_the_idle_time_sign_out(people_db: Path) -> None:
    app = gate(people_db, idle_min=0.03)  # 1.8 s
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await sign_in(pilot, app, "sam")
        assert "sam (supervisor)" in app.station.header.text
        await wait_for(pilot, lambda: app.screen is app.station, what="the station")
        await pilot.press("f12")
        await prompt_of(pilot, app)
        assert app.station.people.user is None and "signed out" in app.station.header.text
        await sign_in(pilot, app, "olu")
        await wait_for(pilot, lambda: app.screen is app.station, what="the station")
        burst(app, sn(181) + "\r")
        await outcomes(pilot, app, 1)
        # Nobody touches it: signed out after the idle time; the next scan waits.
        await wait_for(pilot, lambda: app.station.people.user is None, timeout=15, what="idle")
        await prompt_of(pilot, app)
        burst(app, sn(182) + "\r")
        await wait_for(pilot, lambda: app.station.intake.held == 1, what="held again")
    assert scan_rows(people_db) == [(sn(181), "ok", "olu")]


async def test_a_pin_typed_as_fast_as_a_scan_is_never_a_scan(people_db: Path) -> None:
    app = gate(people_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        prompt = await prompt_of(pilot, app)
        burst(app, "BADGE-SAM-01\r")
        await wait_for(pilot, lambda: prompt.at_pin, what="the PIN step")
        burst(app, PINS["sam"] + "\r")  # four digits and Enter at scanner speed
        await wait_for(pilot, lambda: app.station.people.user is not None, what="signed in")
        assert app.station.intake.held == 0
        await pilot.pause(0.3)
        assert not app.probe.outcomes
    assert scan_rows(people_db) == []


async def test_a_kiosk_is_left_only_with_a_supervisors_approval(people_db: Path) -> None:
    app = gate(people_db, kiosk=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        await sign_in(pilot, app, "olu")
        await wait_for(pilot, lambda: app.screen is app.station, what="the station")
        await pilot.press("ctrl+q")
        prompt = await prompt_of(pilot, app)
        assert "needs a supervisor" in prompt.prompt_title
        await type_text(pilot, "olu")  # an operator cannot approve it
        await pilot.press("enter")
        await type_text(pilot, PINS["olu"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: not prompt.checking, what="the refusal")
        assert "needs a supervisor" in str(prompt.error.render())
        assert app.return_code is None
        await pilot.press("escape")  # back to the name
        await pilot.press("ctrl+a", "ctrl+k")  # clear it
        burst(app, "BADGE-SAM-01\r")
        await wait_for(pilot, lambda: prompt.at_pin, what="the PIN step")
        await type_text(pilot, PINS["sam"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.return_code is not None, what="the kiosk to quit")
    assert app.return_code == 0


async def test_the_sign_in_dialog_stays_below_a_kiosks_big_banner(people_db: Path) -> None:
    """Textual mounts its notifications' rack into a screen ahead of the dialog's box: the box
    is still the one kept below the banner."""
    app = gate(people_db, kiosk=True)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await ready(pilot, app)
        prompt = await prompt_of(pilot, app)
        burst(app, sn(181) + "\r")  # held: the banner grows to say so
        await wait_for(pilot, lambda: app.station.intake.held == 1, what="the held scan")
        box = prompt.query_one("#credentials-box")
        banner = app.station.banner
        await wait_for(
            pilot, lambda: box.region.y >= banner.region.bottom, what="the box below the banner"
        )


async def test_a_scan_refused_for_want_of_a_role_passes_with_a_supervisors_approval(
    people_db: Path,
) -> None:
    app = gate(people_db, mode="scrap")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await sign_in(pilot, app, "olu")
        await answer(pilot, app, "dropped off the forklift")  # scrap asks why
        burst(app, sn(101) + "\r")  # received at G1; an operator may not scrap it
        [refused] = await outcomes(pilot, app, 1)
        assert refused.kind is OutcomeKind.REJECTED and refused.needs_role is Role.SUPERVISOR
        prompt = await prompt_of(pilot, app)
        assert "scrapping needs a supervisor" in prompt.prompt_title
        burst(app, "BADGE-SAM-01\r")
        await wait_for(pilot, lambda: prompt.at_pin, what="the PIN step")
        await type_text(pilot, PINS["sam"])
        await pilot.press("enter")
        [_, done] = await outcomes(pilot, app, 2)
        assert done.kind is OutcomeKind.OK and "approval" in done.message
    with sqlite3.connect(people_db) as connection:
        rows = connection.execute(
            "SELECT outcome, operator, approved_by, to_stage, comment FROM event "
            "WHERE station = ? AND kind = 'scan' ORDER BY id",
            (STATION,),
        ).fetchall()
    assert rows == [
        ("rejected", "olu", None, None, None),
        ("ok", "olu", "sam", "Scrapped", "dropped off the forklift"),
    ]


async def test_closing_a_document_short_asks_a_supervisors_approval(people_db: Path) -> None:
    app = gate(people_db, mode="dispatch", document="REF-88")  # an open invoice, short
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await sign_in(pilot, app, "olu")
        await wait_for(pilot, lambda: app.screen is app.station, what="the station")
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPrompt), what="confirm")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonPrompt), what="why short")
        reason = app.screen
        assert isinstance(reason, ReasonPrompt)
        reason.input.value = "customer cancelled the rest"
        await pilot.press("enter")
        prompt = await prompt_of(pilot, app)
        assert "closing a document short needs a supervisor" in prompt.prompt_title
        await type_text(pilot, "sam")
        await pilot.press("enter")
        await type_text(pilot, PINS["sam"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.station.state.document is None, what="closed")
    with OnlineStation(StationService.open(f"sqlite:///{people_db}")) as door:
        document = door.document("REF-88")
    assert document is not None and not document.is_open
    with sqlite3.connect(people_db) as connection:
        [close] = connection.execute(
            "SELECT operator, approved_by, station, site FROM event WHERE kind = 'document' "
            "AND comment LIKE 'Closed REF-88%'"
        ).fetchall()
    # The operator's close, the supervisor's approval, at this station and its site (not the
    # admin CLI's station id).
    assert close == ("olu", "sam", STATION, "G1")


async def test_acknowledging_refused_journal_scans_needs_a_supervisor(people_db: Path) -> None:
    """ctrl+r lists scans the rules refused on replay; `a` by an operator asks a supervisor's
    approval on the spot, and the acknowledgement is the supervisor's. Without it, nothing
    is acknowledged."""
    with Journal.for_station(STATION, str(people_db)) as journal:
        setup = StationSetup(STATION, "G1", Mode.RECEIVE, operator="olu", role=Role.OPERATOR)
        journal.append(ScanEvent("NOPE-77", source="wedge"), setup)  # unknown: refused
    app = gate(people_db, journal=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await sign_in(pilot, app, "olu")
        await wait_for(pilot, lambda: app.station.db.journal_refused == 1, what="the replay")
        await wait_for(pilot, lambda: app.screen is app.station, what="the station")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, RefusedScreen), what="the list")
        await pilot.press("a")
        prompt = await prompt_of(pilot, app)
        assert "acknowledging refused scans needs a supervisor" in prompt.prompt_title
        await pilot.press("escape")  # no supervisor at hand: nothing acknowledged
        await pilot.pause(0.3)
        assert app.station.db.journal_refused == 1
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, RefusedScreen), what="the list")
        await pilot.press("a")
        prompt = await prompt_of(pilot, app)
        burst(app, "BADGE-SAM-01\r")
        await wait_for(pilot, lambda: prompt.at_pin, what="the PIN step")
        await type_text(pilot, PINS["sam"])
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: app.station.db.journal_refused == 0, what="the acknowledgement"
        )
    with Journal.for_station(STATION, str(people_db)) as journal:
        [entry] = journal.refused(include_acknowledged=True)
    assert entry.acknowledged_by == "sam"
