"""`kill -9` of the station under `scanstation kiosk`: how long until a worker sees the sign-in
screen again, and that nothing answered was lost.

    python benchmarks/kiosk.py [--serials 1000000] [--runs 3] [--db PATH]

Each run starts `scanstation kiosk` (register mode at plant P1, `[station] kiosk = true`) in a
pseudo-terminal of its own on a fresh copy of the database, which has people (an admin and an
operator, as `tui.py --signed-in` makes them), so the station opens on its sign-in screen. The
operator signs in (badge, PIN) and scans one serial; once the answer is on the terminal and
the kiosk's standby station has loaded (it starts a few seconds after the station, as at a
gate where the station has been up a while), the station process gets SIGKILL. Printed per
run and as the median of the runs:

  first start   kiosk started → "Sign in at" written to the terminal
  back after    SIGKILL sent → "Sign in at" written again by the new station [≤ 5 s]

Each run is a new kiosk, so each kill is a first failure (restarted at once; a second failure
within a minute would wait for the back-off, which is the point of a back-off). After each run
the database must hold the scan answered before the kill (exit 1 if not). The load average is
printed beside each figure: it moves them a lot on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from pty_station import StationInPty, realtime_priority
from tui import (
    SITE,
    add_people,
    app_env,
    build,
    fresh_copy,
    load_average,
    sign_in,
    warm_bytecode,
)

STATION = "BENCH-KIOSK"
SIGN_IN = b"Sign in at"


def station_pid(log: Path) -> int | None:
    """The station the kiosk runs now, as its log names it."""
    found = re.findall(r"station started \(pid (\d+)", log.read_text())
    return int(found[-1]) if found else None


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_standby(log: Path, kiosk: StationInPty, timeout: float = 60) -> int | None:
    """The standby's pid once it has loaded (its CPU time stopped growing), or None."""
    deadline = time.monotonic() + timeout
    pid = None
    while pid is None and time.monotonic() < deadline:
        found = re.findall(r"standby station loading \(pid (\d+)", log.read_text())
        pid = int(found[-1]) if found else None
        kiosk.pump(time.monotonic() + 0.1)
    if pid is None:
        return None
    used = cpu_seconds(pid)
    while time.monotonic() < deadline:
        kiosk.pump(time.monotonic() + 0.3)
        now_used = cpu_seconds(pid)
        if now_used is None:
            return None
        if now_used == used:
            return pid
        used = now_used
    return None


def recorded(db: Path, payload: str) -> bool:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        row = connection.execute(
            "SELECT outcome FROM event WHERE station = ? AND payload = ? AND kind = 'scan'",
            (STATION, payload),
        ).fetchone()
    return row is not None and row[0] == "ok"


def one_run(db: Path, config: Path, scratch: Path, serial: str) -> tuple[float, float, str]:
    """(s to the first sign-in screen, s from SIGKILL to the sign-in screen again, problem)."""
    log = scratch / "kiosk.log"
    log.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "scanstation", "--config", str(config), "--db", str(db)]
    argv += ["kiosk", "--site", SITE, "--mode", "register", "--station", STATION]
    argv += ["--log", str(log)]
    kiosk = StationInPty(argv, app_env(scratch, (120, 40)), rows=40, cols=120)
    kiosk.capture()
    try:
        first = kiosk.watch(SIGN_IN, armed_at=kiosk.spawned_at)
        if kiosk.wait_for(first, timeout=60) is None:
            return 0.0, 0.0, f"no sign-in screen; the kiosk wrote:\n{kiosk.captured_text()}"
        first_start = (first.seen_at or 0.0) - kiosk.spawned_at
        kiosk.pump(time.monotonic() + 0.5)
        if not sign_in(kiosk):
            return first_start, 0.0, "could not sign in"
        answer = kiosk.watch(serial.encode())
        kiosk.send(serial.encode() + b"\r")
        if kiosk.wait_for(answer, timeout=30) is None:
            return first_start, 0.0, f"{serial} was not answered"
        if wait_for_standby(log, kiosk) is None:
            return first_start, 0.0, "the kiosk loaded no standby station"
        child = station_pid(log)
        if child is None:
            return first_start, 0.0, "the kiosk has no station process"
        killed_at = time.monotonic()
        again = kiosk.watch(SIGN_IN, armed_at=killed_at)
        os.kill(child, signal.SIGKILL)
        if kiosk.wait_for(again, timeout=60) is None:
            return first_start, 0.0, f"no sign-in after the kill:\n{kiosk.captured_text()}"
        back_after = (again.seen_at or 0.0) - killed_at
        if "from its standby" not in log.read_text():
            return first_start, back_after, "the standby did not take over"
    finally:
        kiosk.quit(keys=b"", timeout=0)  # the kiosk ends on SIGTERM, its station with it
    if not recorded(db, serial):
        return first_start, back_after, f"{serial} was answered but is not recorded as ok"
    return first_start, back_after, ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]),
    )
    parser.add_argument("--serials", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="keep the built database here (reused)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="scanstation-bench-kiosk-") as name:
        scratch = Path(name)
        template = args.db or scratch / "template.db"
        if not template.exists():
            seconds = build(template, args.serials)
            print(f"built {args.serials:,} serials in {seconds:.1f} s → {template}")
        config = scratch / "kiosk.toml"
        config.write_text(
            '[station]\nkiosk = true\nmode = "register"\nallowed_modes = ["register"]\n',
            encoding="utf-8",
        )
        warm_bytecode(app_env(scratch, (120, 40)))
        print(f"database      {args.serials:,} serials (SQLite) with people; terminal 120×40")
        print(f"this driver   {realtime_priority()} (the kiosk and station at normal priority)")
        work = scratch / "work.db"
        starts: list[float] = []
        backs: list[float] = []
        problems = 0
        for index in range(1, args.runs + 1):
            fresh_copy(template, work)
            add_people(work)
            load = load_average()
            first_start, back_after, problem = one_run(
                work, config, scratch, f"SN{index * 7919 % args.serials + 1:010d}"
            )
            if problem:
                problems += 1
                print(f"run {index}: PROBLEM {problem}")
                continue
            starts.append(first_start)
            backs.append(back_after)
            print(
                f"run {index}: first start {first_start:.3f} s, back after kill -9 "
                f"{back_after:.3f} s (load {load} before, {load_average()} after)"
            )
        if backs:
            median = statistics.median(backs)
            verdict = "ok" if median <= 5.0 else "MISSED"
            print(
                f"median        first start {statistics.median(starts):.3f} s; back after "
                f"kill -9 {median:.3f} s ({', '.join(f'{b:.3f}' for b in backs)}) "
                f"[≤ 5 s] {verdict}"
            )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
