"""The webcam as a scanner: OpenCV capture in its own thread → decoder → debounce → callback.

`Camera(source, on_scan)` reads a device index (0, "/dev/video0"), a video file or a network
stream URL. Frames are decoded off the caller's thread. A live source keeps only the newest
frame: when decoding lags, older frames are dropped, never queued. A video file is decoded
frame by frame with its own timestamps, so a recording yields the same scans however fast
it is decoded. A code is reported once it has been seen in two frames within 300 ms, once
while it stays in view, and again only after 750 ms out of view (`Debouncer`).

Callbacks are plain callables, called from the camera's threads: a Textual app passes
something that posts a message. A missing or unplugged camera is a state (LOST, retrying
with back-off), never an exception out of the thread.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from scanstation.domain.model import ScanEvent
from scanstation.sources.decoders import FrameDecoder, Symbol, opencv, to_grey

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "Camera",
    "CameraError",
    "CameraState",
    "CameraStatus",
    "Debouncer",
    "Preview",
    "VideoScan",
    "is_video_file",
    "scan_video",
]

log = logging.getLogger(__name__)

CONFIRM_WITHIN: Final = 0.300  # two sightings this close confirm a code
FORGET_AFTER: Final = 0.750  # out of view this long, a code may be reported again
OUTLINE_HOLD: Final = 0.5  # the preview keeps a symbol's outline this long after a read

K = TypeVar("K", bound=Hashable)


class CameraError(Exception):
    """A video source cannot be opened or read."""


# --------------------------------------------------------------------------------------------
# Debounce (pure: fed times, so it is tested with fake ones)


@dataclass(slots=True)
class _Track:
    last_seen: float
    reported: bool = False


class Debouncer(Generic[K]):
    """Turns per-frame sightings into scans.

    `update(keys, now)` takes the codes seen in one frame and its time (seconds, any
    monotonic origin) and returns the codes to report now, in the order given. A code is
    reported when seen in two frames at most `confirm_within` apart; then not again while it
    stays in view (gaps shorter than `forget_after` count as in view); once out of view for
    `forget_after` it starts afresh. A code seen in a single frame is never reported.
    """

    def __init__(
        self, confirm_within: float = CONFIRM_WITHIN, forget_after: float = FORGET_AFTER
    ) -> None:
        if not 0 < confirm_within <= forget_after:
            raise ValueError("need 0 < confirm_within <= forget_after")
        self.confirm_within = confirm_within
        self.forget_after = forget_after
        self._tracks: dict[K, _Track] = {}

    def update(self, keys: Iterable[K], now: float) -> list[K]:
        reports: list[K] = []
        for key in dict.fromkeys(keys):  # one sighting per frame, first-seen order kept
            track = self._tracks.get(key)
            if track is None or now - track.last_seen >= self.forget_after:
                self._tracks[key] = _Track(last_seen=now)
                continue
            if not track.reported and now - track.last_seen <= self.confirm_within:
                track.reported = True
                reports.append(key)
            track.last_seen = now
        stale = [k for k, t in self._tracks.items() if now - t.last_seen >= self.forget_after]
        for key in stale:
            del self._tracks[key]
        return reports


class _Pipeline:
    """Decoder + debouncer for one stream: a frame and its time in, new scans out."""

    def __init__(self, backend: str, formats: frozenset[str] | None) -> None:
        self.decoder = FrameDecoder(backend, formats)
        self.debouncer: Debouncer[str] = Debouncer()

    def process(self, grey: Any, at: float) -> tuple[list[Symbol], list[Symbol]]:
        symbols = self.decoder(grey)
        by_payload = {s.payload: s for s in reversed(symbols)}  # first symbol wins
        reported = self.debouncer.update((s.payload for s in symbols), at)
        return symbols, [by_payload[p] for p in reported]


# --------------------------------------------------------------------------------------------
# Sources


def _cv2() -> Any:
    # ffmpeg logs to fd 2 on its own (a refused stream connection), which would scribble over
    # a TUI; the camera reports such failures through its state instead.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    return opencv()


def _is_url(source: str) -> bool:
    return "://" in source


def is_video_file(source: int | str | os.PathLike[str]) -> bool:
    """True when `source` names a regular file (a recording), not a device or a stream."""
    if isinstance(source, int):
        return False
    text = os.fspath(source)
    return not _is_url(text) and Path(text).is_file()


def _normalise(source: int | str | os.PathLike[str]) -> int | str:
    if isinstance(source, int):
        return source
    text = os.fspath(source).strip()
    return int(text) if text.isdigit() else text  # "0" from a config file is device 0


def _describe(source: int | str) -> str:
    if isinstance(source, int):
        return f"camera {source}"
    if _is_url(source):
        return f"stream {source}"
    if source.startswith("/dev/"):
        return f"camera {source}"
    return f"video {source}"


def _open(source: int | str) -> Any:
    cv2 = _cv2()
    if not isinstance(source, int) and is_video_file(source):
        return cv2.VideoCapture(source, cv2.CAP_FFMPEG)  # as scan_video: the same frames
    return cv2.VideoCapture(source)


def open_video(path: str | os.PathLike[str]) -> Any:
    """An opened cv2.VideoCapture on a video file; CameraError when it is not one."""
    cv2 = _cv2()
    text = os.fspath(path)
    if not Path(text).is_file():
        raise CameraError(f"cannot read {text}: no such file")
    capture = cv2.VideoCapture(text, cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise CameraError(f"cannot read {text} as an image or a video")
    return capture


def _video_frames(capture: Any) -> Iterator[tuple[int, float, Any]]:
    """(index from 0, seconds into the video, frame) for every frame of an opened file."""
    cv2 = _cv2()
    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    fps = fps if 0 < fps < 1000 else 30.0
    index, previous = 0, -1.0
    while True:
        ok, frame = capture.read()
        if not ok or frame is None:
            return
        at = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if at <= previous:  # a container without usable timestamps: count frames instead
            at = previous + 1.0 / fps
        previous = at
        yield index, at, frame
        index += 1


@dataclass(frozen=True, slots=True)
class VideoScan:
    """A debounced scan in a recording: the frame (from 0) and time where it was confirmed."""

    frame: int
    time: float
    symbol: Symbol


def scan_video(
    path: str | os.PathLike[str],
    *,
    backend: str = "auto",
    formats: frozenset[str] | None = None,
) -> Iterator[VideoScan]:
    """The scans a camera would report watching this recording (CameraError if unreadable)."""
    capture = open_video(path)
    try:
        pipeline = _Pipeline(backend, formats)
        frames = 0
        for index, at, frame in _video_frames(capture):
            frames += 1
            _, reported = pipeline.process(to_grey(frame), at)
            for symbol in reported:
                yield VideoScan(frame=index, time=at, symbol=symbol)
        if frames == 0:
            raise CameraError(f"cannot read {os.fspath(path)} as an image or a video")
    finally:
        capture.release()


# --------------------------------------------------------------------------------------------
# State and preview


class CameraState(enum.Enum):
    OFF = "off"  # never started
    STARTING = "starting"  # opening the source
    RUNNING = "running"  # frames are being decoded (see fps)
    LOST = "lost"  # the source failed; retrying after a back-off
    STOPPED = "stopped"  # stop() was called, or the video file ended or could not be read


@dataclass(frozen=True, slots=True)
class CameraStatus:
    state: CameraState
    source: str = ""  # "camera 0", "video gate.avi", "stream rtsp://..."
    fps: float = 0.0  # frames decoded per second over the last second, while RUNNING
    message: str = ""  # a sentence a worker understands, for LOST and STOPPED
    retry_in: float | None = None  # LOST: seconds until the next attempt
    frames: int = 0  # frames decoded since start()
    dropped: int = 0  # live source: frames skipped because decoding lagged

    @property
    def label(self) -> str:
        """Short text for a header: 'running at 29 fps', 'lost — retrying in 4 s'."""
        match self.state:
            case CameraState.RUNNING:
                return f"running at {self.fps:.0f} fps"
            case CameraState.LOST if self.retry_in is not None:
                return f"lost — retrying in {self.retry_in:.0f} s"
            case CameraState.STARTING:
                return "starting…"
            case _:
                return str(self.state.value)


@dataclass(frozen=True, slots=True)
class Preview:
    """The latest frame, small and grey, for a half-block preview, and where the last symbol
    was read. `outline` holds its corners in preview pixels while it is recent."""

    image: npt.NDArray[np.uint8]
    outline: tuple[tuple[float, float], ...] | None = None
    payload: str | None = None
    age: float = 0.0  # seconds since the frame was captured


@dataclass(slots=True)
class _Latest:
    grey: Any = None
    captured: float = 0.0  # monotonic clock, for the preview's age
    at: float = 0.0  # the stream's own time (a video's timestamps), for the outline's hold
    symbol: Symbol | None = None
    symbol_at: float = 0.0


@dataclass(slots=True)
class _RateMeter:
    window: float = 1.0
    stamps: deque[float] = field(default_factory=deque)

    def tick(self, now: float) -> None:
        self.stamps.append(now)

    def rate(self, now: float) -> float:
        while self.stamps and now - self.stamps[0] > self.window:
            self.stamps.popleft()
        return len(self.stamps) / self.window


# --------------------------------------------------------------------------------------------
# The camera

_STARTING_OR_RUNNING: Final = frozenset({CameraState.STARTING, CameraState.RUNNING})

ScanCallback = Callable[[ScanEvent], None]
StateCallback = Callable[[CameraStatus], None]


class Camera:
    """Capture, decode and debounce a video source in background threads.

    on_scan(ScanEvent) gets each debounced scan (source "camera"); on_state(CameraStatus), if
    given, each state change and, while running, the frame rate about once a second. Both are
    called from the camera's threads and must be quick (post a message, append to a queue)
    and must not call stop(). `status` and `latest_preview()` may be read from any thread.
    In a Textual app, for instance:

        camera = Camera(settings.source, lambda e: app.post_message(ScanReceived(e)),
                        on_state=lambda s: app.post_message(CameraChanged(s)),
                        backend=settings.decoder, formats=frozenset(settings.formats))
        camera.start()   # F5 again: camera.stop()
        # a timer, ~10/s: camera.latest_preview(cols, rows * 2) → half-block rows

    A live source must be decoded at least every 300 ms for the debounce to confirm a code;
    the stream decoder takes ~20 ms a frame at 1280×720 on one core.

    backend/formats: as for decoders.decode. retry: first and longest back-off in seconds
    after a failure to open or read a live source. realtime: play a video file no faster
    than its own timestamps (a demo); by default it is decoded as fast as possible.
    open_capture: how to open the source (tests pass a fake; default cv2.VideoCapture).
    """

    def __init__(
        self,
        source: int | str | os.PathLike[str],
        on_scan: ScanCallback,
        *,
        on_state: StateCallback | None = None,
        backend: str = "auto",
        formats: frozenset[str] | None = None,
        resolution: tuple[int, int] | None = None,
        retry: tuple[float, float] = (1.0, 30.0),
        realtime: bool = False,
        open_capture: Callable[[int | str], Any] | None = None,
    ) -> None:
        self.source = _normalise(source)
        self.is_file = not isinstance(self.source, int) and is_video_file(self.source)
        self._describe = _describe(self.source)
        self._on_scan = on_scan
        self._on_state = on_state
        self._backend = backend
        self._formats = formats
        # fail now, in the caller's thread, on an unusable backend or an unknown format name
        FrameDecoder(backend, formats)
        self._resolution = resolution
        self._retry_first, self._retry_max = retry
        self._realtime = realtime
        self._open_capture = open_capture or _open

        self._lock = threading.Lock()
        self._state_lock = threading.RLock()
        self._frame_ready = threading.Condition(self._lock)
        self._pending: tuple[Any, float, datetime] | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._status = CameraStatus(CameraState.OFF, self._describe)
        self._latest = _Latest()
        self._meter = _RateMeter()
        self._last_rate_report = 0.0
        self._frames = 0
        self._captured = 0
        self._failures = 0
        self._pipeline: _Pipeline | None = None

    # -- public API -----------------------------------------------------------------------

    @property
    def status(self) -> CameraStatus:
        return self._status  # replaced whole, never mutated: safe to read from any thread

    @property
    def state(self) -> CameraState:
        return self._status.state

    @property
    def active(self) -> bool:
        """True between start() and the end of its threads."""
        return any(t.is_alive() for t in self._threads)

    def start(self) -> None:
        if self.active:
            return
        self._stop.clear()
        self._pending = None
        self._frames = self._captured = 0
        self._pipeline = _Pipeline(self._backend, self._formats)
        self._set_state(CameraState.STARTING)
        if self.is_file:
            targets = [("camera-video", self._run_file)]
        else:
            targets = [("camera-capture", self._run_capture), ("camera-decode", self._run_decode)]
        self._threads = [
            threading.Thread(target=target, name=name, daemon=True) for name, target in targets
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop and wait (up to `timeout`) for the threads; the state becomes STOPPED."""
        self._stop.set()
        with self._frame_ready:
            self._frame_ready.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        if self._status.state is not CameraState.STOPPED:
            self._set_state(CameraState.STOPPED, message="camera off")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the threads to end (a video file played to its end); True if they did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not self.active

    def __enter__(self) -> Camera:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def latest_preview(self, width: int = 64, height: int = 36) -> Preview | None:
        """The newest frame shrunk to fit width×height pixels (aspect kept), with the outline
        of the last symbol read if it is at most half a second older. None before a frame."""
        with self._lock:
            latest = _Latest(
                self._latest.grey,
                self._latest.captured,
                self._latest.at,
                self._latest.symbol,
                self._latest.symbol_at,
            )
        if latest.grey is None:
            return None
        cv2 = _cv2()
        rows, cols = latest.grey.shape[:2]
        scale = min(width / cols, height / rows)
        size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
        image = cv2.resize(latest.grey, size, interpolation=cv2.INTER_AREA)
        outline = payload = None
        if latest.symbol is not None and latest.at - latest.symbol_at <= OUTLINE_HOLD:
            outline = tuple((x * scale, y * scale) for x, y in latest.symbol.position)
            payload = latest.symbol.payload
        return Preview(image, outline, payload, max(0.0, time.monotonic() - latest.captured))

    # -- state --------------------------------------------------------------------------------

    def _set_state(
        self,
        state: CameraState,
        *,
        message: str = "",
        retry_in: float | None = None,
        fps: float = 0.0,
        only_from: frozenset[CameraState] | None = None,
    ) -> None:
        # Both threads change the state: one lock keeps the changes, and the callbacks that
        # announce them, in one order.
        with self._state_lock:
            if only_from is not None and self._status.state not in only_from:
                return
            status = CameraStatus(
                state=state,
                source=self._describe,
                fps=fps,
                message=message,
                retry_in=retry_in,
                frames=self._frames,
                dropped=0 if self.is_file else max(0, self._captured - self._frames),
            )
            self._status = status
            if self._on_state is not None:
                try:
                    self._on_state(status)
                except Exception:
                    log.exception("camera state callback failed")

    def _report_rate(self, now: float) -> None:
        starting = self._status.state is CameraState.STARTING
        if starting or now - self._last_rate_report >= 1.0:
            self._last_rate_report = now
            # a frame decoded after the source was lost must not flip LOST back to RUNNING
            self._set_state(
                CameraState.RUNNING, fps=self._meter.rate(now), only_from=_STARTING_OR_RUNNING
            )

    # -- decoding -------------------------------------------------------------------------

    def _process(self, frame: Any, at: float, captured: float, wall: datetime) -> None:
        assert self._pipeline is not None
        try:
            grey = to_grey(frame)
            symbols, reported = self._pipeline.process(grey, at)
        except Exception:
            # the first failure in full; then quietly, or a bad stream floods the log 30×/s
            self._failures += 1
            level = logging.ERROR if self._failures == 1 else logging.DEBUG
            log.log(level, "decoding a frame of %s failed", self._describe, exc_info=True)
            return
        self._frames += 1
        with self._lock:
            self._latest.grey = grey
            self._latest.captured = captured
            self._latest.at = at
            if symbols:
                self._latest.symbol = symbols[0]
                self._latest.symbol_at = at
        for symbol in reported:
            try:
                self._on_scan(ScanEvent(payload=symbol.payload, source="camera", read_at=wall))
            except Exception:
                log.exception("camera scan callback failed")
        now = time.monotonic()
        self._meter.tick(now)
        self._report_rate(now)

    # -- a video file: every frame, in order, on its own timestamps ----------------------

    def _run_file(self) -> None:
        try:
            capture = self._open_capture(self.source)
        except Exception as exc:  # a fake or a backend may raise instead of failing quietly
            log.debug("opening %s raised", self.source, exc_info=True)
            capture = None
            error = str(exc)
        else:
            error = ""
        if capture is None or not capture.isOpened():
            if capture is not None:
                capture.release()
            self._set_state(
                CameraState.STOPPED, message=f"cannot read {self._describe} {error}".rstrip()
            )
            return
        started = time.monotonic()
        try:
            for _, at, frame in _video_frames(capture):
                if self._stop.is_set():
                    break
                if self._realtime:
                    delay = started + at - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                self._captured += 1
                self._process(frame, at, time.monotonic(), datetime.now(UTC))
        except Exception:
            log.exception("reading %s failed", self._describe)
        finally:
            capture.release()
        if not self._stop.is_set():
            self._set_state(
                CameraState.STOPPED, message=f"end of {self._describe} ({self._frames} frames)"
            )

    # -- a live source: newest frame only, retry with back-off -----------------------------

    def _run_capture(self) -> None:
        backoff = self._retry_first
        while not self._stop.is_set():
            self._set_state(CameraState.STARTING)
            capture = self._try_open()
            if capture is None:
                reason = f"{self._describe} not available"
            else:
                if self._read_until_failure(capture):
                    backoff = self._retry_first  # it ran: the next failure is a fresh one
                reason = f"{self._describe} lost"
            if self._stop.is_set():
                break
            self._set_state(
                CameraState.LOST,
                message=f"{reason} — retrying in {backoff:.0f} s",
                retry_in=backoff,
            )
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self._retry_max)
        self._set_state(CameraState.STOPPED, message="camera off")

    def _try_open(self) -> Any:
        try:
            capture = self._open_capture(self.source)
        except Exception:
            log.debug("opening %s raised", self._describe, exc_info=True)
            return None
        if capture is None or not capture.isOpened():
            if capture is not None:
                capture.release()
            return None
        if self._resolution is not None:
            cv2 = _cv2()
            width, height = self._resolution
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        return capture

    def _read_until_failure(self, capture: Any) -> bool:
        """Publish frames until the source fails or stop(); True if any frame was read."""
        got_any = False
        try:
            while not self._stop.is_set():
                ok, frame = capture.read()
                if not ok or frame is None:
                    break
                got_any = True
                captured = time.monotonic()
                with self._frame_ready:
                    # keep only the newest: a frame not yet taken is dropped, not queued
                    self._pending = (frame, captured, datetime.now(UTC))
                    self._captured += 1
                    self._frame_ready.notify()
        except Exception:
            log.exception("reading %s failed", self._describe)
        finally:
            capture.release()
            with self._frame_ready:
                self._pending = None
        return got_any

    def _run_decode(self) -> None:
        while True:
            with self._frame_ready:
                while self._pending is None and not self._stop.is_set():
                    self._frame_ready.wait(0.25)
                if self._stop.is_set():
                    return
                assert self._pending is not None
                frame, captured, wall = self._pending
                self._pending = None
            self._process(frame, captured, captured, wall)
