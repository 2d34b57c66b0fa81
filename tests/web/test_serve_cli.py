"""`scanstation serve` as a process, without a browser: where it listens, who it answers, the
sentences it gives instead of tracebacks, and a clean stop with a station session open."""

from __future__ import annotations

import asyncio
import http.client
import signal
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import aiohttp

from scanstation.web.server import STATION_ID_MAX, is_loopback, tab_station_id
from tests.web.conftest import Served, station_processes, wait_until


def run_serve(db_url: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scanstation", "--db", db_url, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def get(url: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_tab_station_ids_are_numbered_and_fit_the_events_column() -> None:
    assert tab_station_id("GATE-7", 1) == "GATE-7-w1"
    long_id = tab_station_id("X" * 64, 12)
    assert len(long_id) == STATION_ID_MAX and long_id.endswith("-w12")


def test_loopback_addresses() -> None:
    for host in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.20"):
        assert not is_loopback(host), host


def test_a_port_in_use_is_a_sentence_and_exit_2(small_db: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_serve(small_db, "--site", "P1", "serve", "--port", str(port))
    assert result.returncode == 2
    assert f"127.0.0.1 port {port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_station_that_could_not_start_is_refused_before_serving(small_db: str) -> None:
    no_site = run_serve(small_db, "serve", "--port", "0")
    assert no_site.returncode == 2 and "needs a site" in no_site.stderr
    unknown = run_serve(small_db, "--site", "X9", "serve", "--port", "0")
    assert unknown.returncode == 2
    assert "'X9'" in unknown.stderr and "P1" in unknown.stderr  # names the known sites
    bad_url = run_serve(small_db, "--site", "P1", "serve", "--public-url", "scan.example.com")
    assert bad_url.returncode == 2 and "--public-url" in bad_url.stderr
    for result in (no_site, unknown, bad_url):
        assert "Traceback" not in result.stderr


def test_localhost_by_default_and_a_warning_for_other_addresses(small_db: str) -> None:
    local = Served([sys.executable, "-m", "scanstation", "--db", small_db, "--site", "P1",
                    "serve", "--port", "0"])  # fmt: skip
    try:
        assert local.url().startswith("http://127.0.0.1:")
        assert local.stop(signal.SIGINT) < 20 and local.proc.returncode == 0
        assert "warning" not in local.errors()
    finally:
        local.kill()
    everywhere = Served([sys.executable, "-m", "scanstation", "--db", small_db, "--site", "P1",
                         "serve", "--host", "0.0.0.0", "--port", "0"])  # fmt: skip
    try:
        everywhere.url()
        everywhere.stop(signal.SIGTERM)
        assert everywhere.proc.returncode == 0
        errors = everywhere.errors()
        assert "warning: serving on 0.0.0.0" in errors and "reverse proxy" in errors
        assert "Traceback" not in errors
    finally:
        everywhere.kill()


def test_the_page_loads_nothing_from_elsewhere_and_answers_only_its_own_names(
    serve: Served,
) -> None:
    url = serve.url()
    status, page = get(url, "/", {})
    assert status == 200
    assert "ws://127.0.0.1:" in page and "/static/js/textual.js" in page
    assert "googleapis" not in page and "https://" not in page
    # DNS rebinding: a page at another name that resolves here gets nothing.
    status, text = get(url, "/", {"Host": "evil.example"})
    assert status == 421 and "--public-url" in text
    # Cross-site websocket: another site's page may not open a station session.
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Origin": "http://evil.example",
    }
    status, _ = get(url, "/ws", upgrade)
    assert status == 403


async def _open_session(url: str, station_base: str) -> tuple[aiohttp.ClientSession, object]:
    client = aiohttp.ClientSession()
    websocket = await client.ws_connect(
        f"{url.replace('http', 'ws', 1)}ws?width=100&height=30", origin=url.rstrip("/")
    )
    received = 0
    async with asyncio.timeout(60):
        while received < 2000:  # the station's first screen, drawn
            message = await websocket.receive()
            assert message.type == aiohttp.WSMsgType.BINARY, message
            received += len(message.data)
    return client, websocket


def test_sigterm_ends_open_station_sessions_and_exits_0(serve: Served, station_base: str) -> None:
    url = serve.url()

    async def scenario() -> None:
        client, websocket = await _open_session(url, station_base)
        try:
            assert len(station_processes(station_base)) == 1
            serve.stop(signal.SIGTERM, timeout=20)
            assert serve.proc.returncode == 0
        finally:
            await websocket.close()  # type: ignore[attr-defined]
            await client.close()

    asyncio.run(scenario())
    wait_until(lambda: not station_processes(station_base), "the station session to end", 10)
    errors = serve.errors()
    assert f"station {station_base}-w1" in errors  # the log names the tab's station
    assert "Traceback" not in errors and "Unknown child process" not in errors
