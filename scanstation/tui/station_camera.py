"""The station's camera (F5): one `Camera` at a time, wired to the station screen by messages.

The camera's callbacks run on its own threads, so they only post messages: a scan becomes
`CameraScanned`, which the screen queues like a wedge scan (same writer, banner, bell and list);
a state change becomes `CameraChanged`, which updates the header and, for a lost camera or
the end of a video, tells the worker in a notification. A camera that cannot be opened is a
state with a retry, never an exception in the UI.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from textual.message import Message

from scanstation.sources.camera import Camera, CameraState, CameraStatus
from scanstation.sources.decoders import DecoderError

if TYPE_CHECKING:
    from scanstation.config import CameraSettings
    from scanstation.domain.model import ScanEvent
    from scanstation.tui.screens.station import StationScreen
    from scanstation.tui.widgets.camera import CameraPortlet

__all__ = ["CameraChanged", "CameraScanned", "StationCamera", "header_text"]

_log = logging.getLogger(__name__)

USER_STOP: Final = "camera off"  # Camera.stop()'s message, as opposed to a video's end
STOP_WAIT_S: Final = 1.0  # at exit: how long the camera's threads may take to end

CameraFactory = Callable[..., Camera]


class CameraScanned(Message):
    """A debounced scan from the camera (posted from its thread)."""

    def __init__(self, event: ScanEvent) -> None:
        super().__init__()
        self.event = event


class CameraChanged(Message):
    """The camera's state changed (posted from its thread). `run` tells which start of the
    camera it comes from, so a camera still stopping cannot overwrite its successor's state."""

    def __init__(self, run: int, status: CameraStatus) -> None:
        super().__init__()
        self.run = run
        self.status = status


def header_text(status: CameraStatus | None) -> tuple[str, str]:
    """(text, style) for the header: 'cam running at 30 fps', 'cam lost — retrying in 4 s'."""
    from scanstation.tui.widgets.camera import status_style

    if status is None or (status.state is CameraState.STOPPED and status.message == USER_STOP):
        return "cam off", status_style(CameraState.OFF)
    return f"cam {status.label}", status_style(status.state)


class StationCamera:
    """Starts and stops the camera for the station screen; lives as long as the screen."""

    def __init__(
        self,
        station: StationScreen,
        settings: CameraSettings,
        *,
        factory: CameraFactory = Camera,
    ) -> None:
        self._station = station
        self._settings = settings
        self._factory = factory
        self.camera: Camera | None = None
        self.status: CameraStatus | None = None
        self._run = 0
        self._lost_told = False

    @property
    def on(self) -> bool:
        """Started and not stopped (a video that played to its end counts as off)."""
        return self.camera is not None and self.camera.active

    def toggle(self) -> None:
        if self.on:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        settings = self._settings
        self._run += 1
        run, post = self._run, self._post
        try:
            camera = self._factory(
                settings.source,
                lambda event: post(CameraScanned(event)),
                on_state=lambda status: post(CameraChanged(run, status)),
                backend=settings.decoder,
                formats=frozenset(settings.formats) or None,
            )
        except (DecoderError, ValueError, OSError) as error:
            # an unusable [camera] decoder or format: say so, the station carries on
            self._station.notify(
                f"The camera cannot start: {error}",
                title="Camera",
                severity="error",
                markup=False,
            )
            return
        self.camera = camera
        self._lost_told = False
        portlet = self._portlet(create=True)
        camera.start()
        if portlet is not None:
            portlet.attach(camera)
            self._station.deck.bring(portlet.PORTLET_ID)

    def stop(self) -> None:
        camera, self.camera = self.camera, None
        self._run += 1  # what the stopping camera still says is not news any more
        self._show(None)
        portlet = self._portlet()
        if portlet is not None:
            portlet.attach(None)
        if camera is not None:
            # Joining its threads can take a while (a stream still connecting): not on the
            # UI thread.
            threading.Thread(target=camera.stop, name="camera-stop", daemon=True).start()

    def shutdown(self) -> None:
        """The app is ending: stop the camera and wait (briefly) for its threads."""
        camera, self.camera = self.camera, None
        self._run += 1
        if camera is not None:
            camera.stop(timeout=STOP_WAIT_S)

    def changed(self, message: CameraChanged) -> None:
        """On the UI thread: a state the camera posted."""
        if message.run != self._run:
            return
        status = message.status
        self._show(status)
        if status.state is CameraState.LOST and not self._lost_told:
            self._lost_told = True  # once per loss, not at every retry
            self._station.notify(
                f"{status.message}. Scanning with the handheld scanner still works.",
                title="Camera",
                severity="warning",
                markup=False,
            )
        elif status.state is CameraState.RUNNING:
            self._lost_told = False
        elif status.state is CameraState.STOPPED and status.message != USER_STOP:
            self._station.notify(status.message, title="Camera", markup=False)

    def _post(self, message: Message) -> None:
        """From the camera's threads. A camera still stopping after the app ended finds its
        event loop closed: nobody is left to tell, so that is not an error."""
        try:
            self._station.post_message(message)
        except RuntimeError:
            _log.debug("camera message after the app ended: %s", message)

    def _show(self, status: CameraStatus | None) -> None:
        self.status = status
        text, style = header_text(status)
        self._station.header.set_camera(text, style)

    def _portlet(self, *, create: bool = False) -> CameraPortlet | None:
        from scanstation.tui.widgets.camera import CameraPortlet

        station = self._station
        portlet = station.deck.find(CameraPortlet)
        if portlet is None and create:
            # Not in [ui] portlets: shown while the camera is in use, so a worker can aim.
            portlet = CameraPortlet(id=f"portlet-{CameraPortlet.PORTLET_ID}")
            station.add_portlet(portlet)
        return portlet
