"""`scanstation` with no subcommand: start the station app and return its exit code."""

from __future__ import annotations

import sys

from scanstation.config import MODE_NAMES, Settings

__all__ = ["run_station"]

EXIT_USAGE = 2


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
    site_code = site or settings.station.site
    if not site_code:
        print(
            "scanstation: the station needs a site: pass --site CODE or set [station] site "
            f"in config.toml ({settings.source})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if mode is not None and mode not in MODE_NAMES:
        print(f"scanstation: unknown mode {mode!r}", file=sys.stderr)
        return EXIT_USAGE

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
