"""Crash safety: `scanstation scan --journal` streams killed with SIGKILL at random moments,
online and offline, then started again (and `journal replay`): nothing it answered ok or
queued is lost, nothing is recorded twice, and the order scanned is the order recorded."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scanstation.domain.stages import SiteKind
from scanstation.service import StationService
from tests.site.test_journal import move_database

ROUNDS = (["online"] * 4) + (["offline"] * 5) + (["online"] * 4)
SEED = int(os.environ.get("SCANSTATION_CRASH_SEED", "20240605"))


@dataclass
class Stream:
    """What the killed processes were sent and what they answered."""

    sent: list[str] = field(default_factory=list)
    answered: dict[str, str] = field(default_factory=dict)  # payload → outcome


def _command(url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "scanstation",
        "--db",
        url,
        "scan",
        "--station",
        "DOCK-3",
        "--site",
        "P1",
        "--mode",
        "register",
        "--journal",
        "--json",
    ]


def _one_round(url: str, payloads: list[str], stream: Stream, rng: random.Random) -> None:
    """Start a stream, let it answer a few scans, send some more and SIGKILL it mid-way."""
    proc = subprocess.Popen(
        _command(url),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for _ in range(rng.randint(0, 8)):
            payload = payloads.pop(0)
            stream.sent.append(payload)
            proc.stdin.write(payload + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            assert line, "the stream ended before it was killed"
            answer = json.loads(line)
            assert answer["payload"] == payload
            stream.answered[payload] = answer["outcome"]
        # Then scans in flight: the kill lands while they are read, decided, written,
        # journaled or answered (or, with none answered yet, while a startup replay runs).
        for _ in range(rng.randint(1, 3)):
            payload = payloads.pop(0)
            stream.sent.append(payload)
            proc.stdin.write(payload + "\n")
        proc.stdin.flush()
        time.sleep(rng.uniform(0.0, 0.03))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    # Whatever the killed process printed before dying was answered: it counts too.
    for line in proc.stdout.read().splitlines():
        with_payload = json.loads(line)
        stream.answered[with_payload["payload"]] = with_payload["outcome"]
    proc.stdout.close()
    proc.stdin.close()


def _journal(url: str, command: str) -> subprocess.CompletedProcess[str]:
    args = ("journal", command, "--station", "DOCK-3", "--json")
    return subprocess.run(
        [sys.executable, "-m", "scanstation", "--db", url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def site_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'site.db'}"
    service = StationService.open(url, create=True)
    service.add_site("P1", "Pune Plant", SiteKind.PLANT)
    service.add_item("PUMP", "Pump 1HP", "8901234500019", "MB-100")
    service.generate("PUMP", 300, "P1", prefix="SN", by="planner")
    service.close()
    return url


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(site_url: str) -> None:
    rng = random.Random(SEED)
    # Serials to register, and now and then a code that is no serial: a refused scan is
    # logged once per scan, so a replay that applied twice would show as two events.
    payloads = [
        f"NOPE-{n:04d}" if n % 7 == 3 else f"SN{n:010d}" for n in range(1, 300) if n % 7 != 0
    ]
    stream = Stream()
    restore = None
    for phase in ROUNDS:
        if phase == "offline" and restore is None:
            restore = move_database(site_url, ".away")
        elif phase == "online" and restore is not None:
            restore()
            restore = None
        _one_round(site_url, payloads, stream, rng)
    assert restore is None

    # Restart: the stream replays what waits first; then `journal replay` has nothing left.
    again = subprocess.run(
        _command(site_url), input="", capture_output=True, text=True, timeout=120, check=False
    )
    assert again.returncode == 0, again.stderr
    replay = _journal(site_url, "replay")
    assert replay.returncode in (0, 1), replay.stderr
    journal = json.loads(_journal(site_url, "show").stdout)
    assert journal["pending_count"] == 0

    outcomes = set(stream.answered.values())
    assert "queued" in outcomes and "ok" in outcomes, stream.answered
    path = site_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT payload, outcome, to_stage FROM event WHERE kind = 'scan' ORDER BY id"
        ).fetchall()
        registered = {
            serial
            for (serial,) in conn.execute(
                "SELECT serial_no FROM serial WHERE stage = 'Registered at Plant'"
            )
        }
    conn.close()
    recorded = [row[0] for row in rows]
    # Nothing duplicated: every payload was sent once, so it is recorded at most once.
    assert len(recorded) == len(set(recorded)), "a scan was recorded twice"
    # Nothing lost: every scan answered ok, queued (or refused) is in the site database.
    lost = [p for p, outcome in stream.answered.items() if p not in set(recorded)]
    assert lost == [], f"answered {[stream.answered[p] for p in lost]} but lost"
    # Only scans that were sent are there, in the order they were scanned.
    order = {payload: index for index, payload in enumerate(stream.sent)}
    assert [order[p] for p in recorded] == sorted(order[p] for p in recorded)
    for payload, outcome, to_stage in rows:
        if payload.startswith("NOPE"):
            assert outcome == "unknown"
        else:
            assert (outcome, to_stage) == ("ok", "Registered at Plant")
            assert payload in registered
    # Refused on replay: listed for a supervisor, not dropped.
    queued_unknown = {p for p, o in stream.answered.items() if o == "queued" and "NOPE" in p}
    listed = {entry["payload"] for entry in journal["refused"]}
    assert queued_unknown <= listed
