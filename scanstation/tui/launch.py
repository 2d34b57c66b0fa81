"""`scanstation` with no subcommand: start the station app and return its exit code."""

from __future__ import annotations

import os
import sys

from scanstation.config import MODE_NAMES, Settings

__all__ = ["run_station", "station_problem", "wait_for_turn"]

EXIT_USAGE = 2


def station_problem(settings: Settings, *, site: str | None, mode: str | None) -> str | None:
    """Why the station cannot start with these options (None: it can)."""
    if not (site or settings.station.site):
        return (
            "the station needs a site: pass --site CODE or set [station] site "
            f"in config.toml ({settings.source})"
        )
    if mode is not None and mode not in MODE_NAMES:
        return f"unknown mode {mode!r}"
    if mode is not None and not settings.station.mode_allowed(mode):
        allowed = ", ".join(settings.station.allowed_modes)
        return f"mode {mode} is not one of [station] allowed_modes ({allowed})"
    return None


def wait_for_turn() -> bool:
    """True: go on as the station. A standby of `scanstation kiosk` (its STANDBY_ENV set)
    first loads everything a station needs, then waits, off the terminal, for the kiosk's
    word: True when its station died and it takes over, False when the kiosk ends."""
    from scanstation.kiosk import STANDBY_ENV

    standby = os.environ.pop(STANDBY_ENV, None)
    if standby is None:
        return True
    import importlib

    from scanstation.domain.codes import load_gs1_reader

    for module in ("scanstation.tui.app", "scanstation.station"):
        importlib.import_module(module)  # now, for when it takes over

    load_gs1_reader()
    pipe = int(standby)
    try:
        word = os.read(pipe, 2)
    except OSError:
        word = b""
    finally:
        os.close(pipe)
    return word == b"go"


def run_station(
    settings: Settings,
    *,
    database_url: str,
    station_id: str | None = None,
    site: str | None = None,
    mode: str | None = None,
    operator: str | None = None,
    journal: bool | None = None,
) -> int:
    """Run the station until the operator quits; 0 on a normal quit, 2 when it cannot start."""
    problem = station_problem(settings, site=site, mode=mode)
    if problem is not None:
        print(f"scanstation: {problem}", file=sys.stderr)
        return EXIT_USAGE
    site_code = site or settings.station.site

    from scanstation.tui.app import ScanStationApp  # Textual loads only when the station runs

    app = ScanStationApp(
        settings,
        database_url=database_url,
        station_id=station_id,
        site=site_code,
        mode=mode,
        operator=operator,
        journal=journal,
    )
    try:
        app.run()
    finally:
        app.stop_worker()
    return app.return_code or 0
