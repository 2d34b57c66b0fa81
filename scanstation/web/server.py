"""The web server behind `scanstation serve`: one station process per browser tab.

textual-serve does the heavy lifting (the page, xterm.js, the websocket protocol, one
subprocess per connection). This module adds what a station server needs on top of it:

- each tab runs the station under its own station id, the configured id plus `-w1`, `-w2`,
  … (the lowest number no open tab holds), so the audit trail shows which tab scanned, and a
  tab that reopens under a freed number replays what an earlier tab left in that id's offline
  journal;
- a page of our own that loads nothing from the internet (textual-serve's page fetches a web
  font from a third party: a plant office may have no internet, and should not be tracked);
- requests must name this server (DNS rebinding) and websockets must come from its own page
  (any web site a supervisor visits could otherwise open a websocket to localhost and scan);
- SIGTERM and SIGINT stop it cleanly: no new tabs, every station asked to quit (it finishes
  what it holds), stragglers ended, exit 0; a port in use is a sentence, not a traceback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import shlex
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

__all__ = ["ServeError", "StationWebServer", "is_loopback", "tab_station_id"]

log = logging.getLogger("scanstation.serve")

PAGE_DIR = Path(__file__).resolve().parent
STATION_ID_MAX = 64  # the events table's station column
QUIT_WAIT_S = 10.0  # a station asked to quit finishes its scans in hand first
TERMINATE_WAIT_S = 3.0
HTTP_SHUTDOWN_S = 2.0  # aiohttp's own wait for requests still running at shutdown


class ServeError(Exception):
    """The server cannot start; the message is a sentence for the person who started it."""


def tab_station_id(base: str, slot: int) -> str:
    """The station id of the tab in `slot`: `BASE-wN`, cut to fit the events' column."""
    suffix = f"-w{slot}"
    return base[: STATION_ID_MAX - len(suffix)] + suffix


def is_loopback(host: str) -> bool:
    """True when `host` names only this machine (127.0.0.0/8, ::1, localhost)."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def _hostname(host_header: str) -> str:
    """The name alone, lower-cased, of a Host header ("name:port", "[::1]:port")."""
    return (urlsplit(f"//{host_header}").hostname or "").lower()


class TabSession(AppService):
    """One browser tab's station process."""

    def __init__(self, station_id: str, command: str, **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self.station_id = station_id

    @property
    def process(self) -> asyncio.subprocess.Process | None:
        # textual-serve keeps the handle private; ending a station that will not quit needs it.
        return self._process

    async def end(self) -> None:
        """Ask the station to quit, then make sure its process is gone (bounded waits)."""
        try:
            await asyncio.wait_for(asyncio.shield(self.stop()), QUIT_WAIT_S)
        except TimeoutError:
            log.warning(
                "station %s did not quit within %.0f s; ending it", self.station_id, QUIT_WAIT_S
            )
        process = self.process
        if process is None:
            return
        # Wait before signalling: a station that has just closed its output is exiting, and
        # terminate() would reap it behind asyncio's back ("Unknown child process").
        for end_it in (None, process.terminate, process.kill):
            try:
                if end_it is not None:
                    end_it()
                await asyncio.wait_for(process.wait(), TERMINATE_WAIT_S)
                return
            except ProcessLookupError:
                return
            except TimeoutError:
                continue


@dataclass
class _Tab:
    session: TabSession
    websocket: web.WebSocketResponse


class StationWebServer(Server):
    """Serve the station: `station_argv` is the station command without `--station`."""

    def __init__(
        self,
        station_argv: Sequence[str],
        *,
        station_base: str,
        host: str,
        port: int,
        public_url: str | None = None,
        title: str = "scanstation",
        announce: Callable[[str], None] = print,
    ) -> None:
        super().__init__(
            "scanstation",
            host=host,
            port=port,
            title=title,
            public_url=public_url.rstrip("/") if public_url else None,
            templates_path=PAGE_DIR,
        )
        self.station_argv = list(station_argv)
        self.station_base = station_base
        self.explicit_public_url = public_url is not None
        self.announce = announce
        self.tabs: dict[int, _Tab] = {}
        self.closing = False
        self._allowed_hosts = {"localhost", socket.gethostname().lower()}
        if public_url:
            self._allowed_hosts.add((urlsplit(public_url).hostname or "").lower())

    # -- starting and stopping ------------------------------------------------------------------

    def initialize_logging(self) -> None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        for name in ("scanstation.serve", "textual-serve"):
            logger = logging.getLogger(name)
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT; ServeError when it cannot start."""
        self.initialize_logging()
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)
        runner = web.AppRunner(
            await self._make_app(),
            handle_signals=False,
            access_log=None,
            shutdown_timeout=HTTP_SHUTDOWN_S,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            raise ServeError(self._bind_failure(error)) from None
        self.port = runner.addresses[0][1]  # the port bound when 0 asked for any free one
        if not self.explicit_public_url:
            host = f"[{self.host}]" if ":" in self.host else self.host
            self.public_url = f"http://{host}:{self.port}"
        self.announce(f"{self.public_url}/")
        try:
            await stop.wait()
        finally:
            self.closing = True
            log.info("stopping: ending %d station session(s)", len(self.tabs))
            await site.stop()
            await self._end_tabs()
            await runner.cleanup()

    def _bind_failure(self, error: OSError) -> str:
        import errno

        where = f"{self.host} port {self.port}"
        if error.errno == errno.EADDRINUSE:
            return f"{where} is already in use: stop what uses it, or pick another with --port"
        if error.errno == errno.EACCES:
            return f"not allowed to listen on {where} (ports below 1024 need root): use --port"
        if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
            return f"cannot listen on {self.host}: it is not an address of this machine"
        return f"cannot listen on {where}: {error.strerror or error}"

    async def _end_tabs(self) -> None:
        tabs = list(self.tabs.values())
        await asyncio.gather(*(tab.session.end() for tab in tabs), return_exceptions=True)
        for tab in tabs:
            await tab.websocket.close()

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a banner here; `scanstation serve` says where it listens."""

    # -- who may connect ------------------------------------------------------------------------

    def _host_refused(self, request: web.Request) -> web.Response | None:
        """Only names of this server: a page elsewhere whose name resolves here is refused."""
        name = _hostname(request.host)
        try:
            ipaddress.ip_address(name)
            return None
        except ValueError:
            pass
        if name in self._allowed_hosts:
            return None
        return web.Response(
            status=421,
            text=f"This station server does not answer to the name {name!r}. Start it with "
            "--public-url naming the address browsers use.\n",
        )

    def _origin_refused(self, request: web.Request) -> web.Response | None:
        """A websocket must come from this server's own page, not from any site a browser has
        open (browsers let every page open websockets anywhere)."""
        origin = request.headers.get("Origin")
        if origin is None:
            return None  # not a browser: it can reach the port directly anyway
        origin_host = (urlsplit(origin).hostname or "").lower()
        ours = {_hostname(request.host), (urlsplit(self.public_url).hostname or "").lower()}
        if origin_host in ours:
            return None
        return web.Response(status=403, text="A station session opens only from its own page.\n")

    # -- the page and the sessions --------------------------------------------------------------

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        refused = self._host_refused(request)
        if refused is not None:
            return refused
        base = self.public_url if self.explicit_public_url else f"http://{request.host}"
        scheme = "wss" if base.startswith("https:") else "ws"
        context = {
            "title": self.title,
            "static_url": "/static/" if not self.explicit_public_url else f"{base}/static/",
            "websocket_url": f"{scheme}:{base.split(':', 1)[1]}/ws",
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
        }
        return aiohttp_jinja2.render_template("station.html", request, context)

    def _free_slot(self) -> int:
        slot = 1
        while slot in self.tabs:
            slot += 1
        return slot

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        refused = self._host_refused(request) or self._origin_refused(request)
        if refused is not None:
            return refused
        if self.closing:
            return web.Response(status=503, text="The station server is stopping.\n")
        slot = self._free_slot()
        station_id = tab_station_id(self.station_base, slot)
        command = "exec " + shlex.join([*self.station_argv, "--station", station_id])
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        session = TabSession(
            station_id,
            command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
        )
        self.tabs[slot] = _Tab(session, websocket)
        log.info("tab opened from %s: station %s", request.remote, station_id)
        try:
            await session.start(
                to_int(request.query.get("width", "80"), 80),
                to_int(request.query.get("height", "24"), 24),
            )
            await self._process_messages(websocket, session)
        except asyncio.CancelledError:
            pass
        except Exception as error:  # a broken client message ends its tab, not the server
            log.warning("tab %s: %s", station_id, error)
        finally:
            await session.end()
            del self.tabs[slot]
            await websocket.close()
            log.info("tab closed: station %s", station_id)
        return websocket
