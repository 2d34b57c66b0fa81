"""A scanner burst while a supervisor's screen is open (a real demo database, keys posted all at
once like a wedge scanner): in Find the label becomes the search and nothing is recorded; under
Overview and Documents the scan waits, counted on the screen and in the banner, and is applied
in the station's mode once the screen closes — never lost, never applied unseen behind it. With
users, the screens are a supervisor's: an operator gets a supervisor's approval first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_sign_in import people_db  # noqa: F401 - the fixture
from test_station import burst, events_of, make_app, open_dialog, outcomes, ready, sn, wait_for
from textual.screen import Screen

from scanstation.domain.stages import Stage
from scanstation.tui.screens.documents import DocumentsScreen
from scanstation.tui.screens.find import FindScreen
from scanstation.tui.screens.overview import OverviewScreen


async def test_a_label_scanned_into_find_is_looked_up_not_recorded(demo_db: Path) -> None:
    app = make_app(demo_db, site="P1", mode="register")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        find = await open_dialog(pilot, app, "ctrl+f", FindScreen)
        burst(app, sn(1) + "\r")  # Not Registered: at the station it would register
        await wait_for(pilot, lambda: find.query_box.value == sn(1), what="the box")
        await wait_for(
            pilot,
            lambda: [str(k.value) for k in find.table.rows] == [sn(1)],
            what="the scanned serial found",
        )
        assert "not recorded" in str(find.hint.visual)
        assert app.station.intake.held == 0 and not app.probe.outcomes
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.station)
        await pilot.pause(0.3)
        assert not app.probe.outcomes
    assert events_of(demo_db) == []


@pytest.mark.parametrize(
    ("key", "kind", "name"),
    [("ctrl+e", OverviewScreen, "Overview"), ("ctrl+k", DocumentsScreen, "Documents")],
    ids=["overview", "documents"],
)
async def test_a_scan_under_overview_or_documents_waits_and_goes_when_it_closes(
    demo_db: Path, key: str, kind: type[Screen[Any]], name: str
) -> None:
    app = make_app(demo_db, site="P1", mode="register")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        screen = await open_dialog(pilot, app, key, kind)
        burst(app, sn(1) + "\r" + sn(2) + "\r")  # Not Registered at Plant, both
        await wait_for(pilot, lambda: app.station.intake.held == 2, what="two scans held")
        waiting = str(screen.waiting.content)  # type: ignore[attr-defined]
        assert "2 scans waiting" in waiting and f"when you close {name}" in waiting
        assert "2 SCANS WAITING" in app.station.banner.text
        await pilot.pause(0.3)
        assert not app.probe.outcomes and events_of(demo_db) == []
        await pilot.press("escape")
        done = await outcomes(pilot, app, 2)
        assert [o.event.payload for o in done] == [sn(1), sn(2)]
        assert all(o.stage_after is Stage.REGISTERED for o in done), [o.message for o in done]
        assert app.station.intake.held == 0
    assert [(p, s) for p, _, s in events_of(demo_db)] == [
        (sn(1), Stage.REGISTERED.value),
        (sn(2), Stage.REGISTERED.value),
    ]


# -- roles -----------------------------------------------------------------------------------


async def test_with_users_an_operator_opens_them_with_a_supervisors_approval(
    people_db: Path,  # noqa: F811
) -> None:
    from test_sign_in import PINS, prompt_of, sign_in, type_text

    app = make_app(people_db, site="G1", mode="receive", operator="")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await sign_in(pilot, app, "olu")  # an operator
        await wait_for(pilot, lambda: app.screen is app.station, what="the station")
        await pilot.press("ctrl+f")
        asked = await prompt_of(pilot, app)
        assert "supervisor's screens" in asked.prompt_title
        assert "needs a supervisor" in asked.prompt_title
        await pilot.press("escape")  # no approval: no Find
        await wait_for(pilot, lambda: app.screen is app.station, what="back at the station")
        await pilot.pause(0.2)
        assert app.screen is app.station
        await pilot.press("ctrl+e")
        prompt = await prompt_of(pilot, app)
        await type_text(pilot, "olu")  # an operator cannot approve it
        await pilot.press("enter")
        await wait_for(pilot, lambda: prompt.at_pin, what="the PIN step")
        await type_text(pilot, PINS["olu"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: "needs a supervisor" in str(prompt.error.visual))
        assert not isinstance(app.screen, OverviewScreen)
        await pilot.press("escape", "escape")  # the PIN, then the name: cancelled
        await wait_for(pilot, lambda: app.screen is app.station, what="back at the station")
        await pilot.press("ctrl+k")
        prompt = await prompt_of(pilot, app)
        burst(app, "BADGE-SAM-01\r")
        await wait_for(pilot, lambda: prompt.at_pin, what="the PIN step")
        await type_text(pilot, PINS["sam"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentsScreen), what="Documents")


async def test_with_users_a_supervisor_opens_them_at_once(
    people_db: Path,  # noqa: F811
) -> None:
    from test_sign_in import sign_in

    app = make_app(people_db, site="G1", mode="receive", operator="")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await sign_in(pilot, app, "sam")
        await wait_for(pilot, lambda: app.screen is app.station, what="the station")
        await open_dialog(pilot, app, "ctrl+e", OverviewScreen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.station)
        await open_dialog(pilot, app, "ctrl+f", FindScreen)
