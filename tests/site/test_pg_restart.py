"""A PostgreSQL server of the test's own, stopped in the middle of a stream of scans through
`scanstation scan --journal --json` (a real process fed on stdin) and started again: every scan
ends up in the site database exactly once, in the order it was scanned."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scanstation.domain.stages import SiteKind
from scanstation.service import StationService

pytestmark = pytest.mark.postgres

SERIALS = 200
STOP_AFTER, RESTART_AFTER = 50, 100  # scans answered before the server stops / starts again
IN_FLIGHT = 4  # scans sent ahead of their answers


def _pg_bindir() -> Path | None:
    """Where initdb and pg_ctl are: PATH, then pg_config, then Debian's versioned dirs."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return versions[0].parent if versions else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int
    as_user: list[str]  # runuser prefix when the tests run as root (initdb refuses root)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}\n{result.stderr}")

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",  # a throw-away cluster: no need to fsync the template files
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def pg_server() -> Iterator[PgServer]:
    bindir = _pg_bindir()
    if bindir is None or not (bindir / "pg_ctl").exists():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="scanstation-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            import pwd

            owner = pwd.getpwnam("postgres")
        except KeyError:
            owner = None
        if runuser is None or owner is None:
            shutil.rmtree(root, ignore_errors=True)
            pytest.skip("running as root without a `postgres` user and runuser for initdb")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_user = [runuser, "-u", "postgres", "--"]
    root.chmod(0o700)
    server = PgServer(bindir, root, _free_port(), as_user)
    try:
        server.init()
        server.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"could not start a PostgreSQL server of our own: {error}")
    yield server
    with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
        server.stop()
    shutil.rmtree(root, ignore_errors=True)


def _build(url: str) -> list[str]:
    service = StationService.open(url, create=True)
    service.add_site("P1", "Pune Plant", SiteKind.PLANT)
    service.add_item("PUMP", "Pump 1HP", "8901234500019", "MB-100")
    _, serials = service.generate("PUMP", SERIALS, "P1", prefix="SN", by="planner")
    service.close()
    return serials


def test_server_restart_mid_stream_loses_and_duplicates_nothing(
    pg_server: PgServer, tmp_path: Path
) -> None:
    serials = _build(pg_server.url)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scanstation",
            "--db",
            pg_server.url,
            "scan",
            "--station",
            "GATE-1",
            "--site",
            "P1",
            "--mode",
            "register",
            "--journal",
            "--json",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def feed() -> None:
        # Scans keep coming while the server stops and starts, a few in flight at any time.
        for serial in serials:
            window.acquire()
            if restarted.is_set() and not back.is_set():
                # A slow drip once the server is up again, until the station's reconnect
                # back-off runs out and it replays in the middle of the stream.
                back.wait(timeout=0.25)
            stdin.write(serial + "\n")
            stdin.flush()
            time.sleep(0.005)
        stdin.close()

    restarted, back = threading.Event(), threading.Event()
    window = threading.Semaphore(IN_FLIGHT)
    feeder = threading.Thread(target=feed, daemon=True)
    answers: list[dict[str, str | None]] = []
    try:
        feeder.start()
        for line in proc.stdout:  # answered line by line, as soon as committed or journaled
            answers.append(json.loads(line))
            window.release()
            if len(answers) == STOP_AFTER:
                pg_server.stop()
            elif len(answers) == RESTART_AFTER:
                pg_server.start()
                restarted.set()
            elif restarted.is_set() and answers[-1]["outcome"] == "ok":
                back.set()
        code = proc.wait(timeout=60)
        feeder.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert code == 0, stderr

    kinds = [a["outcome"] for a in answers]
    assert [a["payload"] for a in answers] == serials
    assert set(kinds) <= {"ok", "queued"}, kinds
    assert kinds.count("queued") >= RESTART_AFTER - STOP_AFTER - 5, "the server was down"
    assert all(k == "ok" for k in kinds[:STOP_AFTER])
    assert kinds[-1] == "ok", "replayed while the stream went on, not only at its end"

    import psycopg2

    with psycopg2.connect(pg_server.url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT scan_id, count(*) FROM event WHERE kind = 'scan' GROUP BY scan_id "
            "HAVING count(*) > 1"
        )
        assert cur.fetchall() == [], "a scan id was recorded twice"
        cur.execute(
            "SELECT e.payload, e.outcome, e.to_stage FROM event e WHERE e.kind = 'scan' "
            "ORDER BY e.id"
        )
        rows = cur.fetchall()
        cur.execute("SELECT stage, count(*) FROM serial GROUP BY stage")
        stages = dict(cur.fetchall())
    conn.close()
    # Exactly once each, in the order scanned.
    assert [r[0] for r in rows] == serials
    assert {(r[1], r[2]) for r in rows} == {("ok", "Registered at Plant")}
    assert stages == {"Registered at Plant": SERIALS}

    command = ("journal", "show", "--station", "GATE-1", "--json")
    show = subprocess.run(
        [sys.executable, "-m", "scanstation", "--db", pg_server.url, *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert show.returncode == 0, show.stderr
    journal = json.loads(show.stdout)
    assert journal["pending_count"] == 0 and journal["refused_count"] == 0
