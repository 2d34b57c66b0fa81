"""`scanstation serve` as a real process on a free port, on a small SQLite database built through
the service; each test gives its tabs a station id of their own so the processes it finds are
its own, even with other test runs on the machine."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanstation.service import StationService
from tests.conftest import build_small

START_TIMEOUT_S = 60.0  # a loaded 2-core machine imports Textual and aiohttp slowly


class Served:
    """One `scanstation ... serve` process; stdout and stderr are drained by threads."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._announced = threading.Event()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(
            target=self._drain, args=(self.proc.stdout, self.stdout), daemon=True
        ).start()
        threading.Thread(
            target=self._drain, args=(self.proc.stderr, self.stderr), daemon=True
        ).start()

    def _drain(self, stream: object, into: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)
            if into is self.stdout:
                self._announced.set()
        if into is self.stdout:
            self._announced.set()

    def url(self) -> str:
        """The address `serve` printed once it listens."""
        if not self._announced.wait(START_TIMEOUT_S) or not self.stdout:
            raise AssertionError(f"serve printed no address; stderr: {''.join(self.stderr)}")
        match = re.search(r"http://\S+/", self.stdout[0])
        assert match, self.stdout[0]
        return match.group(0)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def stop(self, signal_number: int = signal.SIGTERM, timeout: float = 20.0) -> float:
        """Signal the server; its exit code must come within `timeout`. Returns the seconds."""
        started = time.monotonic()
        self.proc.send_signal(signal_number)
        self.proc.wait(timeout)
        return time.monotonic() - started

    def errors(self) -> str:
        time.sleep(0.1)  # the drain threads read the last lines
        return "".join(self.stderr)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def station_processes(station_base: str) -> list[int]:
    """Pids of station processes whose command line names a tab of `station_base`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.startswith(f"{station_base}-w".encode()) for arg in argv):
            pids.append(int(entry.name))
    return pids


def wait_until(condition: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def small_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    service = StationService.open(url, create=True)
    build_small(service)
    service.close()
    return url


@pytest.fixture
def station_base() -> str:
    return f"WEB{uuid.uuid4().hex[:6].upper()}"


@pytest.fixture
def serve(small_db: str, station_base: str) -> Iterator[Served]:
    """`scanstation --db … --site P1 --mode lookup --station BASE serve --port 0`, running."""
    argv = [sys.executable, "-m", "scanstation", "--db", small_db, "--site", "P1"]
    argv += ["--mode", "lookup", "--station", station_base, "serve", "--port", "0"]
    served = Served(argv)
    try:
        yield served
    finally:
        served.kill()
        for pid in station_processes(station_base):  # never leave a station behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
