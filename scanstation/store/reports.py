"""The supervisor's reports, computed by the database: every count is a GROUP BY, every list
is read in batches from a cursor; nothing loads a table into Python.

Indexes they stand on (schema 4): serial (item_id, stage, site_id) covers the stage counts
(an index-only scan) and, with `item_id IN (every item)`, finds the units in a stage without
reading the table; event (document_id) for the events that name a document (a partial index:
only dispatches and cited receives carry one, so a scan writes no more than before).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from scanstation.domain.corrections import VOID_MODE
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.reports import (
    AGING_BUCKETS,
    AgingRow,
    DocumentReport,
    DocumentUnit,
    ExceptionRow,
    LineProgress,
    ReportFilter,
    StageCount,
    ThroughputRow,
    TransitUnit,
)
from scanstation.domain.stages import BY_OVERRIDE, Stage
from scanstation.store.codec import from_iso, iso

if TYPE_CHECKING:
    from scanstation.store.repository import Repository

__all__ = ["ReportStore", "missing_units"]

BATCH: Final = 500
_DISPATCHED: Final = (Stage.DISPATCHED_FROM_PLANT.value, Stage.DISPATCHED_FROM_GODOWN.value)
_REFUSED: Final = (
    OutcomeKind.REJECTED.value,
    OutcomeKind.UNKNOWN.value,
    OutcomeKind.CONFLICT.value,
)

# What makes an event an exception, as one SQL expression (NULL: not one), from what the
# station writes: a refusal's outcome; a void's mode (service/corrections.py, an event of kind
# 'scan'); a NOT GENUINE's outcome (service/scanning.py); an override, an applied scan whose
# rule's sentence says so (domain/stages.py BY_OVERRIDE). Labels are the report's own
# (EXCEPTION_KINDS, a public JSON value).
_EXCEPTION_KIND: Final = (
    "CASE WHEN e.outcome IN (?, ?, ?) THEN e.outcome "
    "WHEN e.mode = ? THEN 'void' "
    "WHEN e.outcome = ? THEN 'not-genuine' "
    "WHEN e.outcome = ? AND e.message LIKE ? THEN 'override' END"
)
# Its parameters: psycopg2 would read a bare % in the statement as one.
_EXCEPTION_PARAMS: Final = (
    *_REFUSED,
    VOID_MODE,
    OutcomeKind.NOT_GENUINE.value,
    OutcomeKind.OK.value,
    f"%{BY_OVERRIDE}%",
)


def last_dispatch(document: str) -> str:
    """SQL: (serial_id, id) of each unit dispatched on `document` (an SQL expression: `?` or a
    column), by its latest dispatch on it (the event (document_id) index finds them)."""
    return (
        f"SELECT serial_id, max(id) AS id FROM event WHERE document_id = {document} "
        "AND mode = 'dispatch' AND outcome = 'ok' GROUP BY serial_id"
    )


def missing_units(document: str) -> str:
    """SQL: (serial_id, id of its dispatch) of each unit dispatched on `document` that has not
    arrived: still on it and still dispatched. The one reading of "missing" (`doc show`, the
    station's document portlet, `report document`, `doc list`): the serial's own state already
    says what came after the dispatch — a receive or a return moved it on, a void of the
    dispatch put it back where it was, a void of the receive put it back on the road."""
    stages = ", ".join(f"'{stage}'" for stage in _DISPATCHED)
    return (
        f"SELECT x.serial_id, x.id FROM ({last_dispatch(document)}) x "
        f"JOIN serial m ON m.id = x.serial_id "
        f"WHERE m.document_id = {document} AND m.stage IN ({stages})"
    )


def _ids(values: Sequence[str]) -> str:
    return ", ".join("?" for _ in values)


class ReportStore:
    """Reports (a part of Repository)."""

    def _stream(self: Repository, sql: str, params: Sequence[Any]) -> Iterator[Sequence[Any]]:
        """The rows of one query, a batch at a time."""
        cursor = self._cursor(sql, params)
        while True:
            with self.driver_errors():
                rows = cursor.fetchmany(BATCH)
            if not rows:
                return
            yield from rows

    def _filter_ids(self: Repository, where: ReportFilter) -> tuple[int | None, int | None]:
        """(site id, item id) of the filter; -1 for a code that names nothing (matches none)."""
        site_id = item_id = None
        if where.site is not None:
            site_id = self.site_id(where.site) or -1
        if where.sku is not None:
            item_id = self.item_id(where.sku) or -1
        return site_id, item_id

    def _serial_clauses(
        self: Repository, where: ReportFilter, *, by_site: bool = True
    ) -> tuple[list[str], list[Any]]:
        """WHERE clauses for serials (as `s`) of the filter's item, site and time of their
        last change."""
        site_id, item_id = self._filter_ids(where)
        clauses: list[str] = ["1 = 1"]
        params: list[Any] = []
        if item_id is not None:
            clauses.append("s.item_id = ?")
            params.append(item_id)
        if by_site and site_id is not None:
            clauses.append("s.site_id = ?")
            params.append(site_id)
        self._time_range("s.updated_at", where, clauses, params)
        return clauses, params

    @staticmethod
    def _time_range(
        column: str, where: ReportFilter, clauses: list[str], params: list[Any]
    ) -> None:
        if where.since is not None:
            clauses.append(f"{column} >= ?")
            params.append(iso(where.since))
        if where.until is not None:
            clauses.append(f"{column} < ?")
            params.append(iso(where.until))

    # -- stages -------------------------------------------------------------------------------

    def stage_counts(self: Repository, where: ReportFilter) -> list[StageCount]:
        """Serials per SKU × site × stage (only the combinations that hold any)."""
        clauses, params = self._serial_clauses(where)
        rows = self._cursor(
            "SELECT i.sku, st.code, g.stage, g.n FROM (SELECT s.item_id, s.stage, s.site_id, "
            f"count(*) AS n FROM serial s WHERE {' AND '.join(clauses)} "
            "GROUP BY s.item_id, s.stage, s.site_id) g JOIN item i ON i.id = g.item_id "
            "LEFT JOIN site st ON st.id = g.site_id",
            params,
        ).fetchall()
        order = {stage.value: index for index, stage in enumerate(Stage)}
        rows.sort(key=lambda r: (r[0], r[1] or "", order.get(r[2], len(order))))
        return [StageCount(sku, site, stage, int(n)) for sku, site, stage, n in rows]

    # -- one document -------------------------------------------------------------------------

    def document_ids_for(self: Repository, number: str) -> list[int]:
        """The documents a person may mean by `number`: its reference no, else its DC or
        invoice no (more than one id: ambiguous)."""
        row = self._cursor("SELECT id FROM document WHERE reference_no = ?", (number,)).fetchone()
        if row is not None:
            return [int(row[0])]
        rows = self._cursor(
            "SELECT id FROM document WHERE dc_no = ? OR invoice_no = ? ORDER BY id LIMIT 2",
            (number, number),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def document_report(
        self: Repository, document_id: int, where: ReportFilter
    ) -> DocumentReport | None:
        view = self.document_by_id(document_id)
        if view is None:
            return None
        # Per line: dispatched is the line's count (a return or a voided dispatch took its
        # unit off), received what of it is not missing: the same figures as `doc show`.
        arrivals = self.document_arrivals(document_id, view)
        lines = tuple(
            LineProgress(line.sku, line.quantity, line.scanned, arrivals.received(line))
            for line in view.lines
            if where.sku is None or line.sku == where.sku
        )
        missing = sorted(
            (unit for unit in self.missing_on(document_id) if _within(unit, where)),
            key=lambda unit: (unit.at, unit.serial_no),
        )
        _, item_id = self._filter_ids(where)
        sku_clause, sku_params = ("", []) if item_id is None else (" AND s.item_id = ?", [item_id])
        time_clauses: list[str] = []
        time_params: list[Any] = []
        self._time_range("e.at", where, time_clauses, time_params)
        timed = "".join(f" AND {clause}" for clause in time_clauses)
        # A receive that a void undid (the serial's next change) is no arrival at all.
        extra = self._cursor(
            "SELECT s.serial_no, i.sku, s.stage, st.code, e.at FROM event e "
            "JOIN serial s ON s.id = e.serial_id JOIN item i ON i.id = s.item_id "
            "LEFT JOIN site st ON st.id = s.site_id "
            "WHERE e.document_id = ? AND e.mode = 'receive' AND e.outcome = 'ok' "
            "AND NOT EXISTS (SELECT 1 FROM event d WHERE d.serial_id = e.serial_id "
            "AND d.document_id = e.document_id AND d.mode = 'dispatch' AND d.outcome = 'ok') "
            "AND COALESCE((SELECT n.mode FROM event n WHERE n.serial_id = e.serial_id "
            "AND n.id > e.id AND n.to_stage IS NOT NULL ORDER BY n.id LIMIT 1), '') <> ?"
            f"{sku_clause}{timed} ORDER BY e.at, s.serial_no",
            [document_id, VOID_MODE, *sku_params, *time_params],
        )
        return DocumentReport(
            reference_no=view.reference_no,
            kind=view.kind.value,
            state=view.state,
            from_site=view.from_site,
            destination=view.destination,
            lines=lines,
            missing=tuple(missing),
            extra=tuple(_unit(row) for row in extra.fetchall()),
        )

    # -- transit and aging --------------------------------------------------------------------

    def transit(self: Repository, where: ReportFilter, now: datetime) -> Iterator[TransitUnit]:
        """Units dispatched to a site and not received yet, oldest first. `--site` is either
        end of the trip."""
        site_id, _ = self._filter_ids(where)
        clauses, params = self._serial_clauses(where, by_site=False)
        clauses += [
            "s.item_id IN (SELECT id FROM item)",
            f"s.stage IN ({_ids(_DISPATCHED)})",
            "d.to_site_id IS NOT NULL",
        ]
        params += _DISPATCHED
        if site_id is not None:
            clauses.append("(d.from_site_id = ? OR d.to_site_id = ?)")
            params.extend((site_id, site_id))
        rows = self._stream(
            "SELECT s.serial_no, i.sku, d.reference_no, f.code, t.code, s.updated_at "
            "FROM serial s JOIN item i ON i.id = s.item_id "
            "JOIN document d ON d.id = s.document_id "
            "JOIN site f ON f.id = d.from_site_id JOIN site t ON t.id = d.to_site_id "
            f"WHERE {' AND '.join(clauses)} ORDER BY s.updated_at, s.serial_no",
            params,
        )
        for serial_no, sku, document, source, destination, at in rows:
            sent = from_iso(at)
            yield TransitUnit(
                serial_no, sku, document, source, destination, sent, (now - sent).days
            )

    def aging(self: Repository, where: ReportFilter, now: datetime) -> list[AgingRow]:
        """Units at each godown by days since they were received, per SKU."""
        cases, case_params = [], []
        for label, _first, last in AGING_BUCKETS:
            if last is None:
                cases.append(f"ELSE '{label}'")
            else:
                cases.append(f"WHEN s.updated_at > ? THEN '{label}'")
                case_params.append(iso(now - timedelta(days=last + 1)))
        clauses, params = self._serial_clauses(where)
        clauses += ["s.item_id IN (SELECT id FROM item)", "s.stage = ?"]
        params.append(Stage.RECEIVED_AT_GODOWN.value)
        rows = self._cursor(
            "SELECT g.code, i.sku, g.bucket, g.n FROM (SELECT st.code AS code, s.item_id, "
            f"CASE {' '.join(cases)} END AS bucket, count(*) AS n FROM serial s "
            f"JOIN site st ON st.id = s.site_id WHERE {' AND '.join(clauses)} "
            "GROUP BY st.code, s.item_id, bucket) g JOIN item i ON i.id = g.item_id",
            [*case_params, *params],
        ).fetchall()
        order = {label: index for index, (label, _, _) in enumerate(AGING_BUCKETS)}
        rows.sort(key=lambda r: (r[0], r[1], order[r[2]]))
        return [AgingRow(site, sku, bucket, int(n)) for site, sku, bucket, n in rows]

    # -- the audit trail ----------------------------------------------------------------------

    def _event_clauses(self: Repository, where: ReportFilter) -> tuple[list[str], list[Any], str]:
        """WHERE clauses (and a join) for events narrowed by site, SKU and time."""
        _, item_id = self._filter_ids(where)
        clauses: list[str] = []
        params: list[Any] = []
        join = ""
        if where.site is not None:
            clauses.append("e.site = ?")
            params.append(where.site)
        if item_id is not None:
            join = " JOIN serial fs ON fs.id = e.serial_id"
            clauses.append("fs.item_id = ?")
            params.append(item_id)
        self._time_range("e.at", where, clauses, params)
        return clauses, params, join

    def throughput(self: Repository, where: ReportFilter) -> list[ThroughputRow]:
        """Scans per hour (UTC) by station and operator: applied, and refused."""
        clauses, params, join = self._event_clauses(where)
        clauses.insert(0, "e.kind = 'scan'")
        rows = self._cursor(
            "SELECT substr(e.at, 1, 13) AS hour, e.station, e.operator, "
            "sum(CASE WHEN e.outcome = 'ok' THEN 1 ELSE 0 END), "
            f"sum(CASE WHEN e.outcome IN ({_ids(_REFUSED)}) THEN 1 ELSE 0 END) "
            f"FROM event e{join} WHERE {' AND '.join(clauses)} "
            "GROUP BY substr(e.at, 1, 13), e.station, e.operator "
            "ORDER BY hour, e.station, e.operator",
            [*_REFUSED, *params],
        ).fetchall()
        return [ThroughputRow(h, st, op, int(ok), int(no)) for h, st, op, ok, no in rows]

    def exceptions(self: Repository, where: ReportFilter) -> Iterator[ExceptionRow]:
        """Refused, unknown and conflicting scans, overrides, voids and not-genuine codes,
        newest first."""
        clauses, params, join = self._event_clauses(where)
        inner = f"({_EXCEPTION_KIND}) IS NOT NULL"
        rows = self._stream(
            f"SELECT e.at, {_EXCEPTION_KIND}, s.serial_no, e.payload, e.operator, e.station, "
            "e.site, CASE WHEN e.outcome = 'ok' THEN e.comment ELSE e.message END "
            f"FROM event e{join} LEFT JOIN serial s ON s.id = e.serial_id "
            f"WHERE {' AND '.join([inner, *clauses])} ORDER BY e.id DESC",
            [*_EXCEPTION_PARAMS, *_EXCEPTION_PARAMS, *params],
        )
        for at, kind, serial_no, payload, operator, station, site, reason in rows:
            yield ExceptionRow(
                from_iso(at), kind, serial_no, payload, operator, station, site, reason
            )


def _within(unit: DocumentUnit, where: ReportFilter) -> bool:
    """The unit is of the filter's SKU and was dispatched in its time range."""
    return (
        (where.sku is None or unit.sku == where.sku)
        and (where.since is None or unit.at >= where.since)
        and (where.until is None or unit.at < where.until)
    )


def _unit(row: Sequence[Any]) -> DocumentUnit:
    serial_no, sku, stage, site, at = row
    return DocumentUnit(serial_no, sku, stage, site, from_iso(at))
