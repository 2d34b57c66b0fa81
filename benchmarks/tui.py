"""The real station in a terminal, typed at by a scanner: latency from a burst's Enter to the
answer written to the terminal, first paint and peak memory, on a SQLite file of 1,000,000
serials.

    python benchmarks/tui.py [--serials 1000000] [--runs 3] [--db PATH] [--quick] [--signed-in]

Each run starts `python -m scanstation` (register mode at plant P1) in a pseudo-terminal of its
own on a fresh copy of the database and types bursts into it key by key, each key a separate
write at the moment a scanner would send it (see pty_station.py for why a pty and how the
answer is seen):

  USB        per-key gaps drawn from 2–15 ms (a USB HID scanner)
  Bluetooth  per-key gaps drawn from 20–45 ms (a Bluetooth HID scanner)
  load       gaps of 0.3–1.2 ms: faster than any scanner types, the only way one keyboard can
             offer the station 50 scans/s
  Bluetooth, preset bluetooth
             Bluetooth gaps again, into a station with [scanner] preset = "bluetooth" (what
             README tells a site with Bluetooth scanners to set); the row above types them
             into the default "usb" preset, whose 50 ms limit is 5 ms from their widest gap
  prefix     Bluetooth gaps again, into a station (same run, same database) whose
             scanner sends STX before each code and whose [scanner] prefix is set: detection
             is then timing-free, so a row the detector splits above is whole here

Bursts are offered at --rate (50 scans/s), but a burst starts only after the previous one's
Enter plus one key gap: a 12-character serial takes ~100 ms to type at USB speed and ~400 ms
at Bluetooth speed, so one scanner cannot offer more than ~10 or ~2.5 scans/s. The achieved rate
is printed beside each row. Serials are drawn at random from the whole database.

Figures (targets in brackets), per run and as the median of the runs:
  latency      Enter written → the serial first written back to the terminal (p50, p99
               [p99 ≤ 50 ms], max), per scanner row
  recognised   bursts the station did not take as a scan (typed, never answered, not recorded)
  first paint  process start → the first full frame written to the terminal [≤ 1.0 s], with
               the app's bytecode written first, as an installed station has it
  db ready     process start → "db ok" in the header (the database opens after first paint)
  peak RSS     the app's VmHWM just before it quits [≤ 200 MB]
After each run the database is read: every scan answered must be recorded, in typed order,
as an OK (exit 1 if not). The first --warm-up scans of a session are typed but not counted.

--signed-in gives the database people (an admin, and the operator who scans): each station
then opens on sign-in, and the driver scans the operator's badge and types the PIN before the
first scan, as a worker would. The PIN is checked once, there; scans are timed after it.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pty_station import KeyPlan, PhaseResult, StationInPty, realtime_priority

STATION = "BENCH-TUI"
SITE = "P1"


STX = "\x02"  # the prefix the timing-free station's scanner is programmed to send
# The station's "Not a scan" notice quotes the burst it did not read: “SN0000000042…”. A
# serial written right after the opening quote is that notice, not an answer.
NOTICE_QUOTE = "“".encode()


@dataclass(frozen=True)
class Phase:
    name: str
    label: str
    gaps_ms: tuple[float, float]
    scans: int
    counted: bool = True
    station: str = "timing"  # which station config types it: "timing" or "prefix"
    prefix: str = ""  # typed before each payload, as part of the burst


# A key written this much later than the scanner model's widest gap is not the scanner's:
# this process was late (the machine is shared). Such bursts are counted apart.
OFF_MODEL_SLACK_MS = 5.0


@dataclass
class Detection:
    """What became of one row's bursts, read from the screen and the database."""

    not_recognised: list[str] = field(default_factory=list)  # no answer, nothing recorded
    off_model: int = 0  # of those, typed with a gap wider than the model (this driver late)
    cut: list[str] = field(default_factory=list)  # recorded as other payloads (cut or glued)


@dataclass
class RunResult:
    first_paint: float | None = None
    db_ready: float | None = None
    rss_mb: float | None = None
    phases: dict[str, PhaseResult] = field(default_factory=dict)
    detection: dict[str, Detection] = field(default_factory=dict)
    recorded: int = 0
    typed: int = 0
    problems: list[str] = field(default_factory=list)  # lost, out of order, twice, refused


# -- the database ----------------------------------------------------------------------------


def build(path: Path, serials: int) -> float:
    from scanstation.domain.stages import SiteKind
    from scanstation.service import StationService

    started = time.perf_counter()
    service = StationService.open(str(path), create=True)
    try:
        service.add_site(SITE, "Pune Plant", SiteKind.PLANT)
        service.add_item("PUMP-1HP", "Pump 1HP Monoblock", "8901234500019", "MB-100")
        service.generate("PUMP-1HP", serials, SITE, prefix="SN", by="bench")
    finally:
        service.close()
    return time.perf_counter() - started


# --signed-in: the people added to each run's copy; the operator signs in with badge and PIN.
BENCH_ADMIN = ("bench-admin", "90817263")
BENCH_OPERATOR = ("bench-op", "BENCH-BADGE-1", "271828")


def add_people(path: Path) -> None:
    from scanstation.domain.roles import Role
    from scanstation.service import StationService

    service = StationService.open(str(path))
    try:
        admin_name, admin_pin = BENCH_ADMIN
        service.add_user(admin_name, Role.ADMIN)
        service.set_pin(admin_name, admin_pin)
        admin = service.user(admin_name)
        name, badge, pin = BENCH_OPERATOR
        service.add_user(name, Role.OPERATOR, badge, by=admin)
        service.set_pin(name, pin, by=admin)
    finally:
        service.close()


def sign_in(app: StationInPty) -> bool:
    """Scan the operator's badge, type the PIN; True once the header names them."""
    name, badge, pin = BENCH_OPERATOR
    signed = app.watch(f"{name} (operator)".encode())
    app.send(badge.encode() + b"\r")
    app.pump(time.monotonic() + 0.5)
    app.send(pin.encode() + b"\r")
    return app.wait_for(signed, timeout=30) is not None


def fresh_copy(template: Path, work: Path) -> None:
    """A copy of the template; a WAL left beside an older copy would be replayed into it."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, work)


def recorded_scans(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return list(
            connection.execute(
                "SELECT payload, outcome FROM event WHERE station = ? AND kind = 'scan' "
                "ORDER BY id",
                (STATION,),
            )
        )


# -- typing ----------------------------------------------------------------------------------


def burst_plan(
    payloads: Sequence[str],
    gaps_ms: tuple[float, float],
    rate: float,
    rng: random.Random,
    prefix: str = "",
) -> list[KeyPlan]:
    """Every key of every burst, with the moment (s from the phase's start) it is written."""
    plan: list[KeyPlan] = []
    previous_enter: float | None = None
    low, high = gaps_ms[0] / 1000, gaps_ms[1] / 1000
    for index, payload in enumerate(payloads):
        at = index / rate
        if previous_enter is not None:
            at = max(at, previous_enter + rng.uniform(low, high))
        for position, char in enumerate(prefix + payload):
            if position:
                at += rng.uniform(low, high)
            plan.append(KeyPlan(at, char.encode()))
        at += rng.uniform(low, high)
        plan.append(KeyPlan(at, b"\r", marker=payload.encode()))
        previous_enter = at
    return plan


def app_env(scratch: Path, size: tuple[int, int]) -> dict[str, str]:
    # An installed station has its bytecode (pip compiles it): a PYTHONDONTWRITEBYTECODE
    # inherited from a developer's shell would time compiling every module at each start.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SCANSTATION_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env |= {
        # shutil.get_terminal_size() believes these before the terminal: inherited ones (a
        # test runner sets them) would give the app another size than its pty's
        "COLUMNS": str(size[0]),
        "LINES": str(size[1]),
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "LANG": "C.UTF-8",
        "XDG_CONFIG_HOME": str(scratch / "config"),
        "XDG_DATA_HOME": str(scratch / "data"),
    }
    return env


def warm_bytecode(env: dict[str, str]) -> None:
    """Import what the station loads once, before any timing, so that its bytecode is written
    (as installing it would have) and the first run's start is not a compile."""
    modules = "scanstation.cli, scanstation.tui.app, scanstation.station, scanstation.kiosk"
    subprocess.run([sys.executable, "-c", f"import {modules}"], env=env, check=True)


def write_config(path: Path, scanner: Sequence[str]) -> Path:
    """A config file of its own; `scanner` holds `KEY=TOML-VALUE` lines for [scanner]."""
    lines = ["[scanner]"] + [item.replace("=", " = ", 1) for item in scanner]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def one_run(
    db: Path,
    configs: dict[str, Path],
    scratch: Path,
    phases: Sequence[Phase],
    serials: int,
    rate: float,
    size: tuple[int, int],
    seed: int,
    answer_timeout: float,
    signed_in: bool = False,
) -> RunResult:
    """One station process per config, one after the other on the same database copy; first
    paint, db ready and RSS are the first station's."""
    result = RunResult()
    rng = random.Random(seed)
    numbers = iter(rng.sample(range(1, serials + 1), sum(p.scans for p in phases)))
    for station in dict.fromkeys(p.station for p in phases):
        mine = [p for p in phases if p.station == station]
        argv = [sys.executable, "-m", "scanstation", "--config", str(configs[station])]
        argv += ["--db", str(db), "--site", SITE, "--mode", "register"]
        argv += ["--station", STATION, "--operator", "bench"]
        cols, rows = size
        app = StationInPty(argv, app_env(scratch, size), rows=rows, cols=cols)
        app.capture()
        opened = app.watch(b"db ok", armed_at=app.spawned_at)
        try:
            painted = app.wait_first_frame(timeout=30)
            ready = app.wait_for(opened, timeout=60)
            if painted is None or ready is None:
                result.problems.append(
                    f"the {station} station did not open (no full frame or no 'db ok' within "
                    f"the timeout); it wrote:\n{app.captured_text()}"
                )
                return result
            if result.first_paint is None:
                result.first_paint = painted - app.spawned_at
                result.db_ready = ready - app.spawned_at
            app.pump(time.monotonic() + 0.5)
            if signed_in and not sign_in(app):
                result.problems.append(f"could not sign in at the {station} station")
                return result
            for phase in mine:
                payloads = [f"SN{next(numbers):010d}" for _ in range(phase.scans)]
                plan = burst_plan(payloads, phase.gaps_ms, rate, rng, phase.prefix)
                result.phases[phase.name] = app.type_plan(plan, answer_timeout, NOTICE_QUOTE)
                app.pump(time.monotonic() + 0.5)  # let the list and portlets settle
            if result.rss_mb is None:
                result.rss_mb = app.peak_rss_mb()
        finally:
            status = app.quit()
        if status not in (0, None):
            result.problems.append(f"the {station} station exited with status {status}")
    check_database(db, phases, result)
    return result


def attribute_cuts(
    recorded: list[str], typed: list[str], typed_set: set[str]
) -> list[tuple[str, str]]:
    """Each recorded payload that was never typed (a burst cut in pieces, or two glued),
    mapped to the typed payload it came from: the one nearest to where it was recorded among
    those it is part of (or that are part of it)."""
    position = {payload: index for index, payload in enumerate(typed)}
    recorded_set = set(recorded)
    missing = [p for p in typed if p not in recorded_set]
    sources: list[tuple[str, str]] = []
    here = 0  # typed position of the last typed payload recorded so far
    for payload in recorded:
        if payload in typed_set:
            here = position[payload]
            continue
        candidates = [m for m in missing if payload in m or m in payload]
        if candidates:
            source = min(candidates, key=lambda m: abs(position[m] - here))
            sources.append((payload, source))
    return sources


def check_database(db: Path, phases: Sequence[Phase], result: RunResult) -> None:
    """Every scan the station answered is recorded once, in typed order, as OK; what the
    station did not take as a scan is counted, not hidden."""
    rows = recorded_scans(db)
    recorded = [payload for payload, _ in rows]
    typed = [p for phase in phases for p in result.phases[phase.name].typed]
    typed_set, recorded_set = set(typed), set(recorded)
    result.typed, result.recorded = len(typed), len(recorded_set & typed_set)
    cut_from = attribute_cuts(recorded, typed, typed_set)
    for phase in phases:
        outcome = result.phases[phase.name]
        detection = result.detection[phase.name] = Detection()
        shown = outcome.latencies.keys()
        for payload in outcome.typed:
            if payload in recorded_set:
                continue
            if payload in shown:
                result.problems.append(f"{phase.label}: {payload} answered but not recorded")
                continue
            detection.not_recognised.append(payload)
            if outcome.widest_gap_ms[payload] > phase.gaps_ms[1] + OFF_MODEL_SLACK_MS:
                detection.off_model += 1
        missing = set(detection.not_recognised)
        detection.cut = [piece for piece, source in cut_from if source in missing]
    expected = [p for p in typed if p in recorded_set]
    if [p for p in recorded if p in typed_set] != expected:
        result.problems.append("scans recorded out of the order they were typed")
    twice = len([p for p in recorded if p in typed_set]) - result.recorded
    if twice:
        result.problems.append(f"{twice} typed serials recorded twice")
    refused = [f"{p}: {o}" for p, o in rows if o != "ok" and p in typed_set]
    if refused:
        result.problems.append(f"{len(refused)} typed serials not OK: {refused[:5]!r}")


# -- report ----------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def ms(seconds: float | None) -> str:
    return "   —   " if seconds is None else f"{1000 * seconds:7.1f}"


def phase_figures(outcome: PhaseResult) -> tuple[float | None, float | None, float | None]:
    values = list(outcome.latencies.values())
    if not values:
        return None, None, None
    return statistics.median(values), pct(values, 0.99), max(values)


def print_run(index: int, run: RunResult, phases: Sequence[Phase]) -> None:
    paint = "—" if run.first_paint is None else f"{run.first_paint:.3f} s"
    ready = "—" if run.db_ready is None else f"{run.db_ready:.3f} s"
    rss = "—" if run.rss_mb is None else f"{run.rss_mb:.1f} MB"
    print(f"run {index}: first paint {paint}, db ready {ready}, peak RSS {rss}")
    for phase in phases:
        outcome = run.phases.get(phase.name)
        if outcome is None:
            continue
        p50, p99, worst = phase_figures(outcome)
        achieved = len(outcome.typed) / outcome.seconds if outcome.seconds > 0 else 0.0
        cpu = (
            ""
            if outcome.main_thread_s is None or not outcome.typed
            else (f"  main thread {1000 * outcome.main_thread_s / len(outcome.typed):5.1f} ms/scan")
        )
        print(
            f"  {phase.label:38} {len(outcome.latencies):5}/{len(outcome.typed):<5} answered  "
            f"p50 {ms(p50)} ms  p99 {ms(p99)} ms  max {ms(worst)} ms  "
            f"{achieved:5.1f} scans/s  key writes ≤{outcome.late_ms:5.1f} ms late{cpu}"
        )
        detection = run.detection.get(phase.name)
        if detection and detection.not_recognised:
            print(
                f"    NOT RECOGNISED AS SCANS: {len(detection.not_recognised)} bursts "
                f"({detection.off_model} of them typed with a gap wider than "
                f"{phase.gaps_ms[1] + OFF_MODEL_SLACK_MS:.0f} ms: this driver was late), "
                f"e.g. {detection.not_recognised[:3]}"
            )
        if detection and detection.cut:
            print(
                f"    RECORDED CUT OR GLUED: {len(detection.cut)} scans of other payloads "
                f"made from them, e.g. {detection.cut[:3]}"
            )
    state = "in typed order, all OK" if not run.problems else "PROBLEMS"
    print(f"  database: {run.recorded}/{run.typed} typed scans recorded, {state}")
    for problem in run.problems:
        print(f"  PROBLEM: {problem}")


def median_of(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def print_summary(runs: Sequence[RunResult], phases: Sequence[Phase], rate: float) -> None:
    n = len(runs)
    print(f"\nmedians of {n} run(s):")
    for phase in phases:
        if not phase.counted:
            continue
        figures = [phase_figures(r.phases[phase.name]) for r in runs if phase.name in r.phases]
        p50 = median_of([f[0] for f in figures])
        p99 = median_of([f[1] for f in figures])
        missing = [
            len(r.detection[phase.name].not_recognised) if phase.name in r.detection else 0
            for r in runs
        ]
        cut = [len(r.detection[phase.name].cut) if phase.name in r.detection else 0 for r in runs]
        verdict = "" if p99 is None else ("met" if p99 <= 0.050 else "MISSED")
        print(
            f"  {phase.label:38} p50 {ms(p50)} ms  p99 {ms(p99)} ms  [p99 ≤ 50 ms] {verdict}"
            f"   not recognised as scans, per run: {', '.join(map(str, missing))}"
            f"; recorded cut or glued: {', '.join(map(str, cut))}"
        )
    paint = median_of([r.first_paint for r in runs])
    ready = median_of([r.db_ready for r in runs])
    rss = median_of([r.rss_mb for r in runs])
    runs_paint = ", ".join("—" if r.first_paint is None else f"{r.first_paint:.3f}" for r in runs)
    if paint is not None:
        verdict = "met" if paint <= 1.0 else "MISSED"
        print(f"  first paint  {paint:.3f} s ({runs_paint})  [≤ 1.0 s] {verdict}")
    if ready is not None:
        print(f"  db ready     {ready:.3f} s (process start → 'db ok' in the header)")
    if rss is not None:
        print(f"  peak RSS     {rss:.1f} MB  [≤ 200 MB] {'met' if rss <= 200 else 'MISSED'}")
    print(
        f"  offered {rate:.0f} scans/s; one scanner at USB or Bluetooth key gaps cannot type "
        "that fast, so those rows ran back to back at the scanner's own pace (see each run)"
    )


# -- main ------------------------------------------------------------------------------------


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]),
    )
    parser.add_argument("--serials", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="keep the built database here (reused)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50.0, help="offered scans/s")
    parser.add_argument("--usb-scans", type=int, default=1000)
    parser.add_argument("--bluetooth-scans", type=int, default=300)
    parser.add_argument("--load-scans", type=int, default=1000)
    parser.add_argument(
        "--prefix-scans",
        type=int,
        default=200,
        help="Bluetooth bursts typed into a second station whose scanner sends an STX prefix",
    )
    parser.add_argument("--warm-up", type=int, default=20, help="scans typed first, not counted")
    parser.add_argument("--size", default="120x40", help="terminal COLSxROWS")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--answer-timeout", type=float, default=3.0, help="s after last Enter")
    parser.add_argument(
        "--scanner",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a [scanner] setting for the station (TOML value), e.g. max_median_gap_ms=80",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 2,000 serials, one run, a few dozen scans",
    )
    parser.add_argument(
        "--signed-in",
        action="store_true",
        help="the database has people: an operator signs in (badge, PIN) before scanning",
    )
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    # a stopped benchmark still quits its station and removes its scratch files
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.quick:
        args.serials = min(args.serials, 2000)
        args.runs, args.warm_up = 1, 3
        args.usb_scans, args.bluetooth_scans, args.load_scans, args.prefix_scans = 20, 6, 30, 4
        args.answer_timeout = min(args.answer_timeout, 2.0)
    cols, rows = (int(v) for v in args.size.lower().split("x"))

    phases = [
        Phase("warm", "warm-up (USB gaps, not counted)", (2, 15), args.warm_up, counted=False),
        Phase("usb", "USB scanner, 2–15 ms gaps", (2, 15), args.usb_scans),
        Phase("bluetooth", "Bluetooth scanner, 20–45 ms gaps", (20, 45), args.bluetooth_scans),
        Phase("load", f"load {args.rate:.0f}/s, 0.3–1.2 ms gaps", (0.3, 1.2), args.load_scans),
        # The same Bluetooth timing into a station configured with the scanner's prefix:
        # detection is then timing-free, so this row shows the latency without the wedge
        # detector's timing in the way.
        Phase(
            "bluetooth-warm", "warm-up, bluetooth preset (not counted)", (20, 45),
            min(args.warm_up, 5) if args.bluetooth_scans else 0,
            counted=False, station="bluetooth",
        ),
        Phase(
            "bluetooth-preset", "Bluetooth, preset bluetooth", (20, 45), args.bluetooth_scans,
            station="bluetooth",
        ),
        Phase(
            "prefix-warm", "warm-up, prefix station (not counted)", (20, 45),
            min(args.warm_up, 5) if args.prefix_scans else 0,
            counted=False, station="prefix", prefix=STX,
        ),
        Phase(
            "prefix", "Bluetooth, STX prefix (timing-free)", (20, 45), args.prefix_scans,
            station="prefix", prefix=STX,
        ),
    ]  # fmt: skip
    phases = [p for p in phases if p.scans > 0]

    with tempfile.TemporaryDirectory(prefix="scanstation-bench-tui-") as name:
        scratch = Path(name)
        template = args.db or scratch / "template.db"
        if not template.exists():
            seconds = build(template, args.serials)
            print(f"built {args.serials:,} serials in {seconds:.1f} s → {template}")
        priority = realtime_priority()
        configs = {
            "timing": write_config(scratch / "timing.toml", args.scanner),
            "bluetooth": write_config(
                scratch / "bluetooth.toml", [*args.scanner, 'preset="bluetooth"']
            ),
            "prefix": write_config(scratch / "prefix.toml", [*args.scanner, 'prefix="\\u0002"']),
        }
        work = scratch / "work.db"
        warm_bytecode(app_env(scratch, (cols, rows)))
        print(
            f"database      {args.serials:,} serials (SQLite, WAL, synchronous=FULL); terminal "
            f"{cols}×{rows}; [scanner] {', '.join(args.scanner) or 'defaults'} (the prefix "
            'station adds prefix = "\\u0002")'
            + (
                f"; {BENCH_OPERATOR[0]} (operator) signed in by badge and PIN"
                if args.signed_in
                else ""
            )
        )
        print(f"load average  {load_average()} before the runs ({os.cpu_count()} CPUs)")
        print(f"this driver   {priority} (the app runs at normal priority)\n")
        runs = []
        for index in range(1, args.runs + 1):
            fresh_copy(template, work)
            if args.signed_in:
                add_people(work)
            run = one_run(
                work, configs, scratch, phases, args.serials, args.rate,
                (cols, rows), args.seed + index, args.answer_timeout, args.signed_in,
            )  # fmt: skip
            print_run(index, run, phases)
            runs.append(run)
        print_summary(runs, phases, args.rate)
        print(f"load average  {load_average()} after the runs")
    return 1 if any(r.problems for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
