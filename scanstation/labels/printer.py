"""Sending a print job: raw bytes to `tcp://HOST:PORT` (a Zebra's port 9100) or to a CUPS queue
(`lp -d QUEUE`, raw), each bounded by a timeout.

A job counts as sent only when all of it was handed over: on TCP every byte written, our side
closed, and the printer closing its side (it has read the job) within the timeout; with CUPS,
`lp` accepting the job. A printer that takes the connection and then never reads or answers
is a PrintError after the timeout, never a hang.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from urllib.parse import urlparse

from scanstation.domain.text import visible

__all__ = ["PrintError", "Printer", "parse_printer", "send"]

DEFAULT_PORT = 9100


class PrintError(Exception):
    """The job was not sent whole: nothing may be recorded as printed."""


@dataclass(frozen=True, slots=True)
class Printer:
    kind: str  # "tcp" | "cups"
    target: str  # host:port, or the CUPS queue
    host: str = ""
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        return f"tcp://{self.target}" if self.kind == "tcp" else f"CUPS queue {self.target}"


def parse_printer(dest: str) -> Printer:
    """`tcp://HOST[:PORT]` (port 9100 by default), or a CUPS queue name (`cups://QUEUE` or the
    bare name)."""
    dest = dest.strip()
    if dest.startswith("tcp://"):
        parsed = urlparse(dest)
        try:
            port = parsed.port or DEFAULT_PORT
        except ValueError as error:
            raise PrintError(f"printer {visible(dest)!r}: the port is not a number") from error
        if not parsed.hostname or parsed.path not in ("", "/"):
            raise PrintError(f"printer {visible(dest)!r}: expected tcp://HOST:PORT")
        return Printer("tcp", f"{parsed.hostname}:{port}", parsed.hostname, port)
    queue = dest.removeprefix("cups://")
    if not queue or any(ch.isspace() or not ch.isprintable() for ch in queue) or "/" in queue:
        raise PrintError(
            f"printer {visible(dest)!r}: expected tcp://HOST:PORT or a CUPS queue name"
        )
    return Printer("cups", queue)


def send(printer: Printer, data: bytes, timeout: float, *, raw: bool = True) -> None:
    """Hand `data` to the printer whole within `timeout` seconds, or PrintError. `raw`: the
    bytes are the printer's own language (ZPL); else CUPS converts them (a PDF)."""
    if printer.kind == "tcp":
        _send_tcp(printer, data, timeout)
    else:
        _send_cups(printer, data, timeout, raw)


def _send_tcp(printer: Printer, data: bytes, timeout: float) -> None:
    deadline = time.monotonic() + timeout

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        return remaining

    try:
        with socket.create_connection((printer.host, printer.port), timeout=timeout) as conn:
            view = memoryview(data)
            while view:
                conn.settimeout(left())
                sent = conn.send(view)
                view = view[sent:]
            conn.shutdown(socket.SHUT_WR)
            # The printer closes its side once it has read the job (JetDirect/raw 9100).
            while True:
                conn.settimeout(left())
                if not conn.recv(4096):
                    return
    except TimeoutError as error:
        raise PrintError(
            f"{printer} did not take the job within {timeout:g} s (is it on, online and "
            "not paused?): nothing was marked printed"
        ) from error
    except OSError as error:
        raise PrintError(
            f"{printer}: {error.strerror or error}: nothing was marked printed"
        ) from error


def _send_cups(printer: Printer, data: bytes, timeout: float, raw: bool) -> None:
    lp = shutil.which("lp")
    if lp is None:
        raise PrintError("CUPS's `lp` command is not installed: cannot print to a queue")
    try:
        done = subprocess.run(
            [lp, "-d", printer.target, *(["-o", "raw"] if raw else [])],
            input=data,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise PrintError(
            f"{printer}: lp did not answer within {timeout:g} s: nothing was marked printed"
        ) from error
    if done.returncode != 0:
        why = visible(done.stderr.decode("utf-8", "replace").strip()) or f"exit {done.returncode}"
        raise PrintError(f"{printer}: lp refused the job ({why}): nothing was marked printed")
