"""Documents (DCs and invoices) and their lines: opened and closed under a request id (a retry
after a lost COMMIT applies once), read with their progress, and filled by dispatch scans
under a guard that never over-fills a line or fills a closed document."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from scanstation.domain.model import DocumentLineView, DocumentView
from scanstation.domain.stages import DocumentKind
from scanstation.store.codec import from_iso, iso
from scanstation.store.errors import StoreError
from scanstation.store.events import ADMIN_STATION

if TYPE_CHECKING:
    from scanstation.store.repository import Repository

__all__ = ["DOCUMENT_SQL", "DocumentStore"]

# A document with its lines in one statement: a row a line (one, its line columns NULL, for a
# document without lines), the document's columns repeated. A dispatch reads its document at
# each refusal to say why; the lines were a second round trip.
_DOCUMENT_SELECT: Final = (
    "SELECT d.id, d.reference_no, d.kind, d.dc_no, d.invoice_no, f.code, t.code, d.to_name, "
    "d.state, d.created_at, d.closed_reason, i.sku, i.name, l.quantity, l.scanned "
    "FROM document d JOIN site f ON f.id = d.from_site_id "
    "LEFT JOIN site t ON t.id = d.to_site_id "
    "LEFT JOIN document_line l ON l.document_id = d.id LEFT JOIN item i ON i.id = l.item_id"
)

DOCUMENT_SQL: Final[dict[str, str]] = {
    "document_by_ref": f"{_DOCUMENT_SELECT} WHERE d.reference_no = ? ORDER BY l.id",
    "document_by_id": f"{_DOCUMENT_SELECT} WHERE d.id = ? ORDER BY l.id",
    # Guarded: never over a line's quantity, never on a document closed meanwhile.
    "fill_line": (
        "UPDATE document_line SET scanned = scanned + 1 "
        "WHERE document_id = ? AND item_id = ? AND scanned < quantity "
        "AND (SELECT state FROM document WHERE id = document_id) = 'open'"
    ),
}


class DocumentStore:
    """Documents and their lines (a part of Repository)."""

    def add_document(
        self: Repository,
        *,
        kind: DocumentKind,
        reference_no: str,
        dc_no: str | None,
        invoice_no: str | None,
        from_site: str,
        to_site: str | None,
        to_name: str | None,
        lines: Sequence[tuple[str, int]],
        by: str,
        at: datetime,
        request_id: str,
    ) -> DocumentView:
        fields = {
            "kind": kind,
            "reference_no": reference_no,
            "dc_no": dc_no,
            "invoice_no": invoice_no,
            "from_site": from_site,
            "to_site": to_site,
            "to_name": to_name,
            "lines": lines,
        }

        def work() -> int:
            done = self.request_event(request_id)
            if done is not None:
                return int(done.document_id)
            return self._insert_document(fields, by, at, request_id)

        view = self.document_by_id(self.write_request(work))
        assert view is not None
        return view

    def add_documents(
        self: Repository,
        documents: Sequence[dict[str, Any]],
        *,
        by: str,
        at: datetime,
        request_id: str,
    ) -> int:
        """Many documents (each the keywords of `add_document` but by, at and request id) in
        one transaction: all or none. Its retry (the same request id) adds nothing again."""

        def work() -> int:
            if self.request_event(request_id) is not None:
                return 0
            for index, fields in enumerate(documents):
                # The first takes the request id itself, the rest one derived from it.
                self._insert_document(
                    fields, by, at, request_id if not index else f"{request_id}.{index}"
                )
            return len(documents)

        return self.write_request(work)

    def _insert_document(
        self: Repository, fields: dict[str, Any], by: str, at: datetime, request_id: str
    ) -> int:
        """One document, its lines and its event, inside the caller's write transaction."""
        document, line = self.t.document, self.t.document_line
        reference_no, from_site = fields["reference_no"], fields["from_site"]
        if document.get_or_none(document.reference_no == reference_no) is not None:
            raise StoreError(f"Document {reference_no} already exists")
        source = self.site_id(from_site)
        if source is None:
            raise StoreError(f"Unknown site {from_site}")
        destination = self.site_id(fields["to_site"]) if fields["to_site"] else None
        created = document.create(
            reference_no=reference_no,
            kind=fields["kind"].value,
            dc_no=fields["dc_no"],
            invoice_no=fields["invoice_no"],
            from_site=source,
            to_site=destination,
            to_name=fields["to_name"],
            state="open",
            created_at=iso(at),
            created_by=by,
        )
        for sku, quantity in fields["lines"]:
            item_id = self.item_id(sku)
            if item_id is None:
                raise StoreError(f"Unknown SKU {sku} on line {sku}={quantity}")
            line.create(document=created.id, item=item_id, quantity=quantity)
        self.append_admin_event(
            request_id=request_id,
            kind="document",
            site=from_site,
            by=by,
            at=at,
            comment=f"Opened {reference_no}",
            document_id=created.id,
        )
        return int(created.id)

    def document_id(self: Repository, reference_no: str) -> int | None:
        found = self.document_with_id(reference_no)
        return found[0] if found else None

    def document(self: Repository, reference_no: str) -> DocumentView | None:
        found = self.document_with_id(reference_no)
        return found[1] if found else None

    def document_with_id(self: Repository, reference_no: str) -> tuple[int, DocumentView] | None:
        rows = self._run("document_by_ref", (reference_no,)).fetchall()
        return (rows[0][0], _document_from_rows(rows)) if rows else None

    def document_by_id(self: Repository, document_id: int) -> DocumentView | None:
        rows = self._run("document_by_id", (document_id,)).fetchall()
        return _document_from_rows(rows) if rows else None

    def documents(
        self: Repository, *, state: str | None = "open", from_site: str | None = None
    ) -> list[DocumentView]:
        clauses, params = ["1 = 1"], []
        if state:
            clauses.append("d.state = ?")
            params.append(state)
        if from_site:
            clauses.append("f.code = ?")
            params.append(from_site)
        rows = self._cursor(
            "SELECT d.id FROM document d JOIN site f ON f.id = d.from_site_id "
            f"WHERE {' AND '.join(clauses)} ORDER BY d.id",
            params,
        ).fetchall()
        found = (self.document_by_id(doc_id) for (doc_id,) in rows)
        return [view for view in found if view is not None]

    def close_document(
        self: Repository,
        reference_no: str,
        reason: str | None,
        by: str,
        at: datetime,
        *,
        request_id: str,
        approved_by: str | None = None,
        station: str = ADMIN_STATION,
        site: str | None = None,
    ) -> None:
        changes = {"closed_at": iso(at), "closed_by": by, "closed_reason": reason}
        note = f"Closed {reference_no}" + (f": {reason}" if reason else "")
        self._set_state(
            reference_no,
            "open",
            "closed",
            changes,
            note,
            by,
            at,
            request_id,
            approved_by,
            station,
            site,
        )

    def reopen_document(
        self: Repository,
        reference_no: str,
        reason: str,
        by: str,
        at: datetime,
        *,
        request_id: str,
        approved_by: str | None = None,
        station: str = ADMIN_STATION,
        site: str | None = None,
    ) -> None:
        changes = {"closed_at": None, "closed_by": None, "closed_reason": None}
        note = f"Reopened {reference_no}: {reason}"
        self._set_state(
            reference_no,
            "closed",
            "open",
            changes,
            note,
            by,
            at,
            request_id,
            approved_by,
            station,
            site,
        )

    def _set_state(
        self: Repository,
        reference_no: str,
        was: str,
        becomes: str,
        changes: dict[str, Any],
        note: str,
        by: str,
        at: datetime,
        request_id: str,
        approved_by: str | None = None,
        station: str = ADMIN_STATION,
        site: str | None = None,
    ) -> None:
        """Move a document from state `was` to `becomes` under a request id, with an event
        (naming the supervisor who approved it on the spot, if one did) of the station and
        site it was done at (the admin's CLI: no site)."""
        document = self.t.document

        def work() -> None:
            if self.request_event(request_id) is not None:
                return
            updated = (
                document.update(state=becomes, version=document.version + 1, **changes)
                .where(document.reference_no == reference_no, document.state == was)
                .execute()
            )
            if updated != 1:
                raise StoreError(f"Document {reference_no} is not {was}")
            self.append_admin_event(
                request_id=request_id,
                kind="document",
                site=site,
                station=station,
                by=by,
                at=at,
                comment=note,
                document_id=self.document_id(reference_no),
                approved_by=approved_by,
            )

        self.write_request(work)

    def fill_document_line(self: Repository, document_id: int, item_id: int) -> bool:
        """Count one unit against the line; False when the line is full (or absent)."""
        return bool(self._run("fill_line", (document_id, item_id)).rowcount == 1)


def _document_from_rows(rows: Sequence[Sequence[Any]]) -> DocumentView:
    """A document from its rows of `_DOCUMENT_SELECT` (one a line, in the lines' order)."""
    row = rows[0]
    lines = tuple(
        DocumentLineView(line[11], line[12], line[13], line[14])
        for line in rows
        if line[11] is not None
    )
    return DocumentView(
        reference_no=row[1],
        kind=DocumentKind(row[2]),
        dc_no=row[3],
        invoice_no=row[4],
        from_site=row[5],
        to_site=row[6],
        to_name=row[7],
        state=row[8],
        lines=lines,
        created_at=from_iso(row[9]),
        closed_reason=row[10],
    )
