"""Crash safety of the real station in a real terminal (tmux): SIGKILL right after scans, then a
restart. Every scan the screen showed as OK is in the site database exactly once; with the
offline journal, every scan shown as saved offline survives the kill and is replayed once."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scanstation.domain.stages import SiteKind
from scanstation.service import StationService
from tests.site.test_journal import move_database

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

SESSION = "crash"
STATION = "CRASH-1"


class Station:
    """The real `scanstation` in a tmux server of its own, started and killed at will."""

    def __init__(self, socket: str, db: Path, *extra: str) -> None:
        self.socket = socket
        env = {
            key: os.environ[key]
            for key in ("PATH", "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "PYTHONPATH")
            if key in os.environ
        }
        env |= {"TERM": "xterm-256color", "LANG": "C.UTF-8"}
        command = [sys.executable, "-m", "scanstation", "--db", str(db), "--site", "P1"]
        command += ["--mode", "register", "--station", STATION, "--operator", "op-crash", *extra]
        variables = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        self.line = f"env {variables} {shlex.join(command)}"  # env execs: one pid

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], check=check, capture_output=True, text=True
        )

    def start(self) -> None:
        # A restart respawns the dead pane (remain-on-exit keeps it): killing the server and
        # starting a new one on the same socket at once races ("server exited unexpectedly").
        if self.tmux("has-session", "-t", SESSION, check=False).returncode == 0:
            self.tmux("respawn-pane", "-k", "-t", SESSION, self.line)
            return
        self.tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", self.line)
        self.tmux("set-option", "-t", SESSION, "remain-on-exit", "on")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", SESSION).stdout

    def scan(self, payload: str) -> None:
        # One send-keys: the payload and its Enter arrive as one burst, as a scanner's do.
        self.tmux("send-keys", "-t", SESSION, "-l", payload + "\r")

    def dead(self) -> bool:
        out = self.tmux("display-message", "-p", "-t", SESSION, "#{pane_dead}", check=False)
        return out.stdout.strip() == "1"

    def sigkill(self) -> None:
        pid = int(self.tmux("display-message", "-p", "-t", SESSION, "#{pane_pid}").stdout)
        os.kill(pid, signal.SIGKILL)
        self.wait_for(lambda _: self.dead(), "the station to die", timeout=10)

    def quit(self) -> None:
        self.tmux("send-keys", "-t", SESSION, "C-q")
        self.wait_for(lambda _: self.dead(), "the station to quit", timeout=15)

    # Generous: a station starts a Python process and opens its database, slowly on a loaded
    # machine; every wait is for something that must happen.
    def wait_for(self, condition: Callable[[str], bool], what: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if condition(screen):
                return screen
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{screen}")


@pytest.fixture
def site_db(tmp_path: Path) -> Path:
    path = tmp_path / "site.db"
    service = StationService.open(str(path), create=True)
    service.add_site("P1", "Pune Plant", SiteKind.PLANT)
    service.add_item("PUMP", "Pump 1HP", "8901234500019", "MB-100")
    service.generate("PUMP", 20, "P1", prefix="SN", by="planner")
    service.close()
    return path


@pytest.fixture
def sockets() -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for socket in made:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)


def station(sockets: list[str], db: Path, *extra: str) -> Station:
    socket = f"scanstation-crash-{os.getpid()}-{time.monotonic_ns()}"
    sockets.append(socket)
    return Station(socket, db, *extra)


def sn(number: int) -> str:
    return f"SN{number:010d}"


def ok_on_screen(payload: str) -> Callable[[str], bool]:
    """The banner's headline for this scan: "✔ OK   SN…"."""
    return lambda screen: any("✔ OK" in line and payload in line for line in screen.splitlines())


def recorded(db: Path) -> dict[str, list[str]]:
    """payload → the outcomes of this station's scan events (one per recorded scan)."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT payload, outcome FROM event WHERE station = ? AND kind = 'scan' ORDER BY id",
            (STATION,),
        ).fetchall()
    connection.close()
    found: dict[str, list[str]] = {}
    for payload, outcome in rows:
        found.setdefault(payload, []).append(outcome)
    return found


def test_sigkill_loses_no_scan_shown_ok(sockets: list[str], site_db: Path) -> None:
    term = station(sockets, site_db)
    term.start()
    term.wait_for(lambda s: "db ok" in s and "REGISTER" in s, "the station to open")
    shown_ok = []
    for number in (1, 2, 3):
        term.scan(sn(number))
        term.wait_for(ok_on_screen(sn(number)), f"the OK of {sn(number)}")
        shown_ok.append(sn(number))
    # The last one OK on screen, then more in flight: the kill lands among them.
    term.scan(sn(4))
    term.wait_for(ok_on_screen(sn(4)), "the OK of the last one shown")
    shown_ok.append(sn(4))
    term.scan(sn(5))
    term.scan(sn(6))
    term.sigkill()

    found = recorded(site_db)
    for payload in shown_ok:
        assert found.get(payload) == ["ok"], f"{payload} was shown OK: {found.get(payload)}"
    for payload in (sn(5), sn(6)):  # in flight: recorded once or not at all, never twice
        assert found.get(payload, ["ok"]) == ["ok"]

    # Restart: it carries on where it stopped.
    term.start()
    term.wait_for(lambda s: "db ok" in s, "the station to open again")
    term.scan(sn(7))
    term.wait_for(ok_on_screen(sn(7)), "a scan after the restart")
    term.scan(sn(1))
    term.wait_for(lambda s: "ALREADY" in s, "SN…1 already registered")
    term.quit()
    found = recorded(site_db)
    for payload in [*shown_ok, sn(7)]:
        assert found.get(payload) == ["ok"], f"{payload}: {found.get(payload)}"


def test_sigkill_keeps_scans_saved_offline_and_replays_them(
    sockets: list[str], site_db: Path
) -> None:
    restore = move_database(f"sqlite:///{site_db}", ".away")
    term = station(sockets, site_db, "--journal")
    term.start()
    term.wait_for(lambda s: "db OFFLINE" in s, "the station to open offline")
    shown_saved = []
    for count, number in enumerate((11, 12, 13), start=1):
        term.scan(sn(number))
        sentence = f"OFFLINE — {count} scan{'' if count == 1 else 's'} saved on this terminal"
        term.wait_for(lambda s, sentence=sentence: sentence in s, sentence)
        shown_saved.append(sn(number))
    term.scan(sn(14))  # in flight when the kill lands
    term.sigkill()

    # Restarted while still offline: what it saved is still there, waiting.
    term.start()
    screen = term.wait_for(
        lambda s: re.search(r"db OFFLINE · [34] saved here", s) is not None,
        "the saved scans after the restart",
    )
    assert "OFFLINE" in screen

    # The database returns: the journal replays in order, each scan once.
    restore()
    term.wait_for(lambda s: "Back online" in s, "the replay", timeout=30)
    term.wait_for(lambda s: "db ok" in s, "the header back online")
    found = recorded(site_db)
    for payload in shown_saved:
        assert found.get(payload) == ["ok"], f"{payload} was saved offline: {found.get(payload)}"
    assert found.get(sn(14), ["ok"]) == ["ok"]
    term.quit()  # nothing waits any more: it quits at once

    # Nothing is left pending in the journal.
    show = ["journal", "show", "--station", STATION, "--json"]
    out = subprocess.run(
        [sys.executable, "-m", "scanstation", "--db", str(site_db), *show],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert '"pending_count": 0' in out.stdout
