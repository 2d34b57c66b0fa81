"""The station app, headless, on a SQLite file of 1,000,000 serials: scans injected as the key
events of back-to-back wedge bursts, as a scanner types them.

    python benchmarks/tui.py [--serials 1000000] [--scans 1000] [--db PATH]

Figures (targets in brackets):
  latency   a burst's last key → its banner and list row painted, at a steady 50 scans/s
            (p50, p99 [≤ 50 ms])
  flood     the keys of --scans bursts posted at once: scans/s until the last is on screen
            [≥ 50/s], and every one recorded, in order (checked in the database)
  paint     process start → the station's first paint, headless (median of 3) [≤ 1.0 s]
  rss       peak resident memory (VmHWM) of the app process [≤ 200 MB]

Each measurement runs in a fresh process, so the database build does not count in its RSS.
Prints figures only; medians/percentiles, since these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STATION = "BENCH-1"
WARM_UP = 20


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def peak_rss_mb() -> float:
    """This process's peak RSS. Not ru_maxrss: Linux carries that over from the process that
    forked us (here the parent that built the database) across exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(path: Path, serials: int) -> float:
    from scanstation.domain.stages import SiteKind
    from scanstation.service import StationService

    started = time.perf_counter()
    service = StationService.open(str(path), create=True)
    try:
        service.add_site("P1", "Pune Plant", SiteKind.PLANT)
        service.add_item("PUMP-1HP", "Pump 1HP Monoblock", "8901234500019", "MB-100")
        service.generate("PUMP-1HP", serials, "P1", prefix="SN", by="bench")
    finally:
        service.close()
    return time.perf_counter() - started


def key_events(text: str) -> list[Any]:
    from textual import events

    return [events.Key("enter", "\r") if c == "\r" else events.Key(c, c) for c in text]


# -- child processes -------------------------------------------------------------------------


def child_first_paint(db: Path, spawned_at: float) -> None:
    from scanstation.config import Settings
    from scanstation.tui.app import ScanStationApp

    async def run() -> float:
        app = ScanStationApp(
            Settings(), database_url=str(db), site="P1", mode="register", station_id=STATION
        )
        async with app.run_test(size=(120, 40)) as pilot:
            while app.first_paint is None:
                await pilot.pause(0.005)
            painted = app.first_paint
            while not app.ready:
                await pilot.pause(0.01)
        return painted

    painted = asyncio.run(run())
    print(json.dumps({"first_paint": painted - spawned_at}))


def child_scans(db: Path, scans: int, rate: float) -> None:
    from textual._time import get_time

    from scanstation.config import Settings
    from scanstation.tui.app import ScanStationApp

    warm = [f"SN{n:010d}" for n in range(1, WARM_UP + 1)]
    paced = [f"SN{n:010d}" for n in range(WARM_UP + 1, WARM_UP + scans + 1)]
    flood = [f"SN{n:010d}" for n in range(WARM_UP + scans + 1, WARM_UP + 2 * scans + 1)]
    figures: dict[str, Any] = {}

    async def run() -> None:
        app = ScanStationApp(
            Settings(), database_url=str(db), site="P1", mode="register", station_id=STATION
        )
        async with app.run_test(size=(120, 40)) as pilot:
            while not app.ready:
                await pilot.pause(0.01)
            await pilot.pause(0.3)

            # Warm-up: the first scans of a session pay for cold caches (SQLite pages, lazy
            # imports, the first paint of each portlet); reported apart, not in the figures.
            for payload in warm:
                for key in key_events(payload + "\r"):
                    app.post_message(key)
                await asyncio.sleep(1 / rate)
            while len(app.latencies) < len(warm):
                await pilot.pause(0.01)
            figures["warm_latencies"] = list(app.latencies)
            await pilot.pause(0.3)
            app.latencies.clear()

            # Steady: one burst every 1/rate s; each burst's keys are posted at once.
            started = get_time()
            for index, payload in enumerate(paced):
                for key in key_events(payload + "\r"):
                    app.post_message(key)
                delay = started + (index + 1) / rate - get_time()
                await asyncio.sleep(max(0.0, delay))
            while len(app.latencies) < len(paced):
                await pilot.pause(0.01)
            figures["paced_latencies"] = list(app.latencies)
            figures["paced_rate"] = len(paced) / (get_time() - started)

            # Flood: every burst's keys posted back to back, no idle in between.
            app.latencies.clear()
            keys = [key for payload in flood for key in key_events(payload + "\r")]
            started = get_time()
            for key in keys:
                app.post_message(key)
            while len(app.latencies) < len(flood):
                await pilot.pause(0.005)
            figures["flood_seconds"] = get_time() - started
            outcomes = list(app.outcomes)[-len(flood) :]
            figures["flood_outcomes_ok"] = sum(o.kind.value == "ok" for o in outcomes)
            figures["flood_in_order"] = [o.event.payload for o in outcomes] == flood
            figures["widget_rows"] = len(app.station.query_one("#portlet-scanned").session)  # type: ignore[attr-defined]

    asyncio.run(run())
    figures["rss_mb"] = peak_rss_mb()
    with sqlite3.connect(db) as connection:
        recorded = [
            row[0]
            for row in connection.execute(
                "SELECT payload FROM event WHERE station = ? AND outcome = 'ok' ORDER BY id",
                (STATION,),
            )
        ]
    figures["db_recorded"] = len(recorded)
    figures["db_in_order"] = recorded == warm + paced + flood
    print(json.dumps(figures))


# -- the parent ------------------------------------------------------------------------------


def fresh_copy(template: Path, work: Path) -> None:
    """A copy of the template; a WAL left beside an older copy would be replayed into it."""
    for suffix in ("-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, work)


def run_child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serials", type=int, default=1_000_000)
    parser.add_argument("--scans", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="steady phase, scans/s")
    parser.add_argument("--db", type=Path, help="keep the built database here (reused)")
    parser.add_argument("--child", choices=["paint", "scans"], help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "paint":
        child_first_paint(args.db, args.spawned_at)
        return
    if args.child == "scans":
        child_scans(args.db, args.scans, args.rate)
        return

    with tempfile.TemporaryDirectory() as scratch:
        template = args.db or Path(scratch) / "template.db"
        if not template.exists():
            seconds = build(template, args.serials)
            print(f"built {args.serials:,} serials in {seconds:.1f} s → {template}")
        work = Path(scratch) / "work.db"

        paints = []
        for _ in range(3):
            fresh_copy(template, work)
            spawned = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
            paints.append(
                run_child("--child", "paint", "--db", str(work), "--spawned-at", str(spawned))[
                    "first_paint"
                ]
            )
        fresh_copy(template, work)
        figures = run_child(
            "--child", "scans", "--db", str(work), "--scans", str(args.scans),
            "--rate", str(args.rate),
        )  # fmt: skip

    latencies = [s * 1000 for s in figures["paced_latencies"]]
    flood_rate = args.scans / figures["flood_seconds"]
    total = 2 * args.scans + WARM_UP
    warm = [s * 1000 for s in figures["warm_latencies"]]
    print(f"database      {args.serials:,} serials (SQLite, WAL, synchronous=FULL)")
    print(
        f"latency       p50 {statistics.median(latencies):6.1f} ms   "
        f"p99 {pct(latencies, 0.99):6.1f} ms   max {max(latencies):6.1f} ms   "
        f"({args.scans} scans at {args.rate:.0f}/s offered, {figures['paced_rate']:.1f}/s "
        "achieved)  [p99 ≤ 50 ms]"
    )
    print(
        f"warm-up       first {WARM_UP} scans of the session: first {warm[0]:.1f} ms, "
        f"max {max(warm):.1f} ms (not in the figures above)"
    )
    print(
        f"flood         {flood_rate:6.1f} scans/s sustained   {args.scans} bursts posted at "
        f"once, {figures['flood_outcomes_ok']}/{args.scans} ok, in order: "
        f"{figures['flood_in_order']}  [≥ 50/s]"
    )
    print(
        f"database      {figures['db_recorded']}/{total} scans recorded, in order: "
        f"{figures['db_in_order']}; scanned list holds {figures['widget_rows']} rows"
    )
    print(
        f"first paint   {statistics.median(paints):6.3f} s median of 3 "
        f"({', '.join(f'{p:.3f}' for p in paints)})  [≤ 1.0 s]"
    )
    print(f"peak RSS      {figures['rss_mb']:6.1f} MB  [≤ 200 MB]")


if __name__ == "__main__":
    main()
