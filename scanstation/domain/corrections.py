"""Putting mistakes right without rewriting history: voiding a scan, closing a document short
and reopening a closed one.

A void is a transition of its own, back to the stage before the voided scan, written as a new
event (nothing is deleted). A worker may void their own scan within the void window; anything
else needs a supervisor (with no users: nobody can). Only a serial's latest change can be
voided, so a void never jumps over someone else's later work. These rules decide and give the
sentence; the store applies them. Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from scanstation.domain.roles import (
    Action,
    Authority,
    Role,
    authorise,
    authorise_role,
    permission,
    required_role,
)
from scanstation.domain.stages import Verdict, transition_row
from scanstation.domain.terms import Stage

if TYPE_CHECKING:
    from scanstation.domain.model import DocumentView

__all__ = [
    "DEFAULT_VOID_WINDOW_S",
    "RETURN_MODE",
    "VOID_MODE",
    "RecordedScan",
    "Ruling",
    "VoidDecision",
    "decide_close",
    "decide_reopen",
    "decide_void",
    "window_words",
]

DEFAULT_VOID_WINDOW_S = 60.0
# An event's mode when it voids the serial's change before it, and when a receive was a
# return that freed a line of the document the event names.
VOID_MODE: Final = "void"
RETURN_MODE: Final = "return"
# Reasons typed at a prompt or given with --reason, in words for a sentence.
REOPEN_REASON_HOW = "(the station asks for one, --reason on the command line)"
CLOSE_REASON_HOW = "(F4 at the station asks for one, --reason on the command line)"


@dataclass(frozen=True, slots=True)
class RecordedScan:
    """An event a worker asks to void, as the store read it."""

    serial_no: str
    operator: str  # who made it (the operator on the event)
    at: datetime  # when it was read (aware, UTC)
    from_stage: Stage | None  # None: this event created the serial (generation or import)
    to_stage: Stage | None  # None: the scan changed nothing (refused, already, a comment)
    is_latest: bool  # no later change of this serial exists
    is_void: bool = False  # this event is itself a void
    voided: bool = False  # a later void undid it already
    document: str | None = None  # the document it was dispatched on, or cited as a return


@dataclass(frozen=True, slots=True)
class VoidDecision:
    verdict: Verdict  # APPLY or REJECTED
    message: str
    from_stage: Stage | None = None  # the serial's stage now (what the voided scan made it)
    to_stage: Stage | None = None  # the stage before the voided scan, which the void restores
    approved: bool = False  # allowed thanks to the approver: the event names them
    needs_role: Role | None = None  # refused for want of this role: ask for an approval
    frees_line_on: str | None = None  # a voided dispatch: this document's line drops by one
    refills_line_on: str | None = None  # a voided return: the line it freed counts it again


def window_words(seconds: float) -> str:
    """ "60 s", "5 min": the void window in a sentence."""
    whole = round(seconds)
    if whole >= 120 and whole % 60 == 0:
        return f"{whole // 60} min"
    return f"{whole} s"


def decide_void(
    scan: RecordedScan,
    *,
    operator: str,
    now: datetime,
    window_s: float = DEFAULT_VOID_WINDOW_S,
    role: Role | None = None,
    approver_role: Role | None = None,
) -> VoidDecision:
    """May `operator` (with `role`; None: a database with no users) void `scan` at `now`?"""
    sn = scan.serial_no

    def refused(message: str, needs_role: Role | None = None) -> VoidDecision:
        return VoidDecision(Verdict.REJECTED, message, needs_role=needs_role)

    if scan.is_void:
        return refused(f"That change of {sn} was a void already; scan {sn} again to redo it")
    if scan.to_stage is None:
        return refused(f"That scan of {sn} changed nothing, so there is nothing to void")
    if scan.from_stage is None:
        return refused(f"{sn} was created by a generation run or an import; that cannot be voided")
    if scan.voided:
        return refused(f"That scan of {sn} was voided already")
    if not scan.is_latest:
        return refused(
            f"{sn} changed again after that scan; only its latest change can be voided, so "
            "void that one first"
        )

    own = scan.operator == operator
    recent = (now - scan.at).total_seconds() <= window_s
    window = window_words(window_s)
    action = Action.VOID_OWN_RECENT if own and recent else Action.VOID_ANY
    # Undoing a move needs at least the role the move itself needed (a scrap: a supervisor).
    row = transition_row(scan.from_stage, scan.to_stage)
    needed = max(required_role(action), row.role if row else Role.OPERATOR, key=lambda r: r.rank)
    if not own:
        words = "voiding someone else's scan"
    elif not recent:
        words = f"voiding a scan older than {window}"
    else:
        words = f"voiding a {row.mode} scan" if row else "voiding this scan"
    authority = authorise_role(
        needed,
        actor=role,
        approver=approver_role,
        words=words,
        open_station=permission(action).open_station,
    )
    if not authority.allowed:
        if authority.needs_role is None:  # no users: one's own recent scans only
            why = (
                f"{sn} was scanned by {scan.operator}, not by {operator}"
                if not own
                else f"That scan of {sn} is older than {window}"
            )
            return refused(f"{why}; only your own scans of the last {window} can be voided")
        return refused(f"{sn} is unchanged: {authority.refusal}", authority.needs_role)
    approval = f" with {authority.role.with_article}'s approval" if authority.approved else ""
    dispatched = scan.to_stage in (Stage.DISPATCHED_FROM_PLANT, Stage.DISPATCHED_FROM_GODOWN)
    returned = (scan.from_stage, scan.to_stage) == (
        Stage.DISPATCHED_FROM_GODOWN,
        Stage.RECEIVED_AT_GODOWN,
    )
    return VoidDecision(
        Verdict.APPLY,
        f"{sn}'s last change is voided{approval} — now {scan.from_stage}",
        from_stage=scan.to_stage,
        to_stage=scan.from_stage,
        approved=authority.approved,
        frees_line_on=scan.document if dispatched else None,
        refills_line_on=scan.document if returned else None,
    )


@dataclass(frozen=True, slots=True)
class Ruling:
    """The answer for an act on a document: APPLY, ALREADY (nothing to do) or REJECTED."""

    verdict: Verdict
    message: str
    approved: bool = False
    needs_role: Role | None = None


def _ruled(authority: Authority, done: str, refused: str) -> Ruling:
    if not authority.allowed:
        return Ruling(
            Verdict.REJECTED, f"{refused}: {authority.refusal}", False, authority.needs_role
        )
    approval = f" with {authority.role.with_article}'s approval" if authority.approved else ""
    return Ruling(Verdict.APPLY, f"{done}{approval}", authority.approved)


def decide_close(
    document: DocumentView,
    reason: str | None = None,
    *,
    role: Role | None = None,
    approver_role: Role | None = None,
) -> Ruling:
    """May this document be closed now? Short of its lines, it needs a reason and a supervisor."""
    ref = document.reference_no
    if not document.is_open:
        return Ruling(Verdict.ALREADY, f"{ref} is already closed")
    short = document.shortfall
    if not short:
        return Ruling(Verdict.APPLY, f"{ref} closed")
    if not (reason or "").strip():
        return Ruling(
            Verdict.REJECTED,
            f"{ref} is {short} short: closing it needs a reason {CLOSE_REASON_HOW}",
        )
    authority = authorise(Action.CLOSE_DOCUMENT_SHORT, actor=role, approver=approver_role)
    return _ruled(authority, f"{ref} closed {short} short", f"{ref} stays open")


def decide_reopen(
    document: DocumentView,
    reason: str | None = None,
    *,
    role: Role | None = None,
    approver_role: Role | None = None,
) -> Ruling:
    """May this closed document be opened again? It needs a reason and a supervisor."""
    ref = document.reference_no
    if document.is_open:
        return Ruling(Verdict.ALREADY, f"{ref} is open already")
    if not (reason or "").strip():
        return Ruling(Verdict.REJECTED, f"Reopening {ref} needs a reason {REOPEN_REASON_HOW}")
    authority = authorise(Action.REOPEN_DOCUMENT, actor=role, approver=approver_role)
    return _ruled(authority, f"{ref} reopened", f"{ref} stays closed")
