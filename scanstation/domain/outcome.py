"""What a scan came to: the kind every face shows, the sentence, and the serial it touched."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from scanstation.domain.model import ScanEvent, SerialView
from scanstation.domain.quick import quick_init
from scanstation.domain.roles import Role
from scanstation.domain.stages import Stage


class OutcomeKind(StrEnum):
    OK = "ok"
    ALREADY = "already"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    CONFLICT = "conflict"
    # A signed secondary QR whose signature fails (a copied or made-up label): nothing changed.
    NOT_GENUINE = "not_genuine"
    QUEUED = "queued"  # saved in the offline journal, decided when the database returns

    @property
    def is_success(self) -> bool:
        """Does this outcome leave a scripted caller's exit code at 0?"""
        return self in (OutcomeKind.OK, OutcomeKind.ALREADY, OutcomeKind.QUEUED)


@quick_init  # every scan makes one: see domain/quick.py
@dataclass(frozen=True, slots=True)
class ScanOutcome:
    kind: OutcomeKind
    message: str
    event: ScanEvent
    serial: SerialView | None = None  # the serial as it stands after the scan
    stage_before: Stage | None = None
    stage_after: Stage | None = None
    # The id of the event this scan wrote (ok, and refusals logged for a supervisor); None
    # when nothing was written (lookup, already, queued), so a face never reads back.
    event_id: int | None = None
    # The same scan with a reason would be applied by override (e.g. a receive away from the
    # DC's destination): a face may offer "override with a reason" instead of a dead end.
    override_allowed: bool = False
    # Refused for want of a role: the role whose approval on the spot would let it pass (the
    # station then asks for one: a supervisor's badge or name and PIN).
    needs_role: Role | None = None

    @property
    def serial_no(self) -> str | None:
        return self.serial.serial_no if self.serial else None

    def as_json(self) -> dict[str, str | None]:
        """The `scanstation scan --json` line: a public contract, keys never renamed."""
        return {
            "payload": self.event.payload,
            "serial": self.serial_no,
            "outcome": self.kind.value,
            "stage_before": self.stage_before.value if self.stage_before else None,
            "stage_after": self.stage_after.value if self.stage_after else None,
            "message": self.message,
        }
