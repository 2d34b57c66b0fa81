"""What the station is set to now: who scans, where, in which mode, against which document,
with which reason. Every scan is read with a copy of it (`setup()`), so a change of mode
never reaches a scan already queued."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from scanstation.domain.roles import Role
from scanstation.domain.stages import DocumentKind, Mode, SiteKind
from scanstation.tui.widgets.header import HeaderState

if TYPE_CHECKING:
    from scanstation.domain.model import SiteView
    from scanstation.station import StationSetup

__all__ = ["StationState", "login_name"]


def login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "operator"


@dataclass
class StationState:
    station_id: str
    site_code: str
    mode: Mode
    operator: str
    document: str | None = None  # reference no of the document scans are made against
    reason: str | None = None  # asked by reject and scrap, saved with each of their scans
    site: SiteView | None = None  # known once the database has answered
    role: Role | None = None  # the signed-in person's (None: a database without users)

    def setup(self, **changes: Any) -> StationSetup:
        """The station as one scan is read with (the service's StationSetup)."""
        from scanstation.station import StationSetup  # the store loads after first paint

        setup = StationSetup(
            station_id=self.station_id,
            site_code=self.site_code,
            mode=self.mode,
            operator=self.operator,
            document=self.document,
            reason=self.reason,
            role=self.role,
        )
        return replace(setup, **changes) if changes else setup

    @property
    def site_kind(self) -> SiteKind | None:
        return self.site.kind if self.site else None

    @property
    def site_label(self) -> str:
        """ "Godown One (G1)" once the site is known, else its code."""
        return f"{self.site.name} ({self.site.code})" if self.site else self.site_code

    @property
    def document_kind(self) -> DocumentKind:
        """What this site makes: a DC at a plant, an invoice at a godown."""
        return DocumentKind.DC if self.site_kind is SiteKind.PLANT else DocumentKind.INVOICE

    def header(self, db: str, db_text: str, who: str = "") -> HeaderState:
        """What the header shows of the station, with the database's state."""
        return HeaderState(
            station=self.station_id,
            site=self.site_code,
            site_name=self.site.name if self.site else "",
            mode=self.mode.value,
            operator=self.operator,
            who=who,
            document=self.document,
            reason=self.reason,
            db=db,
            db_text=db_text,
        )
