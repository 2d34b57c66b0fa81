"""The store on a SQLite file of 1,000,000 serials, each figure beside the same work done with
the raw sqlite3 module in the same run (ratio = scanstation / raw; lower is better).

    python benchmarks/store.py [--serials 1000000] [--lookups 20000] [--scans 3000]

Prints figures only; no pass/fail. Medians, since these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from scanstation.domain.model import ScanEvent, new_scan_id
from scanstation.domain.stages import Mode, SiteKind
from scanstation.service import StationService, StationSetup, new_secondary_qrs

RAW_SCHEMA = """
CREATE TABLE item (id INTEGER PRIMARY KEY, sku TEXT UNIQUE, name TEXT, gtin TEXT UNIQUE,
                   model_no TEXT);
CREATE TABLE serial (id INTEGER PRIMARY KEY, serial_no TEXT NOT NULL UNIQUE, item_id INTEGER
  NOT NULL REFERENCES item(id), generation_id INTEGER, secondary_qr TEXT UNIQUE,
  stage TEXT NOT NULL, site_id INTEGER, document_id INTEGER, created_at TEXT, created_by TEXT,
  updated_at TEXT, updated_by TEXT, version INTEGER NOT NULL);
CREATE INDEX serial_item_stage ON serial (item_id, stage);
CREATE TABLE event (id INTEGER PRIMARY KEY, scan_id TEXT UNIQUE, serial_id INTEGER, mode TEXT,
  from_stage TEXT, to_stage TEXT, station TEXT, site TEXT, operator TEXT, at TEXT, payload TEXT,
  outcome TEXT);
CREATE INDEX event_serial ON event (serial_id);
CREATE INDEX event_station_id ON event (station, id);
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def us(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f} µs"


def raw_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("PRAGMA synchronous = full")
    conn.execute("PRAGMA foreign_keys = 1")
    return conn


def bench_generate(
    workdir: Path, n: int
) -> tuple[StationService, sqlite3.Connection, float, float]:
    service = StationService.open(f"sqlite:///{workdir / 'scanstation.db'}", create=True)
    service.add_site("P1", "Plant", SiteKind.PLANT)
    service.add_item("PUMP", "Pump 1HP", "8901234500019", "MB-100")
    start = time.perf_counter()
    service.generate("PUMP", n, "P1", prefix="SN", by="bench")
    ours = time.perf_counter() - start

    raw = raw_connect(workdir / "raw.db")
    raw.executescript(RAW_SCHEMA)
    raw.execute("INSERT INTO item VALUES (1, 'PUMP', 'Pump 1HP', '08901234500019', 'MB-100')")
    stamp = datetime.now(UTC).isoformat()
    start = time.perf_counter()
    raw.execute("BEGIN")
    tokens = new_secondary_qrs(n)
    raw.executemany(
        "INSERT INTO serial (serial_no, secondary_qr, item_id, generation_id, site_id, stage, "
        "created_at, created_by, updated_at, updated_by, version) "
        "VALUES (?, ?, 1, 1, 1, 'Not Registered at Plant', ?, 'bench', ?, 'bench', 1)",
        ((f"SN{i:010d}", tokens[i - 1], stamp, stamp) for i in range(1, n + 1)),
    )
    raw.execute("COMMIT")
    theirs = time.perf_counter() - start
    return service, raw, ours, theirs


def bench_lookup(
    service: StationService, raw: sqlite3.Connection, n: int, count: int
) -> tuple[list[float], list[float], list[float]]:
    rng = random.Random(7)
    keys = [f"SN{rng.randint(1, n):010d}" for _ in range(count)]
    raw_sql = (
        "SELECT s.id, s.serial_no, i.sku, i.name, i.gtin, s.secondary_qr, s.stage, s.version "
        "FROM serial s JOIN item i ON i.id = s.item_id WHERE s.serial_no = ?"
    )
    ours, theirs, peewee_plain = [], [], []
    clock = time.perf_counter
    for key in keys:
        t0 = clock()
        service.repo.find_serial(key)
        t1 = clock()
        raw.execute(raw_sql, (key,)).fetchone()
        t2 = clock()
        ours.append(t1 - t0)
        theirs.append(t2 - t1)
    from scanstation.store.tables import Item, Serial  # the plain-Peewee way, for comparison

    for key in keys[: max(200, count // 20)]:
        t0 = clock()
        Serial.select(Serial, Item).join(Item).where(Serial.serial_no == key).get()
        peewee_plain.append(clock() - t0)
    return ours, theirs, peewee_plain


def bench_scan(
    service: StationService, raw: sqlite3.Connection, n: int, count: int
) -> tuple[list[float], list[float]]:
    """Register `count` serials: read, decide, update (version-guarded), event, commit, FULL."""
    station = StationSetup("BENCH", "P1", Mode.REGISTER, operator="bench")
    rng = random.Random(11)
    picks = rng.sample(range(1, n + 1), 2 * count)
    ours_keys = [f"SN{i:010d}" for i in picks[:count]]
    raw_keys = [f"SN{i:010d}" for i in picks[count:]]
    ours, theirs = [], []
    clock = time.perf_counter
    for mine, other in zip(ours_keys, raw_keys, strict=True):
        t0 = clock()
        outcome = service.scan(ScanEvent(mine, source="test"), station)
        t1 = clock()
        assert outcome.kind.value == "ok", outcome.message
        raw.execute("BEGIN IMMEDIATE")
        row = raw.execute(
            "SELECT s.id, s.stage, s.version, i.sku FROM serial s JOIN item i "
            "ON i.id = s.item_id WHERE s.serial_no = ?",
            (other,),
        ).fetchone()
        now = datetime.now(UTC).isoformat()
        if row[1] == "Not Registered at Plant":
            raw.execute(
                "UPDATE serial SET stage = 'Registered at Plant', updated_at = ?, "
                "updated_by = 'bench', version = version + 1 WHERE id = ? AND "
                "version = ?",
                (now, row[0], row[2]),
            )
            raw.execute(
                "INSERT INTO event (scan_id, serial_id, mode, from_stage, to_stage, "
                "station, site, operator, at, payload, outcome) VALUES "
                "(?, ?, 'register', ?, 'Registered at Plant', 'BENCH', 'P1', 'bench', "
                "?, ?, 'ok')",
                (new_scan_id(), row[0], row[1], now, other),
            )
        raw.execute("COMMIT")
        t2 = clock()
        ours.append(t1 - t0)
        theirs.append(t2 - t1)
    return ours, theirs


# ru_maxrss survives exec (it would report this parent's peak): the child reads VmHWM instead.
LOOKUP_CHILD = """
import random, sys
from scanstation.service import StationService
service = StationService.open(sys.argv[1])
n, count = int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(3)
for _ in range(count):
    service.repo.find_serial(f"SN{rng.randint(1, n):010d}")
status = open("/proc/self/status").read()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serials", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--scans", type=int, default=3_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scanstation-bench-") as tmp:
        workdir = Path(tmp)
        service, raw, ours, theirs = bench_generate(workdir, args.serials)
        print(f"Store benchmark: SQLite file, {args.serials:,} serials, WAL, synchronous=FULL")
        print(f"{'':34}{'scanstation':>14}{'raw sqlite3':>14}{'ratio':>8}")
        print(
            f"{'generate (rows/s)':34}{args.serials / ours:>14,.0f}"
            f"{args.serials / theirs:>14,.0f}{ours / theirs:>8.2f}"
            f"   ({ours:.1f} s for the run; target ≥ 100,000 rows/s)"
        )

        ours_l, theirs_l, plain = bench_lookup(service, raw, args.serials, args.lookups)
        print(
            f"{'lookup by serial incl. item, p50':34}{us(statistics.median(ours_l)):>14}"
            f"{us(statistics.median(theirs_l)):>14}"
            f"{statistics.median(ours_l) / statistics.median(theirs_l):>8.2f}"
            "   (target p50 ≤ 25 µs)"
        )
        print(f"{'   p99':34}{us(pct(ours_l, 0.99)):>14}{us(pct(theirs_l, 0.99)):>14}")
        print(f"{'   plain Peewee select+join, p50':34}{us(statistics.median(plain)):>14}")

        ours_s, theirs_s = bench_scan(service, raw, args.serials, args.scans)
        print(
            f"{'scan (register, commit FULL), p50':34}{us(statistics.median(ours_s)):>14}"
            f"{us(statistics.median(theirs_s)):>14}"
            f"{statistics.median(ours_s) / statistics.median(theirs_s):>8.2f}"
            "   (target ≤ 1.5 × raw)"
        )
        print(f"{'   p99':34}{us(pct(ours_s, 0.99)):>14}{us(pct(theirs_s, 0.99)):>14}")
        url = service.repo.target.url
        service.close()
        raw.close()
        child = subprocess.run(
            [sys.executable, "-c", LOOKUP_CHILD, url, str(args.serials), str(args.lookups)],
            capture_output=True,
            text=True,
            check=True,
        )
        print(
            f"{'peak RSS of a lookup run':34}{int(child.stdout) / 1024:>11.1f} MB"
            "   (target ≤ 100 MB)"
        )
        print(
            f"(this process: peak RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
        )


if __name__ == "__main__":
    main()
