"""StationService: the one place that applies the rules and writes. Every face goes through it;
none reaches the repository behind it (the accessors here give faces what they used to take
from `service.repo`).

What it does is split by kind: scanning (service/scanning.py), the supervisor's and clerk's
writes (service/admin.py), imports (service/imports.py), the supervisor's reports
(service/reports.py) and lists (service/lists.py); this module opens and closes it and
answers reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from scanstation.domain import limits
from scanstation.domain.codes import SerialCase
from scanstation.domain.limits import TextLimit
from scanstation.domain.model import (
    DocumentProgress,
    DocumentView,
    EventView,
    ItemView,
    SerialView,
    SiteView,
)
from scanstation.domain.stages import Stage
from scanstation.service.admin import Admin
from scanstation.service.checks import storable
from scanstation.service.corrections import Corrections
from scanstation.service.imports import Imports
from scanstation.service.labels import Labelling
from scanstation.service.lists import Lists
from scanstation.service.people import People
from scanstation.service.refusals import Refusals
from scanstation.service.reports import Reports
from scanstation.service.scanning import Scanning
from scanstation.service.setup import ServiceError, StationSetup
from scanstation.signing import KeyFileError, KeyRing, Signer, Verifier
from scanstation.store.feed import ChangeWatcher
from scanstation.store.repository import Repository
from scanstation.store.scan_rules import ScanRules

__all__ = ["StationService"]


class StationService(
    Scanning, Refusals, Admin, Corrections, Imports, Reports, People, Labelling, Lists
):
    def __init__(
        self,
        repository: Repository,
        *,
        serial_case: SerialCase = "upper",
        max_payload: int = 512,
        lockout_s: int = 300,
        keys: KeyRing | None = None,
    ) -> None:
        self.repo = repository
        self.serial_case: SerialCase = serial_case
        self.max_payload = max_payload
        self.lockout_s = lockout_s  # how long 5 wrong PINs lock a user ([security] lockout_s)
        self.keys = keys  # None: new secondary QR codes are not signed
        # Decision tables (domain/rules.py) by station setup: made once, used by every scan.
        self._rule_tables: dict[tuple[object, ...], ScanRules | None] = {}
        self._last_rules: tuple[StationSetup, SiteView, ScanRules | None] | None = None
        # The last station setup whose texts passed check_setup: a setup is frozen, and a
        # station scans with the same one until it changes, so each is checked once.
        self._setup_checked: StationSetup | None = None

    @classmethod
    def open(
        cls,
        url: str,
        *,
        create: bool = False,
        serial_case: SerialCase = "upper",
        max_payload: int = 512,
        lockout_s: int = 300,
        keys: KeyRing | None = None,
    ) -> StationService:
        """Open the database at `url` (StoreError with a sentence when it cannot be)."""
        return cls(
            Repository.open(url, create=create),
            serial_case=serial_case,
            max_payload=max_payload,
            lockout_s=lockout_s,
            keys=keys,
        )

    # -- the key pair -------------------------------------------------------------------------

    def signer(self) -> Signer | None:
        """The private key that signs new secondary QR codes; None: they stay unsigned."""
        try:
            return self.keys.signer if self.keys else None
        except KeyFileError as error:
            raise ServiceError(str(error)) from error

    def verifier(self) -> Verifier | None:
        """The public key scanned QR codes are checked with; None: none is configured."""
        try:
            return self.keys.verifier if self.keys else None
        except KeyFileError as error:
            raise ServiceError(str(error)) from error

    def close(self) -> None:
        """Let go of this thread's connection (each thread has its own)."""
        self.repo.close()

    # -- the database, for faces that must not reach the store --------------------------------

    @property
    def database_display(self) -> str:
        """The database as a person reads it: a file path, or a URL without its password."""
        return self.repo.target.display

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.repo.target.backend

    @property
    def database_path(self) -> Path | None:
        """The SQLite file (None on PostgreSQL): a face checks it is still there before a
        background thread reconnects, as connecting would create an empty file."""
        return self.repo.target.path

    def watcher(self) -> ChangeWatcher:
        """Wakes the caller's (background) thread when another station commits."""
        return self.repo.watcher()

    def change_cursor(self) -> Any:
        """Where the change feed stands now (opaque): pass it to `changes_since`."""
        return self.repo.change_cursor()

    def changes_since(self, cursor: Any) -> tuple[Any, set[str], set[str]]:
        """(new cursor, serials, documents) with events committed after `cursor`, in commit
        order on both databases."""
        return self.repo.changes_since(cursor)

    def recorded_outcome(self, scan_id: str) -> str | None:
        """The outcome the database recorded for this scan id (`ok`, `rejected`, …), if any."""
        if not storable(scan_id, limits.REQUEST_ID):
            return None
        recorded = self.repo.scan_already_recorded(scan_id)
        return recorded[0] if recorded else None

    def recent_events(
        self, *, station: str | None = None, limit: int = 50, before_id: int | None = None
    ) -> list[tuple[int, EventView]]:
        """Scan events newest first (a station's history, paged by event id)."""
        if station is not None and not storable(station, limits.STATION_ID):
            return []
        return self.repo.recent_events(station=station, limit=limit, before_id=before_id)

    def relaxed_durability(self) -> AbstractContextManager[None]:
        """For building throw-away data fast (the demo): no fsync per commit meanwhile."""
        return self.repo.relaxed_durability()

    # -- reading ------------------------------------------------------------------------------

    def _storable(self, limit: TextLimit, value: str) -> bool:
        return storable(value, limit)

    def _storable_key(self, key: str) -> bool:
        """Could `key` be a serial number or secondary QR code at all? A lookup of anything
        else (a NUL, bytes that are not UTF-8, 5,000 characters) finds nothing."""
        return storable(key, limits.SECONDARY_QR)

    def serial(self, key: str) -> SerialView | None:
        """By serial number or secondary QR code, normalised like a scan."""
        code = self.parse(key)
        lookup = self.lookup_key(code.serial if code.ok and code.serial else key)
        if not self._storable_key(lookup):
            return None
        loaded = self.repo.find_serial(lookup)
        return loaded.view if loaded else None

    def events(self, serial_no: str) -> list[EventView]:
        """The serial's history, in the order it was recorded."""
        if not self._storable_key(serial_no):
            return []
        return self.repo.events(serial_no)

    def item(self, sku: str) -> ItemView | None:
        return self.repo.item_detail(sku) if self._storable(limits.SKU, sku) else None

    def site(self, code: str) -> SiteView | None:
        return self.repo.site(code) if self._storable(limits.SITE_CODE, code) else None

    def sites(self) -> list[SiteView]:
        return self.repo.sites()

    def document(self, reference_no: str) -> DocumentView | None:
        if not self._storable(limits.REFERENCE_NO, reference_no):
            return None
        return self.repo.document(reference_no)

    def document_progress(self, reference_no: str) -> DocumentProgress | None:
        """The document with its units still missing and its returns."""
        if not self._storable(limits.REFERENCE_NO, reference_no):
            return None
        found = self.repo.document_with_id(reference_no)
        if found is None:
            return None
        return self.repo.document_arrivals(*found)

    def documents(
        self, *, state: str | None = "open", from_site: str | None = None
    ) -> list[DocumentView]:
        if from_site is not None and not self._storable(limits.SITE_CODE, from_site):
            return []
        return self.repo.documents(state=state, from_site=from_site)

    def export(self, stage: Stage | None = None, site: str | None = None) -> Iterator[SerialView]:
        if site is not None and not self._storable(limits.SITE_CODE, site):
            return iter(())
        return self.repo.iter_serials(stage, site)

    def info(self) -> dict[str, object]:
        return self.repo.info()
