"""A scanner burst while a supervisor's screen is open (a real demo database, keys posted all at
once like a wedge scanner): in Find the label becomes the search and nothing is recorded; under
Overview and Documents the scan waits, counted on the screen and in the banner, and is applied
in the station's mode once the screen closes — never lost, never applied unseen behind it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
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
