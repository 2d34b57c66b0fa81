"""Finding serials a page at a time (keyset pagination on the serial number's unique index): a
page is one short statement that starts where the last one ended, however deep the paging."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scanstation.domain.model import SerialView
from scanstation.domain.reports import SerialSearch
from scanstation.store.codec import iso
from scanstation.store.serials import SERIAL_COLUMNS, SERIAL_FROM, serial_from_row

if TYPE_CHECKING:
    from scanstation.store.repository import Repository

__all__ = ["SearchStore"]


def _after_prefix(prefix: str) -> str:
    """The smallest text greater than every text that starts with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class SearchStore:
    """The Find screen's search (a part of Repository)."""

    def search_serials(
        self: Repository,
        search: SerialSearch,
        ids: dict[str, int | None],
        *,
        after: str | int | None = None,
        limit: int = 50,
    ) -> list[tuple[str | int, SerialView]]:
        """A page of serials, each with its key, the first after `after` (the last key of
        the page before). `ids` are the item, site and document the search names, found by
        the caller.

        By the start of a serial number: in serial-number order on its unique index (the key
        is the serial number). Otherwise in the order they were made, by id (the key): a
        walk that stops at a page, never a sort of everything that matches: a SKU's along
        its (item, id) index, anything else along the table. The unary `+` on the site (`|| ''`
        on the stage) keeps the planner walking by id instead of fetching every match from
        the (item, stage, site) index and sorting them (SQLite's skip-scan would, once ANALYZE
        has run). A stage, site or date range alone is checked row by row along the walk:
        quick while matches are common, a read of the table through when there are none
        (columns every scan rewrites: an index of them would cost every scan a write)."""
        clauses: list[str] = []
        params: list[Any] = []
        by_number = bool(search.text)
        if search.text:
            qr = self._cursor(
                "SELECT serial_no FROM serial WHERE secondary_qr = ?", (search.text,)
            ).fetchone()
            if qr is not None:  # a whole secondary QR code: its serial and nothing else
                clauses.append("s.serial_no = ?")
                params.append(qr[0])
            else:
                clauses.append("s.serial_no >= ? AND s.serial_no < ?")
                params.extend((search.text, _after_prefix(search.text)))
        item = ids.get("item")
        if item is not None:
            # In the order they were made: a walk along the (item, id) index from the key on.
            # By number: the serial-number index leads; the item only filters.
            # The item named too, so the planner reads that one row, never every item first.
            clauses.append("i.id = ? AND " + ("+s.item_id = ?" if by_number else "s.item_id = ?"))
            params.extend((item, item))
        if ids.get("site") is not None:
            clauses.append("+s.site_id = ?")
            params.append(ids["site"])
        if ids.get("document") is not None:
            # The units that left on it: found by the event (document_id) index, however few
            # they are among the serials.
            clauses.append(
                "s.document_id = ? AND s.id IN (SELECT serial_id FROM event WHERE document_id = ?)"
            )
            params.extend((ids["document"], ids["document"]))
        if search.stage:
            clauses.append("s.stage || '' = ?")  # `+` as on the site: PostgreSQL has no + text
            params.append(search.stage)
        if search.since is not None:
            clauses.append("s.updated_at >= ?")
            params.append(iso(search.since))
        if search.until is not None:
            clauses.append("s.updated_at < ?")
            params.append(iso(search.until))
        order = "s.serial_no" if by_number else "s.id"
        if after is not None:
            clauses.append(f"{order} > ?")
            params.append(after)
        where = " AND ".join(clauses) or "1 = 1"
        rows = self._cursor(
            f"SELECT {SERIAL_COLUMNS}{SERIAL_FROM} WHERE {where} ORDER BY {order} "
            f"LIMIT {int(limit)}",
            params,
        ).fetchall()
        loaded = [serial_from_row(row) for row in rows]
        return [(s.view.serial_no if by_number else s.id, s.view) for s in loaded]
