"""Sites, items, documents, comments and generation runs: every text checked against the limit
table before it is written. The writes that must not happen twice (a generation run, a
document opened or closed, a comment; imports in service/imports.py) carry a request id: the
caller's, or one made here. It is checked inside the transaction, like a scan id, so a retry
after a lost COMMIT applies once and answers the same."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scanstation.domain import limits
from scanstation.domain.model import (
    DocumentView,
    EventView,
    ItemView,
    SiteView,
    new_scan_id,
    utc_now,
)
from scanstation.domain.stages import DocumentKind, SiteKind
from scanstation.domain.text import visible
from scanstation.service.checks import (
    AI82_CHARACTERS,
    SERIAL_DIGITS,
    SERIAL_MAX_LENGTH,
    check_quantity,
    check_setup,
    check_text,
    new_secondary_qrs,
    normalise_gtin,
    optional_text,
)
from scanstation.service.setup import ServiceError, StationSetup, login_name
from scanstation.store.errors import StoreError

if TYPE_CHECKING:
    from scanstation.service.station import StationService

__all__ = ["Admin"]

MAX_GENERATION_COUNT = 10_000_000
_SITE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")


def _request(request_id: str | None) -> str:
    """The caller's request id (checked), or a new one: time-ordered, like a scan id."""
    if request_id is None:
        return new_scan_id()
    return check_text(limits.REQUEST_ID, request_id)


@contextmanager
def _refusals() -> Iterator[None]:
    """A permanent store refusal ("already exists") is the request's fault: a usage error
    (ServiceError). A transient one (the database failed) stays a StoreError for the caller."""
    try:
        yield
    except StoreError as error:
        if error.transient:
            raise
        raise ServiceError(str(error)) from error


class Admin:
    """What supervisors and clerks do besides scanning (a part of StationService)."""

    # -- sites and items ----------------------------------------------------------------------

    def add_site(self: StationService, code: str, name: str, kind: SiteKind) -> SiteView:
        code = code.strip()
        if not _SITE_CODE.fullmatch(code):
            raise ServiceError(f"Site code {visible(code)!r}: use 1-32 letters, digits, '-' or '_'")
        name = check_text(limits.SITE_NAME, name.strip() or code)
        with _refusals():
            return self.repo.add_site(code, name, kind)

    def add_item(
        self: StationService,
        sku: str,
        name: str,
        gtin: str | None = None,
        model_no: str | None = None,
    ) -> ItemView:
        sku = sku.strip()
        if not sku or any(ch.isspace() or not ch.isprintable() for ch in sku):
            raise ServiceError(
                f"SKU {visible(sku)!r}: 1-{limits.SKU.max_length} printable characters "
                "without spaces"
            )
        check_text(limits.SKU, sku)
        name = check_text(limits.ITEM_NAME, name.strip() or sku)
        model = optional_text(limits.MODEL_NO, model_no)
        if gtin is not None:
            gtin = normalise_gtin(gtin)
        with _refusals():
            return self.repo.add_item(sku, name, gtin, model)

    # -- documents ----------------------------------------------------------------------------

    def add_document(
        self: StationService,
        *,
        kind: DocumentKind,
        reference_no: str,
        from_site: str,
        to: str,
        lines: list[tuple[str, int]],
        dc_no: str | None = None,
        invoice_no: str | None = None,
        by: str | None = None,
        request_id: str | None = None,
    ) -> DocumentView:
        document = self.checked_document(
            kind=kind,
            reference_no=reference_no,
            from_site=from_site,
            to=to,
            lines=lines,
            dc_no=dc_no,
            invoice_no=invoice_no,
        )
        by = check_text(limits.OPERATOR, by or login_name())
        with _refusals():
            return self.repo.add_document(
                **document, by=by, at=utc_now(), request_id=_request(request_id)
            )

    def checked_document(
        self: StationService,
        *,
        kind: DocumentKind,
        reference_no: str,
        from_site: str,
        to: str,
        lines: list[tuple[str, int]],
        dc_no: str | None = None,
        invoice_no: str | None = None,
    ) -> dict[str, Any]:
        """A new document's fields as the store takes them, checked (ServiceError: why not)."""
        reference_no = reference_no.strip()
        if not reference_no:
            raise ServiceError("A document needs a reference no")
        check_text(limits.REFERENCE_NO, reference_no)
        dc = optional_text(limits.DC_NO, dc_no)
        invoice = optional_text(limits.INVOICE_NO, invoice_no)
        if not lines:
            raise ServiceError("A document needs at least one line (--line SKU=QTY)")
        skus = [sku for sku, _ in lines]
        if len(set(skus)) != len(skus):
            raise ServiceError("Each SKU may appear on one line only")
        for sku, quantity in lines:
            check_text(limits.SKU, sku)
            check_quantity(f"quantity of line {visible(sku)}", quantity)
        check_text(limits.SITE_CODE, from_site)
        source = self.repo.site(from_site)
        if source is None:
            raise ServiceError(f"Unknown site {visible(from_site)!r}")
        destination = self.repo.site(to) if limits.SITE_CODE.problem(to) is None else None
        if kind is DocumentKind.DC:
            if source.kind is not SiteKind.PLANT:
                raise ServiceError(f"A DC goes from a plant; {from_site} is a {source.kind}")
            if destination is None or destination.kind is not SiteKind.GODOWN:
                raise ServiceError(f"A DC goes to a godown; {visible(to)!r} is not a godown site")
        elif source.kind is not SiteKind.GODOWN:
            raise ServiceError(f"An invoice goes from a godown; {from_site} is a {source.kind}")
        to_name = None if destination else check_text(limits.DESTINATION_NAME, to.strip())
        return {
            "kind": kind,
            "reference_no": reference_no,
            "dc_no": dc,
            "invoice_no": invoice,
            "from_site": from_site,
            "to_site": destination.code if destination else None,
            "to_name": to_name,
            "lines": lines,
        }

    # -- comments -----------------------------------------------------------------------------

    def comment(
        self: StationService,
        serial_no: str,
        text: str,
        station: StationSetup,
        *,
        request_id: str | None = None,
    ) -> EventView:
        text = text.strip()
        if not text:
            raise ServiceError("A comment needs some text")
        check_text(limits.COMMENT, text)
        check_setup(station)
        request = _request(request_id)
        serial = self.repo.find_serial(serial_no) if self._storable_key(serial_no) else None
        if serial is None:
            raise ServiceError(f"{visible(serial_no)} is not a known serial")
        event_id = self.repo.add_comment(
            serial_id=serial.id,
            text=text,
            station=station.station_id,
            site=station.site_code,
            by=station.operator,
            at=utc_now(),
            request_id=request,
        )
        event = self.repo.event_by_id(event_id)
        assert event is not None
        return event

    # -- generation runs ----------------------------------------------------------------------

    def generate(
        self: StationService,
        sku: str,
        count: int,
        site_code: str,
        *,
        prefix: str = "SN",
        by: str | None = None,
        at: datetime | None = None,
        progress: Callable[[int], None] | None = None,
        request_id: str | None = None,
    ) -> tuple[str, list[str]]:
        """A generation run of `count` serials `prefix` + 10 digits, each with a random
        secondary QR token (signed when the deployment has a key pair); numbers and
        generation nos already taken are skipped."""
        if count <= 0:
            raise ServiceError("--count must be at least 1")
        if count > MAX_GENERATION_COUNT:
            raise ServiceError(f"--count is limited to {MAX_GENERATION_COUNT:,} serials a run")
        prefix = prefix.strip()
        if self.serial_case == "upper":
            prefix = prefix.upper()
        bad = sorted(set(prefix) - AI82_CHARACTERS)
        if bad:
            raise ServiceError(
                f"--prefix {visible(prefix)!r}: {visible(''.join(bad))!r} is not allowed in a "
                "GS1 serial (AI 82 character set)"
            )
        if len(prefix) + SERIAL_DIGITS > SERIAL_MAX_LENGTH:
            raise ServiceError(
                f"--prefix {prefix!r} is too long: at most "
                f"{SERIAL_MAX_LENGTH - SERIAL_DIGITS} characters, so a serial fits GS1 (21)"
            )
        by = check_text(limits.OPERATOR, by or login_name())
        request = _request(request_id)
        site = self.repo.site(site_code) if self._storable(limits.SITE_CODE, site_code) else None
        if site is None:
            raise ServiceError(f"Unknown site {visible(site_code)!r}")
        if site.kind is not SiteKind.PLANT:
            raise ServiceError(f"Serials are generated for a plant; {site_code} is a {site.kind}")
        if not self._storable(limits.SKU, sku) or self.repo.item(sku) is None:
            raise ServiceError(f"Unknown SKU {visible(sku)!r}")
        signer = self.signer()
        with _refusals():
            return self.repo.create_generation(
                sku=sku,
                site_code=site_code,
                prefix=prefix,
                count=count,
                new_tokens=new_secondary_qrs,
                by=by,
                at=at or utc_now(),
                request_id=request,
                progress=progress,
                seal=signer.seal_many if signer else None,
            )
