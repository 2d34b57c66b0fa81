"""The supervisor's reports on SQLite and PostgreSQL, against a database whose contents the test
made scan by scan: every expected figure is counted here, from the serials as exported and the
outcomes the scans answered, never by the report's own SQL."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, timedelta

import pytest

from scanstation.domain.model import ScanEvent, utc_now
from scanstation.domain.outcome import OutcomeKind, ScanOutcome
from scanstation.domain.reports import ReportFilter
from scanstation.domain.stages import DocumentKind, Mode, Stage
from scanstation.service import ServiceError, StationService
from tests.conftest import station

NOW = utc_now()
ALL = ReportFilter()


class Scenario:
    """A day at P1, G1 and G2, each scan's outcome kept."""

    def __init__(self, service: StationService) -> None:
        self.service = service
        self.made: list[tuple[ScanOutcome, str]] = []

    def scan(
        self,
        payload: str,
        site: str,
        mode: Mode,
        *,
        days_ago: float = 0,
        operator: str = "op-1",
        **kw: object,
    ) -> ScanOutcome:
        at = NOW - timedelta(days=days_ago)
        setup = station(site, mode, operator=operator, **kw)
        outcome = self.service.scan(ScanEvent(payload, read_at=at), setup)
        self.made.append((outcome, operator))
        return outcome


def sn(n: int) -> str:
    return f"SN{n:010d}"


@pytest.fixture
def scenario(service: StationService) -> Scenario:
    s = Scenario(service)
    service.add_document(
        kind=DocumentKind.DC,
        reference_no="DC-2",
        from_site="P1",
        to="G1",
        lines=[("PUMP", 3), ("FAN", 2)],
        dc_no="DC-0002",
    )
    for n in range(1, 11):
        s.scan(sn(n), "P1", Mode.REGISTER, days_ago=120, operator="op-reg")
    for n in range(1, 9):
        s.scan(sn(n), "P1", Mode.VALIDATE, days_ago=110, operator="op-qc")
    s.scan(sn(9), "P1", Mode.REJECT, days_ago=110, operator="op-qc", reason="dent")
    for n in (1, 2, 3):
        s.scan(sn(n), "P1", Mode.DISPATCH, days_ago=100, document="DC-1", operator="op-dock")
    for n in (4, 5, 6):
        s.scan(sn(n), "P1", Mode.DISPATCH, days_ago=50, document="DC-2", operator="op-dock")
    s.scan(sn(1), "G1", Mode.RECEIVE, days_ago=95, operator="op-gate")  # 90+
    s.scan(sn(2), "G1", Mode.RECEIVE, days_ago=40, operator="op-gate")  # 31-90
    s.scan(sn(3), "G1", Mode.RECEIVE, days_ago=10, operator="op-gate")  # 8-30
    s.scan(sn(4), "G1", Mode.RECEIVE, days_ago=1, operator="op-gate")  # 0-7
    # Received at the wrong godown, by override; SN6 stays on the road.
    s.scan(sn(5), "G2", Mode.RECEIVE, days_ago=1, operator="op-g2", reason="truck diverted")
    # Refused: validating at a godown, a payload with a terminal escape, a serial nobody knows.
    s.scan(sn(7), "G1", Mode.VALIDATE, operator="op-gate")
    s.scan("NOPE\x1b[31m", "G1", Mode.RECEIVE, operator="op-gate")
    s.scan("SN0000099999", "G1", Mode.RECEIVE, operator="op-gate")
    return s


def test_stages_counts_every_serial_once_by_sku_site_and_stage(scenario: Scenario) -> None:
    service = scenario.service
    expected = Counter((v.sku, v.site, v.stage.value) for v in service.export())
    got = {(c.sku, c.site, c.stage): c.count for c in service.stage_report(ALL)}
    assert got == dict(expected)
    assert got[("PUMP", "G1", Stage.RECEIVED_AT_GODOWN.value)] == 4
    only = service.stage_report(ReportFilter(site="G2", sku="PUMP"))
    assert [(c.stage, c.count) for c in only] == [(Stage.RECEIVED_AT_GODOWN.value, 1)]


def test_document_report_lines_missing_and_extra(scenario: Scenario) -> None:
    service = scenario.service
    report = service.document_report("DC-0002", ALL)  # found by its DC no
    assert report.reference_no == "DC-2"
    lines = {line.sku: (line.expected, line.dispatched, line.received) for line in report.lines}
    assert lines == {"PUMP": (3, 3, 2), "FAN": (2, 0, 0)}
    expected_missing = [
        v.serial_no for v in service.export(Stage.DISPATCHED_FROM_PLANT) if v.document == "DC-2"
    ]
    assert [u.serial_no for u in report.missing] == expected_missing == [sn(6)]
    assert report.extra == ()
    done = service.document_report("DC-1", ALL)
    assert [(ln.dispatched, ln.received) for ln in done.lines] == [(3, 3)]
    assert done.missing == ()


def test_extra_is_a_unit_received_citing_a_document_it_never_left_on(
    scenario: Scenario,
) -> None:
    # SN1 sold on INV-1, then brought back to G1 citing DC-2 (not what it left on): extra.
    assert scenario.scan(sn(1), "G1", Mode.DISPATCH, document="INV-1").kind is OutcomeKind.OK
    back = scenario.scan(sn(1), "G1", Mode.RECEIVE, document="DC-2", reason="customer return")
    assert back.kind is OutcomeKind.OK, back.message
    report = scenario.service.document_report("DC-2", ALL)
    assert [(u.serial_no, u.site) for u in report.extra] == [(sn(1), "G1")]
    assert [u.serial_no for u in report.missing] == [sn(6)]
    with pytest.raises(ServiceError, match="not a known document"):
        scenario.service.document_report("DC-404", ALL)


def test_transit_lists_units_on_the_road_oldest_first(scenario: Scenario) -> None:
    units = list(scenario.service.transit_report(ALL))
    assert [(u.serial_no, u.document, u.from_site, u.to_site) for u in units] == [
        (sn(6), "DC-2", "P1", "G1")
    ]
    assert units[0].days == 50
    assert list(scenario.service.transit_report(ReportFilter(site="G2"))) == []
    assert len(list(scenario.service.transit_report(ReportFilter(site="G1")))) == 1


def test_aging_buckets_by_days_since_received(scenario: Scenario) -> None:
    rows = {(r.site, r.sku, r.bucket): r.count for r in scenario.service.aging_report(ALL)}
    assert rows == {
        ("G1", "PUMP", "90+"): 1,
        ("G1", "PUMP", "31-90"): 1,
        ("G1", "PUMP", "8-30"): 1,
        ("G1", "PUMP", "0-7"): 1,
        ("G2", "PUMP", "0-7"): 1,
    }


def test_throughput_per_hour_station_and_operator(scenario: Scenario) -> None:
    expected: Counter[tuple[str, str, bool]] = Counter()
    for outcome, operator in scenario.made:
        if outcome.kind is not OutcomeKind.ALREADY:
            hour = outcome.event.read_at.astimezone(UTC).strftime("%Y-%m-%dT%H")
            expected[(hour, operator, outcome.kind is OutcomeKind.OK)] += 1
    got: Counter[tuple[str, str, bool]] = Counter()
    for row in scenario.service.throughput_report(ALL):
        assert row.station == "T-1"
        got[(row.hour, row.operator, True)] += row.ok
        got[(row.hour, row.operator, False)] += row.refused
    assert +got == expected
    assert sum(n for (_, _, ok), n in got.items() if not ok) == 3
    since = scenario.service.throughput_report(ReportFilter(since=NOW - timedelta(days=2)))
    assert {r.operator for r in since} == {"op-gate", "op-g2"}


def test_exceptions_name_the_refused_the_unknown_and_the_override(scenario: Scenario) -> None:
    rows = list(scenario.service.exception_report(ALL))
    assert Counter(r.kind for r in rows) == {"rejected": 2, "unknown": 1, "override": 1}
    assert next(r for r in rows if r.kind == "unknown").payload == "SN0000099999"
    hostile = next(r for r in rows if r.payload and r.payload.startswith("NOPE"))
    assert "\x1b" not in hostile.payload and hostile.operator == "op-gate"  # escaped when stored
    override = next(r for r in rows if r.kind == "override")
    assert (override.serial_no, override.site, override.reason) == (sn(5), "G2", "truck diverted")
    assert [r.kind for r in scenario.service.exception_report(ReportFilter(site="G2"))] == [
        "override"
    ]


@pytest.mark.parametrize(
    "where", [ReportFilter(site="NOWHERE"), ReportFilter(sku="NOTHING")], ids=["site", "sku"]
)
def test_an_unknown_site_or_sku_is_refused_not_empty(scenario: Scenario, where) -> None:
    for report in (
        scenario.service.stage_report,
        scenario.service.aging_report,
        scenario.service.throughput_report,
        lambda w: list(scenario.service.transit_report(w)),
        lambda w: list(scenario.service.exception_report(w)),
    ):
        with pytest.raises(ServiceError, match="Unknown"):
            report(where)


def test_document_report_and_doc_show_agree_after_a_void_and_a_return(
    scenario: Scenario,
) -> None:
    """One reading of "missing": a voided receive puts a unit back on the road, a voided
    dispatch takes it off the document, a return frees its invoice line; the report, `doc
    show`'s progress and `doc list` count the same."""
    service = scenario.service
    gate, dock = station("G1", Mode.LOOKUP, operator="op-gate"), station("P1", Mode.LOOKUP)
    undone = service.void(sn(4), gate, window_s=1e9)  # its receive at G1: on the road again
    assert undone.kind is OutcomeKind.OK, undone.message
    dock = station("P1", Mode.LOOKUP, operator="op-dock")
    assert service.void(sn(6), dock, window_s=1e9).kind is OutcomeKind.OK  # never left
    report = service.document_report("DC-2", ALL)
    progress = service.document_progress("DC-2")
    assert progress is not None
    lines = {line.sku: (line.expected, line.dispatched, line.received) for line in report.lines}
    # Counted here: SN4 and SN5 still on DC-2's PUMP line; SN5 arrived (at G2), SN4 did not.
    assert lines == {"PUMP": (3, 2, 1), "FAN": (2, 0, 0)}
    assert [u.serial_no for u in report.missing] == [sn(4)]
    assert [s for s, _ in progress.missing] == [sn(4)]
    shown = {line.sku: (line.scanned, progress.received(line)) for line in progress.document.lines}
    assert shown == {sku: figures[1:] for sku, figures in lines.items()}
    [(_, listed)] = service.document_list(search="DC-2")
    assert (listed.dispatched, listed.received) == (2, 1)
    # SN1 (at G1) sold on INV-1, then brought back citing it: a return frees the line.
    assert scenario.scan(sn(1), "G1", Mode.DISPATCH, document="INV-1").kind is OutcomeKind.OK
    sold = service.document_report("INV-1", ALL)
    assert [(ln.dispatched, ln.received) for ln in sold.lines] == [(1, 0)]
    assert [u.serial_no for u in sold.missing] == [sn(1)]
    back = scenario.scan(sn(1), "G1", Mode.RECEIVE, document="INV-1", reason="customer return")
    assert back.kind is OutcomeKind.OK, back.message
    returned = service.document_report("INV-1", ALL)
    assert [(ln.dispatched, ln.received) for ln in returned.lines] == [(0, 0)]
    assert returned.missing == returned.extra == ()
    progress = service.document_progress("INV-1")
    assert progress is not None and progress.missing == ()
    assert [r.serial_no for r in progress.returns] == [sn(1)]


def test_exceptions_list_a_void_and_a_not_genuine_code_as_the_station_wrote_them(
    scenario: Scenario,
) -> None:
    service = scenario.service
    gate = station("G1", Mode.LOOKUP, operator="op-gate")
    assert service.void(sn(3), gate, window_s=1e9, reason="wrong box").kind is OutcomeKind.OK
    forged = scenario.scan("SQ1.ABCDEFGHJKMN.K1.AAAA", "G1", Mode.RECEIVE, operator="op-g")
    assert forged.kind is OutcomeKind.NOT_GENUINE
    rows = list(service.exception_report(ALL))
    assert Counter(r.kind for r in rows) == {
        "rejected": 2,
        "unknown": 1,
        "override": 1,
        "void": 1,
        "not-genuine": 1,
    }
    assert [(r.kind, r.serial_no, r.operator, r.site) for r in rows[:2]] == [
        ("not-genuine", None, "op-g", "G1"),
        ("void", sn(3), "op-gate", "G1"),
    ]
    assert rows[0].payload == "SQ1.ABCDEFGHJKMN.K1.AAAA" and "NOT GENUINE" in str(rows[0].reason)
    assert rows[1].reason == "wrong box"
