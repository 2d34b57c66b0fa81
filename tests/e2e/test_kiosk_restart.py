"""`scanstation kiosk` in a real terminal (tmux): the keys a passer-by tries do nothing, and
`kill -9` of the station brings it back at once with every answered scan still recorded."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from test_station_crash import (  # the crash tests' tmux harness and site database
    ok_on_screen,
    recorded,
    site_db,
    sn,
    sockets,
    station,
)

__all__ = ["site_db", "sockets"]  # fixtures


def station_pid(log: Path) -> int | None:
    """The station the kiosk runs now, as its log names it (the kiosk has a second child, the
    standby loaded in advance, a few seconds after each start)."""
    found = re.findall(r"station started \(pid (\d+)", log.read_text()) if log.exists() else []
    return int(found[-1]) if found else None


def wait_pid(log: Path, old: int | None, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = station_pid(log)
        if pid is not None and pid != old:
            return pid
        time.sleep(0.05)
    raise AssertionError(f"no new station under the kiosk within {timeout} s")


def test_kiosk_keys_are_inert_and_kill_9_brings_the_station_back(
    sockets: list[str], site_db: Path, tmp_path: Path
) -> None:
    log = tmp_path / "kiosk.log"
    term = station(sockets, site_db, "kiosk", "--log", str(log))
    term.start()
    term.wait_for(lambda s: "db ok" in s and "REGISTER" in s, "the kiosk's station to open")
    first = wait_pid(log, None, 30)
    for number in (1, 2):
        term.scan(sn(number))
        term.wait_for(ok_on_screen(sn(number)), f"the OK of {sn(number)}")
    screen = term.screen()
    assert "▀▀▀" in screen  # the answer's word in big letters

    # A passer-by's keys: nothing ends, suspends or leaves the station.
    for key in ("C-q", "C-c", "C-z", "C-backslash", "C-p"):
        term.tmux("send-keys", "-t", "crash", key)
        time.sleep(0.3)
    term.tmux("send-keys", "-t", "crash", "Escape")
    time.sleep(0.5)
    assert not term.dead()
    assert station_pid(log) == first
    assert "Search for commands" not in term.screen()  # no palette

    # kill -9: the standby the kiosk loaded meanwhile takes over at once (no back-off for a
    # first failure; how fast it is back on screen is benchmarks/kiosk.py's to measure).
    deadline = time.monotonic() + 30
    while "standby station loading" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    standby = int(re.findall(r"standby station loading \(pid (\d+)", log.read_text())[-1])
    # Typed with no Enter just before the kill: the dying station may lose it, or the keys stay
    # in the terminal and the new station reads them as a scan without suffix (its first
    # scan, #1; the old station's would be #3). Either is right; a half-recorded one is not.
    term.tmux("send-keys", "-t", "crash", "-l", sn(3))
    subprocess.run(["kill", "-9", str(first)], check=True)
    second = wait_pid(log, first, 30)  # generous: how fast is benchmarks/kiosk.py's
    assert second == standby
    assert f"station started (pid {second}, from its standby)" in log.read_text()
    term.wait_for(
        lambda s: (
            "db ok" in s
            and ("No scans yet in this session" in s or (ok_on_screen(sn(3))(s) and "#1 ·" in s))
        ),
        "the new station to open",
        timeout=30,
    )
    assert "station killed by signal SIGKILL after" in log.read_text()
    assert "restart 1 now" in log.read_text()

    # Nothing answered was lost; the new station carries on.
    term.scan(sn(4))
    term.wait_for(ok_on_screen(sn(4)), "a scan after the restart")
    term.scan(sn(1))
    term.wait_for(lambda s: "ALREADY" in s, f"{sn(1)} already registered")
    found = recorded(site_db)
    for number in (1, 2, 4):
        assert found.get(sn(number)) == ["ok"], f"{sn(number)}: {found.get(sn(number))}"
    assert found.get(sn(3)) in (None, ["ok"]), f"{sn(3)}: {found.get(sn(3))}"
    assert station_pid(log) == second
