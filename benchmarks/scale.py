"""Ten million serials: the store at ten times a big site's size, on SQLite and PostgreSQL.

    python benchmarks/scale.py [--serials 10000000] [--at 1000000 10000000]
                               [--backend sqlite postgresql] [--pg-url URL] [--dir DIR]
                               [--import-rows 1000000] [--runs 3]

Builds the database up to each size in `--at` (default 1,000,000 and `--serials`) with the real
generation runs (a million serials a run, as `scanstation generate` makes them), and at each
size prints:

- generate: rows/s of each run and of all the runs that brought it there (target ≥ 100,000
  on SQLite);
- lookup: `show`'s read of a random serial, p50/p99 of 2,000;
- scan: a register scan through StationService, p50/p99 of 500 random serials;
- bytes/serial: the database's size (SQLite file and WAL; pg_database_size) over its serials;
- export: `scanstation export` of every serial to /dev/null as a process: time and peak RSS
  (streaming: ≤ 150 MB at 10M, flat with size);
- import: `scanstation import` of `--import-rows` new serials as a process: rows/s and peak
  RSS (target ≥ 100,000 rows/s); then the same file with one bad row at its end: nothing
  written (all or nothing), and how long refusing it took;
- db info: `scanstation db info --json` as a process and `StationService.info()` in process,
  median of `--runs`, beside the same on the empty database (target: ≤ 0.1 s more at 1M);
- first paint: the station (`python -m scanstation`) in a pty, process start → the first frame
  on the terminal's last row, median of `--runs` (target ≤ 1.0 s at 10M).

Every figure is printed with the load average at the time; every run of a median is printed.
SQLite files go to `--dir` (default: a new folder under /var/tmp; its filesystem is printed);
PostgreSQL gets a fresh database on the server of `--pg-url`, dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg2
from fsinfo import describe
from pty_station import StationInPty

from scanstation.domain.model import ScanEvent
from scanstation.domain.stages import Mode, SiteKind
from scanstation.service import StationService, StationSetup

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
RUN_LIMIT = 1_000_000  # serials a generation run, as an operator would make them


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


class Target:
    """One database under test: its URL, its size on disk, and the environment a
    `scanstation` process needs to open it."""

    def __init__(self, backend: str, base: str, folder: Path) -> None:
        self.backend = backend
        self.home = Path(tempfile.mkdtemp(prefix="scanstation-scale-home-"))
        self.pg_base, self.pg_name = base, ""
        if backend == "sqlite":
            self.path: Path | None = folder / f"scale-{uuid.uuid4().hex[:8]}.db"
            self.url = f"sqlite:///{self.path}"
        else:
            self.path = None
            self.pg_name = f"scanstation_scale_{uuid.uuid4().hex[:10]}"
            admin = psycopg2.connect(base)
            admin.autocommit = True
            admin.cursor().execute(f'CREATE DATABASE "{self.pg_name}"')
            admin.close()
            self.url = urlunparse(urlparse(base)._replace(path=f"/{self.pg_name}"))

    def env(self) -> dict[str, str]:
        # An installed scanstation has its bytecode: time its commands, not the compiling.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SCANSTATION_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env |= {
            "SCANSTATION_DATABASE_URL": self.url,
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "XDG_DATA_HOME": str(self.home / "data"),
            "TERM": "xterm-256color",
            "COLUMNS": "120",
            "LINES": "40",
            "LANG": "C.UTF-8",
        }
        return env

    def size_bytes(self) -> int:
        if self.path is not None:
            wal = Path(f"{self.path}-wal")
            return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        conn = psycopg2.connect(self.url)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_database_size(current_database())")
            size = int(cur.fetchone()[0])
        conn.close()
        return size

    def drop(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)
        if self.path is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return
        admin = psycopg2.connect(self.pg_base)
        admin.autocommit = True
        cur = admin.cursor()
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (self.pg_name,),
        )
        cur.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}"')
        admin.close()


def run_process(target: Target, *args: str, stdin: Path | None = None) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in bytes, exit status) of `python -m scanstation ARGS`. The peak
    is the process's own VmHWM, read while it runs (a fork's rusage would count this big
    parent's memory, which the child had before it exec'd)."""
    source = stdin.open("rb") if stdin else subprocess.DEVNULL
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanstation", *args],
        stdin=source,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=target.env(),
    )
    peak = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        with contextlib.suppress(OSError):
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    if stdin:
        source.close()  # type: ignore[union-attr]
    return wall, peak, proc.returncode


def median_of(runs: int, measure: Callable[[], float], label: str) -> float:
    values = []
    for _ in range(runs):
        values.append(measure())
    shown = ", ".join(f"{v:.3f}" for v in values)
    print(f"    {label}: median {statistics.median(values):.3f} s (runs: {shown}; {load()})")
    return statistics.median(values)


def db_info(target: Target, service: StationService, runs: int) -> tuple[float, float]:
    def as_process() -> float:
        wall, _, status = run_process(target, "db", "info", "--json")
        assert status == 0, status
        return wall

    def in_process() -> float:
        t0 = time.perf_counter()
        service.info()
        return time.perf_counter() - t0

    return (
        median_of(runs, as_process, "db info --json (process)"),
        median_of(runs, in_process, "StationService.info() (in process)"),
    )


def first_paint(target: Target, runs: int) -> None:
    def once() -> float:
        argv = [sys.executable, "-m", "scanstation", "--site", "P1", "--mode", "register"]
        argv += ["--station", "SCALE-1", "--operator", "bench"]
        app = StationInPty(argv, target.env())
        painted = app.wait_first_frame(60)
        app.quit()
        if painted is None:
            raise SystemExit("the station painted no frame within 60 s")
        return painted - app.spawned_at

    median_of(runs, once, "station first paint")


def generate(service: StationService, count: int, before: int) -> float:
    """Rows per second of generation runs of `count` serials in all, into `before` serials;
    each run's rate is printed (a run into a big table is the slow one)."""
    t0 = time.perf_counter()
    left = count
    while left:
        made = min(left, RUN_LIMIT)
        start, cpu = time.perf_counter(), time.process_time()
        service.generate("PUMP", made, "P1", prefix="SN", by="bench")
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"    run {before:,} -> {before + made:,}: {made / wall:,.0f} rows/s "
            f"({wall:.1f} s, {cpu:.1f} s CPU; {load()})",
            flush=True,
        )
        before += made
        left -= made
    return count / (time.perf_counter() - t0)


def lookups_and_scans(service: StationService, generated: int, scanned: set[int]) -> None:
    numbers = random.sample(range(1, generated + 1), 2000)
    times = []
    for n in numbers:
        t0 = time.perf_counter()
        assert service.serial(f"SN{n:010d}") is not None
        times.append(time.perf_counter() - t0)
    print(f"    lookup: p50 {ms(pct(times, 0.5))}, p99 {ms(pct(times, 0.99))} (2,000; {load()})")
    setup = StationSetup("SCALE-1", "P1", Mode.REGISTER, operator="bench")
    fresh = [n for n in numbers if n not in scanned][:500]
    times = []
    for n in fresh:
        t0 = time.perf_counter()
        outcome = service.scan(ScanEvent(f"SN{n:010d}", source="test"), setup)
        times.append(time.perf_counter() - t0)
        assert outcome.kind.value == "ok", outcome.message
        scanned.add(n)
    print(
        f"    scan (register): p50 {ms(pct(times, 0.5))}, p99 {ms(pct(times, 0.99))} "
        f"({len(fresh)}; {load()})"
    )


def export_and_import(
    target: Target, service: StationService, import_rows: int, folder: Path
) -> None:
    serials = service.info()["serials"]
    wall, rss, status = run_process(target, "export")
    assert status == 0, status
    print(
        f"    export of {serials:,} serials: {wall:.1f} s ({serials / wall:,.0f} rows/s), "
        f"peak RSS {rss / 2**20:.0f} MB ({load()})"
    )
    if not import_rows:
        return
    prefix = f"IM{uuid.uuid4().hex[:4].upper()}"
    csv = folder / f"import-{prefix}.csv"
    with csv.open("w", encoding="utf-8") as out:
        out.write("serial_no,sku,generation_no,secondary_qr\n")
        out.writelines(f"{prefix}{n:010d},PUMP,,\n" for n in range(1, import_rows + 1))
    bad = folder / f"import-{prefix}-bad.csv"
    shutil.copy(csv, bad)
    with bad.open("a", encoding="utf-8") as out:
        out.write(f"{prefix}X,NO-SUCH-SKU,,\n")
    wall, rss, status = run_process(target, "import", str(bad))
    after = service.info()["serials"]
    assert status != 0 and after == serials, (status, after, serials)
    print(
        f"    import of {import_rows:,} rows + 1 bad row: refused, nothing written, in "
        f"{wall:.1f} s (peak RSS {rss / 2**20:.0f} MB; {load()})"
    )
    wall, rss, status = run_process(target, "import", str(csv))
    after = service.info()["serials"]
    assert status == 0 and after == serials + import_rows, (status, after)
    print(
        f"    import of {import_rows:,} rows: {wall:.1f} s = {import_rows / wall:,.0f} rows/s, "
        f"peak RSS {rss / 2**20:.0f} MB ({load()})"
    )
    csv.unlink()
    bad.unlink()


def one_backend(backend: str, args: argparse.Namespace, folder: Path) -> None:
    target = Target(backend, args.pg_url, folder)
    where = describe(folder) if backend == "sqlite" else target.url.rsplit("@", 1)[-1]
    print(f"\n== {backend}: {where} ({load()})", flush=True)
    try:
        service = StationService.open(target.url, create=True)
        service.add_site("P1", "Plant", SiteKind.PLANT)
        service.add_item("PUMP", "Pump 1HP", "8901234500019", "MB-100")
        print("  empty database:")
        empty_process, empty_inside = db_info(target, service, args.runs)
        generated, scanned = 0, set[int]()
        for size in sorted(set(args.at)):
            rate = generate(service, size - generated, generated)
            generated = size
            total = service.info()["serials"]
            print(
                f"  {size:,} generated ({total:,} serials in the database): generate "
                f"{rate:,.0f} rows/s ({load()})",
                flush=True,
            )
            lookups_and_scans(service, generated, scanned)
            print(f"    bytes/serial: {target.size_bytes() / total:,.0f}")
            at_process, at_inside = db_info(target, service, args.runs)
            print(
                f"    db info: +{at_process - empty_process:.3f} s (process), "
                f"+{at_inside - empty_inside:.4f} s (in process) over the empty database"
            )
            first_paint(target, args.runs)
            export_and_import(target, service, args.import_rows, folder)
            sys.stdout.flush()
        service.close()
    finally:
        target.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serials", type=int, default=10_000_000)
    parser.add_argument("--at", type=int, nargs="*", default=None, help="sizes to measure at")
    parser.add_argument("--backend", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument(
        "--pg-url", default=os.environ.get("SCANSTATION_TEST_PG_URL") or DEFAULT_PG_URL
    )
    parser.add_argument("--dir", type=Path, default=None, help="where SQLite files go")
    parser.add_argument("--import-rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.at is None:
        args.at = sorted({min(1_000_000, args.serials), args.serials})
    folder = args.dir or Path(tempfile.mkdtemp(prefix="scanstation-scale-", dir="/var/tmp"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"scale: sizes {', '.join(f'{n:,}' for n in args.at)}; CPUs {os.cpu_count()}; {load()}")
    for backend in args.backend:
        one_backend(backend, args, folder)
    if args.dir is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
