"""Regenerate the README's picture of the station in a browser (PNG).

    python scripts/browser_screenshot.py [--out docs/screenshots/station-browser.png]

Builds the demo database in a temporary folder, runs `scanstation serve` on a free local port
as the godown G1 gate receiving, opens the page in Debian's headless Chromium (through
Playwright; no browser is downloaded), types two labels of DC-1042 as a person would (`/`,
then each serial and Enter) and saves what the tab shows. Nothing leaves this machine: every request
to another address is refused.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, Route, sync_playwright

from scanstation.demo import build_demo
from scanstation.domain.stages import Stage
from scanstation.service import StationService

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCANS = ("SN0000000181", "SN0000000182")


def wait(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def type_scan(page: Page, serial: str) -> None:
    page.keyboard.type(serial, delay=120)
    time.sleep(0.6)
    page.keyboard.press("Enter")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/screenshots/station-browser.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        db = f"sqlite:///{Path(folder) / 'demo.db'}"
        service = StationService.open(db, create=True)
        build_demo(service)
        command = [sys.executable, "-m", "scanstation", "--db", db, "--site", "G1"]
        command += ["--mode", "receive", "--station", "GATE-7", "--operator", "op-17"]
        server = subprocess.Popen(
            [*command, "serve", "--port", "0"], stdout=subprocess.PIPE, text=True
        )
        try:
            assert server.stdout is not None
            url = re.search(r"http://\S+/", server.stdout.readline())
            if url is None:
                raise SystemExit("scanstation serve printed no address")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": args.width, "height": args.height})

                def only_this_server(route: Route) -> None:
                    if route.request.url.startswith(url.group(0)):
                        route.continue_()
                    else:
                        route.abort()

                page.route("**/*", only_this_server)
                page.goto(url.group(0))
                page.wait_for_function("document.body.classList.contains('-first-byte')")
                time.sleep(3)  # the database opens after the first paint
                page.click("#terminal")
                page.keyboard.press("/")  # the manual entry field keeps the focus after
                time.sleep(0.6)
                for serial in SCANS:
                    type_scan(page, serial)
                    wait(
                        lambda s=serial: (
                            service.serial(s).stage  # type: ignore[union-attr]
                            is Stage.RECEIVED_AT_GODOWN
                        ),
                        f"{serial} received",
                    )
                time.sleep(2)  # the portlets fill in after the answer
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out))
                browser.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
            service.close()
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
