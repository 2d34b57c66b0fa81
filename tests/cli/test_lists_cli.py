"""`site list`, `item list`, `doc list`, `doc import` and `export --events` through real
processes: JSON keys (a public contract), FILE:LINE problems, exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.cli import test_cli
from tests.cli.test_cli import generate, run

db = test_cli.db  # the fixture: a database with P1, G1 and PUMP

DOC_KEYS = {
    "reference_no",
    "kind",
    "dc_no",
    "invoice_no",
    "from",
    "to",
    "state",
    "created_at",
    "expected",
    "dispatched",
    "received",
}
EVENT_KEYS = {
    "at",
    "recorded_at",
    "kind",
    "serial_no",
    "mode",
    "from_stage",
    "to_stage",
    "operator",
    "approver",
    "station",
    "site",
    "document",
    "outcome",
    "reason",
    "payload",
}


def json_lines(db: Path, *args: str) -> list[dict[str, object]]:
    result = run(db, *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.isascii()
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_site_and_item_lists(db: Path) -> None:
    assert json_lines(db, "site", "list", "--json") == [
        {"code": "G1", "name": "Mumbai Godown", "kind": "godown"},
        {"code": "P1", "name": "Pune Plant", "kind": "plant"},
    ]
    assert json_lines(db, "item", "list", "--json") == [
        {"sku": "PUMP", "name": "Pump 1HP", "gtin": "08901234500019", "model_no": "MB-100"}
    ]
    table = run(db, "site", "list")
    assert table.returncode == 0 and "Mumbai Godown" in table.stdout


def test_doc_import_then_doc_list(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "reference_no,kind,dc_no,invoice_no,from,to,lines\n"
        "DC-1,dc,,,P1,G1,PUMP=2\n"
        "DC-2,dc,,,P1,G1,PUMP=x\n"
        "INV-\x1b[2J,invoice,,,P1,Shop,PUMP=1\n"
    )
    result = run(db, "doc", "import", str(bad))
    assert result.returncode == 1
    assert f"{bad}:3: line 'PUMP=x' is not SKU=QTY" in result.stderr
    assert f"{bad}:4: " in result.stderr and "\x1b" not in result.stderr
    assert json_lines(db, "doc", "list", "--json") == []  # all or nothing
    good = tmp_path / "good.csv"
    good.write_text(
        "reference_no,kind,dc_no,invoice_no,from,to,lines\n"
        "DC-1,dc,DC-0001,,P1,G1,PUMP=2\n"
        "INV-1,invoice,,INV-0001,G1,Shop,PUMP=1\n"
    )
    result = run(db, "doc", "import", str(good))
    assert result.returncode == 0 and "Imported 2 documents" in result.stdout, result.stderr
    docs = json_lines(db, "doc", "list", "--json")
    assert all(set(d) == DOC_KEYS for d in docs)
    assert [(d["reference_no"], d["state"], d["expected"]) for d in docs] == [
        ("DC-1", "open", 2),
        ("INV-1", "open", 1),
    ]
    assert [
        d["reference_no"] for d in json_lines(db, "doc", "list", "--kind", "invoice", "--json")
    ] == ["INV-1"]
    assert run(db, "doc", "close", "INV-1", "--reason", "cancelled").returncode == 0
    assert [d["reference_no"] for d in json_lines(db, "doc", "list", "--open", "--json")] == [
        "DC-1"
    ]
    assert run(db, "doc", "list", "--site", "NOPE").returncode == 2


def test_export_events_streams_the_audit_trail(db: Path) -> None:
    serials = generate(db, 2)
    for serial, operator in zip(serials, ("asha", "ravi"), strict=True):
        scan = run(db, "scan", "--station", "T-1", "--site", "P1", "--mode", "register",
                   "--operator", operator, serial)  # fmt: skip
        assert scan.returncode == 0, scan.stderr
    events = json_lines(db, "export", "--events", "--format", "json")
    assert all(set(e) == EVENT_KEYS for e in events)
    scans = [e for e in events if e["kind"] == "scan"]
    assert [(e["serial_no"], e["operator"], e["outcome"]) for e in scans] == [
        (serials[0], "asha", "ok"),
        (serials[1], "ravi", "ok"),
    ]
    ravi = json_lines(db, "export", "--events", "--format", "json", "--operator", "ravi")
    assert [e["serial_no"] for e in ravi] == [serials[1]]
    table = run(db, "export", "--events", "--site", "P1")
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert set(rows[0]) == EVENT_KEYS and len(rows) == len([e for e in events if e["site"] == "P1"])
    assert json_lines(db, "export", "--events", "--format", "json", "--since", "2999-01-01") == []
    assert run(db, "export", "--events", "--stage", "Scrapped").returncode == 2
    assert run(db, "export", "--operator", "ravi").returncode == 2
