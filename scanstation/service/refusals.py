"""Refused scans: why a scan is refused (REJECTED, or CONFLICT when another station changed the
serial at that very moment), and the refusal logged as an event for supervisors, with who,
where, when and the payload. A part of StationService's scan path (service/scanning.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from scanstation.domain.codes import visible
from scanstation.domain.model import ScanEvent, utc_now
from scanstation.domain.outcome import OutcomeKind, ScanOutcome
from scanstation.domain.stages import Decision, Mode, StationContext, Verdict
from scanstation.service.setup import StationSetup
from scanstation.store.errors import DuplicateScan
from scanstation.store.serials import LoadedSerial, ScanLock
from scanstation.store.tries import Tries

if TYPE_CHECKING:
    from datetime import datetime

    from scanstation.domain.roles import Role
    from scanstation.service.station import StationService

__all__ = ["Refusals"]


class Refusals:
    """The refusals of StationService's scan path."""

    def _refuse_decision(
        self: StationService,
        event: ScanEvent,
        station: StationSetup,
        locked: ScanLock,
        message: str,
        context: StationContext,
        document_id: int | None,
        needs_role: Role | None = None,
    ) -> ScanOutcome:
        """The rules refuse the scan. CONFLICT when another station changed the serial at this
        very moment and the scan would have applied to the serial as first read."""
        current, before = locked.current, locked.before
        kind = OutcomeKind.REJECTED
        if (
            locked.changed_meanwhile
            and before is not None
            and self._decide(before, station, context).verdict is Verdict.APPLY
        ):
            kind = OutcomeKind.CONFLICT
            message = (
                f"{current.view.serial_no} changed at this moment: now {current.view.stage} "
                f"by {current.view.updated_by} — {message}"
            )
        override = self._override_allowed(current, station, context)
        refused = self._refuse_locked(event, station, kind, message, current, document_id, override)
        if kind is OutcomeKind.REJECTED and needs_role is not None:
            return replace(refused, needs_role=needs_role)
        return refused

    def _refuse_unchanged(
        self: StationService,
        event: ScanEvent,
        station: StationSetup,
        serial: LoadedSerial,
        decision: Decision,
        context: StationContext,
        document_id: int | None,
    ) -> ScanOutcome | None:
        """The rules refuse the serial as read: the refusal logged in one call that holds only
        while the serial is still as read. That is the locked path's answer when nothing
        changed meanwhile (REJECTED, never CONFLICT; the override and the role judged on the
        same serial), without its transaction. None when the serial changed: the locked path
        then tells CONFLICT apart."""
        override = self._override_allowed(serial, station, context)
        view = serial.view
        tries = Tries()
        message = decision.message
        fields = _refusal_fields(event, station, OutcomeKind.REJECTED, message, document_id)
        try:
            event_id = self.repo.append_refusal_if_unchanged(
                serial_id=serial.id, version=view.version, stage=view.stage, tries=tries, **fields
            )
        except DuplicateScan:
            # This very call's refusal, committed before its answer was lost, or ALREADY.
            event_id = self._own_event(
                event, tries, "rejected", message, fields["recorded_at"], station.station_id
            )
            if event_id is None:
                raise
        if event_id is None:
            return None
        return ScanOutcome(
            OutcomeKind.REJECTED,
            decision.message,
            event,
            view,
            view.stage,
            view.stage,
            event_id,
            override,
            needs_role=decision.needs_role,
        )

    def _override_allowed(
        self: StationService, serial: LoadedSerial, station: StationSetup, context: StationContext
    ) -> bool:
        """Would this refused scan be applied by override if the worker gave a reason?"""
        if (context.reason or "").strip():
            return False
        decision = self._decide(serial, station, replace(context, reason="override"))
        return decision.verdict is Verdict.APPLY and decision.override

    def _append_refusal(
        self: StationService,
        event: ScanEvent,
        station: StationSetup,
        serial: LoadedSerial | None,
        kind: OutcomeKind,
        message: str,
        document_id: int | None,
        recorded_at: datetime | None = None,
    ) -> int:
        """A refused scan's event: the serial (if any) stays in its stage. `recorded_at`:
        now, unless given."""
        stage = serial.view.stage if serial else None
        return self.repo.append_event(
            kind="scan",
            serial_id=serial.id if serial else None,
            from_stage=stage,
            to_stage=None,
            comment=None,
            **_refusal_fields(event, station, kind, message, document_id, recorded_at),
        )

    def _refuse_locked(
        self: StationService,
        event: ScanEvent,
        station: StationSetup,
        kind: OutcomeKind,
        message: str,
        serial: LoadedSerial,
        document_id: int | None,
        override_allowed: bool = False,
    ) -> ScanOutcome:
        """Inside the scan's transaction, the serial locked (its scan id checked by the lock's
        read): log the refusal (who, where, when, the payload) for supervisors, answer it."""
        stage = serial.view.stage
        event_id = self._append_refusal(event, station, serial, kind, message, document_id)
        return ScanOutcome(
            kind, message, event, serial.view, stage, stage, event_id, override_allowed
        )

    def _record_refusal(
        self: StationService,
        event: ScanEvent,
        station: StationSetup,
        kind: OutcomeKind,
        message: str,
        *,
        even_in_lookup: bool = False,
    ) -> ScanOutcome:
        """A scan that matched no serial, logged by one statement committed by itself (lookup
        logs nothing, unless `even_in_lookup`: a forged label is logged wherever it is
        scanned). There is no serial to lock: the scan id's unique index is the only check,
        and a delivery of the same scan id recorded already is told by it (DuplicateScan)."""
        if station.mode is Mode.LOOKUP and not even_in_lookup:
            return ScanOutcome(kind, message, event)
        document_id = self.repo.document_id(station.document) if station.document else None
        tries = Tries()
        recorded_at = utc_now()  # the same on each try: it tells this delivery's event
        try:
            event_id = self.repo.write_alone(
                lambda: self._append_refusal(
                    event, station, None, kind, message, document_id, recorded_at
                ),
                tries,
            )
        except DuplicateScan:
            # This very call's refusal, committed before its answer was lost: answered as it
            # would have been. Else another delivery of the scan id recorded it: ALREADY.
            own = self._own_event(
                event, tries, kind.value, message, recorded_at, station.station_id
            )
            if own is None:
                return self._already_recorded(event, self._recorded_outcome_or(event, kind.value))
            event_id = own
        return ScanOutcome(kind, message, event, None, None, None, event_id)


def _refusal_fields(
    event: ScanEvent,
    station: StationSetup,
    kind: OutcomeKind,
    message: str,
    document_id: int | None,
    recorded_at: datetime | None = None,
) -> dict[str, Any]:
    """What a refused scan's event records of the scan and the station: the same whether it
    is logged while the serial is as read or under the lock (they were written out twice)."""
    return {
        "scan_id": event.scan_id,
        "mode": station.mode.value,
        "station": station.station_id,
        "site": station.site_code,
        "operator": station.operator,
        "at": event.read_at,
        "recorded_at": recorded_at or utc_now(),
        "document_id": document_id,
        "source": event.source,
        "payload": visible(event.payload),
        "outcome": kind.value,
        "message": message,
    }
