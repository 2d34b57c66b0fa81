"""Putting mistakes right (a part of StationService): voiding a scan, closing a document (short
only with a reason) and reopening one, by the rules of domain/corrections.py, with their
sentences. A void is an event of its own that moves the serial back to the stage before the
voided scan; nothing is deleted."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from scanstation.domain import limits
from scanstation.domain.corrections import (
    DEFAULT_VOID_WINDOW_S,
    RecordedScan,
    Ruling,
    VoidDecision,
    decide_close,
    decide_reopen,
    decide_void,
)
from scanstation.domain.model import DocumentView, ScanEvent, UserView, utc_now
from scanstation.domain.outcome import OutcomeKind, ScanOutcome
from scanstation.domain.stages import Stage, Verdict
from scanstation.domain.text import visible
from scanstation.service.admin import _refusals, _request
from scanstation.service.checks import check_setup, check_text, optional_text
from scanstation.service.setup import ServiceError, StationSetup, login_name
from scanstation.store.corrections import VOID_MODE, RecordedChange
from scanstation.store.errors import VersionChanged
from scanstation.store.scan_function import ScanWrite
from scanstation.store.serials import LoadedSerial

if TYPE_CHECKING:
    from scanstation.service.station import StationService

__all__ = ["Corrections"]

_DISPATCHED = (Stage.DISPATCHED_FROM_PLANT, Stage.DISPATCHED_FROM_GODOWN)


class Corrections:
    """Voids and a document's closing and reopening (a part of StationService)."""

    def void(
        self: StationService,
        key: str,
        station: StationSetup,
        *,
        event_id: int | None = None,
        reason: str | None = None,
        window_s: float = DEFAULT_VOID_WINDOW_S,
        request_id: str | None = None,
    ) -> ScanOutcome:
        """Void the serial's latest change (or the change `event_id`, which must be it) on
        behalf of `station.operator`: OK with the serial back in the stage before, or
        REJECTED (nothing written) with the rule's sentence; UNKNOWN for no such serial."""
        check_setup(station)
        self.require_signed_in(station.role)
        why = optional_text(limits.REASON, reason)
        request = _request(request_id)
        asked = ScanEvent(key, source="void", scan_id=request)
        found = self.repo.find_serial(self._serial_key(key)) if self._storable_key(key) else None
        if found is None:
            shown = visible(key.strip())
            return ScanOutcome(OutcomeKind.UNKNOWN, f"{shown} is not a known serial", asked)

        def work() -> ScanOutcome:
            done = self.repo.request_event(request)
            current, _ = self.repo.lock_serial(found.id, request)
            view = current.view
            if done is not None:  # this very request voided it: its retry answers the same
                return ScanOutcome(
                    OutcomeKind.ALREADY, f"{view.serial_no}: this void was recorded", asked, view
                )
            latest = self.repo.last_change(current.id)
            change = latest if event_id is None else self.repo.change_by_id(event_id)
            if change is None or change.serial_id != current.id:
                nothing = (
                    f"{view.serial_no} has no scan to void"
                    if change is None
                    else f"That scan is not one of {view.serial_no}'s"
                )
                return ScanOutcome(
                    OutcomeKind.REJECTED, nothing, asked, view, view.stage, view.stage
                )
            decision = decide_void(
                _recorded(view.serial_no, change, latest),
                operator=station.operator,
                now=utc_now(),
                window_s=window_s,
                role=station.role,
                approver_role=station.approver_role if station.approved_by else None,
            )
            refusal = decision.message if decision.verdict is Verdict.REJECTED else None
            refill = decision.refills_line_on and change.document_id is not None
            if refusal is None and refill:
                assert change.document_id is not None
                if not self.repo.count_line(change.document_id, current.item_id, +1):
                    refusal = (
                        f"{view.serial_no} is unchanged: {decision.refills_line_on} has all "
                        f"its {view.sku} again, so the return cannot be undone"
                    )
            if refusal is not None:
                return ScanOutcome(
                    OutcomeKind.REJECTED, refusal, asked, view, view.stage, view.stage
                )
            return self._apply_void(current, change, decision, station, asked, why)

        # A retry after a COMMIT whose answer was lost answers as that try did, not "recorded".
        return self._write_locked(asked, work)

    def _apply_void(
        self: StationService,
        current: LoadedSerial,
        change: RecordedChange,
        decision: VoidDecision,
        station: StationSetup,
        asked: ScanEvent,
        reason: str | None,
    ) -> ScanOutcome:
        assert decision.to_stage is not None
        view, to_stage = current.view, decision.to_stage
        if decision.frees_line_on and change.document_id is not None:
            self.repo.count_line(change.document_id, current.item_id, -1)
        site_id, document_id = current.site_id, current.document_id
        if change.to_stage in _DISPATCHED:  # a voided dispatch: back on its document before
            document_id = self.repo.document_before(current.id, change.id)
        elif to_stage in _DISPATCHED and document_id is not None:
            # A voided receive: back on record where it left from.
            left_on = self.repo.document_by_id(document_id)
            if left_on is not None:
                site_id = self.repo.site_id(left_on.from_site) or site_id
        now = utc_now()
        write = ScanWrite(
            serial_id=current.id,
            version=view.version,
            from_stage=view.stage,
            to_stage=to_stage,
            site_id=site_id,
            document_id=document_id,
            fill_document_id=None,
            item_id=current.item_id,
            scan_id=asked.scan_id,
            mode=VOID_MODE,
            station=station.station_id,
            site=station.site_code,
            operator=station.operator,
            at=now,
            recorded_at=now,
            event_document_id=change.document_id,
            source=asked.source,
            payload=visible(view.serial_no),
            comment=reason,
            message=decision.message,
            approved_by=station.approved_by if decision.approved else None,
        )
        applied = self.repo.apply_scan_locked(write)
        if applied.status != "ok":
            raise VersionChanged(view.serial_no)  # cannot be under this lock: try again
        after = self.repo.find_serial(view.serial_no)
        return ScanOutcome(
            OutcomeKind.OK,
            decision.message,
            asked,
            after.view if after else view,
            view.stage,
            to_stage,
            applied.event_id,
        )

    def _serial_key(self: StationService, key: str) -> str:
        code = self.parse(key)
        return code.serial if code.ok and code.serial else key.strip()

    # -- documents ----------------------------------------------------------------------------

    def _open_or_closed(self: StationService, reference_no: str) -> DocumentView:
        document = (
            self.repo.document(reference_no)
            if limits.REFERENCE_NO.problem(reference_no) is None
            else None
        )
        if document is None:
            raise ServiceError(f"No document with reference no {visible(reference_no)!r}")
        return document

    def close_document(
        self: StationService,
        reference_no: str,
        reason: str | None = None,
        by: str | None = None,
        *,
        request_id: str | None = None,
        actor: UserView | None = None,
        approver: UserView | None = None,
        at: StationSetup | None = None,
    ) -> DocumentView:
        """Close a document; short of its lines only with a reason (ServiceError otherwise)
        and, once the database has users, by a supervisor: `actor` signed in, or approved on
        the spot by `approver` (both authenticated by the face; the event names both). `at`:
        the station it is done at, whose id and site the event records (None: the admin's
        CLI)."""
        return self._rule_document(
            reference_no,
            reason,
            by,
            request_id,
            decide_close,
            self.repo.close_document,
            actor,
            approver,
            at,
        )

    def reopen_document(
        self: StationService,
        reference_no: str,
        reason: str | None,
        by: str | None = None,
        *,
        request_id: str | None = None,
        actor: UserView | None = None,
        approver: UserView | None = None,
        at: StationSetup | None = None,
    ) -> DocumentView:
        """Open a closed document again, with a reason (ServiceError otherwise) and, once the
        database has users, by a supervisor (`actor`, or `approver` on the spot); `at` as for
        `close_document`."""
        return self._rule_document(
            reference_no,
            reason,
            by,
            request_id,
            decide_reopen,
            self.repo.reopen_document,
            actor,
            approver,
            at,
        )

    def _rule_document(
        self: StationService,
        reference_no: str,
        reason: str | None,
        by: str | None,
        request_id: str | None,
        rule: Callable[..., Ruling],
        write: Callable[..., None],
        actor: UserView | None = None,
        approver: UserView | None = None,
        at: StationSetup | None = None,
    ) -> DocumentView:
        """Close or reopen: the rule's refusal as a ServiceError, else the write, once."""
        self.require_signed_in(actor.role if actor else None)
        request = _request(request_id)
        by = check_text(limits.OPERATOR, actor.name if actor else (by or login_name()))
        why = optional_text(limits.REASON, reason)
        document = self._open_or_closed(reference_no)
        # Where it was done: the station and its site; from the admin's CLI, the document's
        # own site, as its opening event records (so `export --events --site` finds both).
        where = (
            {"site": document.from_site}
            if at is None
            else {
                "station": check_text(limits.STATION_ID, at.station_id),
                "site": check_text(limits.SITE_CODE, at.site_code),
            }
        )
        ruling = rule(
            document,
            why,
            role=actor.role if actor else None,
            approver_role=approver.role if approver else None,
        )
        if ruling.verdict is Verdict.ALREADY and self.repo.request_event(request) is not None:
            return document  # this very request did it: its retry answers the same
        if ruling.verdict is not Verdict.APPLY:
            raise ServiceError(ruling.message)
        approved_by = approver.name if approver is not None and ruling.approved else None
        with _refusals():
            write(
                reference_no,
                why,
                by,
                utc_now(),
                request_id=request,
                approved_by=approved_by,
                **where,
            )
        return self._open_or_closed(reference_no)


def _recorded(
    serial_no: str, change: RecordedChange, latest: RecordedChange | None
) -> RecordedScan:
    return RecordedScan(
        serial_no=serial_no,
        operator=change.operator,
        at=change.at,
        from_stage=change.from_stage,
        to_stage=change.to_stage if change.outcome == OutcomeKind.OK.value else None,
        is_latest=latest is not None and latest.id == change.id,
        is_void=change.is_void,
        document=change.document,
    )
