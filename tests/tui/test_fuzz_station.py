"""Fuzz the station's own payload path (issue 11): hostile payloads pasted into the real app
(intake → worker → Station door → banner, list and log) on each database. The station keeps
running, answers every line, and nothing it draws carries a raw control, bidi or zero-width
character. The generator and the checks are the CLI fuzz test's."""

from __future__ import annotations

import random
from typing import Any

from test_station import make_app, ready, wait_for
from textual import events
from textual.widgets import Static

from scanstation.service import StationService
from scanstation.tui.intake import split_paste
from scanstation.tui.widgets.scanned import ScannedList
from tests.cli.test_fuzz import assert_clean, hostile

PASTES = 16  # of 8 lines each, per database


async def test_hostile_pastes_are_answered_and_drawn_visibly(service: StationService) -> None:
    rng = random.Random(f"issue-11-station-{service.backend}")
    app = make_app(service.repo.target.url, site="P1", mode="register")  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        expected = 0
        for paste in range(PASTES):
            text = "\n".join(hostile(rng) for _ in range(8))
            expected += len(split_paste(text))
            app.post_message(events.Paste(text))
            await wait_for(
                pilot,
                lambda n=expected: len(app.probe.outcomes) >= n,
                timeout=30.0,
                what=f"the answers to paste {paste}",
            )
            assert app.is_running and app.return_code is None
            drawn: list[Any] = [app.station.banner.text]
            drawn += [str(w.render()) for w in app.station.query(Static)]
            for text_drawn in drawn:
                assert_clean(f"paste {paste}", text_drawn)
        assert len(app.probe.outcomes) == expected
        for outcome in app.probe.outcomes:
            assert_clean(f"answer to {outcome.event.payload!a}", outcome.message)
        assert_clean("the screen", app.export_screenshot())
        assert app.station.query_one(ScannedList).session
