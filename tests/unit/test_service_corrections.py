"""Putting mistakes right through the service, on SQLite and PostgreSQL: a return frees its
invoice line, a worker voids their own last scan, a closed document is reopened; and a DC's
arrivals (received per line, serials still missing)."""

from __future__ import annotations

import pytest

from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode, Stage
from scanstation.service import ServiceError, StationService
from tests.conftest import station
from tests.unit.test_service import TO_GODOWN, TO_VALIDATED, move, scan

SN1, SN2, SN3 = "SN0000000001", "SN0000000002", "SN0000000003"
AT_G1 = station("G1", Mode.RECEIVE)
OP1_AT_P1 = station("P1", Mode.LOOKUP)


def line(service: StationService, reference_no: str) -> tuple[int, int]:
    """(scanned, received) of the document's only line."""
    progress = service.document_progress(reference_no)
    assert progress is not None
    (first,) = progress.document.lines
    return first.scanned, progress.received(first)


def sold(service: StationService, *serials: str) -> None:
    """The serials are dispatched on INV-1 (2 PUMP, to a customer) from G1."""
    for serial in serials:
        move(service, serial, *TO_GODOWN, ("G1", Mode.DISPATCH, {"document": "INV-1"}))


# --- a return frees its line ------------------------------------------------------------------


def test_a_return_citing_the_invoice_frees_its_line(service: StationService) -> None:
    sold(service, SN1, SN2)
    assert line(service, "INV-1")[0] == 2
    back = scan(service, SN2, station("G1", Mode.RECEIVE, document="INV-1"))
    assert back.kind is OutcomeKind.OK and "returned on INV-1" in back.message
    assert line(service, "INV-1")[0] == 1
    progress = service.document_progress("INV-1")
    assert progress is not None
    assert [r.serial_no for r in progress.returns] == [SN2]
    # The line can be filled again: the returned unit goes out once more (2/2, not 3/2).
    again = scan(service, SN2, station("G1", Mode.DISPATCH, document="INV-1"))
    assert again.kind is OutcomeKind.OK and "(2/2)" in again.message
    assert line(service, "INV-1")[0] == 2


def test_a_customer_return_by_override_frees_the_line_too(service: StationService) -> None:
    sold(service, SN1)
    back = scan(service, SN1, station("G1", Mode.RECEIVE, reason="came back without papers"))
    assert back.kind is OutcomeKind.OK
    assert line(service, "INV-1")[0] == 0
    assert [r.serial_no for r in service.document_progress("INV-1").returns] == [SN1]  # type: ignore[union-attr]


# --- void -------------------------------------------------------------------------------------


def test_voiding_a_dispatch_frees_the_line_and_is_an_event_of_its_own(
    service: StationService,
) -> None:
    move(service, SN1, *TO_VALIDATED, ("P1", Mode.DISPATCH, {"document": "DC-1"}))
    assert line(service, "DC-1") == (1, 0)
    events = service.info()["events"]
    undone = service.void(SN1, OP1_AT_P1, reason="wrong truck")
    assert undone.kind is OutcomeKind.OK, undone.message
    assert (undone.stage_before, undone.stage_after) == (
        Stage.DISPATCHED_FROM_PLANT,
        Stage.VALIDATED,
    )
    assert undone.message == f"{SN1}'s last change is voided — now Validated at Plant"
    view = service.serial(SN1)
    assert view is not None and view.stage is Stage.VALIDATED and view.document is None
    assert line(service, "DC-1") == (0, 0)
    assert service.info()["events"] == events + 1  # nothing deleted, one event added
    history = service.events(SN1)
    assert [e.mode for e in history][-2:] == ["dispatch", "void"]
    assert history[-1].comment == "wrong truck" and history[-1].document == "DC-1"
    # Scanned again, it fills the freed line.
    assert "(1/3)" in scan(service, SN1, station("P1", Mode.DISPATCH, document="DC-1")).message


def test_a_void_is_voided_never_twice(service: StationService) -> None:
    move(service, SN1, ("P1", Mode.REGISTER, {}))
    assert service.void(SN1, OP1_AT_P1).kind is OutcomeKind.OK
    again = service.void(SN1, OP1_AT_P1)
    assert again.kind is OutcomeKind.REJECTED
    assert "was a void already; scan SN0000000001 again" in again.message
    assert service.serial(SN1).stage is Stage.NOT_REGISTERED  # type: ignore[union-attr]


def test_only_your_own_recent_scan_can_be_voided(service: StationService) -> None:
    move(service, SN1, ("P1", Mode.REGISTER, {}))
    other = service.void(SN1, station("P1", Mode.LOOKUP, operator="op-2"))
    assert other.kind is OutcomeKind.REJECTED
    assert "scanned by op-1, not by op-2" in other.message
    late = service.void(SN1, OP1_AT_P1, window_s=1e-9)
    assert late.kind is OutcomeKind.REJECTED and "older than" in late.message
    assert service.serial(SN1).stage is Stage.REGISTERED  # type: ignore[union-attr]


def test_only_the_latest_change_can_be_voided(service: StationService) -> None:
    move(service, SN1, *TO_VALIDATED)
    first = service.events(SN1)[0]
    assert first.event_id is not None
    refused = service.void(SN1, OP1_AT_P1, event_id=first.event_id)
    assert refused.kind is OutcomeKind.REJECTED and "latest change" in refused.message
    latest = service.events(SN1)[-1].event_id
    assert service.void(SN1, OP1_AT_P1, event_id=latest).kind is OutcomeKind.OK


def test_voiding_a_receive_puts_the_unit_back_in_transit_and_missing(
    service: StationService,
) -> None:
    move(service, SN1, *TO_GODOWN)
    assert line(service, "DC-1") == (1, 1)
    undone = service.void(SN1, station("G1", Mode.LOOKUP))
    assert undone.kind is OutcomeKind.OK, undone.message
    view = service.serial(SN1)
    assert view is not None and view.stage is Stage.DISPATCHED_FROM_PLANT and view.site == "P1"
    assert line(service, "DC-1") == (1, 0)
    assert service.document_progress("DC-1").missing == ((SN1, "PUMP"),)  # type: ignore[union-attr]
    assert scan(service, SN1, AT_G1).kind is OutcomeKind.OK  # received again at G1


def test_voiding_a_godown_dispatch_puts_the_unit_back_on_its_dc(service: StationService) -> None:
    sold(service, SN1)
    assert service.void(SN1, station("G1", Mode.LOOKUP)).kind is OutcomeKind.OK
    view = service.serial(SN1)
    assert view is not None and view.stage is Stage.RECEIVED_AT_GODOWN
    assert view.document == "DC-1" and view.site == "G1"
    assert line(service, "INV-1")[0] == 0


def test_voiding_a_return_counts_it_on_the_invoice_again(service: StationService) -> None:
    sold(service, SN1)
    move(service, SN1, ("G1", Mode.RECEIVE, {"document": "INV-1"}))
    assert line(service, "INV-1")[0] == 0
    undone = service.void(SN1, station("G1", Mode.LOOKUP))
    assert undone.kind is OutcomeKind.OK and undone.stage_after is Stage.DISPATCHED_FROM_GODOWN
    assert line(service, "INV-1")[0] == 1
    assert service.document_progress("INV-1").returns == ()  # type: ignore[union-attr]


def test_a_retried_void_applies_once(service: StationService) -> None:
    move(service, SN1, ("P1", Mode.REGISTER, {}))
    first = service.void(SN1, OP1_AT_P1, request_id="void-1")
    events = service.info()["events"]
    retry = service.void(SN1, OP1_AT_P1, request_id="void-1")
    assert first.kind is OutcomeKind.OK and retry.kind is OutcomeKind.ALREADY
    assert service.info()["events"] == events


def test_an_unknown_serial_or_one_never_scanned(service: StationService) -> None:
    assert service.void("NOPE", OP1_AT_P1).kind is OutcomeKind.UNKNOWN
    never = service.void(SN1, OP1_AT_P1)
    assert never.kind is OutcomeKind.REJECTED
    assert never.message == f"{SN1} has no scan to void"


# --- closing and reopening --------------------------------------------------------------------


def test_close_short_needs_a_reason_in_the_workers_words(service: StationService) -> None:
    with pytest.raises(ServiceError, match=r"DC-1 is 3 short: closing it needs a reason \(F4"):
        service.close_document("DC-1")
    assert service.close_document("DC-1", reason="truck full").state == "closed"


def test_a_closed_document_is_reopened_with_a_reason(service: StationService) -> None:
    service.close_document("DC-1", reason="truck full")
    move(service, SN1, *TO_VALIDATED)
    assert scan(service, SN1, station("P1", Mode.DISPATCH, document="DC-1")).kind is (
        OutcomeKind.REJECTED
    )
    with pytest.raises(ServiceError, match="Reopening DC-1 needs a reason"):
        service.reopen_document("DC-1", " ")
    reopened = service.reopen_document("DC-1", "second truck came", by="sup-1")
    assert reopened.is_open and reopened.closed_reason is None
    assert scan(service, SN1, station("P1", Mode.DISPATCH, document="DC-1")).kind is (
        OutcomeKind.OK
    )
    with pytest.raises(ServiceError, match="DC-1 is open already"):
        service.reopen_document("DC-1", "again")


# --- a DC's arrivals --------------------------------------------------------------------------


def test_a_dc_shows_received_per_line_and_what_is_missing(service: StationService) -> None:
    for serial in (SN1, SN2, SN3):
        move(service, serial, *TO_VALIDATED, ("P1", Mode.DISPATCH, {"document": "DC-1"}))
    move(service, SN2, ("G1", Mode.RECEIVE, {}))
    assert line(service, "DC-1") == (3, 1)
    progress = service.document_progress("DC-1")
    assert progress is not None
    assert progress.missing == ((SN1, "PUMP"), (SN3, "PUMP"))
