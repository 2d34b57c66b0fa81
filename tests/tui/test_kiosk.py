"""The station as a kiosk (`[station] kiosk = true`, `allowed_modes`): nothing a passer-by
presses leaves it, suspends it, opens the palette or changes the mode beyond what is allowed;
the answer's word is big enough to read from two metres. Real app, real SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from probed import ProbedStationApp
from test_station import burst, events_of, make_app, open_dialog, outcomes, ready, sn, wait_for
from textual.command import CommandPalette

from scanstation.config import Settings, StationSettings
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode
from scanstation.tui.actions import palette_commands
from scanstation.tui.screens.help import HelpScreen
from scanstation.tui.screens.mode_picker import ModePicker
from scanstation.tui.widgets.big_letters import big_word


def kiosk_settings(*, kiosk: bool = True, allowed: list[str] | None = None) -> Settings:
    allowed = ["receive"] if allowed is None else allowed
    station = StationSettings(mode="receive", kiosk=kiosk, allowed_modes=allowed)  # type: ignore[arg-type]
    return msgspec.structs.replace(Settings(), station=station)


def gate(db: Path, settings: Settings) -> ProbedStationApp:
    return make_app(db, settings=settings, site="G1", station_id="G1-KIOSK")


def _said(app: ProbedStationApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_kiosk_keys_leave_nothing_to_a_passer_by(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = gate(demo_db, kiosk_settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        for key in ("ctrl+q", "ctrl+q", "ctrl+c", "ctrl+z", "ctrl+p"):
            # ctrl+c behind it says "a kiosk" once each key before it was handled (keys are
            # handled in order): only then is "nothing happened" an answer, not "not yet".
            told = len(_said(app))
            await pilot.press(key, "ctrl+c")
            await wait_for(
                pilot,
                lambda told=told: (
                    len(_said(app)) > told
                    or app.return_code is not None
                    or app.screen is not app.station
                ),
                what=f"{key}, then ctrl+c (which says 'a kiosk'), to be handled",
            )
            assert app.return_code is None, f"{key} ended the kiosk"
            assert app.screen is app.station, f"{key} opened {app.screen!r}"
        assert not CommandPalette.is_open(app)
        said = _said(app)
        assert said and all("kiosk" in text for text in said), said
        assert not any("to quit" in text for text in said)  # Textual's ctrl+c hint is gone
        # The theme and screenshot commands are out of reach, even called directly: no
        # screenshot is even made (a made one is written to disk later, by another thread).
        assert list(app.get_system_commands(app.station)) == []
        shots: list[object] = []
        export = app.export_screenshot

        def export_screenshot(*args: Any, **kwargs: Any) -> str:
            shots.append(args)
            return export(*args, **kwargs)

        monkeypatch.setattr(app, "export_screenshot", export_screenshot)
        app.action_screenshot("shot.svg", str(tmp_path))
        assert shots == [], "a kiosk made a screenshot"
        assert not (tmp_path / "shot.svg").exists()
        # F2 offers only what is allowed: no SCRAP for a passer-by.
        picker = await open_dialog(pilot, app, "f2", ModePicker)
        assert picker.modes == [Mode.RECEIVE]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.station, what="the picker to close")
        # Scanning works as ever, straight after Escape (which never joins the scan).
        burst(app, sn(181) + "\r")
        [outcome] = await outcomes(pilot, app, 1)
        assert outcome.kind is OutcomeKind.OK
    assert events_of(demo_db, "G1-KIOSK") == [(sn(181), "ok", "Received at Godown")]


async def test_kiosk_banner_shows_the_answer_in_big_letters_at_80x24(demo_db: Path) -> None:
    app = gate(demo_db, kiosk_settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        banner = app.station.banner
        burst(app, sn(181) + "\r")
        await outcomes(pilot, app, 1)
        await wait_for(pilot, lambda: big_word("OK")[0] in banner.text, what="a big OK")
        lines = banner.text.splitlines()
        assert lines[:3] == big_word("OK")
        assert sn(181) in lines[3]  # the serial and the scan number, under the word
        assert banner.region.height >= 5 and banner.region.width == 80
        burst(app, "NOT-A-SERIAL\r")
        await outcomes(pilot, app, 2)
        await wait_for(pilot, lambda: big_word("UNKNOWN")[0] in banner.text, what="UNKNOWN")
        # The whole word fits the 80 columns: no letter is cut.
        assert banner.text.splitlines()[:3] == big_word("UNKNOWN")


async def test_a_station_that_is_no_kiosk_keeps_its_keys_and_small_banner(
    demo_db: Path, tmp_path: Path
) -> None:
    app = gate(demo_db, kiosk_settings(kiosk=False, allowed=[]))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        burst(app, sn(181) + "\r")
        await outcomes(pilot, app, 1)
        await wait_for(pilot, lambda: "OK" in app.station.banner.text, what="the answer")
        assert big_word("OK")[0] not in app.station.banner.text
        picker = await open_dialog(pilot, app, "f2", ModePicker)
        assert Mode.SCRAP in picker.modes
        await pilot.press("escape")
        # Its screenshots are written, where the kiosk's test looks for none.
        app.action_screenshot("shot.svg", str(tmp_path))
        await wait_for(pilot, (tmp_path / "shot.svg").exists, what="the screenshot")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app.return_code is not None, what="ctrl+q to quit")
    assert app.return_code == 0


async def test_allowed_modes_limit_the_picker_and_palette_without_a_kiosk(
    demo_db: Path,
) -> None:
    app = gate(demo_db, kiosk_settings(kiosk=False, allowed=["receive", "dispatch"]))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        picker = await open_dialog(pilot, app, "f2", ModePicker)
        assert picker.modes == [Mode.DISPATCH, Mode.RECEIVE]
        await pilot.press("escape")
        titles = [command.title for command in palette_commands(app.station)]
        assert [t for t in titles if t.startswith("Mode:")][:2] == [
            "Mode: dispatch",
            "Mode: receive",
        ]
        assert "Mode: scrap" not in titles
        app.station.enter_mode(Mode.SCRAP)  # as a stale palette entry would
        await pilot.pause(0.1)
        assert app.station.state.mode is Mode.RECEIVE
        assert not app.station.dialogs.changing


async def test_kiosk_picker_order(demo_db: Path) -> None:
    """Any subset, in the picker's own order (not the config's)."""
    app = gate(demo_db, kiosk_settings(allowed=["receive", "lookup"]))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        picker = await open_dialog(pilot, app, "f2", ModePicker)
        assert picker.modes == [Mode.LOOKUP, Mode.RECEIVE]


async def test_a_dialog_stays_below_the_big_banner_after_a_notification(demo_db: Path) -> None:
    """Textual mounts its notifications' rack into a screen ahead of the dialog's box: the box
    is still the one kept below the banner."""
    app = gate(demo_db, kiosk_settings())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await ready(pilot, app)
        await pilot.press("ctrl+c")  # a kiosk's note: a toast
        burst(app, sn(181) + "\r")  # the big OK: the banner is five rows
        await outcomes(pilot, app, 1)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        help_screen = app.screen
        box = next(c for c in help_screen.children if not c.has_class("-textual-system"))
        banner = app.station.banner
        await wait_for(
            pilot, lambda: box.region.y >= banner.region.bottom, what="help below the banner"
        )
