"""One limit table for both databases (issue 11, finding 8): every text and number the service
writes is checked against `scanstation.domain.limits` and refused with a sentence naming the
field and the limit, before anything reaches the database. PostgreSQL used to raise
StringDataRightTruncation (an operator of 101 characters made every scan NOT SAVED, retried
forever, blocking every scan behind it); SQLite stored anything."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scanstation.domain import limits
from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import DocumentKind, Mode, SiteKind
from scanstation.service import ServiceError, StationService, StationSetup
from tests.conftest import station

LONG = "x" * 5000


def _counts(service: StationService) -> dict[str, object]:
    info = service.info()
    return {key: info[key] for key in ("sites", "items", "serials", "documents", "events")}


def _doc(service: StationService, **overrides: object) -> Callable[[], object]:
    fields: dict[str, object] = {
        "kind": DocumentKind.DC,
        "reference_no": "DC-9",
        "from_site": "P1",
        "to": "G1",
        "lines": [("PUMP", 1)],
    }
    fields.update(overrides)
    return lambda: service.add_document(**fields)  # type: ignore[arg-type]


CASES: list[tuple[str, Callable[[StationService], Callable[[], object]], str]] = [
    (
        "operator of 101 characters",
        lambda s: (
            lambda: s.scan(
                ScanEvent("SN0000000001"), StationSetup("T-1", "P1", Mode.REGISTER, "o" * 101)
            )
        ),
        "The operator name is 101 characters long; at most 100 are allowed",
    ),
    (
        "station id of 65 characters",
        lambda s: (
            lambda: s.scan(
                ScanEvent("SN0000000001"), StationSetup("S" * 65, "P1", Mode.REGISTER, "op")
            )
        ),
        "The station id is 65 characters long; at most 64 are allowed",
    ),
    (
        "NUL in the operator",
        lambda s: (
            lambda: s.scan(
                ScanEvent("SN0000000001"), StationSetup("T-1", "P1", Mode.REGISTER, "op\x00")
            )
        ),
        "The operator name contains a NUL character",
    ),
    (
        "undecodable bytes in the station id",
        lambda s: (
            lambda: s.scan(
                ScanEvent("SN0000000001"), StationSetup("T-\udcff", "P1", Mode.REGISTER, "op")
            )
        ),
        "The station id is not valid UTF-8 text",
    ),
    (
        "reason of 5000 characters",
        lambda s: lambda: s.scan(ScanEvent("SN0000000001"), station(mode=Mode.SCRAP, reason=LONG)),
        "The reason is 5,000 characters long; at most 500 are allowed",
    ),
    (
        "scan id of 65 characters",
        lambda s: lambda: s.scan(ScanEvent("SN0000000001", scan_id="i" * 65), station()),
        "The request id is 65 characters long",
    ),
    (
        "site name of 201 characters",
        lambda s: lambda: s.add_site("P9", "n" * 201, SiteKind.PLANT),
        "The site name is 201 characters long; at most 200 are allowed",
    ),
    (
        "NUL in a site name",
        lambda s: lambda: s.add_site("P9", "Pune\x00", SiteKind.PLANT),
        "The site name contains a NUL character",
    ),
    (
        "SKU of 65 characters",
        lambda s: lambda: s.add_item("K" * 65, "Pump"),
        "The SKU is 65 characters long; at most 64 are allowed",
    ),
    (
        "item name of 201 characters",
        lambda s: lambda: s.add_item("K9", "n" * 201),
        "The item name is 201 characters long",
    ),
    (
        "model of 65 characters",
        lambda s: lambda: s.add_item("K9", "Pump", model_no="m" * 65),
        "The model is 65 characters long",
    ),
    (
        "reference no of 65 characters",
        lambda s: _doc(s, reference_no="R" * 65),
        "The reference no is 65 characters long; at most 64 are allowed",
    ),
    (
        "DC no of 65 characters",
        lambda s: _doc(s, dc_no="D" * 65),
        "The DC no is 65 characters long",
    ),
    (
        "invoice no with a NUL",
        lambda s: _doc(s, invoice_no="I\x00"),
        "The invoice no contains a NUL character",
    ),
    (
        "quantity of 2**31",
        lambda s: _doc(s, lines=[("PUMP", 2**31)]),
        "is 2,147,483,648; at most 2,147,483,647 is allowed",
    ),
    (
        "customer name of 201 characters",
        lambda s: _doc(s, kind=DocumentKind.INVOICE, from_site="G1", to="c" * 201),
        "The destination name is 201 characters long",
    ),
    (
        "comment of 5000 characters",
        lambda s: lambda: s.comment("SN0000000001", LONG, station()),
        "The comment is 5,000 characters long; at most 2,000 are allowed",
    ),
    (
        "operator of a comment with 101 characters",
        lambda s: lambda: s.comment("SN0000000001", "ok", station(operator="o" * 101)),
        "The operator name is 101 characters long",
    ),
    (
        "closing reason of 5000 characters",
        lambda s: lambda: s.close_document("DC-1", reason=LONG),
        "The reason is 5,000 characters long",
    ),
    (
        "generation run by an operator of 101 characters",
        lambda s: lambda: s.generate("PUMP", 1, "P1", by="o" * 101),
        "The operator name is 101 characters long",
    ),
    (
        "request id of 65 characters",
        lambda s: lambda: s.generate("PUMP", 1, "P1", request_id="r" * 65),
        "The request id is 65 characters long",
    ),
]


@pytest.mark.parametrize(("what", "make", "sentence"), CASES, ids=[c[0] for c in CASES])
def test_a_value_beyond_the_limit_table_is_a_sentence_and_writes_nothing(
    service: StationService,
    what: str,
    make: Callable[[StationService], Callable[[], object]],
    sentence: str,
) -> None:
    before = _counts(service)
    with pytest.raises(ServiceError) as raised:
        make(service)()
    assert sentence in str(raised.value)
    assert _counts(service) == before


def test_a_refused_setup_never_blocks_the_scans_behind_it(service: StationService) -> None:
    """The 101-character operator is refused at once, every time; the next scan with a good
    setup is recorded as usual."""
    bad = StationSetup("T-1", "P1", Mode.REGISTER, "o" * 101)
    for _ in range(3):
        with pytest.raises(ServiceError):
            service.scan(ScanEvent("SN0000000001"), bad)
    good = service.scan(ScanEvent("SN0000000002"), station())
    assert good.kind is OutcomeKind.OK


def test_the_limits_fit_exactly(service: StationService) -> None:
    """A value of exactly the limit is stored whole on both databases."""
    operator = "o" * limits.OPERATOR.max_length
    station_id = "S" * limits.STATION_ID.max_length
    outcome = service.scan(
        ScanEvent("SN0000000003"), StationSetup(station_id, "P1", Mode.REGISTER, operator)
    )
    assert outcome.kind is OutcomeKind.OK
    event = service.events("SN0000000003")[-1]
    assert (event.by, event.station) == (operator, station_id)
    service.add_site("P" * 32, "n" * 200, SiteKind.GODOWN)
    service.add_item("K" * 64, "n" * 200, model_no="m" * 64)
    document = service.add_document(
        kind=DocumentKind.INVOICE,
        reference_no="R" * 64,
        from_site="G1",
        to="c" * 200,
        lines=[("PUMP", limits.MAX_QUANTITY)],
        dc_no="D" * 64,
        invoice_no="I" * 64,
    )
    assert document.lines[0].quantity == 2**31 - 1 and document.to_name == "c" * 200
    comment = service.comment("SN0000000003", "c" * limits.COMMENT.max_length, station())
    assert comment.comment == "c" * 2000


def test_lookups_of_impossible_keys_find_nothing(service: StationService) -> None:
    for key in ("SN\x00", "x" * 5000, "SN\udcff"):
        assert service.serial(key) is None
        assert service.events(key) == []
        assert service.document(key) is None
        assert service.item(key) is None


def test_column_sizes_come_from_the_limit_table(tmp_path: Path) -> None:
    """tables.py sizes each column from the same numbers the service checks."""
    from scanstation.store.repository import Repository

    repo = Repository.open(str(tmp_path / "a.db"), create=True)
    t = repo.t
    assert t.event.operator.max_length == limits.OPERATOR.max_length
    assert t.event.station.max_length == limits.STATION_ID.max_length
    assert t.document.reference_no.max_length == limits.REFERENCE_NO.max_length
    assert t.generation_run.generation_no.max_length == limits.GENERATION_NO.max_length
    assert t.serial.secondary_qr.max_length == limits.SECONDARY_QR.max_length
    assert t.site.name.max_length == limits.SITE_NAME.max_length
    repo.close()
