"""The real `scanstation` station in a pseudo-terminal we drive ourselves: keys written to the
pty's master one at a time at the moments a scanner would type them, and the bytes the app
writes to its terminal read back with the time each read returned.

Why a pty and not tmux: `tmux capture-pane` is a poll (each one a process start, ~5 ms here),
so it can only see a frame some milliseconds after it was written, and `send-keys` goes through
tmux's own server before it reaches the app. Reading the master side of our own pty sees each
byte the moment the app's write() lands, and one select() loop both writes the keys on
schedule and reads the output, so the two clocks are the same clock (CLOCK_MONOTONIC).

What "on screen" means here: the app's output stream carries a text (a serial, "db ok") as one
run of bytes between escape sequences, so a scan is answered when its serial first appears in
the stream after its Enter was written — the frame that carries the banner and the list row.
A full frame is the first write that goes from row 1 down to the last row of the terminal.

Only the standard library: this module must not import scanstation (the app runs in a child).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

now = time.monotonic
CAPTURE_BYTES = 64 * 1024


@dataclass
class Marker:
    """A byte string we wait for in the output, and when it was first seen."""

    text: bytes
    armed_at: float  # only output read after this moment counts
    not_after: bytes = b""  # an occurrence right after these bytes does not count
    seen_at: float | None = None

    def found_in(self, window: bytes) -> bool:
        start = window.find(self.text)
        while start >= 0:
            if not self.not_after or not window[:start].endswith(self.not_after):
                return True
            start = window.find(self.text, start + 1)
        return False


@dataclass
class KeyPlan:
    """One key of a burst: when to write it, relative to the phase's start."""

    at: float
    data: bytes
    marker: bytes | None = None  # set on a burst's last key: the answer to wait for


@dataclass
class PhaseResult:
    typed: list[str] = field(default_factory=list)  # payloads in the order typed
    latencies: dict[str, float] = field(default_factory=dict)  # payload -> s, Enter -> screen
    unanswered: list[str] = field(default_factory=list)  # never on screen within the timeout
    seconds: float = 0.0  # first key -> last Enter
    late_ms: float = 0.0  # worst lateness of a key write against its schedule
    widest_gap_ms: dict[str, float] = field(default_factory=dict)  # payload -> as written
    main_thread_s: float | None = None  # the app's main thread on a CPU, first key -> answers


class StationInPty:
    """One station process on a pty of `rows`×`cols`."""

    def __init__(
        self, argv: list[str], env: Mapping[str, str], rows: int = 40, cols: int = 120
    ) -> None:
        self.rows, self.cols = rows, cols
        window = struct.pack("HHHH", rows, cols, 0, 0)
        self.spawned_at = now()
        pid, fd = pty.fork()
        if pid == 0:  # the child: become the app, at normal priority, on a terminal of our size
            try:
                if hasattr(os, "sched_setscheduler"):
                    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
                with contextlib.suppress(OSError):
                    os.setpriority(os.PRIO_PROCESS, 0, 0)
                fcntl.ioctl(0, termios.TIOCSWINSZ, window)
                os.execve(argv[0], argv, dict(env))
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.exited = False
        self.exit_status: int | None = None
        self.first_frame_at: float | None = None
        self._markers: list[Marker] = []
        self._tail = b""
        self._frame_start_seen = False
        self._captured: bytearray | None = None

    # -- reading ------------------------------------------------------------------------------

    def watch(self, text: bytes, armed_at: float | None = None, not_after: bytes = b"") -> Marker:
        marker = Marker(text, armed_at if armed_at is not None else now(), not_after)
        self._markers.append(marker)
        return marker

    def capture(self) -> None:
        """Keep the last bytes written from now on (for a message when something goes wrong)."""
        self._captured = bytearray()

    def captured_text(self, limit: int = 4000) -> str:
        data = bytes(self._captured or b"")[-limit:]
        return data.decode("utf-8", "replace")

    def pump(self, until: float) -> None:
        """Read whatever the app writes until `until` (monotonic seconds)."""
        while not self.exited:
            left = until - now()
            if left <= 0:
                return
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                self._read_once()

    def _read_once(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except OSError as error:  # EIO: the app closed the terminal (it exited)
            if error.errno != errno.EIO:
                raise
            data = b""
        at = now()
        if not data:
            self._reap()
            return
        if self._captured is not None:
            self._captured += data
            if len(self._captured) > CAPTURE_BYTES:
                del self._captured[:-CAPTURE_BYTES]
        window = self._tail + data
        if self.first_frame_at is None:
            self._look_for_frame(window, at)
        if self._markers:
            waiting = []
            for marker in self._markers:
                if marker.armed_at <= at and marker.found_in(window):
                    marker.seen_at = at
                else:
                    waiting.append(marker)
            self._markers = waiting
        self._tail = window[-256:]

    def _look_for_frame(self, window: bytes, at: float) -> None:
        top, bottom = b"\x1b[1;1H", b"\x1b[%d;1H" % self.rows
        if not self._frame_start_seen and top in window:
            self._frame_start_seen = True
            window = window[window.rindex(top) :]
        if self._frame_start_seen and bottom in window:
            self.first_frame_at = at

    def wait_for(self, marker: Marker, timeout: float) -> float | None:
        """When the marker's text was written (None: not within `timeout` s, or the app
        exited). Watch it before the output that may carry it can arrive."""
        deadline = now() + timeout
        while marker.seen_at is None and not self.exited and now() < deadline:
            self.pump(min(deadline, now() + 0.05))
        return marker.seen_at

    def wait_first_frame(self, timeout: float) -> float | None:
        deadline = now() + timeout
        while self.first_frame_at is None and not self.exited and now() < deadline:
            self.pump(min(deadline, now() + 0.05))
        return self.first_frame_at

    # -- typing -------------------------------------------------------------------------------

    def type_plan(
        self, plan: Iterable[KeyPlan], answer_timeout: float, not_after: bytes = b""
    ) -> PhaseResult:
        """Write every key at its planned moment, reading the output in between; then wait
        until every burst is answered (its marker written, not right after `not_after`) or
        `answer_timeout` s passed after the last Enter."""
        result = PhaseResult()
        cpu_before = self.main_thread_cpu_s()
        pending: dict[str, tuple[float, Marker]] = {}
        started = now() + 0.02
        last_enter = started
        previous: float | None = None  # when the burst's previous key was written
        widest = 0.0
        for key in plan:
            due = started + key.at
            self.pump(due)
            if self.exited:
                break
            os.write(self.fd, key.data)
            written = now()
            result.late_ms = max(result.late_ms, 1000 * (written - due))
            if previous is not None:
                widest = max(widest, written - previous)
            previous = written
            if key.marker is not None:
                payload = key.marker.decode()
                result.typed.append(payload)
                result.widest_gap_ms[payload] = 1000 * widest
                marker = self.watch(key.marker, armed_at=written, not_after=not_after)
                pending[payload] = (written, marker)
                last_enter, previous, widest = written, None, 0.0
            self._collect(pending, result)
        result.seconds = last_enter - started
        deadline = last_enter + answer_timeout
        while pending and not self.exited and now() < deadline:
            self.pump(min(deadline, now() + 0.02))
            self._collect(pending, result)
        result.unanswered = list(pending)
        cpu_after = self.main_thread_cpu_s()
        if cpu_before is not None and cpu_after is not None:
            result.main_thread_s = cpu_after - cpu_before
        given_up = {id(marker) for _, marker in pending.values()}
        self._markers = [m for m in self._markers if id(m) not in given_up]
        return result

    @staticmethod
    def _collect(pending: dict[str, tuple[float, Marker]], result: PhaseResult) -> None:
        for payload, (enter_at, marker) in list(pending.items()):
            if marker.seen_at is not None:
                result.latencies[payload] = marker.seen_at - enter_at
                del pending[payload]

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    # -- the process --------------------------------------------------------------------------

    def main_thread_cpu_s(self) -> float | None:
        """CPU time the app's main thread (Textual's event loop: every frame) has used."""
        try:
            return (
                int(Path(f"/proc/{self.pid}/task/{self.pid}/schedstat").read_text().split()[0])
                / 1e9
            )
        except (OSError, ValueError, IndexError):
            return None

    def peak_rss_mb(self) -> float | None:
        """The app's peak resident memory (VmHWM), while it still runs."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def _reap(self, block: bool = True) -> None:
        if self.exited:
            return
        pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        if pid == self.pid:
            self.exited = True
            self.exit_status = os.waitstatus_to_exitcode(status)

    def quit(self, keys: bytes = b"\x11", timeout: float = 10.0) -> int | None:
        """Quit as a person would (ctrl+q), then make sure the process is gone."""
        if not self.exited:
            with contextlib.suppress(OSError):
                self.send(keys)
            deadline = now() + timeout
            while not self.exited and now() < deadline:
                self.pump(min(deadline, now() + 0.05))
                self._reap(block=False)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.exited:
                break
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            deadline = now() + 5
            while not self.exited and now() < deadline:
                self.pump(min(deadline, now() + 0.05))
                self._reap(block=False)
        if not self.exited:  # pragma: no cover - SIGKILL always ends it
            self._reap()
        with contextlib.suppress(OSError):
            os.close(self.fd)
        return self.exit_status


def realtime_priority() -> str:
    """Make this process (the scanner) punctual: a scanner is hardware and is never late,
    however busy the machine. SCHED_FIFO when allowed (the app started from here is reset to
    normal priority), else the lowest nice value allowed; says which."""
    if hasattr(os, "sched_setscheduler"):
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(10))
            return "SCHED_FIFO"
        except (PermissionError, OSError):
            pass
    try:
        os.nice(-10)
        return "nice -10"
    except (PermissionError, OSError):
        return "normal priority (no permission for more)"
