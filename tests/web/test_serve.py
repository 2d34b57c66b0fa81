"""The station in a real browser: `scanstation serve` driven by headless Chromium (Debian's, through
Playwright's pip package; no browser is downloaded).

A scan is typed as a person types it: `/` (the manual entry field), the serial a key at a time,
then Enter, so the keyboard-wedge detector never mistakes it for a scanner burst. The screen of
a tab is read from xterm.js's own buffer: textual.js keeps its terminal in a closure, so an
init script catches the object when textual.js sets its `websocket_url`."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scanstation.domain.stages import Mode, SiteKind, Stage
from scanstation.service import StationService
from scanstation.tui.screens.mode_picker import available_modes
from tests.web.conftest import Served, station_processes, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
KEY_DELAY_MS = 150  # a person's typing: well above the wedge detector's 50 ms scanner gap

pytestmark = [
    pytest.mark.web,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
    ),
]
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright pip package is not installed ('.[test]')"
)

CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "websocket_url", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "websocket_url", {value, writable: true, configurable: true});
    (window.__stations = window.__stations || []).push(this);
  },
});
"""
READ_SCREEN = """() => {
  const session = (window.__stations || [])[0];
  if (!session || !session.terminal) return null;
  const terminal = session.terminal, buffer = terminal.buffer.active, rows = [];
  for (let y = 0; y < terminal.rows; y++) rows.push(buffer.getLine(y).translateToString(true));
  return rows.join("\\n");
}"""


class Tab:
    """One browser tab on the station server, read through its terminal's text."""

    def __init__(self, page: Any, url: str, outside: list[str]) -> None:
        self.page = page

        def only_this_server(route: Any) -> None:
            if route.request.url.startswith(url):
                route.continue_()
            else:  # nothing leaves this machine; and the page must need nothing from outside
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_this_server)
        page.add_init_script(CATCH_TERMINAL)
        page.goto(url)
        self.wait_for(lambda screen: "db ok" in screen, "the station to open", timeout=90)
        page.click("#terminal")  # focus: keys go to this tab's station

    def screen(self) -> str:
        return self.page.evaluate(READ_SCREEN) or ""

    def wait_for(self, condition: Callable[[str], Any], what: str, timeout: float = 45) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if screen and condition(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; the tab shows:\n{screen}")

    def station_id(self) -> str:
        return self.screen().split()[0]  # the header starts with the station id

    def type_scan(self, serial: str) -> None:
        keyboard = self.page.keyboard
        # A person's pauses: `/` moves the focus before the first character comes, and Enter
        # comes on its own (keys that arrive together look like a scanner's burst).
        keyboard.press("/")
        time.sleep(0.6)
        keyboard.type(serial, delay=KEY_DELAY_MS)
        time.sleep(0.6)
        keyboard.press("Enter")

    def pick_mode(self, mode: Mode, site_kind: SiteKind) -> None:
        self.page.keyboard.press("F2")
        self.wait_for(lambda screen: "Scan mode" in screen, "the mode picker")
        for _ in range(available_modes(site_kind).index(mode)):  # the picker starts at lookup
            self.page.keyboard.press("ArrowDown")
        self.page.keyboard.press("Enter")
        self.wait_for(
            lambda screen: mode.value.upper() in screen.splitlines()[0], f"{mode.value} mode"
        )


def stage_shown(stage: Stage) -> Callable[[str], bool]:
    """The Serial Number Details portlet's Stage row reads `stage` (after its coloured dot)."""
    pattern = re.compile(rf"Stage\s+\S?\s*{re.escape(stage.value)}")
    return lambda screen: pattern.search(screen) is not None


def distinct_colours(png: bytes) -> int:
    import cv2

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return len(np.unique(image.reshape(-1, 3), axis=0))


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_a_scan_typed_in_a_browser_tab_is_recorded_and_another_tab_follows_it(
    serve: Served, small_db: str, station_base: str, browser: Any
) -> None:
    url = serve.url()
    service = StationService.open(small_db)
    try:
        serial = next(s.serial_no for s in service.export(site="P1") if s.sku == "PUMP")
        outside: list[str] = []
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        watcher = Tab(context.new_page(), url, outside)
        scanner = Tab(context.new_page(), url, outside)
        assert {watcher.station_id(), scanner.station_id()} == {
            f"{station_base}-w1",
            f"{station_base}-w2",
        }
        assert len(station_processes(station_base)) == 2

        # The watching tab looks the serial up (lookup changes nothing) and shows its details.
        watcher.type_scan(serial)
        watcher.wait_for(stage_shown(Stage.NOT_REGISTERED), f"{serial}'s details")
        assert service.events(serial) == []  # a lookup writes nothing

        # The other tab registers it.
        scanner.pick_mode(Mode.REGISTER, SiteKind.PLANT)
        scanner.type_scan(serial)
        wait_until(
            lambda: service.serial(serial).stage is Stage.REGISTERED,  # type: ignore[union-attr]
            f"the register event of {serial} in the database",
            timeout=45,
        )
        [event] = service.events(serial)
        assert event.station == scanner.station_id() and event.site == "P1"
        assert event.outcome == "ok" and event.payload == serial
        scanner.wait_for(lambda screen: "OK" in screen and "Registered at Plant" in screen, "OK")

        # Live refresh: the watching tab's details follow the other tab's change.
        watcher.wait_for(stage_shown(Stage.REGISTERED), "the watching tab's refreshed details")

        png = scanner.page.screenshot()
        assert distinct_colours(png) > 200, "the page's screenshot is (nearly) blank"
        assert outside == [], f"the page asked for something elsewhere: {outside}"

        # SIGTERM: every station session ends, the server exits 0, no traceback.
        assert serve.stop(signal.SIGTERM, timeout=20) < 20
        assert serve.proc.returncode == 0
        wait_until(lambda: not station_processes(station_base), "the tabs' stations to end", 10)
        scanner.page.wait_for_function(
            "document.body.classList.contains('-closed')", timeout=15_000
        )
        errors = serve.errors()
        assert "Traceback" not in errors and "Unknown child process" not in errors
    finally:
        service.close()
