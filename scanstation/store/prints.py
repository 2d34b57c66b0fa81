"""Labels: the serials a print job names, and recording a job a printer took whole (each
serial's print count and last print time, and an event per label: who, where, the reason)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

from scanstation.domain.model import SerialView
from scanstation.store.codec import iso
from scanstation.store.serials import SERIAL_COLUMNS, SERIAL_FROM, serial_from_row

if TYPE_CHECKING:
    from scanstation.store.repository import Repository

__all__ = ["PrintStore"]

CHUNK: Final = 1_000


class PrintStore:
    """Print jobs (a part of Repository)."""

    def generation_serials(self: Repository, generation_no: str) -> list[SerialView] | None:
        """The serials of a generation run in the order they were made; None: no such run."""
        run = self.t.generation_run
        found = run.get_or_none(run.generation_no == generation_no)
        if found is None:
            return None
        rows = self._cursor(
            f"SELECT {SERIAL_COLUMNS}{SERIAL_FROM} WHERE s.generation_id = ? ORDER BY s.id",
            (found.id,),
        ).fetchall()
        return [serial_from_row(row).view for row in rows]

    def record_prints(
        self: Repository,
        serial_nos: Sequence[str],
        *,
        by: str,
        station: str,
        at: datetime,
        reason: str | None,
        request_id: str,
        approved_by: str | None = None,
    ) -> int:
        """One print job taken whole: each serial's count goes up by one and its last print
        time is `at`; one event a label ("printed", or "reprinted" with the reason). Applied
        once for a request id. Returns how many labels were recorded."""

        def work() -> int:
            done = self.request_event(request_id)
            if done is not None:
                return int(done.count or 0)
            stamp = iso(at)
            recorded = 0
            for start in range(0, len(serial_nos), CHUNK):
                chunk = list(serial_nos[start : start + CHUNK])
                where, params = self.dialect.any_of("serial_no", chunk)
                rows = self._cursor(
                    f"SELECT id, print_count FROM serial WHERE {where}", params
                ).fetchall()
                ids = [serial_id for serial_id, _count in rows]
                if not ids:
                    continue
                id_where, id_params = self.dialect.any_of("id", ids)
                self._cursor(
                    "UPDATE serial SET print_count = print_count + 1, printed_at = ? "
                    f"WHERE {id_where}",
                    (stamp, *id_params),
                )
                for serial_id, count in rows:
                    self.append_event(
                        scan_id=None,
                        kind="print",
                        serial_id=serial_id,
                        mode=None,
                        from_stage=None,
                        to_stage=None,
                        station=station,
                        site=None,
                        operator=by,
                        at=at,
                        recorded_at=at,
                        document_id=None,
                        source=None,
                        payload=None,
                        comment=reason,
                        outcome="reprinted" if count else "printed",
                        message=None,
                        approved_by=approved_by,
                    )
                recorded += len(rows)
            self.append_admin_event(
                request_id=request_id,
                kind="print",
                site=None,
                by=by,
                at=at,
                comment=f"Printed {recorded} labels" + (f": {reason}" if reason else ""),
                count=recorded,
                station=station,
                approved_by=approved_by,
            )
            return recorded

        return self.write_request(work)
