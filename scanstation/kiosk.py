"""`scanstation kiosk`: the station as a child process, started again whenever it ends
unexpectedly (a crash, `kill -9`, a database that was away at start-up). The first restart is
immediate: a kiosk is a gate's only terminal and a worker stands waiting. Only a station that
fails again soon after (a crash loop: a database that stays away, a broken config) is
restarted with back-off, so it does not spin.

Nothing is lost by a restart: the station answers a scan only once it is on disk (in the
site database, or in the offline journal), so whatever was answered is there when the child
comes back. Each exit is logged with its cause (exit code or signal) to the kiosk's log file
and to stderr. Only a normal quit (exit code 0: ctrl+q, which a kiosk grants only to a
supervisor) or SIGTERM/SIGHUP to the kiosk itself (systemd stopping it, the terminal gone)
ends the kiosk.

The keys that send signals (ctrl+c, ctrl+\\, ctrl+z) are ignored by the kiosk and by the
station it starts: while the station is restarting the terminal is in its ordinary mode, and
a passer-by's ctrl+c must not end the kiosk and leave a shell.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = [
    "BACKOFF_FIRST_S",
    "BACKOFF_MAX_S",
    "KioskSupervisor",
    "exit_cause",
    "kiosk_logger",
    "restart_delay",
]

BACKOFF_FIRST_S = 0.5  # the wait before the second restart in a row
BACKOFF_MAX_S = 30.0
STEADY_S = 60.0  # a station that ran this long had started fine: its end is a first failure
STOP_WAIT_S = 10.0  # how long a stopping kiosk waits for the station to end before killing it
# Keyboard signals a passer-by can send from the terminal.
IGNORED_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
# What a killed full-screen app leaves on: the alternate screen, mouse reporting, bracketed
# paste, a hidden cursor, the kitty keyboard protocol. Turned off before a restart.
TERMINAL_RESET = (
    "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?2004l\x1b[<u\x1b[?1049l\x1b[?25h"
)


def exit_cause(returncode: int) -> str:
    """ "killed by signal SIGKILL", "exited with code 2"."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"killed by signal {name}"
    return f"exited with code {returncode}"


def restart_delay(failures: int) -> float:
    """Seconds to wait before restarting a station that failed `failures` times in a row
    (each within STEADY_S of its start): none the first time, then 0.5 s, 1, 2 … 30."""
    if failures <= 1:
        return 0.0
    return min(BACKOFF_FIRST_S * 2 ** (failures - 2), BACKOFF_MAX_S)


def kiosk_logger(path: Path | None) -> logging.Logger:
    """The kiosk's log: stderr, and `path` when given (its folder is made)."""
    log = logging.getLogger("scanstation.kiosk")
    log.setLevel(logging.INFO)
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s scanstation kiosk: %(message)s"))
        log.addHandler(handler)
    return log


class KioskSupervisor:
    """Runs `command` until it quits normally, restarting it after any other end."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        log: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.command = list(command)
        self.env = dict(env)
        self.log = log
        self.clock = clock
        self.child: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stop = threading.Event()
        self._terminal = _TerminalState()

    def run(self) -> int:
        """0 when the station quit normally or the kiosk was told to stop."""
        previous = {
            signum: signal.getsignal(signum) for signum in (*IGNORED_SIGNALS, *STOP_SIGNALS)
        }
        for signum in IGNORED_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._stop_requested)
        try:
            return self._loop()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def stop(self) -> None:
        """End the kiosk: the station is asked to end (SIGTERM) and is not restarted."""
        self._stop.set()
        child = self.child
        if child is not None and child.poll() is None:
            with suppress(ProcessLookupError):
                child.terminate()

    def _stop_requested(self, signum: int, frame: FrameType | None) -> None:
        self.log.info("%s received: stopping the station", signal.Signals(signum).name)
        self.stop()

    def _loop(self) -> int:
        failures = 0  # in a row, each soon after its start
        while not self._stop.is_set():
            started = self.clock()
            returncode = self._run_once()
            ran = self.clock() - started
            self._terminal.restore()
            if self._stop.is_set():
                self.log.info("station %s; the kiosk stops", exit_cause(returncode))
                return 0
            if returncode == 0:
                self.log.info("station quit normally; the kiosk ends")
                return 0
            failures = 1 if ran >= STEADY_S else failures + 1
            delay = restart_delay(failures)
            self.restarts += 1
            self.log.warning(
                "station %s after %.1f s; restart %d %s",
                exit_cause(returncode),
                ran,
                self.restarts,
                f"in {delay:.1f} s" if delay else "now",
            )
            if delay and self._stop.wait(delay):
                return 0
        return 0

    def _run_once(self) -> int:
        self.child = subprocess.Popen(self.command, env=self.env)
        self.log.info("station started (pid %d)", self.child.pid)
        try:
            while True:
                try:
                    return self.child.wait(timeout=STOP_WAIT_S if self._stop.is_set() else None)
                except subprocess.TimeoutExpired:
                    self.log.warning("the station did not stop in %.0f s: killed", STOP_WAIT_S)
                    self.child.kill()
        finally:
            self.child = None


class _TerminalState:
    """The terminal's modes as the kiosk found them, put back after each station ends (a
    killed station cannot restore them itself)."""

    def __init__(self) -> None:
        self._saved: Any = None
        self._fd = -1
        with suppress(Exception):
            import termios

            if sys.stdin.isatty():
                self._fd = sys.stdin.fileno()
                self._saved = termios.tcgetattr(self._fd)

    def restore(self) -> None:
        if self._saved is None:
            return
        with suppress(Exception):
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            os.write(sys.stderr.fileno(), TERMINAL_RESET.encode())  # where Textual draws
