"""`scanstation kiosk`'s supervisor with real child processes: a station that dies (a signal, a
non-zero exit) is started again with back-off and the cause is logged; a normal quit or a
stop ends the kiosk; a usage problem is refused before anything starts."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanstation.cli import main
from scanstation.kiosk import (
    BACKOFF_FIRST_S,
    BACKOFF_MAX_S,
    STANDBY_ENV,
    KioskSupervisor,
    exit_cause,
    kiosk_logger,
    restart_delay,
)

# A child that reads how many times it ran from a file and ends as `ENDINGS` says.
CHILD = """
import os, signal, sys
from pathlib import Path
count = Path(sys.argv[1])
runs = int(count.read_text()) if count.exists() else 0
count.write_text(str(runs + 1))
ending = sys.argv[2].split(",")[runs]
if ending == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
if ending == "sleep":
    import time; time.sleep(60)
sys.exit(int(ending))
"""


# A child that can be a standby, as `scanstation` is: with STANDBY_ENV it notes when it was
# ready, then waits on the pipe; "go" makes it the station, anything else ends it unrun.
STANDBY_CHILD = """
import os, signal, sys, time
from pathlib import Path
folder = Path(sys.argv[1])
pipe = os.environ.get(sys.argv[3])
if pipe is not None and sys.argv[4:] == ["standbys-die"]:
    sys.exit(3)  # a standby that died before it was needed
if pipe is not None:
    (folder / f"standby-{os.getpid()}").write_text(str(time.monotonic()))
    if os.read(int(pipe), 2) != b"go":
        (folder / f"dismissed-{os.getpid()}").write_text("")
        sys.exit(0)
count = folder / "runs"
runs = int(count.read_text()) if count.exists() else 0
count.write_text(str(runs + 1))
(folder / f"run-{runs}").write_text(f"{os.getpid()} {time.monotonic()}")
ending = sys.argv[2].split(",")[runs]
time.sleep(1.0)
if ending == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
sys.exit(int(ending))
"""


def supervisor(tmp_path: Path, endings: str) -> tuple[KioskSupervisor, Path]:
    log_path = tmp_path / "kiosk.log"
    log = kiosk_logger(log_path)
    command = [sys.executable, "-c", CHILD, str(tmp_path / "runs"), endings]
    return KioskSupervisor(command, env=dict(os.environ), log=log), log_path


def runs(tmp_path: Path) -> int:
    return int((tmp_path / "runs").read_text())


def test_exit_causes_are_named() -> None:
    assert exit_cause(-signal.SIGKILL) == "killed by signal SIGKILL"
    assert exit_cause(-signal.SIGSEGV) == "killed by signal SIGSEGV"
    assert exit_cause(2) == "exited with code 2"


def test_a_killed_station_comes_back_at_once_and_a_crash_loop_backs_off(tmp_path: Path) -> None:
    kiosk, log_path = supervisor(tmp_path, "kill,3,3,0")
    started = time.monotonic()
    assert kiosk.run() == 0
    took = time.monotonic() - started
    assert runs(tmp_path) == 4  # killed, failed twice, then quit normally: no fifth start
    assert kiosk.restarts == 3
    assert took >= BACKOFF_FIRST_S * 3  # none, 0.5 s, then 1 s: the back-off doubled
    log = log_path.read_text()
    assert "station killed by signal SIGKILL after" in log
    assert "restart 1 now" in log  # the first failure waits for nothing
    assert "station exited with code 3 after" in log
    assert "restart 2 in 0.5 s" in log
    assert "restart 3 in 1.0 s" in log
    assert "station quit normally; the kiosk ends" in log


def test_a_standby_loaded_before_the_kill_takes_over_and_is_dismissed_at_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_path = tmp_path / "kiosk.log"
    command = [sys.executable, "-c", STANDBY_CHILD, str(tmp_path), "kill,0", STANDBY_ENV]
    kiosk = KioskSupervisor(
        command, env=dict(os.environ), log=kiosk_logger(log_path), standby_after=0.2
    )
    assert kiosk.run() == 0
    assert runs(tmp_path) == 2  # killed, then quit normally: standbys never counted a run
    first_pid, first_at = (tmp_path / "run-0").read_text().split()
    second_pid = (tmp_path / "run-1").read_text().split()[0]
    # The second station was the standby, ready while the first still ran (it died 1 s in).
    ready_at = float((tmp_path / f"standby-{second_pid}").read_text())
    assert ready_at < float(first_at) + 1.0
    log = log_path.read_text()
    assert f"station started (pid {second_pid}, from its standby)" in log
    assert "restart 1 now" in log
    # Standbys start while a station is on the terminal: logged to the file, not over it.
    assert "standby station loading" in log
    terminal = capsys.readouterr().err
    assert "restart 1 now" in terminal and "standby" not in terminal.replace("its standby", "")
    # The standby loaded during the second run was not needed: told so, it ended unrun.
    dismissed = [path.name for path in tmp_path.glob("dismissed-*")]
    assert len(dismissed) == 1
    with pytest.raises(ProcessLookupError):
        os.kill(int(dismissed[0].removeprefix("dismissed-")), 0)
    assert first_pid != second_pid


def test_a_standby_that_died_is_replaced_by_a_fresh_start(tmp_path: Path) -> None:
    log_path = tmp_path / "kiosk.log"
    command = [sys.executable, "-c", STANDBY_CHILD, str(tmp_path), "kill,0", STANDBY_ENV]
    kiosk = KioskSupervisor(
        [*command, "standbys-die"],
        env=dict(os.environ),
        log=kiosk_logger(log_path),
        standby_after=0.2,
    )
    assert kiosk.run() == 0
    assert runs(tmp_path) == 2
    second_pid = (tmp_path / "run-1").read_text().split()[0]
    log = log_path.read_text()
    assert "standby station loading" in log
    assert f"station started (pid {second_pid})" in log  # started afresh
    assert "from its standby" not in log


def test_the_back_off_starts_only_on_a_second_failure_in_a_row() -> None:
    assert [restart_delay(n) for n in range(1, 9)] == [0, 0.5, 1, 2, 4, 8, 16, 30]
    assert restart_delay(50) == BACKOFF_MAX_S


def test_stopping_the_kiosk_ends_the_station_and_does_not_restart_it(tmp_path: Path) -> None:
    kiosk, log_path = supervisor(tmp_path, "sleep,sleep")
    stopper = threading.Timer(1.0, kiosk.stop)
    stopper.start()
    started = time.monotonic()
    assert kiosk.run() == 0
    assert time.monotonic() - started < 10
    assert runs(tmp_path) == 1
    assert "killed by signal SIGTERM; the kiosk stops" in log_path.read_text()


def test_the_kiosk_ignores_the_keyboard_signals_while_it_runs(tmp_path: Path) -> None:
    """ctrl+c, ctrl+\\ and ctrl+z reach the kiosk as signals while the station restarts."""
    seen: dict[int, object] = {}
    kiosk, _ = supervisor(tmp_path, "0")
    original_run_once = kiosk._run_once

    def run_once() -> int:
        for signum in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP):
            seen[signum] = signal.getsignal(signum)
        os.kill(os.getpid(), signal.SIGINT)  # would raise KeyboardInterrupt if not ignored
        return original_run_once()

    kiosk._run_once = run_once  # type: ignore[method-assign]
    # A test run started in the background inherits SIGINT ignored: start from Python's own
    # handler so the check below can see the kiosk put back what it found.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert kiosk.run() == 0
        assert set(seen.values()) == {signal.SIG_IGN}
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back after
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_kiosk_command_refuses_a_mode_the_config_does_not_allow(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[station]\nkiosk = true\nmode = "receive"\nallowed_modes = ["receive"]\n')
    db = tmp_path / "site.db"
    result = CliRunner().invoke(
        main, ["--config", str(config), "--db", str(db), "kiosk", "--site", "G1", "--mode", "scrap"]
    )
    assert result.exit_code == 2
    assert "mode scrap is not one of [station] allowed_modes (receive)" in result.output
    result = CliRunner().invoke(main, ["--config", str(config), "--db", str(db), "kiosk"])
    assert result.exit_code == 2
    assert "the station needs a site" in result.output
    assert not db.exists()  # nothing was started


@pytest.fixture(autouse=True)
def _close_kiosk_log() -> Iterator[None]:
    yield
    log = logging.getLogger("scanstation.kiosk")
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
