"""The supervisor's reports: the filter checked (an unknown site or SKU is a ServiceError, so a
typo never reads as "nothing there"), then the store computes them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from scanstation.domain import limits
from scanstation.domain.model import utc_now
from scanstation.domain.reports import (
    AgingRow,
    DocumentReport,
    ExceptionRow,
    ReportFilter,
    StageCount,
    ThroughputRow,
    TransitUnit,
)
from scanstation.domain.text import visible
from scanstation.service.checks import storable
from scanstation.service.setup import ServiceError

if TYPE_CHECKING:
    from scanstation.service.station import StationService

__all__ = ["Reports"]


class Reports:
    """Reports (a part of StationService)."""

    def _checked(self: StationService, where: ReportFilter) -> ReportFilter:
        if where.site is not None and (
            not storable(where.site, limits.SITE_CODE) or self.repo.site(where.site) is None
        ):
            raise ServiceError(f"Unknown site {visible(where.site)!r}")
        if where.sku is not None and (
            not storable(where.sku, limits.SKU) or self.repo.item_id(where.sku) is None
        ):
            raise ServiceError(f"Unknown SKU {visible(where.sku)!r}")
        if where.since and where.until and where.since >= where.until:
            raise ServiceError("--since must be before --until")
        return where

    def stage_report(self: StationService, where: ReportFilter) -> list[StageCount]:
        return self.repo.stage_counts(self._checked(where))

    def document_report(self: StationService, number: str, where: ReportFilter) -> DocumentReport:
        """By reference no, or by DC or invoice no when that names one document."""
        where = self._checked(where)
        ids = self.repo.document_ids_for(number) if storable(number, limits.REFERENCE_NO) else []
        if len(ids) != 1:
            problem = "names more than one document" if ids else "is not a known document"
            raise ServiceError(f"{visible(number)!r} {problem}")
        report = self.repo.document_report(ids[0], where)
        assert report is not None
        return report

    def transit_report(
        self: StationService, where: ReportFilter, now: datetime | None = None
    ) -> Iterator[TransitUnit]:
        """Days in transit are counted to `now` (None: this moment)."""
        return self.repo.transit(self._checked(where), now or utc_now())

    def aging_report(
        self: StationService, where: ReportFilter, now: datetime | None = None
    ) -> list[AgingRow]:
        """Days since received are counted to `now` (None: this moment)."""
        return self.repo.aging(self._checked(where), now or utc_now())

    def throughput_report(self: StationService, where: ReportFilter) -> list[ThroughputRow]:
        return self.repo.throughput(self._checked(where))

    def exception_report(self: StationService, where: ReportFilter) -> Iterator[ExceptionRow]:
        return self.repo.exceptions(self._checked(where))
