"""The camera source: the debounce with fake times, a recorded video through the real source,
and a live source that lags, disappears and comes back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import zxingcpp

from scanstation.domain.model import ScanEvent
from scanstation.sources import camera as camera_module
from scanstation.sources.camera import (
    Camera,
    CameraState,
    CameraStatus,
    Debouncer,
    scan_video,
)

# --------------------------------------------------------------------------------------------
# Debouncer (fake times, seconds)


def feed(debouncer: Debouncer[str], frames: Sequence[tuple[float, Sequence[str]]]) -> list[str]:
    reported: list[str] = []
    for at, codes in frames:
        reported += debouncer.update(codes, at)
    return reported


def test_a_code_in_a_single_frame_is_never_reported() -> None:
    assert feed(Debouncer(), [(0.0, ["A"]), (0.1, []), (0.2, []), (5.0, [])]) == []


def test_a_code_seen_twice_within_300_ms_is_reported_once_while_in_view() -> None:
    debouncer: Debouncer[str] = Debouncer()
    assert debouncer.update(["A"], 0.0) == []
    assert debouncer.update(["A"], 0.3) == ["A"]  # the second sighting confirms it
    assert feed(debouncer, [(0.3 + i / 30, ["A"]) for i in range(1, 300)]) == []  # 10 s in view


def test_two_sightings_more_than_300_ms_apart_do_not_confirm() -> None:
    debouncer: Debouncer[str] = Debouncer()
    assert feed(debouncer, [(0.0, ["A"]), (0.31, ["A"]), (0.62, ["A"])]) == []
    assert debouncer.update(["A"], 0.80) == ["A"]  # 180 ms after the last one


def test_reported_again_only_after_750_ms_out_of_view() -> None:
    debouncer: Debouncer[str] = Debouncer()
    frames = [(0.0, ["A"]), (0.1, ["A"])]  # reported
    frames += [(0.2, []), (0.5, []), (0.8, ["A"]), (0.9, ["A"])]  # 700 ms away: same visit
    frames += [(1.5, []), (1.64, ["A"])]  # 740 ms away, one frame: still the same visit
    assert feed(debouncer, frames) == ["A"]
    # away from 1.64 to 2.40 (760 ms): a new visit, which again needs two frames
    assert debouncer.update(["A"], 2.40) == []
    assert debouncer.update(["A"], 2.45) == ["A"]


def test_codes_are_tracked_apart_and_reported_in_the_order_seen() -> None:
    debouncer: Debouncer[str] = Debouncer()
    frames = [(0.0, ["B", "A"]), (0.1, ["A", "B", "C"]), (0.2, ["C"]), (0.3, [])]
    assert feed(debouncer, frames) == ["A", "B", "C"]


def test_a_code_twice_in_one_frame_is_one_sighting() -> None:
    assert feed(Debouncer(), [(0.0, ["A", "A"]), (1.0, [])]) == []


def test_codes_long_gone_are_forgotten() -> None:
    debouncer: Debouncer[str] = Debouncer()
    feed(debouncer, [(i * 0.01, [f"code-{i}"]) for i in range(1000)])
    debouncer.update([], 100.0)
    assert debouncer._tracks == {}


def test_debouncer_windows_are_checked() -> None:
    with pytest.raises(ValueError):
        Debouncer(confirm_within=1.0, forget_after=0.5)


# --------------------------------------------------------------------------------------------
# A recorded video through the real camera source

FPS = 10  # 100 ms between frames: the debounce windows fall between frames, not on them
SIZE = (320, 240)


def qr(text: str) -> np.ndarray:
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
    return np.array(zxingcpp.write_barcode_to_image(barcode, scale=4))


def write_video(path: Path, timeline: Sequence[Sequence[str]]) -> None:
    """One frame per entry, showing those codes on a noisy grey background."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, SIZE)
    assert writer.isOpened()
    rng = np.random.default_rng(4)
    for index, codes in enumerate(timeline):
        frame = np.clip(rng.normal(170, 6, (SIZE[1], SIZE[0])), 0, 255).astype(np.uint8)
        for slot, code in enumerate(codes):
            image = qr(code)
            y = 20 + index % 4 * 3  # the label moves a little, as in a hand
            x = 10 + slot * 150 + index % 5 * 2
            frame[y : y + image.shape[0], x : x + image.shape[1]] = image
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


A, B, C, D, E, F = "SN0000001", "SN0000002", "SN0000003", "SN0000004", "SN0000005", "SN0000006"
TIMELINE: list[list[str]] = (
    [[A]] * 10  # A appears and stays 1 s: reported once, at its 2nd frame (frame 1)
    + [[]] * 2  # away 200 ms
    + [[A]] * 4  # back: the same visit, not reported again
    + [[]] * 10  # away 1.1 s
    + [[A]] * 3  # back: reported again (frame 27)
    + [[]] * 2
    + [[B]]  # in a single frame only: never reported
    + [[]] * 2
    + [[C]] * 4  # reported (frame 35)
    + [[]] * 2
    + [[D]]
    + [[]] * 4
    + [[D]]  # two sightings 500 ms apart: never reported
    + [[]] * 3
    + [[E, F]] * 3  # two codes at once: both reported (frame 50)
    + [[]] * 2
)
EXPECTED = [f"]Q1{A}", f"]Q1{A}", f"]Q1{C}", f"]Q1{E}", f"]Q1{F}"]
EXPECTED_FRAMES = [1, 27, 35, 50, 50]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "gate.avi"
    write_video(path, TIMELINE)
    return path


def test_the_video_gives_exactly_the_expected_scans_through_the_camera(video: Path) -> None:
    scans: list[ScanEvent] = []
    states: list[CameraStatus] = []
    cam = Camera(video, scans.append, on_state=states.append)
    assert cam.is_file and cam.state is CameraState.OFF
    cam.start()
    assert cam.wait(timeout=30), "the video never ended"
    assert [s.payload for s in scans] == EXPECTED
    assert {s.source for s in scans} == {"camera"}
    assert len({s.scan_id for s in scans}) == len(scans)
    seen = [s.state for s in states]
    assert seen[0] is CameraState.STARTING and CameraState.RUNNING in seen
    assert seen[-1] is CameraState.STOPPED and "end of" in states[-1].message
    assert cam.status.frames == len(TIMELINE)
    assert cam.status.dropped == 0  # a recording never drops a frame


def test_scan_video_gives_the_same_scans_with_their_frames(video: Path) -> None:
    scans = list(scan_video(video))
    assert [s.symbol.payload for s in scans] == EXPECTED
    assert [s.frame for s in scans] == EXPECTED_FRAMES
    assert [round(s.time, 3) for s in scans] == [f / FPS for f in EXPECTED_FRAMES]


def test_the_result_does_not_depend_on_decoding_speed(
    video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a slow machine: every frame takes 20 ms more to decode; a recording still drops none
    process = camera_module._Pipeline.process

    def slow(self: Any, grey: Any, at: float) -> Any:
        time.sleep(0.02)
        return process(self, grey, at)

    monkeypatch.setattr(camera_module._Pipeline, "process", slow)
    scans: list[ScanEvent] = []
    cam = Camera(video, scans.append)
    cam.start()
    assert cam.wait(timeout=30)
    assert [s.payload for s in scans] == EXPECTED


def test_preview_is_small_grey_with_the_symbol_outline(tmp_path: Path) -> None:
    path = tmp_path / "still.avi"
    write_video(path, [[A]] * 3)
    cam = Camera(path, lambda _: None)
    assert cam.latest_preview() is None
    cam.start()
    assert cam.wait(timeout=30)
    preview = cam.latest_preview(width=64, height=36)
    assert preview is not None
    assert preview.image.dtype == np.uint8 and preview.image.shape == (36, 48)  # 4:3 kept
    assert preview.payload == f"]Q1{A}"
    assert preview.outline is not None and len(preview.outline) == 4
    assert all(0 <= x <= 48 and 0 <= y <= 36 for x, y in preview.outline)


def test_an_unreadable_video_file_stops_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "broken.avi"
    path.write_bytes(b"not a video at all")
    states: list[CameraStatus] = []
    cam = Camera(path, lambda _: None, on_state=states.append)
    cam.start()
    assert cam.wait(timeout=10)
    assert cam.state is CameraState.STOPPED
    assert "cannot read" in cam.status.message and "broken.avi" in cam.status.message


# --------------------------------------------------------------------------------------------
# A live source (a fake capture: no webcam on the test machine)


class FakeCapture:
    """Frames at a fixed rate like a webcam; unplugged after `frames` reads."""

    def __init__(self, frame: np.ndarray, frames: int, interval: float) -> None:
        self.frame, self.left, self.interval = frame, frames, interval
        self.released = False

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(self.interval)
        if self.left <= 0:
            return False, None
        self.left -= 1
        return True, self.frame

    def set(self, prop: int, value: float) -> bool:
        return True

    def release(self) -> None:
        self.released = True


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_a_lagging_live_source_drops_frames_instead_of_queueing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = np.full((240, 320), 200, np.uint8)
    code = qr("LIVE-1")
    frame[40 : 40 + code.shape[0], 60 : 60 + code.shape[1]] = code
    process = camera_module._Pipeline.process

    def slow(self: Any, grey: Any, at: float) -> Any:
        time.sleep(0.03)  # decoding at ~30 frames/s while the camera sends ~200
        return process(self, grey, at)

    monkeypatch.setattr(camera_module._Pipeline, "process", slow)
    captures: list[FakeCapture] = []

    def open_capture(source: int | str) -> FakeCapture:
        captures.append(FakeCapture(frame, frames=60, interval=0.005))
        return captures[-1]

    scans: list[ScanEvent] = []
    cam = Camera(0, scans.append, open_capture=open_capture, retry=(0.05, 0.05))
    cam.start()
    try:
        assert wait_until(lambda: len(captures) >= 2), "the source was not reopened"
        assert wait_until(lambda: cam.state is CameraState.RUNNING)
    finally:
        cam.stop()
    status = cam.status
    assert status.state is CameraState.STOPPED
    assert all(c.released for c in captures)
    # ~60 frames captured per 0.3 s of reading, ~10 decoded: the rest were dropped
    assert status.dropped > status.frames
    # in view the whole time (the reconnection took far less than 750 ms): reported once
    assert [s.payload for s in scans] == ["]Q1LIVE-1"]


def test_a_missing_camera_is_a_state_with_back_off_never_an_exception() -> None:
    states: list[CameraStatus] = []
    lock = threading.Lock()

    def on_state(status: CameraStatus) -> None:
        with lock:
            states.append(status)

    def no_camera(source: int | str) -> Any:
        raise OSError("no such device")  # what a backend might do instead of isOpened()

    cam = Camera(7, lambda _: None, on_state=on_state, retry=(0.02, 0.08), open_capture=no_camera)
    cam.start()
    assert wait_until(lambda: sum(s.state is CameraState.LOST for s in states) >= 4)
    started = time.monotonic()
    cam.stop()
    assert time.monotonic() - started < 1.0
    with lock:
        lost = [s for s in states if s.state is CameraState.LOST]
    assert [s.retry_in for s in lost[:4]] == [0.02, 0.04, 0.08, 0.08]  # doubling, capped
    assert "camera 7 not available" in lost[0].message
    assert lost[0].label.startswith("lost — retrying in")
    assert cam.state is CameraState.STOPPED and not cam.active


def test_a_real_missing_device_goes_lost_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    cam = Camera(63, lambda _: None, retry=(5.0, 5.0))
    cam.start()
    try:
        assert wait_until(lambda: cam.state is CameraState.LOST)
    finally:
        cam.stop()
    assert cam.state is CameraState.STOPPED
    assert capfd.readouterr().err == ""  # OpenCV's own warnings would garble the TUI


def test_status_labels() -> None:
    assert CameraStatus(CameraState.OFF).label == "off"
    assert CameraStatus(CameraState.STARTING).label == "starting…"
    assert CameraStatus(CameraState.RUNNING, fps=29.6).label == "running at 30 fps"
    assert CameraStatus(CameraState.LOST, retry_in=4).label == "lost — retrying in 4 s"
    assert CameraStatus(CameraState.STOPPED).label == "stopped"


def test_callbacks_that_raise_do_not_stop_the_camera(video: Path) -> None:
    def boom(_: object) -> None:
        raise RuntimeError("a UI that went away")

    cam = Camera(video, boom, on_state=boom)
    cam.start()
    assert cam.wait(timeout=30)
    assert cam.status.frames == len(TIMELINE)
