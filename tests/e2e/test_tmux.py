"""The real `scanstation` in a real terminal (tmux): scans typed with `tmux send-keys -l` arrive
as one fast burst, like a keyboard-wedge scanner's; the screen is read with `capture-pane`
and the database with `scanstation show --json`."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

SESSION = "station"


class Terminal:
    """One tmux server of our own (its own socket), one 120×40 session."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            check=check,
            capture_output=True,
            text=True,
            timeout=10,
        )

    def start(self, command: list[str], env: dict[str, str]) -> None:
        line = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        self.tmux(
            "new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40",
            f"env {line} {shlex.join(command)}",
        )  # fmt: skip
        self.tmux("set-option", "-t", SESSION, "remain-on-exit", "on")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", SESSION).stdout

    def type_scan(self, payload: str) -> None:
        # One send-keys: the payload and its Enter reach the app in one read, as a
        # scanner's burst does.
        self.tmux("send-keys", "-t", SESSION, "-l", payload + "\r")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", SESSION, *keys)

    def pane_dead(self) -> bool:
        out = self.tmux("display-message", "-p", "-t", SESSION, "#{pane_dead}", check=False)
        return out.stdout.strip() == "1"

    # Generous: a station starts a Python process and opens its database, slowly on a loaded
    # machine; every wait is for something that must happen.
    def wait_for(self, condition: Callable[[str], bool], what: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if condition(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{screen}")

    def kill(self) -> None:
        self.tmux("kill-server", check=False)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal(f"scanstation-e2e-{os.getpid()}-{time.monotonic_ns()}")
    try:
        yield term
    finally:
        term.kill()


def show(db: Path, serial: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "scanstation", "--db", str(db), "show", serial, "--json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def test_scans_typed_into_the_real_station(terminal: Terminal, demo_db: Path) -> None:
    env = {
        key: os.environ[key]
        for key in ("PATH", "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "PYTHONPATH")
        if key in os.environ
    }
    env |= {"TERM": "xterm-256color", "COLORTERM": "truecolor", "LANG": "C.UTF-8"}
    command = [sys.executable, "-m", "scanstation", "--db", str(demo_db)]
    command += ["--site", "G1", "--mode", "receive", "--station", "E2E-1", "--operator", "op-e2e"]
    terminal.start(command, env)
    terminal.wait_for(lambda s: "db ok" in s and "RECEIVE" in s, "the station to open")

    terminal.type_scan("SN0000000181")  # on its way to G1 on REF-1042
    screen = terminal.wait_for(lambda s: "✔ OK" in s and "SN0000000181" in s, "the OK banner")
    assert "now Received at Godown" in screen

    terminal.type_scan("SN0000000181")
    terminal.wait_for(lambda s: "ALREADY" in s, "the ALREADY banner")

    terminal.type_scan("[@click=app.quit]Q[/]")  # a hostile payload: shown, never obeyed
    screen = terminal.wait_for(lambda s: "UNKNOWN" in s, "the UNKNOWN banner")
    assert "[@click=app.quit]Q[/]" in screen
    assert not terminal.pane_dead()

    terminal.type_scan("AB\x11CD")  # DC1 (ctrl+q) inside a burst is data, not quit
    terminal.wait_for(lambda s: "AB␑CD" in s, "the DC1 payload shown as a symbol")
    assert not terminal.pane_dead()

    terminal.type_scan("SN0000000182")
    terminal.wait_for(lambda s: "ok 2" in s, "the running count")

    time.sleep(0.2)
    terminal.keys("C-q")  # a person's ctrl+q quits
    deadline = time.monotonic() + 15
    while not terminal.pane_dead() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert terminal.pane_dead(), terminal.screen()

    first = show(demo_db, "SN0000000181")
    assert first["stage"] == "Received at Godown" and first["site"] == "G1"
    events = first["events"]
    assert isinstance(events, list)
    mine = [e for e in events if e["station"] == "E2E-1"]
    assert [(e["outcome"], e["to_stage"]) for e in mine] == [("ok", "Received at Godown")]
    assert mine[0]["by"] == "op-e2e"
    assert show(demo_db, "SN0000000182")["stage"] == "Received at Godown"


def station_env() -> dict[str, str]:
    env = {
        key: os.environ[key]
        for key in ("PATH", "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "PYTHONPATH")
        if key in os.environ
    }
    return env | {"TERM": "xterm-256color", "COLORTERM": "truecolor", "LANG": "C.UTF-8"}


def type_slowly(terminal: Terminal, text: str) -> None:
    """A person's keys, 150 ms apart: never taken for a scanner's burst."""
    for character in text:
        terminal.tmux("send-keys", "-t", SESSION, "-l", character)
        time.sleep(0.15)


def test_a_scan_while_the_mode_is_changed_waits_for_the_document_chosen(
    terminal: Terminal, demo_db: Path
) -> None:
    """Issue 8, at the real station: from SCRAP, F2 → DISPATCH → "+ New document…", a scan
    while the form is open, Escape out of the form, then an existing invoice: the held scan is
    dispatched on that invoice, and nothing was scrapped."""
    command = [sys.executable, "-m", "scanstation", "--db", str(demo_db)]
    command += ["--site", "G1", "--mode", "receive", "--station", "E2E-8", "--operator", "op-e2e"]
    terminal.start(command, station_env())
    terminal.wait_for(lambda s: "db ok" in s and "RECEIVE" in s, "the station to open")

    terminal.keys("F2")
    terminal.wait_for(lambda s: "scrap" in s.casefold() and "lookup" in s.casefold(), "modes")
    terminal.keys("Down")  # receive → scrap
    time.sleep(0.2)
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "reason" in s.casefold(), "the reason prompt")
    type_slowly(terminal, "Crushed")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "SCRAP" in s and "reason: Crushed" in s, "scrap mode")

    terminal.keys("F2")
    terminal.wait_for(lambda s: "dispatch" in s.casefold() and "lookup" in s.casefold(), "modes")
    terminal.keys("Up")  # scrap → receive
    time.sleep(0.2)
    terminal.keys("Up")  # → dispatch
    time.sleep(0.2)
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "New document" in s, "the document picker")
    type_slowly(terminal, "zzzz")  # matches no document: "+ New document…" comes first
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "New Invoice from G1" in s, "the new-document form")

    terminal.type_scan("SN0000000101")  # Received at Godown at G1: dispatchable on REF-88
    terminal.wait_for(lambda s: "1 scan waiting" in s.casefold(), "the scan held on the form")
    time.sleep(0.5)
    assert "Scrapped" not in json.dumps(show(demo_db, "SN0000000101"))

    terminal.keys("Escape")  # out of the form: back to the documents, still waiting
    terminal.wait_for(lambda s: "New document" in s and "1 scan waiting" in s, "the picker")
    type_slowly(terminal, "REF-88")
    terminal.keys("Enter")
    screen = terminal.wait_for(lambda s: "✔ OK" in s and "SN0000000101" in s, "the OK banner")
    assert "DISPATCH" in screen and "REF-88" in screen

    time.sleep(0.2)
    terminal.keys("C-q")
    deadline = time.monotonic() + 15
    while not terminal.pane_dead() and time.monotonic() < deadline:
        time.sleep(0.1)
    record = show(demo_db, "SN0000000101")
    assert record["stage"] == "Dispatch from Godown"
    events = record["events"]
    assert isinstance(events, list)
    mine = [e for e in events if e["station"] == "E2E-8"]
    assert [(e["outcome"], e["to_stage"]) for e in mine] == [("ok", "Dispatch from Godown")]
    assert all(e["to_stage"] != "Scrapped" for e in events)
