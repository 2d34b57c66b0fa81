"""Labels and document sheets that scan back: printed to PDF, rendered at a label printer's
203 dpi by poppler's `pdftoppm`, read by `scanstation decode`; ZPL checked field by field; a
fake printer on 127.0.0.1 gets exactly the bytes `--out` writes, and a printer that hangs is a
timeout with nothing recorded as printed."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanstation.domain.codes import parse
from tests.cli.test_cli import db, generate, run  # noqa: F401 - the fixture

needs_pdftoppm = pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed"
)


@pytest.fixture
def signed_run(db: Path) -> list[str]:  # noqa: F811
    """A key pair, then a generation run of 24 serials with signed secondary QR codes."""
    assert run(db, "keys", "init").returncode == 0
    return generate(db, 24)


def _shown(db: Path, serial: str) -> dict[str, object]:  # noqa: F811
    result = run(db, "show", serial, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _exported(db: Path) -> dict[str, dict[str, object]]:  # noqa: F811
    """Every serial's record, in one process (a `show` each is slow on a busy machine)."""
    result = run(db, "export", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {r["serial_no"]: r for r in map(json.loads, result.stdout.splitlines())}


def _decoded(pdf: Path, tmp_path: Path) -> list[dict[str, str]]:
    """Every symbol `scanstation decode --json` reads on the PDF's pages at 203 dpi."""
    prefix = tmp_path / pdf.stem
    subprocess.run(["pdftoppm", "-r", "203", "-png", str(pdf), str(prefix)], check=True)
    pages = sorted(tmp_path.glob(f"{pdf.stem}-*.png"))
    assert pages, "pdftoppm made no pages"
    result = run("/unused.db", "decode", "--json", *map(str, pages))
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@needs_pdftoppm
def test_a_generation_runs_label_sheet_reads_back_exactly(
    db: Path,  # noqa: F811
    signed_run: list[str],
    tmp_path: Path,
) -> None:
    sheet = tmp_path / "labels.pdf"
    made = run(db, "labels", "--generation", "G-000001", "--format", "pdf", "--out", str(sheet))
    assert made.returncode == 0, made.stderr
    assert "nothing is recorded as printed" in made.stdout
    symbols = _decoded(sheet, tmp_path)
    code128 = {s["text"] for s in symbols if s["format"] == "Code128"}
    qrs = {s["text"] for s in symbols if s["format"] == "QRCode"}
    gs1 = set()
    for symbol in symbols:
        if symbol["format"] == "DataMatrix":
            assert symbol["symbology"] == "]d2"  # GS1: FNC1 first
            code = parse(symbol["symbology"] + symbol["text"])
            gs1.add((code.gtin, code.serial))
    assert code128 == set(signed_run)
    assert gs1 == {("08901234500019", serial) for serial in signed_run}
    records = _exported(db)
    assert qrs == {str(records[serial]["secondary_qr"]) for serial in signed_run}
    assert all(qr.startswith("SQ1.") for qr in qrs)
    assert run(db, "verify", sorted(qrs)[0]).returncode == 0  # a read-back QR proves itself
    # A file is no print: nothing was counted.
    assert {records[serial]["print_count"] for serial in signed_run} == {0}


@needs_pdftoppm
def test_a_dc_sheet_carries_its_numbers_as_code_128(db: Path, tmp_path: Path) -> None:  # noqa: F811
    added = run(
        db, "doc", "add", "--kind", "dc", "--reference-no", "REF-77", "--dc-no", "DC-0077",
        "--from", "P1", "--to", "G1", "--line", "PUMP=3",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    sheet = tmp_path / "dc.pdf"
    made = run(db, "doc", "print", "REF-77", "--format", "pdf", "--out", str(sheet))
    assert made.returncode == 0, made.stderr
    code128 = {s["text"] for s in _decoded(sheet, tmp_path) if s["format"] == "Code128"}
    assert code128 == {"REF-77", "DC-0077"}


def _zpl_formats(text: str) -> list[dict[str, str]]:
    """Each ^XA…^XZ format's barcode fields: the command before a ^FD, and its data (^FH
    hex escapes undone)."""
    formats = []
    for block in re.findall(r"\^XA(.*?)\^XZ", text, re.S):
        fields: dict[str, str] = {}
        for command, data in re.findall(r"\^(BC|BX|BQ)[^\^]*(?:\^FH\\)?\^FD(.*?)\^FS", block):
            fields[command] = re.sub(r"\\([0-9A-F]{2})", lambda m: chr(int(m[1], 16)), data)
        fields["BX_params"] = re.search(r"\^BX([^\^]*)", block)[1]  # type: ignore[index]
        formats.append(fields)
    return formats


def test_zpl_fields_carry_the_serials_gs1_and_signed_qr(
    db: Path,  # noqa: F811
    signed_run: list[str],
    tmp_path: Path,
) -> None:
    out, listed = tmp_path / "labels.zpl", tmp_path / "serials.txt"
    listed.write_text("# five of the run\n" + "\n".join(signed_run[:5]) + "\n\n")
    made = run(
        db, "labels", "--serials", str(listed), "--format", "zpl", "--dpi", "300", "--out", str(out)
    )
    assert made.returncode == 0, made.stderr
    formats = _zpl_formats(out.read_text(encoding="utf-8"))
    records = _exported(db)
    assert len(formats) == 5
    for serial, fields in zip(signed_run[:5], formats, strict=True):
        assert fields["BC"] == serial
        # Quality 200, '#' the escape character: '#1' is FNC1, first, so a scanner says ]d2.
        params = fields["BX_params"].split(",")
        assert (params[2], params[6]) == ("200", "#")
        assert fields["BX"] == f"#1010890123450001921{serial}"
        assert fields["BQ"] == f"MA,{records[serial]['secondary_qr']}"


class FakePrinter:
    """A raw port-9100 printer on 127.0.0.1: reads a job to its end, then closes (or, hanging,
    takes the connection and never reads nor answers)."""

    def __init__(self, *, hang: bool = False) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.jobs: list[bytes] = []
        self.hang = hang
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                if self.hang:
                    self._stop.wait(30)
                    continue
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
                self.jobs.append(b"".join(chunks))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.server.close()


@pytest.fixture
def printer() -> Iterator[FakePrinter]:
    fake = FakePrinter()
    yield fake
    fake.close()


@pytest.fixture
def hanging_printer() -> Iterator[FakePrinter]:
    fake = FakePrinter(hang=True)
    yield fake
    fake.close()


def test_a_printer_gets_exactly_the_zpl_and_the_prints_are_recorded(
    db: Path,  # noqa: F811
    signed_run: list[str],
    printer: FakePrinter,
    tmp_path: Path,
) -> None:
    out = tmp_path / "same.zpl"
    args = ("labels", *signed_run[:3], "--format", "zpl")
    assert run(db, *args, "--out", str(out)).returncode == 0
    sent = run(db, *args, "--printer", f"tcp://127.0.0.1:{printer.port}", "--by", "asha")
    assert sent.returncode == 0, sent.stderr
    assert printer.jobs == [out.read_bytes()]
    again = run(
        db, *args[:2], "--format", "zpl", "--printer", f"tcp://127.0.0.1:{printer.port}",
        "--by", "ravi", "--reason", "label torn",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    first, second = _shown(db, signed_run[0]), _shown(db, signed_run[1])
    assert (first["print_count"], second["print_count"]) == (2, 1)
    assert first["printed_at"] is not None
    prints = [e for e in first["events"] if e["outcome"] in ("printed", "reprinted")]  # type: ignore[union-attr]
    assert [(e["outcome"], e["by"], e["comment"]) for e in prints] == [
        ("printed", "asha", None),
        ("reprinted", "ravi", "label torn"),
    ]


def test_a_hanging_printer_times_out_and_nothing_is_marked_printed(
    db: Path,  # noqa: F811
    signed_run: list[str],
    hanging_printer: FakePrinter,
) -> None:
    sent = run(
        db, "labels", signed_run[0], "--format", "zpl",
        "--printer", f"tcp://127.0.0.1:{hanging_printer.port}",
        env={"SCANSTATION_LABELS_PRINTER_TIMEOUT_S": "1"},
    )  # fmt: skip
    assert sent.returncode == 2
    assert "did not take the job within 1 s" in sent.stderr and "Traceback" not in sent.stderr
    shown = _shown(db, signed_run[0])
    assert shown["print_count"] == 0 and shown["printed_at"] is None


def test_a_printer_that_is_not_there_is_a_clear_error(db: Path, signed_run: list[str]) -> None:  # noqa: F811
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    sent = run(
        db, "labels", signed_run[0], "--format", "zpl", "--printer", f"tcp://127.0.0.1:{port}"
    )
    assert sent.returncode == 2 and "nothing was marked printed" in sent.stderr
    assert _shown(db, signed_run[0])["print_count"] == 0


def test_unknown_serials_and_runs_print_nothing(db: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "x.pdf"
    missing = run(db, "labels", "NOPE-1", "--format", "pdf", "--out", str(out))
    assert missing.returncode == 2 and "NOPE-1" in missing.stderr and not out.exists()
    no_run = run(db, "labels", "--generation", "G-999999", "--format", "zpl", "--out", str(out))
    assert no_run.returncode == 2 and "G-999999" in no_run.stderr
    both = run(db, "labels", "X", "--generation", "G-1", "--format", "zpl", "--out", str(out))
    assert both.returncode == 2 and "one way" in both.stderr


def test_with_users_printing_says_who_and_a_run_needs_a_supervisor(
    db: Path,  # noqa: F811
    printer: FakePrinter,
    tmp_path: Path,
) -> None:
    from tests.cli.test_people_cli import ADMIN_PIN, OPERATOR_PIN

    serials = generate(db, 3)
    as_asha = {"SCANSTATION_PIN": ADMIN_PIN}
    assert run(db, "user", "add", "Asha", "--role", "admin").returncode == 0
    assert run(db, "user", "pin", "Asha", "--pin-stdin", stdin=ADMIN_PIN).returncode == 0
    added = run(db, "user", "add", "Ravi", "--role", "operator", "--user", "Asha", env=as_asha)
    assert added.returncode == 0, added.stderr
    pinned = run(
        db, "user", "pin", "Ravi", "--pin-stdin", "--user", "Asha", stdin=OPERATOR_PIN, env=as_asha
    )
    assert pinned.returncode == 0, pinned.stderr
    as_ravi = {"SCANSTATION_PIN": OPERATOR_PIN}
    to_printer = ("--format", "zpl", "--printer", f"tcp://127.0.0.1:{printer.port}")
    whole_run = ("labels", "--generation", "G-000001", *to_printer)

    nobody = run(db, *whole_run)
    assert nobody.returncode == 2 and "--user NAME" in nobody.stderr
    operator = run(db, *whole_run, "--user", "Ravi", env=as_ravi)
    assert operator.returncode == 2
    assert "needs a supervisor; Ravi is an operator" in operator.stderr
    assert printer.jobs == []  # refused before anything was sent
    assert _shown(db, serials[0])["print_count"] == 0

    # A file records nothing, so it asks no one.
    out = tmp_path / "run.zpl"
    assert run(db, "labels", "--generation", "G-000001", "--format", "zpl", "--out", str(out))
    assert out.stat().st_size > 0

    one = run(db, "labels", serials[0], *to_printer, "--user", "ravi", env=as_ravi)
    assert one.returncode == 0, one.stderr
    posing = run(
        db, "labels", serials[1], *to_printer, "--user", "Ravi", "--by", "Asha", env=as_ravi
    )
    assert posing.returncode == 2 and "--by must be the signed-in user" in posing.stderr
    several = run(db, "labels", *serials[:2], *to_printer, "--user", "Ravi", env=as_ravi)
    assert several.returncode == 2 and "needs a supervisor" in several.stderr
    supervisor = run(db, *whole_run, "--user", "Asha", "--reason", "roll jammed", env=as_asha)
    assert supervisor.returncode == 0, supervisor.stderr
    assert len(printer.jobs) == 2 and printer.jobs[1] == out.read_bytes()

    first = _shown(db, serials[0])
    assert first["print_count"] == 2 and _shown(db, serials[2])["print_count"] == 1
    prints = [e for e in first["events"] if e["outcome"] in ("printed", "reprinted")]  # type: ignore[union-attr]
    assert [(e["outcome"], e["by"], e["comment"]) for e in prints] == [
        ("printed", "Ravi", None),
        ("reprinted", "Asha", "roll jammed"),
    ]
