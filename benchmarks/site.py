"""Many stations, one PostgreSQL site database: scans per second in total and latency per scan
for three ways of doing a register scan, side by side in the same run, with 4 and 16 stations,
on disjoint serials and on a contended set; then the issue's "done when" run with
`scanstation scan --json` processes; then the replay time of journaled scans.

    python benchmarks/site.py [--pg-url URL] [--stations 4 16] [--scans 600] [--contended 300]
                              [--runs 3] [--cli 4x1500 16x400] [--replay 10000] [--profile]
                              [--dispatch 600] [--no-register] [--server-cpu 5]

The three drivers, each a process a station (spawned, connected, then released together):

- **StationService**: scanstation itself (the prepared call of `scanstation_scan` with the
  station's decision table, made by decide(): one round trip a register scan).
- **5-trip txn**: the same scan as a plain transaction with raw psycopg2, statements prepared,
  time-ordered scan ids: BEGIN (with the transaction's timeouts), the serial found and locked
  (scanstation's four joins and 18 columns, the scan id checked under the lock), the update
  under its version, the full event with RETURNING id, COMMIT.
- **1-trip function**: a minimal PL/pgSQL register function (lock the serial, check the scan
  id, update, insert the event), prepared, called once a scan in autocommit.

Every driver writes the same tables, so the tally and NOTIFY triggers fire for all of them.
**disjoint**: each station registers serials of its own. **contended**: every station scans the
same serials (odd stations in reverse order), as a double read or two gates racing would: one
OK a serial, the rest ALREADY. Each configuration runs `--runs` times with the drivers
interleaved; every run is printed with the load average, then the medians. Each run also
prints the CPU a scan cost the station processes and their server processes (from /proc, when
the server is local): on a shared or busy machine the rates move with the load, the CPU a scan
much less, and it says which side a gap is on.

The "done when" run (`--cli`): N `python -m scanstation scan --json --mode register` processes
are started, wait until each is connected, then get their serials on stdin at the same moment
(4×1,500 and 16×400 disjoint); the time from that moment to the last JSON line read, beside
the 1-trip function with the same stations and serials, median of `--runs`.

The dispatch run (`--dispatch N`): StationService stations dispatching N validated serials
each, each station on its own DC (one line with room for all of them), released together: the
scan against a document, one round trip since schema 12 (before: the serial read, the DC and
its lines read, the transition applied). `--no-register` skips the register comparison.

The server CPU run (`--server-cpu N`): one station at a time, so no other station's locks,
spinning or group commit count, blocks of `--scans` register scans alternated over N rounds:
the server's CPU a scan for StationService and the 1-trip function, and for StationService with
the tally triggers switched off (what keeping `db info`'s counts costs a scan; both drivers pay
it), medians. With 4 or 16 stations the server's CPU a scan moves with the load and the other
stations far more than between the drivers.

The database is a fresh one created on the server of `--pg-url` (default: the environment's
SCANSTATION_TEST_PG_URL, else postgresql://postgres@127.0.0.1:5432/postgres) and dropped at the
end. Prints where the server keeps its data (filesystem, tmpfs or not) when it can see it.
Figures only; no pass/fail. Targets (issue 13): StationService ≥ 0.8 × the 1-trip function
with 4 and 16 stations, p99 ≤ 10 ms with 16; the CLI streams ≥ 0.6 × the 1-trip function.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing as mp
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import psycopg2
from fsinfo import describe

from scanstation.domain.model import ScanEvent, new_scan_id
from scanstation.domain.stages import DocumentKind, Mode, SiteKind
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
        ("lock_by_key", LOCK_BY_KEY),
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

# A minimal register scan in one round trip: the baseline scanstation's function is held to.
BENCH_FUNCTION = """
CREATE OR REPLACE FUNCTION bench_register(p_serial text, p_scan_id text, p_station text,
    p_operator text, p_at text) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    v_id integer;
    v_stage text;
BEGIN
    SELECT id, stage INTO v_id, v_stage FROM serial WHERE serial_no = p_serial FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'unknown';
    END IF;
    IF EXISTS (SELECT 1 FROM event WHERE scan_id = p_scan_id) THEN
        RETURN 'recorded';
    END IF;
    IF v_stage <> 'Not Registered at Plant' THEN
        RETURN 'already';
    END IF;
    UPDATE serial SET stage = 'Registered at Plant', updated_at = p_at,
        updated_by = p_operator, version = version + 1 WHERE id = v_id;
    INSERT INTO event (scan_id, kind, serial_id, mode, from_stage, to_stage, station, site,
        operator, at, recorded_at, outcome, message)
    VALUES (p_scan_id, 'scan', v_id, 'register', v_stage, 'Registered at Plant', p_station,
        'P1', p_operator, p_at, p_at, 'ok', p_serial || ' registered');
    RETURN 'ok';
END
$fn$
"""
ANSWERS = {"ok", "already"}


class CpuClock:
    """A station's CPU and its server process's, in seconds, from the release to the end: what
    a scan costs each side whatever the machine's load (on a local server whose processes
    this machine can see; else the server's is None). /proc counts in 10 ms ticks."""

    def __init__(self, url: str, backend_pid: int) -> None:
        host = urlparse(url).hostname
        local = host in (None, "", "localhost", "127.0.0.1", "::1") or host.startswith("/")
        self._stat = f"/proc/{backend_pid}/stat" if local else None
        self._client, self._server = 0.0, None

    def _server_s(self) -> float | None:
        try:
            with open(self._stat or "") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self._client, self._server = time.process_time(), self._server_s()

    def stop(self) -> tuple[float, float | None]:
        server = self._server_s()
        spent = None if server is None or self._server is None else server - self._server
        return time.process_time() - self._client, spent


def service_station(
    url: str, number: int, serials: list[str], start: mp.synchronize.Barrier, out: mp.Queue
) -> None:
    service = StationService.open(url)
    setup = StationSetup(f"BENCH-{number}", "P1", Mode.REGISTER, operator=f"op-{number}")
    service.scan(ScanEvent("warm-up-not-a-serial", source="test"), setup)  # connect, cache site
    latencies: list[float] = []
    clock = time.perf_counter
    cpu = CpuClock(url, service.repo._db.connection().get_backend_pid())
    start.wait()
    began = clock()
    cpu.start()
    for serial in serials:
        t0 = clock()
        outcome = service.scan(ScanEvent(serial, source="test"), setup)
        latencies.append(clock() - t0)
        assert outcome.kind.value in ANSWERS, outcome
    out.put((began, clock(), latencies, *cpu.stop()))
    service.close()


def dispatch_station(
    url: str, number: int, serials: list[str], start: mp.synchronize.Barrier, out: mp.Queue
) -> None:
    """StationService dispatching its serials on its own DC (named after its first serial)."""
    service = StationService.open(url)
    setup = StationSetup(
        f"BENCH-D{number}", "P1", Mode.DISPATCH, operator=f"op-{number}",
        document=f"DC-{serials[0]}",
    )  # fmt: skip
    service.scan(ScanEvent("warm-up-not-a-serial", source="test"), setup)  # connect, table
    latencies: list[float] = []
    clock = time.perf_counter
    cpu = CpuClock(url, service.repo._db.connection().get_backend_pid())
    start.wait()
    began = clock()
    cpu.start()
    for serial in serials:
        t0 = clock()
        outcome = service.scan(ScanEvent(serial, source="test"), setup)
        latencies.append(clock() - t0)
        assert outcome.kind.value == "ok", outcome
    out.put((began, clock(), latencies, *cpu.stop()))
    service.close()


def _raw_connection(url: str) -> Any:
    conn = psycopg2.connect(**PostgresDialect("bench", url).connect_params())
    conn.autocommit = True  # as Peewee runs it: explicit BEGIN … COMMIT
    return conn


def txn_station(
    url: str, number: int, serials: list[str], start: mp.synchronize.Barrier, out: mp.Queue
) -> None:
    """The scan as a prepared 5-round-trip transaction (see the module docstring)."""
    conn = _raw_connection(url)
    cur = conn.cursor()
    cur.execute("SELECT id FROM site WHERE code = 'P1'")
    site_id = cur.fetchone()[0]
    for statement in RAW_PREPARE:
        cur.execute(statement)
    station, operator = f"RAW-{number}", f"op-{number}"
    latencies: list[float] = []
    clock = time.perf_counter
    cpu = CpuClock(url, conn.get_backend_pid())
    start.wait()
    began = clock()
    cpu.start()
    for serial in serials:
        t0 = clock()
        scan_id, read_at = new_scan_id(), datetime.now(UTC)
        cur.execute(BEGIN)
        cur.execute("EXECUTE lock_by_key (%s, %s, %s, %s)", (scan_id, serial, serial, serial))
        row = cur.fetchone()
        assert row[18] is None
        if row[7] != "Not Registered at Plant":  # ALREADY: nothing to write
            cur.execute("COMMIT")
            latencies.append(clock() - t0)
            continue
        stamp = read_at.isoformat(timespec="microseconds")
        cur.execute(
            "EXECUTE update_serial (%s, %s, %s, %s, %s, %s, %s)",
            ("Registered at Plant", site_id, None, stamp, operator, row[0], row[14]),
        )
        assert cur.rowcount == 1
        recorded = datetime.now(UTC).isoformat(timespec="microseconds")
        cur.execute(
            "EXECUTE insert_event (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "%s, %s, %s, %s, %s)",
            (scan_id, "scan", row[0], "register", row[7], "Registered at Plant", station, "P1",
             operator, stamp, recorded, None, "test", serial, None, "ok",
             f"{serial} registered — now Registered at Plant", None, None, None),
        )  # fmt: skip
        cur.fetchone()
        cur.execute("COMMIT")
        latencies.append(clock() - t0)
    out.put((began, clock(), latencies, *cpu.stop()))
    conn.close()


def function_station(
    url: str, number: int, serials: list[str], start: mp.synchronize.Barrier, out: mp.Queue
) -> None:
    """The minimal one-round-trip register function, prepared, in autocommit."""
    conn = _raw_connection(url)
    cur = conn.cursor()
    cur.execute("PREPARE bench_register AS SELECT bench_register($1, $2, $3, $4, $5)")
    station, operator = f"FN-{number}", f"op-{number}"
    latencies: list[float] = []
    clock = time.perf_counter
    cpu = CpuClock(url, conn.get_backend_pid())
    start.wait()
    began = clock()
    cpu.start()
    for serial in serials:
        t0 = clock()
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")
        cur.execute(
            "EXECUTE bench_register (%s, %s, %s, %s, %s)",
            (serial, new_scan_id(), station, operator, stamp),
        )
        assert cur.fetchone()[0] in ANSWERS
        latencies.append(clock() - t0)
    out.put((began, clock(), latencies, *cpu.stop()))
    conn.close()


DRIVERS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("StationService", service_station),
    ("5-trip txn", txn_station),
    ("1-trip function", function_station),
)


@dataclass(frozen=True)
class Run:
    """One driver's run: scans per second in total, every scan's latency, and CPU a scan (µs)
    in the station processes and in their server processes (None: not visible here)."""

    rate: float
    latencies: list[float]
    client_us: float
    server_us: float | None


def run_stations(target: Callable[..., None], url: str, slices: list[list[str]]) -> Run:
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(len(slices)), ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(url, n, chunk, start, out))
        for n, chunk in enumerate(slices)
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        if proc.exitcode:
            raise SystemExit(f"a station process failed (exit {proc.exitcode})")
    began = min(r[0] for r in results)
    ended = max(r[1] for r in results)
    latencies = [x for r in results for x in r[2]]
    client = sum(r[3] for r in results) / len(latencies) * 1e6
    servers = [r[4] for r in results]
    server = None if None in servers else sum(servers) / len(latencies) * 1e6
    return Run(len(latencies) / (ended - began), latencies, client, server)


# -- the "done when" run: scanstation scan --json processes -----------------------------------


def cli_stations(url: str, db_name: str, slices: list[list[str]]) -> float:
    """Scans per second of `scanstation scan --json` processes released together."""
    home = tempfile.mkdtemp(prefix="scanstation-bench-home-")
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCANSTATION_")}
    env.update(
        SCANSTATION_DATABASE_URL=url,
        XDG_CONFIG_HOME=f"{home}/config",
        XDG_DATA_HOME=f"{home}/data",
    )
    command = [sys.executable, "-m", "scanstation", "scan", "--site", "P1", "--mode", "register"]
    procs = [
        subprocess.Popen(
            [*command, "--station", f"CLI-{n}", "--operator", f"op-{n}", "--json", "--no-journal"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for n in range(len(slices))
    ]
    _wait_connected(url, db_name, len(procs))
    last: list[float] = [0.0] * len(procs)
    answers: list[list[str]] = [[] for _ in procs]

    def read(n: int) -> None:
        stdout = procs[n].stdout
        assert stdout is not None
        for line in stdout:
            answers[n].append(json.loads(line)["outcome"])
            last[n] = time.perf_counter()

    readers = [threading.Thread(target=read, args=(n,)) for n in range(len(procs))]
    for reader in readers:
        reader.start()
    payloads = ["".join(f"{serial}\n" for serial in chunk).encode() for chunk in slices]
    released = time.perf_counter()
    for proc, payload in zip(procs, payloads, strict=True):
        assert proc.stdin is not None
        proc.stdin.write(payload)
        proc.stdin.close()
    for reader in readers:
        reader.join(timeout=900)
    for proc in procs:
        proc.wait(timeout=60)
        if proc.returncode:
            stderr = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"scanstation scan failed (exit {proc.returncode}): {stderr}")
    shutil.rmtree(home, ignore_errors=True)
    for chunk, got in zip(slices, answers, strict=True):
        assert got == ["ok"] * len(chunk), got[:5]
    return sum(map(len, slices)) / (max(last) - released)


def _wait_connected(url: str, db_name: str, count: int) -> None:
    """Until `count` scanstation sessions are connected to the database (each process has
    opened its station and waits on stdin), then a moment more."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    cur = conn.cursor()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        cur.execute(
            "SELECT count(DISTINCT pid) FROM pg_stat_activity "
            "WHERE datname = %s AND application_name = 'scanstation'",
            (db_name,),
        )
        if cur.fetchone()[0] >= count:
            break
        time.sleep(0.2)
    else:
        raise SystemExit("the scanstation scan processes did not connect within 120 s")
    conn.close()
    time.sleep(1.0)


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
    service.add_site("G1", "Godown", SiteKind.GODOWN)
    service.add_item("PUMP", "Pump 1HP", "8901234500019", "MB-100")
    serials: list[str] = []
    while len(serials) < count:  # a run holds at most a million
        _, made = service.generate(
            "PUMP", min(count - len(serials), 1_000_000), "P1", prefix="SN", by="bench"
        )
        serials += made
    service.close()
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute(BENCH_FUNCTION)
    conn.close()
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


class Serials:
    """Fresh (Not Registered) serials, handed out once each."""

    def __init__(self, serials: list[str]) -> None:
        self.serials, self.used = serials, 0

    def take(self, count: int) -> list[str]:
        chunk = self.serials[self.used : self.used + count]
        assert len(chunk) == count, "not enough serials were generated"
        self.used += count
        return chunk


def figures(run: Run) -> str:
    lat = run.latencies
    server = f"{run.server_us:4.0f}" if run.server_us is not None else " n/a"
    return (
        f"{run.rate:>8,.0f}/s  p50 {pct(lat, 0.5) * 1e3:6.2f} ms  p99 {pct(lat, 0.99) * 1e3:6.2f}"
        f" ms  max {max(lat) * 1e3:7.2f} ms  CPU a scan: station {run.client_us:4.0f} µs, server"
        f" {server} µs  load {os.getloadavg()[0]:5.1f}"
    )


def compare_drivers(url: str, pool: Serials, args: argparse.Namespace) -> None:
    baseline = "1-trip function"
    for stations in args.stations:
        for workload in ("disjoint", "contended") if args.contended else ("disjoint",):
            rates: dict[str, list[float]] = {label: [] for label, _ in DRIVERS}
            p99s: dict[str, list[float]] = {label: [] for label, _ in DRIVERS}
            for run in range(1, args.runs + 1):
                for label, target in DRIVERS:  # interleaved: a load change hits every driver
                    if workload == "disjoint":
                        slices = split(pool.take(stations * args.scans), stations, args.scans)
                    else:
                        shared = pool.take(args.contended)
                        slices = [shared if n % 2 else shared[::-1] for n in range(stations)]
                    result = run_stations(target, url, slices)
                    rates[label].append(result.rate)
                    p99s[label].append(pct(result.latencies, 0.99))
                    print(
                        f"{stations:>3} {workload:<9} run {run}  {label:<16} {figures(result)}",
                        flush=True,
                    )
            base = statistics.median(rates[baseline])
            for label, _ in DRIVERS:
                rate = statistics.median(rates[label])
                print(
                    f"{stations:>3} {workload:<9} MEDIAN {label:<16} {rate:>8,.0f}/s  p99 "
                    f"{statistics.median(p99s[label]) * 1e3:6.2f} ms  = {rate / base:.2f} × "
                    f"{baseline}",
                    flush=True,
                )


# The tally's triggers (store/tally.py): switched off in the --server-cpu run's third row only,
# on the benchmark's own database, to show what keeping `db info`'s counts costs the server.
TALLY_TRIGGERS = (("serial", "tally_serial_stage"), ("event", "tally_event_insert"))


def _tally_triggers(url: str, state: str) -> None:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        for table, trigger in TALLY_TRIGGERS:
            cur.execute(f"ALTER TABLE {table} {state} TRIGGER {trigger}")
    conn.close()


def compare_server_cpu(url: str, pool: Serials, args: argparse.Namespace) -> None:
    """One station at a time, so no other station's locks, spinning or group commit are in the
    figure: the server's CPU a register scan (its backend's utime+stime from /proc over a block
    of --scans scans), StationService beside the 1-trip function, blocks alternated (the order
    reversed every other round), then the medians of --server-cpu rounds. The third row is
    StationService with the tally triggers off: what the counts cost a scan (both drivers pay
    it; the triggers are switched on again after each of its blocks)."""
    rows = (*DRIVERS[::2], ("StationService, no tally", service_station))
    server: dict[str, list[float]] = {label: [] for label, _ in rows}
    station: dict[str, list[float]] = {label: [] for label, _ in rows}
    for block in range(1, args.server_cpu + 1):
        for label, target in rows if block % 2 else rows[::-1]:
            if label.endswith("no tally"):
                _tally_triggers(url, "DISABLE")
            try:
                result = run_stations(target, url, [pool.take(args.scans)])
            finally:
                if label.endswith("no tally"):
                    _tally_triggers(url, "ENABLE")
            if result.server_us is None:
                print("server CPU: the server's processes are not visible from here")
                return
            server[label].append(result.server_us)
            station[label].append(result.client_us)
            print(
                f"  1 station block {block}  {label:<24} CPU a scan: server "
                f"{result.server_us:4.0f} µs, station {result.client_us:4.0f} µs  load "
                f"{os.getloadavg()[0]:5.1f}",
                flush=True,
            )
    base = statistics.median(server["1-trip function"])
    for label, _ in rows:
        median = statistics.median(server[label])
        print(
            f"  1 station MEDIAN {label:<24} CPU a scan: server {median:4.0f} µs "
            f"({median / base:.2f} × 1-trip function), station "
            f"{statistics.median(station[label]):4.0f} µs",
            flush=True,
        )


def ready_to_dispatch(url: str, slices: list[list[str]]) -> None:
    """The serials validated at P1 (as a station would have left them), and each slice's DC."""
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE serial SET stage = 'Validated at Plant', version = version + 2, "
            "site_id = (SELECT id FROM site WHERE code = 'P1') WHERE serial_no = ANY(%s)",
            ([serial for chunk in slices for serial in chunk],),
        )
    conn.close()
    service = StationService.open(url)
    for chunk in slices:
        service.add_document(
            kind=DocumentKind.DC, reference_no=f"DC-{chunk[0]}", from_site="P1", to="G1",
            lines=[("PUMP", len(chunk))], dc_no=f"DC-{chunk[0]}",
        )  # fmt: skip
    service.close()


def compare_dispatch(url: str, pool: Serials, args: argparse.Namespace) -> None:
    for stations in args.stations:
        rates, p99s = [], []
        for run in range(1, args.runs + 1):
            slices = split(pool.take(stations * args.dispatch), stations, args.dispatch)
            ready_to_dispatch(url, slices)
            result = run_stations(dispatch_station, url, slices)
            rates.append(result.rate)
            p99s.append(pct(result.latencies, 0.99))
            print(f"{stations:>3} dispatch  run {run}  StationService   {figures(result)}")
        print(
            f"{stations:>3} dispatch  MEDIAN StationService   {statistics.median(rates):>8,.0f}/s"
            f"  p99 {statistics.median(p99s) * 1e3:6.2f} ms",
            flush=True,
        )


def compare_cli(url: str, db_name: str, pool: Serials, args: argparse.Namespace) -> None:
    for shape in args.cli:
        stations, per_station = (int(x) for x in shape.split("x"))
        cli_rates, function_rates = [], []
        for run in range(1, args.runs + 1):
            slices = split(pool.take(stations * per_station), stations, per_station)
            cli_rate = cli_stations(url, db_name, slices)
            cli_rates.append(cli_rate)
            load = os.getloadavg()[0]
            print(
                f"{shape:>8} run {run}  scanstation scan --json  {cli_rate:>8,.0f}/s  "
                f"load {load:5.1f}"
            )
            slices = split(pool.take(stations * per_station), stations, per_station)
            result = run_stations(function_station, url, slices)
            function_rates.append(result.rate)
            print(f"{shape:>8} run {run}  1-trip function          {figures(result)}", flush=True)
        cli, function = statistics.median(cli_rates), statistics.median(function_rates)
        print(
            f"{shape:>8} MEDIAN scanstation scan --json {cli:>8,.0f}/s  1-trip function "
            f"{function:,.0f}/s  = {cli / function:.2f} × (target ≥ 0.6)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pg-url", default=os.environ.get("SCANSTATION_TEST_PG_URL") or DEFAULT_PG_URL
    )
    parser.add_argument("--stations", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--scans", type=int, default=600, help="scans per station, disjoint")
    parser.add_argument("--contended", type=int, default=300, help="serials every station scans")
    parser.add_argument("--runs", type=int, default=3, help="runs of each configuration")
    parser.add_argument(
        "--cli", nargs="*", default=["4x1500", "16x400"], help="STATIONSxSERIALS for the CLI run"
    )
    parser.add_argument("--replay", type=int, default=10_000, help="journaled scans to replay")
    parser.add_argument("--profile", action="store_true", help="cProfile one station's scans")
    parser.add_argument(
        "--dispatch", type=int, default=0, help="serials each station dispatches on its DC"
    )
    parser.add_argument(
        "--no-register", action="store_true", help="skip the register drivers' comparison"
    )
    parser.add_argument(
        "--server-cpu",
        type=int,
        default=0,
        help="rounds of the one-station server CPU comparison (blocks of --scans scans)",
    )
    parser.add_argument(
        "--async-commit",
        action="store_true",
        help="synchronous_commit=off for the benchmark's database only: measures the scan's "
        "work and round trips, not the disk's fsync (a shared disk can take 20 ms a commit)",
    )
    args = parser.parse_args()

    url, name = create_database(args.pg_url)
    if args.async_commit:
        admin = psycopg2.connect(args.pg_url)
        admin.autocommit = True
        admin.cursor().execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        admin.close()
    try:
        drivers = 0 if args.no_register else len(DRIVERS) * args.runs
        disjoint = drivers * sum(n * args.scans for n in args.stations)
        contended = drivers * len(args.stations) * args.contended
        dispatched = args.runs * sum(n * args.dispatch for n in args.stations)
        cli = (
            2
            * args.runs
            * sum(int(a) * int(b) for a, b in (shape.split("x") for shape in args.cli))
        )
        profiled = 2000 if args.profile else 0
        one_station = 3 * args.server_cpu * args.scans
        needed = disjoint + contended + dispatched + cli + args.replay + profiled + one_station
        t0 = time.perf_counter()
        pool = Serials(build(url, needed))
        print(
            f"PostgreSQL {urlparse(url).hostname}:{urlparse(url).port or 5432}, CPUs "
            f"{os.cpu_count()}; {needed:,} serials generated in "
            f"{time.perf_counter() - t0:.1f} s; load {os.getloadavg()[0]:.1f}"
        )
        print(f"server data: {server_storage(url)}", flush=True)
        if not args.no_register:
            compare_drivers(url, pool, args)
        if args.server_cpu:
            compare_server_cpu(url, pool, args)
        if args.dispatch:
            compare_dispatch(url, pool, args)
        if args.cli:
            compare_cli(url, name, pool, args)
        if args.replay:
            replay_s, append_ms, _fill = bench_replay(url, pool.take(args.replay))
            print(
                f"journal: a durable append {append_ms:.2f} ms; replay of {args.replay:,} "
                f"journaled scans {replay_s:.1f} s ({args.replay / replay_s:,.0f} scans/s)"
            )
        if args.profile:
            print(profile_service(url, pool.take(profiled)))
    finally:
        drop_database(args.pg_url, name)


if __name__ == "__main__":
    main()
