"""Lists for supervisors (items, documents with their progress, the audit trail) and adding
many documents at once from a CSV file: all or nothing, every problem as FILE:LINE, read the
one way every import reads a file (service/csv_files.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from scanstation.domain import limits
from scanstation.domain.model import ItemView, SerialView, new_scan_id, utc_now
from scanstation.domain.reports import AuditEvent, DocumentSummary, ReportFilter, SerialSearch
from scanstation.domain.stages import DocumentKind, Stage
from scanstation.domain.text import visible
from scanstation.service.checks import check_text, storable
from scanstation.service.csv_files import Lines, Problems, csv_records
from scanstation.service.imports import ImportReport
from scanstation.service.setup import ServiceError, login_name
from scanstation.store.errors import StoreError

if TYPE_CHECKING:
    from scanstation.service.station import StationService

__all__ = ["DOCUMENT_HEADER", "Lists"]

# The columns of `doc import` (the demo's documents.csv has them too); `lines` is
# SKU=QTY;SKU=QTY.
DOCUMENT_HEADER: Final = ("reference_no", "kind", "dc_no", "invoice_no", "from", "to", "lines")


class Lists:
    """Lists and the document import (a part of StationService)."""

    def items(self: StationService) -> list[ItemView]:
        return self.repo.items()

    def document_list(
        self: StationService,
        *,
        state: str | None = None,
        site: str | None = None,
        kind: str | None = None,
        search: str | None = None,
        after_id: int = 0,
        limit: int = 200,
    ) -> list[tuple[int, DocumentSummary]]:
        """A page of documents in the order they were opened (ids for the next page);
        an unknown site is a ServiceError."""
        self._checked(ReportFilter(site=site))
        return self.repo.document_summaries(
            state=state, site=site, kind=kind, search=search, after_id=after_id, limit=limit
        )

    def iter_documents(
        self: StationService,
        *,
        state: str | None = None,
        site: str | None = None,
        kind: str | None = None,
    ) -> Iterator[DocumentSummary]:
        self._checked(ReportFilter(site=site))
        return self.repo.iter_document_summaries(state=state, site=site, kind=kind)

    def audit_events(
        self: StationService, where: ReportFilter, operator: str | None = None
    ) -> Iterator[AuditEvent]:
        """The audit trail in the order it was recorded (filters checked like a report's)."""
        where = self._checked(where)
        if operator is not None and not storable(operator, limits.OPERATOR):
            return iter(())
        return self.repo.audit_events(where, operator)

    def find_serials(
        self: StationService,
        search: SerialSearch,
        *,
        after: str | int | None = None,
        limit: int = 50,
    ) -> list[tuple[str | int, SerialView]]:
        """A page of the serials that match, each with its key (keyset: the page after the
        key `after`): by the start of a serial number in serial-number order, otherwise in
        the order they were made. An unknown SKU, site, stage or document is a
        ServiceError: a typo never reads as "none"."""
        self._checked(ReportFilter(site=search.site, sku=search.sku))
        if search.stage is not None and search.stage not in {s.value for s in Stage}:
            raise ServiceError(f"Unknown stage {visible(search.stage)!r}")
        document = None
        if search.document:
            found = self.repo.document_ids_for(search.document)
            if len(found) != 1:
                raise ServiceError(f"{visible(search.document)!r} is not one known document")
            document = found[0]
        # Read as a scan is (a GS1 code's serial, a signed QR's token, the serial case), so a
        # label scanned into Find finds what scanning it at the station would.
        text = self.lookup_key(self._serial_key(search.text)) if search.text else None
        ids = {
            "item": self.repo.item_id(search.sku) if search.sku else None,
            "site": self.repo.site_id(search.site) if search.site else None,
            "document": document,
        }
        return self.repo.search_serials(
            replace(search, text=text or None), ids, after=after, limit=limit
        )

    def import_documents(
        self: StationService,
        path: Path,
        *,
        dry_run: bool = False,
        by: str | None = None,
        request_id: str | None = None,
    ) -> ImportReport:
        """Open every document of the file, or none: each row is checked as `doc add` checks
        one, and every problem is listed with its line."""
        request = check_text(limits.REQUEST_ID, request_id) if request_id else new_scan_id()
        operator = check_text(limits.OPERATOR, by or login_name())
        skus = self.repo.sku_ids()
        problems = Problems()
        documents: list[dict[str, Any]] = []
        first_line: dict[str, int] = {}
        with self._open_import(path) as handle:
            records = csv_records(path, Lines(handle, problems), DOCUMENT_HEADER, problems)
            for line, record in records:
                fields, problem = self._document_row(record, skus)
                if fields is not None:
                    problem = self._new_reference(fields["reference_no"], line, first_line)
                if problem:
                    problems.add(line, problem)
                elif fields is not None:
                    documents.append(fields)
        rows = len(documents)
        if problems or dry_run or not documents:
            return ImportReport(rows, problems.report(), False)
        try:
            self.repo.add_documents(documents, by=operator, at=utc_now(), request_id=request)
        except StoreError as error:
            if error.transient:
                raise
            raise ServiceError(f"Import failed, nothing was written: {error}") from error
        return ImportReport(rows, (), True)

    def _new_reference(
        self: StationService, reference: str, line: int, first_line: dict[str, int]
    ) -> str:
        """Why this reference no cannot be opened (taken, or earlier in the file), or ""."""
        earlier = first_line.setdefault(reference, line)
        if earlier != line:
            return f"reference no {visible(reference)} repeats line {earlier}"
        if self.repo.document(reference) is not None:
            return f"document {visible(reference)} already exists"
        return ""

    def _document_row(
        self: StationService, record: list[str], skus: dict[str, int]
    ) -> tuple[dict[str, Any] | None, str]:
        """One row as a new document's fields, or why not."""
        if len(record) != len(DOCUMENT_HEADER):
            return None, f"expected {len(DOCUMENT_HEADER)} columns, found {len(record)}"
        reference, kind, dc_no, invoice_no, source, to, line_cells = (
            cell.strip(" \t") for cell in record
        )
        if kind.lower() not in {k.value for k in DocumentKind}:
            return None, f"kind {visible(kind)!r} is not dc or invoice"
        lines: list[tuple[str, int]] = []
        for part in filter(None, (p.strip(" \t") for p in line_cells.split(";"))):
            sku, sep, quantity = part.rpartition("=")
            sku = sku.strip(" \t")
            if not sep or not sku or not quantity.strip(" \t").isdigit():
                return None, f"line {visible(part)!r} is not SKU=QTY"
            if sku not in skus:
                return None, f"unknown SKU {visible(sku)!r}"
            lines.append((sku, int(quantity)))
        try:
            fields = self.checked_document(
                kind=DocumentKind(kind.lower()),
                reference_no=reference,
                from_site=source,
                to=to,
                lines=lines,
                dc_no=dc_no or None,
                invoice_no=invoice_no or None,
            )
        except ServiceError as error:
            return None, str(error)
        return fields, ""
