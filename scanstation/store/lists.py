"""Lists for supervisors: items, documents with their progress, and the audit trail. Long lists
are read a page at a time by key (keyset pagination): each page is one short statement on an
index, so millions of events never hold one long query open or sit in memory at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from scanstation.domain.model import ItemView
from scanstation.domain.reports import AuditEvent, DocumentSummary, ReportFilter
from scanstation.store.codec import from_iso
from scanstation.store.reports import missing_units

if TYPE_CHECKING:
    from scanstation.store.repository import Repository

__all__ = ["ListStore"]

PAGE: Final = 2000

# A document's units: on its lines, dispatched on it (its lines' counts: a return or a voided
# dispatch took a unit off) and, of those, not arrived (the one reading of "missing").
_DOCUMENT_SUMMARY: Final = (
    "SELECT d.id, d.reference_no, d.kind, d.dc_no, d.invoice_no, f.code, "
    "COALESCE(t.code, d.to_name), d.state, d.created_at, "
    "(SELECT COALESCE(sum(l.quantity), 0) FROM document_line l WHERE l.document_id = d.id), "
    "(SELECT COALESCE(sum(l.scanned), 0) FROM document_line l WHERE l.document_id = d.id), "
    f"(SELECT count(*) FROM ({missing_units('d.id')}) x) "
    "FROM document d JOIN site f ON f.id = d.from_site_id LEFT JOIN site t ON t.id = d.to_site_id"
)


class ListStore:
    """Lists (a part of Repository)."""

    def items(self: Repository) -> list[ItemView]:
        rows = self._cursor("SELECT sku, name, gtin, model_no FROM item ORDER BY sku").fetchall()
        return [ItemView(*row) for row in rows]

    def document_summaries(
        self: Repository,
        *,
        state: str | None = None,
        site: str | None = None,
        kind: str | None = None,
        search: str | None = None,
        after_id: int = 0,
        limit: int = PAGE,
    ) -> list[tuple[int, DocumentSummary]]:
        """Documents in the order they were opened, after `after_id` (a page), with their
        ids for the next page. `site`: either end; `search`: a piece of its reference, DC
        or invoice no or destination, any case."""
        clauses: list[str] = ["d.id > ?"]
        params: list[Any] = [after_id]
        if state is not None:
            clauses.append("d.state = ?")
            params.append(state)
        if kind is not None:
            clauses.append("d.kind = ?")
            params.append(kind)
        if site is not None:
            clauses.append("(f.code = ? OR t.code = ?)")
            params.extend((site, site))
        if search:
            pattern = (
                "%"
                + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                + "%"
            )
            fields = ("d.reference_no", "d.dc_no", "d.invoice_no", "COALESCE(t.code, d.to_name)")
            clauses.append(
                "(" + " OR ".join(f"lower({f}) LIKE ? ESCAPE '\\'" for f in fields) + ")"
            )
            params.extend([pattern] * len(fields))
        rows = self._cursor(
            f"{_DOCUMENT_SUMMARY} WHERE {' AND '.join(clauses)} ORDER BY d.id LIMIT {int(limit)}",
            params,
        ).fetchall()
        return [(row[0], _summary(row)) for row in rows]

    def iter_document_summaries(self: Repository, **where: Any) -> Iterator[DocumentSummary]:
        after = 0
        while True:
            page = self.document_summaries(after_id=after, **where)
            yield from (summary for _, summary in page)
            if len(page) < PAGE:
                return
            after = page[-1][0]

    def audit_events(
        self: Repository, where: ReportFilter, operator: str | None
    ) -> Iterator[AuditEvent]:
        """Every event (of a site, an operator, a time range) in the order it was recorded,
        a page at a time by id."""
        approver = "e.approved_by" if "approved_by" in self.t.event._meta.fields else "NULL"
        clauses, params, join = self._event_clauses(where)
        if operator is not None:
            clauses.append("e.operator = ?")
            params.append(operator)
        sql = (
            "SELECT e.id, e.at, e.recorded_at, e.kind, s.serial_no, e.mode, e.from_stage, "
            f"e.to_stage, e.operator, {approver}, e.station, e.site, d.reference_no, "
            f"e.outcome, COALESCE(e.comment, e.message), e.payload FROM event e{join} "
            "LEFT JOIN serial s ON s.id = e.serial_id "
            "LEFT JOIN document d ON d.id = e.document_id "
            f"WHERE {' AND '.join(['e.id > ?', *clauses])} ORDER BY e.id LIMIT {PAGE}"
        )
        last = 0
        while True:
            rows = self._cursor(sql, (last, *params)).fetchall()
            for row in rows:
                yield _audit(row)
            if len(rows) < PAGE:
                return
            last = rows[-1][0]


def _summary(row: Sequence[Any]) -> DocumentSummary:
    return DocumentSummary(
        reference_no=row[1],
        kind=row[2],
        dc_no=row[3],
        invoice_no=row[4],
        from_site=row[5],
        destination=row[6] or "",
        state=row[7],
        created_at=from_iso(row[8]),
        expected=int(row[9]),
        dispatched=int(row[10]),
        received=int(row[10]) - int(row[11]),
    )


def _audit(row: Sequence[Any]) -> AuditEvent:
    return AuditEvent(
        at=from_iso(row[1]),
        recorded_at=from_iso(row[2]) if row[2] else None,
        kind=row[3],
        serial_no=row[4],
        mode=row[5],
        from_stage=row[6],
        to_stage=row[7],
        operator=row[8],
        approver=row[9],
        station=row[10],
        site=row[11],
        document=row[12],
        outcome=row[13],
        reason=row[14],
        payload=row[15],
    )
