"""The station app with a `StationProbe` attached, for tests: `app.probe` records what the
station showed (outcomes in order, replays, bells, latencies)."""

from __future__ import annotations

from typing import Any

from scanstation.config import Settings
from scanstation.tui.app import ScanStationApp
from scanstation.tui.probe import StationProbe


class ProbedStationApp(ScanStationApp):
    def __init__(self, settings: Settings, **kw: Any) -> None:
        self.probe = StationProbe()
        super().__init__(settings, hooks=self.probe, **kw)
