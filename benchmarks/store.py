"""The store on a SQLite file of 1,000,000 serials, each figure beside the same work done with
the raw sqlite3 module in the same run (ratio = scanstation / raw; lower is better).

    python benchmarks/store.py [--serials 1000000] [--lookups 20000] [--scans 3000]
                               [--dir DIR] [--import-mb 0]

"The same work" means the raw side runs the statements scanstation runs, on the same schema
(made by scanstation itself), with the same pragmas and page cache: a generation run reserves
its numbers, checks them and the secondary QR tokens against both unique indexes and inserts;
a lookup reads the serial with its item, run, site and document (four joins, 18 columns); a
scan reads the serial with its scan id, then under BEGIN IMMEDIATE updates it only while it
is at the version and in the stage read, appends the full event (the unique scan id refuses
a second delivery) and commits with synchronous=FULL (the tally's triggers fire for both
sides: the same schema). The difference left is scanstation's own Python.

`--import-mb N` also imports a CSV of about N MB (streamed: peak memory and time, check-only
and written). Prints the filesystem the files are on, and whether it is tmpfs. Prints figures
only; no pass/fail. Medians, since these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
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

from fsinfo import describe

from scanstation.domain.model import ScanEvent, new_scan_id
from scanstation.domain.stages import Mode, SiteKind
from scanstation.service import StationService, StationSetup, new_secondary_qrs
from scanstation.store.serials import SERIAL_COLUMNS, SERIAL_FROM
from scanstation.store.sqlite_dialect import SQLITE_BUSY_TIMEOUT_MS

SERIAL_SELECT = f"SELECT {SERIAL_COLUMNS}{SERIAL_FROM} WHERE s.serial_no = ?"
SCAN_SELECT = (
    f"SELECT {SERIAL_COLUMNS}, (SELECT outcome FROM event WHERE scan_id = ?){SERIAL_FROM} "
    "WHERE s.serial_no = ?"
)
UPDATE_SERIAL = (
    "UPDATE serial SET stage = ?, site_id = ?, document_id = ?, updated_at = ?, "
    "updated_by = ?, version = version + 1 WHERE id = ? AND version = ? AND stage = ?"
)
INSERT_EVENT = (
    "INSERT INTO event (scan_id, kind, serial_id, mode, from_stage, to_stage, station, site, "
    "operator, at, recorded_at, document_id, source, payload, comment, outcome, message, "
    "generation_id, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_SERIAL = (
    "INSERT INTO serial (serial_no, secondary_qr, item_id, generation_id, site_id, stage, "
    "created_at, created_by, updated_at, updated_by, version) "
    "VALUES (?, ?, 1, ?, 1, 'Not Registered at Plant', ?, 'bench', ?, 'bench', 1)"
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def us(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f} µs"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def make_schema(path: Path) -> None:
    """A database with scanstation's own schema, one plant and one item."""
    service = StationService.open(str(path), create=True)
    service.add_site("P1", "Plant", SiteKind.PLANT)
    service.add_item("PUMP", "Pump 1HP", "8901234500019", "MB-100")
    service.close()


def raw_connect(path: Path) -> sqlite3.Connection:
    """The pragmas scanstation's SQLite dialect sets, page cache included."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    for pragma in (
        "journal_mode = wal",
        "synchronous = full",
        "foreign_keys = 1",
        f"busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
        "cache_size = -8000",
    ):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def raw_generate(raw: sqlite3.Connection, n: int) -> None:
    """A generation run as scanstation makes it: counters, both namespace checks, inserts."""
    stamp = now()
    raw.execute("BEGIN IMMEDIATE")
    raw.execute("INSERT INTO meta (key, value) VALUES ('generation_seq', '1')")
    raw.execute("INSERT INTO meta (key, value) VALUES ('serial_seq', ?)", (str(n),))
    low, high = "SN0000000001", f"SN{n:010d}"
    for column in ("serial_no", "secondary_qr"):
        raw.execute(
            f"SELECT {column} FROM serial WHERE {column} >= ? AND {column} <= ?", (low, high)
        ).fetchall()
    tokens = new_secondary_qrs(n)
    ordered = sorted(tokens)
    for start in range(0, n, 5000):
        chunk = json.dumps(ordered[start : start + 5000])
        for column in ("secondary_qr", "serial_no"):
            raw.execute(
                f"SELECT {column} FROM serial WHERE {column} IN (SELECT value FROM json_each(?))",
                (chunk,),
            ).fetchall()
    raw.execute(
        "INSERT INTO generation_run (id, generation_no, item_id, count, site_id, created_at, "
        "created_by) VALUES (1, 'G-000001', 1, ?, 1, ?, 'bench')",
        (n, stamp),
    )
    rows = ((f"SN{i:010d}", tokens[i - 1], 1, stamp, stamp) for i in range(1, n + 1))
    batch: list[tuple[object, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 20_000:
            raw.executemany(INSERT_SERIAL, batch)
            batch.clear()
    raw.executemany(INSERT_SERIAL, batch)
    raw.execute(
        INSERT_EVENT,
        (new_scan_id(), "generate", None, None, None, "Not Registered at Plant", "cli", "P1",
         "bench", stamp, stamp, None, None, None, f"Generation run G-000001: {n}", "ok", None,
         1, n),
    )  # fmt: skip
    raw.execute("COMMIT")


def bench_generate(
    workdir: Path, n: int
) -> tuple[StationService, sqlite3.Connection, float, float]:
    make_schema(workdir / "scanstation.db")
    make_schema(workdir / "raw.db")
    service = StationService.open(str(workdir / "scanstation.db"))
    start = time.perf_counter()
    service.generate("PUMP", n, "P1", prefix="SN", by="bench")
    ours = time.perf_counter() - start
    raw = raw_connect(workdir / "raw.db")
    start = time.perf_counter()
    raw_generate(raw, n)
    theirs = time.perf_counter() - start
    return service, raw, ours, theirs


def bench_generate_signed(workdir: Path, n: int, runs: int = 3) -> tuple[list[float], int]:
    """`runs` generation runs of `n` serials whose secondary QR tokens are signed (Ed25519, in
    worker processes when there are many), each on a fresh database: (seconds of each run,
    workers)."""
    from scanstation.signing import POOL_FROM, KeyRing, init_keys

    private, public = workdir / "signing-key.pem", workdir / "signing-key.pub.pem"
    init_keys(private, public)
    took = []
    for run in range(runs):
        db = workdir / f"signed-{run}.db"
        make_schema(db)
        service = StationService.open(str(db), keys=KeyRing(private, public))
        start = time.perf_counter()
        service.generate("PUMP", n, "P1", prefix="SG", by="bench")
        took.append(time.perf_counter() - start)
        service.close()
        db.unlink()
    workers = min(os.cpu_count() or 1, 8) if n >= POOL_FROM else 1
    return took, workers


def signing_per_core(workdir: Path, n: int = 20_000) -> tuple[float, float]:
    """Signatures a CPU-second in this one process (CPU time, so a busy machine's waits do
    not count): (the whole seal as a run makes it, the Ed25519 signature alone)."""
    from scanstation.domain.qr import signed_message
    from scanstation.signing import load_signer

    signer = load_signer(workdir / "signing-key.pem")
    assert signer is not None
    tokens = new_secondary_qrs(n)
    start = time.process_time()
    signer.seal_many(tokens[: min(n, 10_000)])  # below the pool's threshold: this process
    sealed = min(n, 10_000) / (time.process_time() - start)
    key = signer._key  # the bare signature, for the floor no encoding can lower
    messages = [signed_message(token, signer.key_id) for token in tokens]
    start = time.process_time()
    for message in messages:
        key.sign(message)
    return sealed, n / (time.process_time() - start)


def bench_lookup(
    service: StationService, raw: sqlite3.Connection, n: int, count: int
) -> tuple[list[float], list[float], list[float]]:
    rng = random.Random(7)
    keys = [f"SN{rng.randint(1, n):010d}" for _ in range(count)]
    ours, theirs, peewee_plain = [], [], []
    clock = time.perf_counter
    for key in keys:
        t0 = clock()
        service.repo.find_serial(key)  # the store's lookup, as this benchmark always measured
        t1 = clock()
        raw.execute(SERIAL_SELECT, (key,)).fetchone()
        t2 = clock()
        ours.append(t1 - t0)
        theirs.append(t2 - t1)
    t = service.repo.t  # the plain-Peewee way, for comparison
    for key in keys[: max(200, count // 20)]:
        t0 = clock()
        t.serial.select(t.serial, t.item).join(t.item).where(t.serial.serial_no == key).get()
        peewee_plain.append(clock() - t0)
    return ours, theirs, peewee_plain


def raw_scan(raw: sqlite3.Connection, serial_no: str) -> None:
    """Register one serial the way scanstation's SQLite scan does (store/scan_rules.py,
    `_move_by_rule`): read the serial with its scan id; when its stage and no earlier event
    of this scan id let it move, under BEGIN IMMEDIATE update it while it is at the version
    and in the stage read, append the event, commit."""
    scan_id = new_scan_id()
    probe = raw.execute(SCAN_SELECT, (scan_id, serial_no)).fetchone()
    read_at = now()
    stage = probe[7]
    if stage != "Not Registered at Plant" or probe[21] is not None:
        return
    raw.execute("BEGIN IMMEDIATE")
    moved = raw.execute(
        UPDATE_SERIAL,
        ("Registered at Plant", 1, None, read_at, "bench", probe[0], probe[14], stage),
    )
    if moved.rowcount == 1:
        recorded = now()
        raw.execute(
            INSERT_EVENT,
            (scan_id, "scan", probe[0], "register", stage, "Registered at Plant", "BENCH", "P1",
             "bench", read_at, recorded, None, "test", serial_no, None, "ok",
             f"{serial_no} registered — now Registered at Plant", None, None),
        )  # fmt: skip
    raw.execute("COMMIT")


def bench_scan(
    service: StationService, raw: sqlite3.Connection, n: int, count: int
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Register `count` serials: read, decide, update (version-guarded), event, commit, FULL.
    (wall time ours, raw; CPU time ours, raw): the commit's fsync is wall time, and on a shared
    disk it alone moved the wall ratio between 1.04 and 1.66 from one run to the next; CPU
    time is what each side computed (Python, SQLite and the kernel's part of the write), which
    waiting on a busy disk does not add to."""
    station = StationSetup("BENCH", "P1", Mode.REGISTER, operator="bench")
    rng = random.Random(11)
    picks = rng.sample(range(1, n + 1), 2 * count)
    ours_keys = [f"SN{i:010d}" for i in picks[:count]]
    raw_keys = [f"SN{i:010d}" for i in picks[count:]]
    ours, theirs, ours_cpu, theirs_cpu = [], [], [], []
    clock, cpu = time.perf_counter, time.process_time
    for mine, other in zip(ours_keys, raw_keys, strict=True):
        c0 = cpu()
        t0 = clock()
        outcome = service.scan(ScanEvent(mine, source="test"), station)
        t1 = clock()
        c1 = cpu()
        assert outcome.kind.value == "ok", outcome.message
        t2 = clock()
        raw_scan(raw, other)
        t3 = clock()
        c2 = cpu()
        ours.append(t1 - t0)
        theirs.append(t3 - t2)
        ours_cpu.append(c1 - c0)
        theirs_cpu.append(c2 - c1)
    return ours, theirs, ours_cpu, theirs_cpu


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

IMPORT_CHILD = """
import sys, time
from pathlib import Path
from scanstation.service import StationService
service = StationService.open(sys.argv[1])
started = time.perf_counter()
report = service.import_csv(Path(sys.argv[2]), dry_run=sys.argv[3] == "check")
took = time.perf_counter() - started
assert not report.problems, report.problems[:3]
status = open("/proc/self/status").read()
peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
print(report.rows, took, peak)
"""


def bench_import(workdir: Path, megabytes: int) -> None:
    """A CSV of about `megabytes` MB of new serials, checked then imported, in a child each."""
    path = workdir / "import.csv"
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("serial_no,sku,generation_no,secondary_qr\n")
        while out.tell() < megabytes * 1_000_000:
            lines = [f"IM{rows + i:010d},PUMP,GI-{(rows + i) // 100_000},QI{rows + i:010d}\n"
                     for i in range(10_000)]  # fmt: skip
            out.write("".join(lines))
            rows += 10_000
    size = path.stat().st_size / 1e6
    db = workdir / "import.db"
    make_schema(db)
    print(f"import of a {size:.0f} MB CSV ({rows:,} rows, streamed):")
    for phase in ("check", "write"):
        child = subprocess.run(
            [sys.executable, "-c", IMPORT_CHILD, str(db), str(path), phase],
            capture_output=True,
            text=True,
            check=True,
        )
        imported, took, peak = child.stdout.split()
        print(
            f"   {'--dry-run' if phase == 'check' else 'import':<10} {int(imported):>12,} rows "
            f"{float(took):>8.1f} s   peak RSS {int(peak) / 1024:>7.1f} MB   (target ≤ 300 MB)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serials", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--scans", type=int, default=3_000)
    parser.add_argument("--dir", default=None, help="where the files go (default: a temp dir)")
    parser.add_argument("--import-mb", type=int, default=0, help="also import a CSV this big")
    parser.add_argument(
        "--signed", type=int, default=None, help="serials of the signed run (default: --serials)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scanstation-bench-", dir=args.dir) as tmp:
        workdir = Path(tmp)
        print(describe(workdir))
        service, raw, ours, theirs = bench_generate(workdir, args.serials)
        print(f"Store benchmark: SQLite file, {args.serials:,} serials, WAL, synchronous=FULL")
        print(f"{'':34}{'scanstation':>14}{'raw sqlite3':>14}{'ratio':>8}")
        print(
            f"{'generate (rows/s)':34}{args.serials / ours:>14,.0f}"
            f"{args.serials / theirs:>14,.0f}{ours / theirs:>8.2f}"
            f"   ({ours:.1f} s for the run; target ≥ 100,000 rows/s)"
        )
        signed_n = args.signed if args.signed is not None else args.serials
        if signed_n:
            took, workers = bench_generate_signed(workdir, signed_n)
            median = statistics.median(took)
            print(
                f"{'generate, QR signed (rows/s)':34}{signed_n / median:>14,.0f}"
                f"{'':>22}   (median of {len(took)} runs of {signed_n:,} serials: "
                f"{', '.join(f'{t:.1f}' for t in took)} s; {workers} signing process(es); "
                "target ≥ 50,000 rows/s)"
            )
            sealed, bare = signing_per_core(workdir)
            cores = os.cpu_count() or 1
            print(
                f"{'   signing, one core (sig/s CPU)':34}{sealed:>14,.0f}"
                f"{'':>22}   (Ed25519 alone {bare:,.0f}/s; so {cores} idle cores sign at most "
                f"~{sealed * cores:,.0f} tokens/s, inserts not counted)"
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

        ours_s, theirs_s, ours_c, theirs_c = bench_scan(service, raw, args.serials, args.scans)
        print(
            f"{'scan (register, commit FULL), p50':34}{us(statistics.median(ours_s)):>14}"
            f"{us(statistics.median(theirs_s)):>14}"
            f"{statistics.median(ours_s) / statistics.median(theirs_s):>8.2f}"
            "   (target ≤ 1.25 × raw, issue 13)"
        )
        print(f"{'   p99':34}{us(pct(ours_s, 0.99)):>14}{us(pct(theirs_s, 0.99)):>14}")
        cpu_ours, cpu_raw = statistics.median(ours_c), statistics.median(theirs_c)
        print(
            f"{'   CPU (user+system), p50':34}{us(cpu_ours):>14}{us(cpu_raw):>14}"
            f"{cpu_ours / cpu_raw:>8.2f}   (each side's computing; waits on the disk not counted)"
        )
        url = str(service.database_path)
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
        if args.import_mb:
            bench_import(workdir, args.import_mb)
        print(
            f"(this process: peak RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
        )


if __name__ == "__main__":
    main()
