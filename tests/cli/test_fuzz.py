"""Fuzz (issue 11): seeded random bytes, control, bidi and zero-width characters, markup and long
strings driven through `scan`, `import`, `show`, `doc add` and the station's payload path (the
`Station` door, online and journaled), on each database. Whatever comes in: no traceback and no
"internal error", an exit code of the contract (0, 1 or 2), no raw control, bidi or zero-width
character in any output, and nothing already recorded changed.

Most cases run the CLI entry point in-process (Click's runner, on the real database); a few run
`python -m scanstation` for real with its output on a pseudo-terminal, read byte for byte.
The seeds are fixed, so a failure names a case that reproduces."""

from __future__ import annotations

import os
import pty
import random
import re
import select
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanstation.cli import main as cli_main
from scanstation.config import MODE_NAMES
from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode
from scanstation.domain.text import BOM, INVISIBLE
from scanstation.journaled import JournaledStation
from scanstation.service import ServiceError, StationService, StationSetup, StoreError
from scanstation.station import OnlineStation
from scanstation.store.journal import Journal

DOOR_CASES = 1300  # payloads through the Station door online, per database
OFFLINE_CASES = 200  # payloads queued by a journaled station while the database is away
CLI_CASES = 560  # in-process CLI runs, per database (each scan run carries several payloads)
PTY_CASES = 6  # real processes on a pseudo-terminal, per database

SERIALS = [f"SN{n:010d}" for n in range(1, 21)] + [f"FN{n:010d}" for n in range(21, 26)]

# Pieces an attacker, a broken scanner or a bad file would send.
PIECES = (
    "\x1b]0;pwned\x07",
    "\x1b[2J",
    "\x1b[31m",
    "\x1bP",
    "\x9b2J",
    "\x00",
    "\x07",
    "\x08",
    "\x7f",
    "\r",
    "\t",
    "\x1d",
    "\x1e",
    "\x04",
    "\u202e",
    "\u2066",
    "\u200b",
    "\u200d",
    "\u00ad",
    BOM,
    "\u2028",
    "\u0085",
    "[bold red]",
    "[/]",
    "[@click=app.quit]",
    "%s%n",
    "{0}",
    "'; DROP TABLE serial; --",
    '"',
    ",",
    "\\",
    "]d2",
    "]C1",
    "]Q3",
    "(01)08901234500019(21)",
    "0108901234500019",
    "https://id.gs1.org/01/08901234500019/21/",
    "é",
    "中文",
    "😀",
    "\udcff",  # an undecodable byte, as argv and stdin hand it over (surrogateescape)
    "\udc80\udcc3",
    " ",
    "=",
)
LONG = (31, 32, 33, 63, 64, 65, 100, 101, 200, 201, 1_000, 5_000, 140_000)
# Any C0 control but LF, DEL, C1, a lone surrogate, and every bidi / zero-width character.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff" + "".join(sorted(INVISIBLE)) + "]")


def hostile(rng: random.Random) -> str:
    """One untrusted text: a real serial bent a little, pieces, random bytes, or a long run."""
    how = rng.randrange(6)
    if how == 0:  # a real serial with a piece put somewhere in it
        serial = rng.choice(SERIALS)
        at = rng.randrange(len(serial) + 1)
        return serial[:at] + rng.choice(PIECES) + serial[at:]
    if how == 1:  # a real serial with a BOM in front (found) or bent in case and spaces
        serial = rng.choice(SERIALS)
        return rng.choice((BOM + serial, f"  {serial.lower()} ", serial))
    if how == 2:
        return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 8)))
    if how == 3:  # bytes off the wire
        raw = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
        return raw.decode("utf-8", errors="surrogateescape")
    if how == 4:
        return rng.choice("AX9é\x1b") * rng.choice(LONG)
    return "".join(
        chr(rng.choice((rng.randrange(0x20, 0x7F), rng.randrange(0x80, 0x3000))))
        for _ in range(rng.randint(1, 30))
    )


def maybe(rng: random.Random, good: str) -> str:
    """Mostly a sound value, sometimes a hostile one."""
    return hostile(rng) if rng.random() < 0.3 else good


def assert_clean(where: str, out: str) -> None:
    assert "Traceback" not in out and "internal error" not in out, f"{where}: {out[-2000:]}"
    raw = RAW.search(out)
    assert raw is None, (
        f"{where}: raw {raw.group()!r} in {out[max(0, raw.start() - 80) : raw.end() + 80]!a}"
    )


# -- what is already recorded -------------------------------------------------------------------


def recorded(service: StationService) -> dict[str, Any]:
    """Every row written before the fuzz, as it stands: events whole, serials' identity, the
    documents' lines, the sites and items."""
    cursor = service.repo._cursor(
        "SELECT id, scan_id, kind, serial_id, mode, from_stage, to_stage, station, site, "
        "operator, at, recorded_at, document_id, payload, comment, outcome, message "
        "FROM event ORDER BY id",
        (),
    )
    events = [tuple(row) for row in cursor.fetchall()]
    cursor = service.repo._cursor(
        "SELECT id, serial_no, secondary_qr, item_id, generation_id, created_at, created_by "
        "FROM serial ORDER BY id",
        (),
    )
    serials = [tuple(row) for row in cursor.fetchall()]
    documents = {
        ref: (
            d.kind,
            d.from_site,
            d.destination,
            d.state,
            [(ln.sku, ln.quantity) for ln in d.lines],
        )
        for ref in ("DC-1", "INV-1")
        if (d := service.document(ref)) is not None
    }
    return {
        "events": events,
        "serials": serials,
        "documents": documents,
        "sites": [(s.code, s.name, s.kind) for s in service.sites()],
        "items": [(i.sku, i.name, i.gtin) for sku in ("PUMP", "FAN") if (i := service.item(sku))],
    }


def assert_nothing_recorded_changed(before: dict[str, Any], service: StationService) -> None:
    after = recorded(service)
    assert after["events"][: len(before["events"])] == before["events"]
    assert after["serials"][: len(before["serials"])] == before["serials"]
    assert after["documents"] == before["documents"]
    assert after["sites"][: len(before["sites"])] == before["sites"]
    assert after["items"] == before["items"]


# -- the station's payload path -----------------------------------------------------------------


def door_setup(rng: random.Random, station_id: str | None) -> StationSetup:
    """A station's setup, sometimes hostile; a journaled station's id is its journal's."""
    mode = Mode(rng.choice(MODE_NAMES))
    return StationSetup(
        station_id or maybe(rng, f"GATE-{rng.randrange(4)}"),
        maybe(rng, rng.choice(("P1", "G1", "G2"))),
        mode,
        operator=maybe(rng, "op-1"),
        document=maybe(rng, "DC-1") if mode in (Mode.DISPATCH, Mode.RECEIVE) else None,
        reason=maybe(rng, "dent") if rng.random() < 0.5 else None,
    )


def drive_door(
    station: Any, rng: random.Random, cases: int, where: str, station_id: str | None = None
) -> Counter[str]:
    seen: Counter[str] = Counter()
    for case in range(cases):
        payload = hostile(rng)
        setup = door_setup(rng, station_id)
        try:
            outcome = station.scan(ScanEvent(payload, source="fuzz"), setup)
        except (ServiceError, StoreError) as error:  # a sentence for the face: exit 2 / NOT SAVED
            assert_clean(f"{where} case {case}", str(error))
            seen["refused setup"] += 1
            continue
        seen[outcome.kind.value] += 1
        assert_clean(f"{where} case {case} {payload!a}", outcome.message)
        hidden = payload.removeprefix(BOM).strip()
        if any(ch in INVISIBLE for ch in hidden):
            assert outcome.kind not in (OutcomeKind.OK, OutcomeKind.ALREADY), (payload, outcome)
    return seen


class Outage:
    """Opens the real service, or fails as an unreachable database does while `up` is False."""

    def __init__(self, url: str) -> None:
        self.url, self.up = url, False

    def open(self) -> StationService:
        if not self.up:
            raise StoreError("Cannot reach the database: connection refused")
        return StationService.open(self.url)


def drive_offline(url: str, journal_dir: Path, rng: random.Random, cases: int) -> Counter[str]:
    """Queued while offline (after one online moment, so the known sites are checked), then
    replayed: every replayed answer is a clean sentence too."""
    outage = Outage(url)
    outage.up = True
    station = JournaledStation(outage.open, Journal.for_station("FUZZ-J", url, journal_dir))
    try:
        assert station.connect()
        outage.up = False
        station._went_offline(OSError("connection lost"))
        seen = drive_door(station, rng, cases, "offline", "FUZZ-J")
        assert seen["queued"], seen
        outage.up = True
        for outcome in station.replay():
            seen[f"replayed {outcome.kind.value}"] += 1
            assert_clean(f"replay {outcome.event.payload!a}", outcome.message)
        for entry in station.refused():
            assert_clean("refused entry", entry.message or "")
        return seen
    finally:
        station.close()


# -- the CLI in-process --------------------------------------------------------------------------


def csv_bytes(rng: random.Random) -> bytes:
    rows = ["serial_no,sku,generation_no,secondary_qr"]
    for n in range(rng.randint(0, 6)):
        cells = [
            f"FZ{rng.randrange(10**9):09d}{n}",
            "PUMP",
            "GFZ-1",
            f"QRFZ{rng.randrange(10**12)}",
        ]
        for _ in range(rng.randint(0, 3)):
            cells[rng.randrange(4)] = hostile(rng)
        if rng.random() < 0.2:
            cells[rng.randrange(4)] = '"' + hostile(rng).replace('"', '""') + "\n" + '"'
        rows.append(",".join(cells))
    text = "\n".join(rows) + rng.choice(("\n", "\r\n", ""))
    data = text.encode("utf-8", errors="surrogateescape")
    if rng.random() < 0.2:
        data = b"\xef\xbb\xbf" + data
    if rng.random() < 0.1:
        data += bytes(rng.randrange(256) for _ in range(20))
    return data


def cli_case(rng: random.Random, url: str, tmp: Path) -> tuple[list[str], bytes | None]:
    """One command line (and its stdin) of the four the issue names."""
    which = rng.choice(("scan", "scan", "scan", "show", "doc", "import"))
    if which == "scan":
        args = ["scan", "--station", maybe(rng, "CLI-1"), "--site", maybe(rng, "P1")]
        args += ["--mode", rng.choice(MODE_NAMES), "--operator", maybe(rng, "op-9")]
        if rng.random() < 0.3:
            args += ["--doc", maybe(rng, "DC-1")]
        if rng.random() < 0.3:
            args += ["--reason", hostile(rng)]
        if rng.random() < 0.5:
            args.append("--json")
        if rng.random() < 0.2:
            args.append("--journal")
        payloads = [hostile(rng) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.5:
            return ["--db", url, *args, *payloads], None
        stdin = "\n".join(payloads).encode("utf-8", errors="surrogateescape")
        return ["--db", url, *args], rng.choice((b"", b"\xef\xbb\xbf")) + stdin
    if which == "show":
        return [
            "--db",
            url,
            "show",
            maybe(rng, rng.choice(SERIALS)),
            *rng.choice(([], ["--json"])),
        ], None
    if which == "doc":
        lines = [
            maybe(rng, f"PUMP={rng.choice((1, 2, 0, -1, 2**31, 10**40))}")
            for _ in range(rng.randint(1, 3))
        ]
        args = [
            "doc",
            "add",
            "--kind",
            rng.choice(("dc", "invoice")),
            "--reference-no",
            hostile(rng),
        ]
        args += ["--from", maybe(rng, "P1"), "--to", maybe(rng, "G1")]
        args += [part for line in lines for part in ("--line", line)]
        if rng.random() < 0.5:
            args += [rng.choice(("--dc-no", "--invoice-no")), hostile(rng)]
        return ["--db", url, *args], None
    path = tmp / f"fuzz-{rng.randrange(10**6)}.csv"
    path.write_bytes(csv_bytes(rng))
    return ["--db", url, "import", *rng.choice(([], ["--dry-run"])), str(path)], None


def run_in_process(runner: CliRunner, args: list[str], stdin: bytes | None) -> tuple[int, str]:
    result = runner.invoke(cli_main, args, input=stdin, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args!a}: {result.exception!r}") from result.exception
    out = result.stdout_bytes.decode("utf-8") + result.stderr_bytes.decode("utf-8")
    return result.exit_code, out


# -- real processes on a pseudo-terminal ---------------------------------------------------------


def run_on_pty(args: list[str], stdin: bytes = b"") -> tuple[int, bytes]:
    """`python -m scanstation ARGS` with stdout and stderr on a terminal: every byte it wrote."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "scanstation", *args],
        stdin=subprocess.PIPE,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "120"},
    )
    os.close(follower)
    assert process.stdin is not None
    process.stdin.write(stdin)
    process.stdin.close()
    out = bytearray()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process has ended
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    return process.wait(timeout=30), bytes(out)


def pty_case(rng: random.Random, url: str, serial: str) -> tuple[list[str], bytes]:
    """A hostile operator and payloads, then `show` of a serial that operator touched."""
    # argv cannot carry NUL; every other control, bidi and zero-width piece can.
    operator = "".join(rng.choice(PIECES[:20]) for _ in range(3)).replace("\x00", "") + "op"
    payloads = [hostile(rng) for _ in range(3)] + [serial]
    stdin = "\n".join(payloads).encode("utf-8", errors="surrogateescape")
    scan = ["--db", url, "scan", "--station", "PTY-1", "--site", "P1", "--operator", operator]
    return [*scan, "--mode", rng.choice(("register", "lookup"))], stdin


# -- the test -----------------------------------------------------------------------------------


@pytest.fixture
def fuzz_cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    # The journal and the log go under the test's own XDG dirs (conftest); no progress bars.
    yield CliRunner()


def test_fuzz_the_cli_and_the_station_door(
    service: StationService, tmp_path: Path, fuzz_cli: CliRunner
) -> None:
    url = service.repo.target.url
    before = recorded(service)
    rng = random.Random(f"issue-11-{service.backend}")

    station = OnlineStation(StationService.open(url))
    try:
        door = drive_door(station, rng, DOOR_CASES, "door")
    finally:
        station.close()
    assert door["ok"] and door["rejected"] and door["unknown"], door
    offline = drive_offline(url, tmp_path / "journals", rng, OFFLINE_CASES)
    assert offline["replayed ok"] or offline["replayed rejected"], offline

    codes: Counter[int] = Counter()
    for case in range(CLI_CASES):
        args, stdin = cli_case(rng, url, tmp_path)
        code, out = run_in_process(fuzz_cli, args, stdin)
        where = f"cli case {case} {args[2:]!a}"
        assert code in (0, 1, 2), f"{where}: exit {code}: {out[-2000:]}"
        assert_clean(where, out)
        codes[code] += 1
    assert set(codes) == {0, 1, 2}, codes
    print(
        f"fuzz {service.backend}: door {dict(door)}; offline {dict(offline)}; exits {dict(codes)}"
    )
    assert_nothing_recorded_changed(before, service)

    for case in range(PTY_CASES):
        serial = SERIALS[case]
        args, stdin = pty_case(rng, url, serial)
        code, out = run_on_pty(args, stdin)
        text = out.decode("utf-8").replace("\r\n", "\n")
        assert code in (0, 1, 2), text
        assert_clean(f"pty case {case}", text)
        code, out = run_on_pty(["--db", url, "show", serial])
        assert code == 0
        assert_clean(f"pty show {serial}", out.decode("utf-8").replace("\r\n", "\n"))
    assert_nothing_recorded_changed(before, service)
