"""The camera in the station (F5): a recorded video through the real camera source and the real
service, a camera that is not there, and the half-block preview."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from probed import ProbedStationApp
from rich.color import Color
from test_station import STATION, burst, make_app, ready, sn, wait_for

from scanstation.config import CameraSettings, Settings, UISettings
from scanstation.domain.outcome import OutcomeKind
from scanstation.tui.screens.help import HelpScreen
from scanstation.tui.widgets.camera import (
    HALF_BLOCK,
    OFF_TEXT,
    OUTLINE_RGB,
    CameraPortlet,
    half_block_lines,
)
from tests.unit.test_camera import write_video

# On REF-1042 from P1 to G1 and not yet received: a receive at G1 moves each one on.
IN_TRANSIT = [sn(181), sn(182), sn(183)]


def scan_rows(db: Path) -> list[tuple[str, str, str | None]]:
    """(payload, source, to_stage) of this station's scan events, oldest first."""
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT payload, source, to_stage FROM event WHERE station = ? AND kind = 'scan' "
            "ORDER BY id",
            (STATION,),
        ).fetchall()


def camera_app(db: Path, source: str, **ui: Any) -> ProbedStationApp:
    settings = Settings(camera=CameraSettings(source=source), ui=UISettings(**ui))
    return make_app(db, settings=settings, site="G1", mode="receive")


def preview_text(portlet: CameraPortlet) -> str:
    return "".join(line.text for line in portlet.preview.lines)


async def test_the_camera_on_a_video_records_its_scans(demo_db: Path, tmp_path: Path) -> None:
    video = tmp_path / "gate.avi"
    # each label held half a second, then a second out of view: one scan each; the video
    # ends with the last one still in view, so its outline stays in the preview
    timeline = [frames for s in IN_TRANSIT for frames in [[s]] * 5 + [[]] * 10]
    write_video(video, timeline[:-10])
    app = camera_app(demo_db, str(video))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        assert app.station.portlet("camera") is None  # not in [ui] portlets
        assert "cam" not in app.station.header.text  # a station without a camera: no noise

        await pilot.press("f5")
        await wait_for(pilot, lambda: len(app.probe.outcomes) >= 3, what="three camera scans")
        assert [o.serial_no for o in app.probe.outcomes] == IN_TRANSIT
        assert all(o.kind is OutcomeKind.OK for o in app.probe.outcomes), app.probe.outcomes
        assert sn(183) in app.station.banner.text  # the wedge's banner path

        # started, the camera brought its portlet; the video's last frame stays in it
        portlet = app.station.query_one(CameraPortlet)
        await wait_for(pilot, lambda: HALF_BLOCK in preview_text(portlet), what="a picture")
        await wait_for(pilot, lambda: portlet.last_payload == f"]Q1{sn(183)}", what="text")
        green = Color.from_rgb(*OUTLINE_RGB)
        styles = [s.style for line in portlet.preview.lines for s in line if s.style]
        assert any(green in (style.color, style.bgcolor) for style in styles)  # the outline
        assert f"]Q1{sn(183)}" in str(portlet.read_line.content)
        await wait_for(pilot, lambda: "cam stopped" in app.station.header.text, what="the end")
        assert "end of video" in str(portlet.status_line.content)
        assert len(app.probe.outcomes) == 3  # nothing twice

    assert scan_rows(demo_db) == [
        (f"]Q1{serial}", "camera", "Received at Godown") for serial in IN_TRANSIT
    ]


@pytest.mark.parametrize("source", ["63", "no-such-video.avi"])
async def test_a_missing_camera_retries_and_the_station_keeps_working(
    demo_db: Path, tmp_path: Path, source: str
) -> None:
    source = source if source.isdigit() else str(tmp_path / source)
    app = camera_app(demo_db, source, portlets=["scanned", "camera"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        portlet = app.station.query_one(CameraPortlet)
        assert portlet.has_class("-empty")  # the placeholder says how to start it
        assert "Camera: start" in [c.title for c in app.get_system_commands(app.station)]

        await pilot.press("f5")
        header = app.station.header
        await wait_for(pilot, lambda: "cam lost — retrying in" in header.text, what="lost")
        await wait_for(
            pilot, lambda: "not available" in str(portlet.status_line.content), what="why"
        )
        assert app.station.camera.on
        told = [n.message for n in app._notifications]
        assert any("not available" in m and "handheld scanner still works" in m for m in told)
        assert "Camera: stop" in [c.title for c in app.get_system_commands(app.station)]

        burst(app, sn(181) + "\r")  # the handheld scanner still works
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1, what="the wedge scan")
        assert app.probe.outcomes[0].kind is OutcomeKind.OK

        await pilot.press("f5")
        await wait_for(pilot, lambda: "cam off" in header.text, what="off")
        assert not app.station.camera.on and portlet.has_class("-empty")
        assert OFF_TEXT == "Camera off — F5 to start"

        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert isinstance(app.screen, HelpScreen)
        assert "Start / stop the camera" in str(app.screen.text())
    assert scan_rows(demo_db) == [(sn(181), "wedge", "Received at Godown")]


# -- the picture ------------------------------------------------------------------------------


def test_half_blocks_show_two_grey_pixels_a_cell_and_the_outline_in_green() -> None:
    image = np.zeros((5, 4), np.uint8)  # 4 × 5 pixels: an odd height
    image[0::2] = 255  # white rows 0, 2, 4; black rows 1, 3
    lines = half_block_lines(image, None, width=6, height=4)
    assert len(lines) == 4 and all(line.cell_length == 6 for line in lines)
    text = [line.text for line in lines]
    assert text == [" ▀▀▀▀ ", " ▀▀▀▀ ", " ▀▀▀▀ ", "      "]  # 3 rows of cells, centred
    [_, cells, _] = list(lines[0])
    assert cells.style is not None
    assert cells.style.color == Color.parse("#ffffff")  # upper pixel: the foreground
    assert cells.style.bgcolor == Color.parse("#000000")  # lower pixel: the background
    *_, last = [segment for segment in lines[2] if segment.text.strip()]
    assert last.style is not None and last.style.bgcolor is None  # no 6th pixel row

    outlined = half_block_lines(
        np.full((8, 8), 128, np.uint8), [(1, 1), (6, 1), (6, 6), (1, 6)], 8, 4
    )
    green = Color.from_rgb(*OUTLINE_RGB)
    styles = [segment.style for line in outlined for segment in line if segment.style]
    assert any(style.color == green for style in styles)  # the top edge: upper pixels
    assert any(style.bgcolor == green for style in styles)  # the bottom edge: lower pixels
    corner = [segment for segment in outlined[0]]
    assert corner[0].style is not None and corner[0].style.color != green  # outside it


def test_half_blocks_fit_any_size() -> None:
    image = np.random.default_rng(1).integers(0, 256, (30, 40), np.uint8)
    assert half_block_lines(image, None, 0, 10) == []
    lines = half_block_lines(image, [(-5, -5), (100, 100)], 40, 15)  # an outline off the edge
    assert [line.cell_length for line in lines] == [40] * 15
