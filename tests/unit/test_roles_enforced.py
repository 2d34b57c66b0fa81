"""Roles enforced by the service on SQLite and PostgreSQL once the database has users: an
operator's scrap is refused (and recorded as refused), a supervisor's approval lets it pass
and the event names both, nothing is applied anonymously, closing short needs a supervisor,
and the events table refuses UPDATE and DELETE in the database itself."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import psycopg2
import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.reports import ReportFilter
from scanstation.domain.roles import Role
from scanstation.domain.stages import Mode, Stage
from scanstation.service import ServiceError, StationService
from tests.conftest import secret, station
from tests.unit.test_people import ADMIN_PIN, OPERATOR_PIN, _people

SUPERVISOR_PIN = secret("846213579024")


@pytest.fixture
def staffed(service: StationService) -> StationService:
    """The small database with an admin, an operator (Ravi) and a supervisor (Meena)."""
    _people(service)
    admin = service.authenticate("Asha", ADMIN_PIN)
    service.add_user("Meena", Role.SUPERVISOR, by=admin)
    service.set_pin("Meena", SUPERVISOR_PIN, by=admin)
    return service


def _as(service: StationService, name: str, pin: str, mode: Mode, **kw: object):  # type: ignore[no-untyped-def]
    user = service.authenticate(name, pin)
    return replace(station(mode=mode, **kw), operator=user.name, role=user.role)


def test_an_operators_scrap_is_refused_and_recorded(staffed: StationService) -> None:
    setup = _as(staffed, "Ravi", OPERATOR_PIN, Mode.SCRAP, reason="dropped")
    refused = staffed.scan(ScanEvent("SN0000000005"), setup)
    assert refused.kind is OutcomeKind.REJECTED
    assert "scrapping needs a supervisor — ask one to approve" in refused.message
    assert staffed.serial("SN0000000005").stage is Stage.NOT_REGISTERED  # type: ignore[union-attr]
    last = staffed.events("SN0000000005")[-1]
    assert (last.outcome, last.by, last.approved_by) == ("rejected", "Ravi", None)


def test_a_supervisors_approval_lets_it_pass_and_names_both(staffed: StationService) -> None:
    supervisor = staffed.authenticate("BADGE-RAVI", OPERATOR_PIN)  # the badge signs in too
    approver = staffed.authenticate("Meena", SUPERVISOR_PIN)
    setup = replace(
        _as(staffed, "Ravi", OPERATOR_PIN, Mode.SCRAP, reason="dropped"),
        approved_by=approver.name,
        approver_role=approver.role,
    )
    assert supervisor.name == "Ravi"
    done = staffed.scan(ScanEvent("SN0000000006"), setup)
    assert done.kind is OutcomeKind.OK and "with a supervisor's approval" in done.message
    last = staffed.events("SN0000000006")[-1]
    assert (last.by, last.approved_by, last.to_stage) == ("Ravi", "Meena", Stage.SCRAPPED)
    # An operator's approval is no approval.
    operator = staffed.authenticate("Ravi", OPERATOR_PIN)
    weak = replace(setup, approved_by=operator.name, approver_role=operator.role)
    refused = staffed.scan(ScanEvent("SN0000000007"), weak)
    assert refused.kind is OutcomeKind.REJECTED and "needs a supervisor" in refused.message


def test_a_supervisor_scraps_alone_and_operators_scan_as_before(staffed: StationService) -> None:
    done = staffed.scan(
        ScanEvent("SN0000000008"), _as(staffed, "Meena", SUPERVISOR_PIN, Mode.SCRAP, reason="x")
    )
    assert done.kind is OutcomeKind.OK
    assert staffed.events("SN0000000008")[-1].approved_by is None
    registered = staffed.scan(
        ScanEvent("SN0000000009"), _as(staffed, "Ravi", OPERATOR_PIN, Mode.REGISTER)
    )
    assert registered.kind is OutcomeKind.OK
    assert staffed.events("SN0000000009")[-1].by == "Ravi"


def test_nothing_is_applied_anonymously_once_there_are_users(staffed: StationService) -> None:
    count = staffed.info()["events"]
    with pytest.raises(ServiceError, match="sign in first"):
        staffed.scan(ScanEvent("SN0000000010"), station(mode=Mode.REGISTER))
    assert staffed.info()["events"] == count


def test_closing_a_document_short_needs_a_supervisor(staffed: StationService) -> None:
    operator = staffed.authenticate("Ravi", OPERATOR_PIN)
    with pytest.raises(ServiceError, match="closing a document short needs a supervisor"):
        staffed.close_document("DC-1", "truck left", operator.name, actor=operator)
    assert staffed.document("DC-1").is_open  # type: ignore[union-attr]
    supervisor = staffed.authenticate("Meena", SUPERVISOR_PIN)
    closed = staffed.close_document("DC-1", "truck left", supervisor.name, actor=supervisor)
    assert not closed.is_open


def _document_events(service: StationService, reference_no: str) -> list[tuple[str, str, str]]:
    """(what happened, operator, approver) of the document's close/reopen events, in order."""
    return [
        (str(e.reason).split(":")[0], e.operator, str(e.approver))
        for e in service.audit_events(ReportFilter())
        if e.kind == "document"
        and e.document == reference_no
        and str(e.reason).startswith(("Closed", "Reopened"))
    ]


def test_a_short_close_approved_on_the_spot_names_both(staffed: StationService) -> None:
    """An operator closes DC-1 short with a supervisor's approval (the station's dialog):
    the close event is the operator's, approved_by the supervisor, as for a scan's approval.
    Reopening is approved the same way; a supervisor acting alone names no approver."""
    operator = staffed.authenticate("Ravi", OPERATOR_PIN)
    supervisor = staffed.authenticate("Meena", SUPERVISOR_PIN)
    closed = staffed.close_document(
        "DC-1", "truck left", operator.name, actor=operator, approver=supervisor
    )
    assert not closed.is_open
    staffed.reopen_document("DC-1", "truck came back", actor=operator, approver=supervisor)
    staffed.close_document("DC-1", "truck left again", actor=supervisor)
    assert _document_events(staffed, "DC-1") == [
        ("Closed DC-1", "Ravi", "Meena"),
        ("Reopened DC-1", "Ravi", "Meena"),
        ("Closed DC-1", "Meena", "None"),
    ]


def test_a_close_and_reopen_at_a_station_are_that_stations_events(
    staffed: StationService,
) -> None:
    """Done at a terminal, the close and the reopen carry that terminal's station id and
    site, as its scans do; from the admin's CLI (no station) they are the CLI's, at the
    document's own site as its opening is."""
    supervisor = staffed.authenticate("Meena", SUPERVISOR_PIN)
    here = station("G1", Mode.RECEIVE)
    staffed.close_document("DC-1", "truck left", actor=supervisor, at=here)
    staffed.reopen_document("DC-1", "truck came back", actor=supervisor, at=here)
    staffed.close_document("DC-1", "truck left again", actor=supervisor)
    where = [
        (str(e.reason).split(":")[0], e.station, e.site)
        for e in staffed.audit_events(ReportFilter())
        if e.kind == "document" and e.document == "DC-1"
    ]
    assert where[-3:] == [
        ("Closed DC-1", "T-1", "G1"),
        ("Reopened DC-1", "T-1", "G1"),
        ("Closed DC-1", "cli", "P1"),
    ]


def test_an_approver_without_the_role_approves_nothing(staffed: StationService) -> None:
    operator = staffed.authenticate("Ravi", OPERATOR_PIN)
    count = staffed.info()["events"]
    with pytest.raises(ServiceError, match="closing a document short needs a supervisor"):
        staffed.close_document("DC-1", "truck left", actor=operator, approver=operator)
    assert staffed.document("DC-1").is_open  # type: ignore[union-attr]
    assert staffed.info()["events"] == count


def test_a_full_close_needs_no_approval_and_names_none(staffed: StationService) -> None:
    operator = staffed.authenticate("Ravi", OPERATOR_PIN)
    supervisor = staffed.authenticate("Meena", SUPERVISOR_PIN)
    setups = [
        replace(station(mode=mode, **kw), operator=operator.name, role=operator.role)  # type: ignore[arg-type]
        for mode, kw in (
            (Mode.REGISTER, {}),
            (Mode.VALIDATE, {}),
            (Mode.DISPATCH, {"document": "DC-1"}),
        )
    ]
    for serial in ("SN0000000001", "SN0000000002", "SN0000000003"):
        for setup in setups:
            assert staffed.scan(ScanEvent(serial), setup).kind is OutcomeKind.OK
    staffed.close_document("DC-1", actor=operator, approver=supervisor)  # nothing to approve
    assert _document_events(staffed, "DC-1") == [("Closed DC-1", "Ravi", "None")]


def test_a_raw_delete_or_update_of_an_event_fails(service: StationService) -> None:
    """Not through scanstation: the driver itself, as anyone with the database could."""
    service.scan(ScanEvent("SN0000000011"), station(mode=Mode.REGISTER))
    before = service.events("SN0000000011")
    target = service.repo.target
    for statement in ("DELETE FROM event", "UPDATE event SET operator = 'nobody'"):
        if target.path is not None:
            conn = sqlite3.connect(target.path)
        else:
            conn = psycopg2.connect(target.url)
        try:
            with pytest.raises(Exception, match="events are append-only"):
                conn.execute(statement) if target.path else conn.cursor().execute(statement)
            conn.rollback()
        finally:
            conn.close()
    assert service.events("SN0000000011") == before
