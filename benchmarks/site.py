"""Many stations, one PostgreSQL site database: scans per second in total and p99 per scan
through StationService, beside the same transaction done with raw psycopg2 in the same run;
then the replay time of 10,000 journaled scans.

    python benchmarks/site.py [--pg-url URL] [--stations 4 16] [--scans 600]
                              [--replay 10000] [--profile]

The raw side does the same work as scanstation's PostgreSQL dialect, statement for statement:
one connection a station with the same session settings, BEGIN with the transaction's lock
and statement timeouts in one round trip, the serial found and locked in one prepared
statement (the same four joins and 18 columns, the scan id checked under the lock, SKIP
LOCKED), the update under the serial's version, the full event appended with RETURNING id
under a time-ordered scan id, COMMIT. What is left between the two is scanstation's Python.

The database is a fresh one created on the server of `--pg-url` (default: the environment's
SCANSTATION_TEST_PG_URL, else postgresql://postgres@127.0.0.1:5432/postgres) and dropped at the
end. Each station is a process registering its own serials, one scan at a time, as a gate
terminal does. Prints where the server keeps its data (filesystem, tmpfs or not) when it can
see it. Prints figures only; no pass/fail. Targets (issue 5): ≥ 2,000 scans/s in total with 4
stations, p99 ≤ 20 ms; replay of 10,000 journaled scans ≤ 30 s.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing as mp
import os
import pstats
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg2
from fsinfo import describe

from scanstation.domain.model import ScanEvent, new_scan_id
from scanstation.domain.stages import Mode, SiteKind
from scanstation.journaled import JournaledStation
from scanstation.service import StationService, StationSetup
from scanstation.store.events import EVENT_SQL
from scanstation.store.journal import Journal
from scanstation.store.postgresql_dialect import (
    LOCK_TIMEOUT_MS,
    STATEMENT_TIMEOUT_MS,
    PostgresDialect,
    prepare_statement,
)
from scanstation.store.serials import SERIAL_COLUMNS, SERIAL_FROM, SERIAL_SQL

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# The transactional baseline finds and locks the serial by its number in one statement, with
# scanstation's four joins and 18 columns and the scan id checked under the lock.
LOCK_BY_KEY = (
    f"SELECT {SERIAL_COLUMNS}, (SELECT outcome FROM event WHERE scan_id = ?){SERIAL_FROM} "
    "WHERE s.id = (SELECT id FROM serial WHERE serial_no = ? OR secondary_qr = ? "
    "ORDER BY serial_no = ? DESC LIMIT 1){lock}"
)

# scanstation's own statements, prepared the way its dialect prepares them.
_DIALECT = PostgresDialect("bench", DEFAULT_PG_URL)
RAW_PREPARE = tuple(
    prepare_statement(name, _DIALECT.hot_sql(text))
    for name, text in (
        ("lock_by_key_skip", LOCK_BY_KEY),
        ("update_serial", SERIAL_SQL["update_serial"]),
        ("insert_event", EVENT_SQL["insert_event"]),
    )
)
BEGIN = (
    f"BEGIN; SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}; "
    f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- one station, as a process -----------------------------------------------------------------


def service_station(
    url: str, number: int, serials: list[str], start: mp.synchronize.Barrier, out: mp.Queue
) -> None:
    service = StationService.open(url)
    setup = StationSetup(f"BENCH-{number}", "P1", Mode.REGISTER, operator=f"op-{number}")
    service.scan(ScanEvent("warm-up-not-a-serial", source="test"), setup)  # connect, cache site
    latencies: list[float] = []
    clock = time.perf_counter
    start.wait()
    began = clock()
    for serial in serials:
        t0 = clock()
        outcome = service.scan(ScanEvent(serial, source="test"), setup)
        latencies.append(clock() - t0)
        assert outcome.kind.value == "ok", outcome
    out.put((began, clock(), latencies))
    service.close()


def raw_station(
    url: str, number: int, serials: list[str], start: mp.synchronize.Barrier, out: mp.Queue
) -> None:
    """The same transaction with the raw driver (see the module docstring)."""
    conn = psycopg2.connect(**PostgresDialect("bench", url).connect_params())
    conn.autocommit = True  # as Peewee runs it: explicit BEGIN … COMMIT
    cur = conn.cursor()
    cur.execute("SELECT id FROM site WHERE code = 'P1'")
    site_id = cur.fetchone()[0]
    for statement in RAW_PREPARE:
        cur.execute(statement)
    station, operator = f"RAW-{number}", f"op-{number}"
    latencies: list[float] = []
    clock = time.perf_counter
    start.wait()
    began = clock()
    for serial in serials:
        t0 = clock()
        scan_id, read_at = new_scan_id(), datetime.now(UTC)
        cur.execute(BEGIN)
        cur.execute("EXECUTE lock_by_key_skip (%s, %s, %s, %s)", (scan_id, serial, serial, serial))
        row = cur.fetchone()
        assert row[7] == "Not Registered at Plant" and row[18] is None
        stamp = read_at.isoformat(timespec="microseconds")
        cur.execute(
            "EXECUTE update_serial (%s, %s, %s, %s, %s, %s, %s)",
            ("Registered at Plant", site_id, None, stamp, operator, row[0], row[14]),
        )
        assert cur.rowcount == 1
        recorded = datetime.now(UTC).isoformat(timespec="microseconds")
        cur.execute(
            "EXECUTE insert_event (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "%s, %s, %s, %s)",
            (scan_id, "scan", row[0], "register", row[7], "Registered at Plant", station, "P1",
             operator, stamp, recorded, None, "test", serial, None, "ok",
             f"{serial} registered — now Registered at Plant", None, None),
        )  # fmt: skip
        cur.fetchone()
        cur.execute("COMMIT")
        latencies.append(clock() - t0)
    out.put((began, clock(), latencies))
    conn.close()


def run_stations(
    target: Callable[..., None], url: str, slices: list[list[str]]
) -> tuple[float, list[float]]:
    """(scans per second in total, every scan's latency)."""
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(len(slices)), ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(url, n, chunk, start, out))
        for n, chunk in enumerate(slices)
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        if proc.exitcode:
            raise SystemExit(f"a station process failed (exit {proc.exitcode})")
    began = min(r[0] for r in results)
    ended = max(r[1] for r in results)
    latencies = [x for r in results for x in r[2]]
    return len(latencies) / (ended - began), latencies


# -- the site database ---------------------------------------------------------------------------


def create_database(base: str) -> tuple[str, str]:
    name = f"scanstation_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(base)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return urlunparse(urlparse(base)._replace(path=f"/{name}")), name


def drop_database(base: str, name: str) -> None:
    admin = psycopg2.connect(base)
    admin.autocommit = True
    cur = admin.cursor()
    cur.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
    )
    cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


def server_storage(url: str) -> str:
    """Where the server keeps its data, as far as this machine can tell."""
    conn = psycopg2.connect(url)
    try:
        cur = conn.cursor()
        cur.execute("SHOW data_directory")
        directory = cur.fetchone()[0]
        cur.execute("SHOW synchronous_commit")
        sync = cur.fetchone()[0]
        cur.execute("SHOW fsync")
        fsync = cur.fetchone()[0]
    except psycopg2.Error as error:
        return f"data directory not visible ({str(error).strip()})"
    finally:
        conn.close()
    host = urlparse(url).hostname or "localhost"
    local = host in ("localhost", "127.0.0.1", "::1") and os.path.isdir(directory)
    where = describe(directory) if local else f"{directory} on {host} (filesystem not visible)"
    return f"{where}; synchronous_commit={sync}, fsync={fsync}"


def build(url: str, count: int) -> list[str]:
    service = StationService.open(url, create=True)
    service.add_site("P1", "Plant", SiteKind.PLANT)
    service.add_item("PUMP", "Pump 1HP", "8901234500019", "MB-100")
    _, serials = service.generate("PUMP", count, "P1", prefix="SN", by="bench")
    service.close()
    return serials


def split(serials: list[str], stations: int, per_station: int) -> list[list[str]]:
    return [serials[i * per_station : (i + 1) * per_station] for i in range(stations)]


# -- replay ------------------------------------------------------------------------------------


def bench_replay(url: str, serials: list[str]) -> tuple[float, float, float]:
    """(seconds to replay them all, ms per durable append, seconds to fill the journal)."""
    folder = tempfile.mkdtemp(prefix="scanstation-journal-")
    journal = Journal.for_station("REPLAY-1", url, Path(folder))
    setup = StationSetup("REPLAY-1", "P1", Mode.REGISTER, operator="op-r")
    # The first few hundred appended as a station does (each committed and fsynced before
    # the answer) to measure that; the rest in bulk, only to fill the journal fast.
    durable = min(300, len(serials))
    t0 = time.perf_counter()
    for serial in serials[:durable]:
        journal.append(ScanEvent(serial, source="test"), setup)
    append_ms = (time.perf_counter() - t0) / max(durable, 1) * 1000
    journal._conn.execute("PRAGMA synchronous = OFF")  # benchmark set-up only
    t1 = time.perf_counter()
    for serial in serials[durable:]:
        journal.append(ScanEvent(serial, source="test"), setup)
    journal._conn.execute("PRAGMA synchronous = FULL")
    fill_s = time.perf_counter() - t1
    station = JournaledStation(lambda: StationService.open(url), journal)
    t2 = time.perf_counter()
    outcomes = station.replay()
    replay_s = time.perf_counter() - t2
    kinds = {o.kind.value for o in outcomes}
    assert len(outcomes) == len(serials) and kinds == {"ok"}, (len(outcomes), kinds)
    assert station.pending_count == 0
    station.close()
    shutil.rmtree(folder, ignore_errors=True)
    return replay_s, append_ms, fill_s


# -- profile -------------------------------------------------------------------------------------


def profile_service(url: str, serials: list[str]) -> str:
    service = StationService.open(url)
    setup = StationSetup("PROFILE", "P1", Mode.REGISTER, operator="op-p")
    service.scan(ScanEvent("warm-up-not-a-serial", source="test"), setup)
    profiler = cProfile.Profile()
    profiler.enable()
    for serial in serials:
        service.scan(ScanEvent(serial, source="test"), setup)
    profiler.disable()
    service.close()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(22)
    stats.sort_stats("cumulative").print_stats("scanstation", 18)
    return text.getvalue()


# -- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pg-url", default=os.environ.get("SCANSTATION_TEST_PG_URL") or DEFAULT_PG_URL
    )
    parser.add_argument("--stations", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--scans", type=int, default=600, help="scans per station per run")
    parser.add_argument("--replay", type=int, default=10_000, help="journaled scans to replay")
    parser.add_argument("--profile", action="store_true", help="cProfile one station's scans")
    args = parser.parse_args()

    url, name = create_database(args.pg_url)
    try:
        per_run = [n * args.scans for n in args.stations]
        profiled = 2000 if args.profile else 0
        needed = 2 * sum(per_run) + args.replay + profiled
        t0 = time.perf_counter()
        serials = build(url, needed)
        print(
            f"PostgreSQL {urlparse(url).hostname}:{urlparse(url).port or 5432}, CPUs "
            f"{os.cpu_count()}; {needed:,} serials generated in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        print(f"server data: {server_storage(url)}")
        print(
            f"{'stations':>8} {'driver':<16} {'scans/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'max ms':>8}"
        )
        used = 0
        for stations in args.stations:
            count = stations * args.scans
            for label, target in (
                ("StationService", service_station),
                ("raw psycopg2", raw_station),
            ):
                chunk = serials[used : used + count]
                used += count
                rate, lat = run_stations(target, url, split(chunk, stations, args.scans))
                print(
                    f"{stations:>8} {label:<16} {rate:>9,.0f} {pct(lat, 0.5) * 1e3:>8.2f} "
                    f"{pct(lat, 0.99) * 1e3:>8.2f} {max(lat) * 1e3:>8.2f}"
                )
        if args.replay:
            replay_s, append_ms, _fill = bench_replay(url, serials[used : used + args.replay])
            used += args.replay
            print(
                f"journal: a durable append {append_ms:.2f} ms; replay of {args.replay:,} "
                f"journaled scans {replay_s:.1f} s ({args.replay / replay_s:,.0f} scans/s)"
            )
        if args.profile:
            print(profile_service(url, serials[used : used + profiled]))
    finally:
        drop_database(args.pg_url, name)


if __name__ == "__main__":
    main()
