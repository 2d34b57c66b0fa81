"""`scanstation kiosk`: the station as a child process, started again whenever it ends
unexpectedly (a crash, `kill -9`, a database that was away at start-up). The first restart is
immediate: a kiosk is a gate's only terminal and a worker stands waiting. Only a station that
fails again soon after (a crash loop: a database that stays away, a broken config) is
restarted with back-off, so it does not spin.

A restart does not wait for Python to load the station either: a few seconds after each
station starts, the kiosk starts a standby (`STANDBY_ENV`), which loads everything a station
needs (Textual, the app, the store) and waits on a pipe without touching the terminal. When the
station dies, the standby is told to take over and only has to draw and open the database; a
new standby follows. Ending the kiosk closes the pipe and the standby exits.

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
    "STANDBY_ENV",
    "KioskSupervisor",
    "exit_cause",
    "kiosk_logger",
    "restart_delay",
]

BACKOFF_FIRST_S = 0.5  # the wait before the second restart in a row
BACKOFF_MAX_S = 30.0
STEADY_S = 60.0  # a station that ran this long had started fine: its end is a first failure
STANDBY_AFTER_S = 3.0  # a standby starts once the station has had this long to start alone
# The standby's end of the pipe it waits on, by number (see scanstation/tui/launch.py).
STANDBY_ENV = "SCANSTATION_KIOSK_STANDBY_FD"
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


# `extra=` of a line logged while the station is on the terminal: the file only, since a line
# on stderr (the station's terminal) would be drawn over its screen.
FILE_ONLY = {"file_only": True}


def kiosk_logger(path: Path | None) -> logging.Logger:
    """The kiosk's log: stderr, and `path` when given (its folder is made). A line logged with
    `extra=FILE_ONLY` goes to the file only."""
    log = logging.getLogger("scanstation.kiosk")
    log.setLevel(logging.INFO)
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    terminal = logging.StreamHandler(sys.stderr)
    terminal.addFilter(lambda record: not getattr(record, "file_only", False))
    handlers: list[logging.Handler] = [terminal]
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
        standby_after: float | None = None,
    ) -> None:
        """`standby_after`: seconds after a station's start to start its standby (None: no
        standby; `command` must then understand STANDBY_ENV, as `scanstation` does)."""
        self.command = list(command)
        self.env = dict(env)
        self.log = log
        self.clock = clock
        self.standby_after = standby_after
        self.child: subprocess.Popen[bytes] | None = None
        self.standby: _Standby | None = None
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
            self._dismiss_standby()
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
        standby, self.standby = self.standby, None
        self.child = standby.take_over() if standby is not None else None
        if self.child is not None:
            self.log.info("station started (pid %d, from its standby)", self.child.pid)
        else:
            self.child = subprocess.Popen(self.command, env=self.env)
            self.log.info("station started (pid %d)", self.child.pid)
        try:
            while True:
                if self._stop.is_set():
                    timeout: float | None = STOP_WAIT_S
                elif self.standby is None and self.standby_after is not None:
                    timeout = self.standby_after
                else:
                    timeout = None
                try:
                    return self.child.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    if self._stop.is_set():
                        self.log.warning("the station did not stop in %.0f s: killed", STOP_WAIT_S)
                        self.child.kill()
                    else:
                        self._start_standby()
        finally:
            self.child = None

    def _start_standby(self) -> None:
        try:
            self.standby = _Standby(self.command, self.env)
        except OSError as error:  # no standby: a restart starts a station from scratch
            self.log.warning("no standby station: %s", error, extra=FILE_ONLY)
            self.standby_after = None
            return
        pid = self.standby.process.pid
        self.log.info("standby station loading (pid %d)", pid, extra=FILE_ONLY)

    def _dismiss_standby(self) -> None:
        standby, self.standby = self.standby, None
        if standby is not None:
            standby.dismiss()


class _Standby:
    """A station process that has loaded everything and waits for its turn on a pipe."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str]) -> None:
        read_end, self._write_end = os.pipe()
        try:
            self.process = subprocess.Popen(
                command, env={**env, STANDBY_ENV: str(read_end)}, pass_fds=(read_end,)
            )
        except OSError:
            os.close(self._write_end)
            raise
        finally:
            os.close(read_end)

    def take_over(self) -> subprocess.Popen[bytes] | None:
        """The standby becomes the station (None: it is gone)."""
        if self.process.poll() is None:
            try:
                os.write(self._write_end, b"go")
                self._close_pipe()
                return self.process
            except OSError:
                pass
        self.dismiss()
        return None

    def dismiss(self) -> None:
        """It is not needed: the closed pipe tells it to exit (killed if it does not)."""
        self._close_pipe()
        try:
            self.process.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _close_pipe(self) -> None:
        if self._write_end >= 0:
            with suppress(OSError):
                os.close(self._write_end)
            self._write_end = -1


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
