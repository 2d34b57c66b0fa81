"""Labels: which serials a print job names (a generation run, or serials by number or QR text),
and recording a job that a printer took whole."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from scanstation.domain import limits
from scanstation.domain.model import SerialView, new_scan_id, utc_now
from scanstation.domain.text import visible
from scanstation.service.checks import check_text, optional_text
from scanstation.service.setup import ServiceError, login_name

if TYPE_CHECKING:
    from scanstation.service.station import StationService

__all__ = ["Labelling"]

MAX_LABELS: Final = 100_000  # one print job
MAX_NAMED: Final = 10  # unknown serials named in a refusal


class Labelling:
    """Print jobs of StationService."""

    def label_serials(
        self: StationService,
        *,
        generation_no: str | None = None,
        keys: Sequence[str] = (),
    ) -> list[SerialView]:
        """The serials to label, in order: a generation run's, or each of `keys` (a serial no
        or its secondary QR text). ServiceError naming what is unknown; nothing is printed."""
        if generation_no is not None:
            found = (
                self.repo.generation_serials(generation_no)
                if self._storable(limits.GENERATION_NO, generation_no)
                else None
            )
            if found is None:
                raise ServiceError(f"No generation run {visible(generation_no)!r}")
            views = found
        else:
            views, unknown = [], []
            for key in keys:
                view = self.serial(key)
                if view is None:
                    unknown.append(visible(key))
                else:
                    views.append(view)
            if unknown:
                named = ", ".join(unknown[:MAX_NAMED])
                more = f" and {len(unknown) - MAX_NAMED} more" if len(unknown) > MAX_NAMED else ""
                raise ServiceError(f"Not a known serial: {named}{more}; nothing was printed")
        if not views:
            raise ServiceError("No serials to label")
        if len(views) > MAX_LABELS:
            raise ServiceError(f"A print job is limited to {MAX_LABELS:,} labels")
        return views

    def record_prints(
        self: StationService,
        serial_nos: Sequence[str],
        *,
        station: str,
        by: str | None = None,
        reason: str | None = None,
        request_id: str | None = None,
        approved_by: str | None = None,
    ) -> int:
        """A print job the printer took whole: counts, last print times and one event a label
        (a reprint carries who and the reason; `approved_by`, a supervisor who approved the
        job on the spot)."""
        operator = check_text(limits.OPERATOR, by or login_name())
        check_text(limits.STATION_ID, station)
        why = optional_text(limits.REASON, reason)
        request = check_text(limits.REQUEST_ID, request_id) if request_id else new_scan_id()
        return self.repo.record_prints(
            serial_nos,
            by=operator,
            station=station,
            at=utc_now(),
            reason=why,
            request_id=request,
            approved_by=optional_text(limits.OPERATOR, approved_by),
        )
