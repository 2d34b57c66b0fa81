"""Lists, the document import and the audit trail on SQLite and PostgreSQL (the `service`
fixture runs each test on both), against contents the test made and counts here."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.reports import ReportFilter
from scanstation.domain.stages import Mode
from scanstation.service import ServiceError, StationService
from tests.conftest import station

HEADER = "reference_no,kind,dc_no,invoice_no,from,to,lines\n"


def write(tmp_path: Path, body: str | bytes) -> Path:
    path = tmp_path / "docs.csv"
    data = body if isinstance(body, bytes) else body.encode()
    path.write_bytes(HEADER.encode() + data)
    return path


def test_items_are_listed_by_sku(service: StationService) -> None:
    assert [(i.sku, i.gtin) for i in service.items()] == [
        ("FAN", "08901234500040"),
        ("PUMP", "08901234500019"),
    ]


def test_document_import_opens_every_document_of_the_file(
    service: StationService, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "DC-7,dc,DC-0007,,P1,G2,PUMP=4;FAN=2\n"
        '"INV-7",invoice,,INV-0007,G1,"Gupta & Sons, Pune",PUMP=1\n',
    )
    report = service.import_documents(path)
    assert (report.rows, report.problems, report.written) == (2, (), True)
    dc = service.document("DC-7")
    assert dc is not None and [(ln.sku, ln.quantity) for ln in dc.lines] == [
        ("PUMP", 4),
        ("FAN", 2),
    ]
    invoice = service.document("INV-7")
    assert invoice is not None and invoice.destination == "Gupta & Sons, Pune"
    assert service.import_documents(path).problems[0].message == "document DC-7 already exists"


def test_document_import_is_all_or_nothing_with_every_problem_at_its_line(
    service: StationService, tmp_path: Path
) -> None:
    before = [s.reference_no for _, s in service.document_list()]
    path = write(
        tmp_path,
        "DC-8,dc,,,P1,G1,PUMP=1\n"  # 2: fine
        "DC-9,memo,,,P1,G1,PUMP=1\n"  # 3
        "DC-10,dc,,,P1,G1,NOSUCH=1\n"  # 4
        "DC-11,dc,,,G1,G2,PUMP=1\n"  # 5: a DC from a godown
        "DC-8,dc,,,P1,G1,FAN=1\n"  # 6: repeats line 2
        "DC-1,dc,,,P1,G1,FAN=1\n"  # 7: exists
        "DC-12,dc,,,P1,G1,PUMP=many\n"  # 8
        "DC-13,dc,,,P1\n"  # 9
        "\n"
        "DC-14,dc,,,P1,G1,PUMP=0\n",  # 11
    )
    report = service.import_documents(path)
    assert not report.written
    assert [p.line for p in report.problems] == [3, 4, 5, 6, 7, 8, 9, 11]
    messages = [p.message for p in report.problems]
    assert "kind 'memo' is not dc or invoice" in messages[0]
    assert "NOSUCH" in messages[1] and "repeats line 2" in messages[3]
    assert [s.reference_no for _, s in service.document_list()] == before  # nothing written
    assert service.document("DC-8") is None


def test_document_list_shows_progress_and_filters(service: StationService) -> None:
    for n in (1, 2, 3):
        serial = f"SN{n:010d}"
        for mode in (Mode.REGISTER, Mode.VALIDATE):
            service.scan(ScanEvent(serial), station("P1", mode))
        service.scan(ScanEvent(serial), station("P1", Mode.DISPATCH, document="DC-1"))
    received = service.scan(ScanEvent("SN0000000001"), station("G1", Mode.RECEIVE))
    assert received.kind is OutcomeKind.OK
    found = {s.reference_no: s for _, s in service.document_list()}
    dc = found["DC-1"]
    assert (dc.expected, dc.dispatched, dc.received, dc.state) == (3, 3, 1, "open")
    assert (found["INV-1"].destination, found["INV-1"].dispatched) == ("Sharma Traders", 0)
    assert [s.reference_no for _, s in service.document_list(kind="invoice")] == ["INV-1"]
    assert [s.reference_no for _, s in service.document_list(site="P1")] == ["DC-1"]
    assert [s.reference_no for _, s in service.document_list(search="sharma")] == ["INV-1"]
    first = service.document_list(limit=1)
    rest = service.document_list(after_id=first[-1][0], limit=1)
    assert [s.reference_no for _, s in first + rest] == ["DC-1", "INV-1"]
    with pytest.raises(ServiceError, match="Unknown site"):
        service.document_list(site="NOWHERE")


def test_audit_events_in_recorded_order_with_filters(service: StationService) -> None:
    service.scan(ScanEvent("SN0000000001"), station("P1", Mode.REGISTER, operator="asha"))
    service.scan(ScanEvent("SN0000000002"), station("P1", Mode.REGISTER, operator="ravi"))
    service.scan(ScanEvent("NOBODY-1"), station("P1", Mode.REGISTER, operator="ravi"))
    every = list(service.audit_events(ReportFilter()))
    scans = [e for e in every if e.kind == "scan"]
    assert [(e.serial_no, e.operator, e.outcome) for e in scans] == [
        ("SN0000000001", "asha", "ok"),
        ("SN0000000002", "ravi", "ok"),
        (None, "ravi", "unknown"),
    ]
    assert all(e.station == "T-1" and e.site == "P1" for e in scans)
    ravi = list(service.audit_events(ReportFilter(), operator="ravi"))
    assert [e.payload for e in ravi] == ["SN0000000002", "NOBODY-1"]
    assert list(service.audit_events(ReportFilter(site="G2"))) == []
