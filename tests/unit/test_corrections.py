"""Corrections are new events: a void goes back one stage under the void window's rule, and a
document is closed short or reopened only with a reason and a supervisor."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from scanstation.domain.corrections import (
    RecordedScan,
    decide_close,
    decide_reopen,
    decide_void,
    window_words,
)
from scanstation.domain.model import DocumentLineView, DocumentView
from scanstation.domain.stages import (
    TRANSITIONS,
    DocumentKind,
    Mode,
    Role,
    Stage,
    Transition,
    Verdict,
)

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
WINDOW = 60.0


def recorded(
    row: Transition | None = None,
    *,
    operator: str = "op-1",
    age_s: float = 5,
    **changes: object,
) -> RecordedScan:
    row = row or TRANSITIONS[0]
    scan = RecordedScan(
        serial_no="SN1",
        operator=operator,
        at=NOW - timedelta(seconds=age_s),
        from_stage=row.from_stage,
        to_stage=row.to_stage,
        is_latest=True,
        document="REF-1" if row.mode in (Mode.DISPATCH, Mode.RECEIVE) else None,
    )
    return replace(scan, **changes)  # type: ignore[arg-type]


ROWS = [pytest.param(row, id=f"{row.mode}-{row.from_stage}") for row in TRANSITIONS]


@pytest.mark.parametrize("row", ROWS)
def test_every_move_can_be_voided_back_to_the_stage_before(row: Transition) -> None:
    # The worker's own scan within the window; a scrap needs a supervisor like the scrap did.
    role = Role.OPERATOR
    decision = decide_void(recorded(row), operator="op-1", now=NOW, window_s=WINDOW, role=role)
    if role.includes(row.role):
        assert decision.verdict is Verdict.APPLY, decision.message
        assert (decision.from_stage, decision.to_stage) == (row.to_stage, row.from_stage)
        assert decision.message.endswith(f"— now {row.from_stage}")
        assert not decision.approved
    else:
        assert decision.verdict is Verdict.REJECTED and decision.needs_role is row.role
        approved = decide_void(
            recorded(row),
            operator="op-1",
            now=NOW,
            window_s=WINDOW,
            role=role,
            approver_role=Role.SUPERVISOR,
        )
        assert approved.verdict is Verdict.APPLY and approved.approved


@pytest.mark.parametrize("row", ROWS)
def test_without_users_ones_own_recent_scan_is_voided(row: Transition) -> None:
    decision = decide_void(recorded(row), operator="op-1", now=NOW, window_s=WINDOW)
    assert decision.verdict is Verdict.APPLY and decision.to_stage is row.from_stage


@pytest.mark.parametrize(
    ("operator", "age_s", "words"),
    [("op-2", 5, "someone else's scan"), ("op-1", 61, "older than 60 s")],
)
def test_someone_elses_or_an_old_scan_needs_a_supervisor(
    operator: str, age_s: float, words: str
) -> None:
    scan = recorded(operator=operator, age_s=age_s)
    refused = decide_void(scan, operator="op-1", now=NOW, window_s=WINDOW, role=Role.OPERATOR)
    assert refused.verdict is Verdict.REJECTED and refused.needs_role is Role.SUPERVISOR
    assert words in refused.message and "badge and PIN" in refused.message
    approved = decide_void(
        scan,
        operator="op-1",
        now=NOW,
        window_s=WINDOW,
        role=Role.OPERATOR,
        approver_role=Role.SUPERVISOR,
    )
    assert approved.verdict is Verdict.APPLY and approved.approved
    assert "approval" in approved.message
    supervisor = decide_void(scan, operator="op-1", now=NOW, window_s=WINDOW, role=Role.SUPERVISOR)
    assert supervisor.verdict is Verdict.APPLY and not supervisor.approved
    # No users: nobody can grant it.
    open_station = decide_void(scan, operator="op-1", now=NOW, window_s=WINDOW)
    assert open_station.verdict is Verdict.REJECTED and open_station.needs_role is None
    assert "only your own scans of the last 60 s" in open_station.message


def test_the_window_edge_and_a_clock_ahead() -> None:
    on_edge = decide_void(recorded(age_s=WINDOW), operator="op-1", now=NOW, window_s=WINDOW)
    assert on_edge.verdict is Verdict.APPLY
    ahead = decide_void(recorded(age_s=-30), operator="op-1", now=NOW, window_s=WINDOW)
    assert ahead.verdict is Verdict.APPLY  # another terminal's clock runs ahead: still recent


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"is_latest": False}, "only its latest change can be voided"),
        ({"is_void": True}, "was a void already"),
        ({"voided": True}, "was voided already"),
        ({"to_stage": None}, "changed nothing"),
        ({"from_stage": None}, "generation run or an import"),
    ],
)
def test_what_cannot_be_voided_says_why(changes: dict[str, object], words: str) -> None:
    decision = decide_void(
        recorded(**changes), operator="op-1", now=NOW, window_s=WINDOW, role=Role.ADMIN
    )
    assert decision.verdict is Verdict.REJECTED and words in decision.message
    assert decision.to_stage is None and decision.needs_role is None


def test_a_voided_dispatch_frees_its_line_and_a_voided_return_fills_it_again() -> None:
    dispatch = next(r for r in TRANSITIONS if r.mode is Mode.DISPATCH)
    freed = decide_void(recorded(dispatch), operator="op-1", now=NOW, window_s=WINDOW)
    assert freed.frees_line_on == "REF-1" and freed.refills_line_on is None
    ret = next(r for r in TRANSITIONS if r.from_stage is Stage.DISPATCHED_FROM_GODOWN)
    refilled = decide_void(recorded(ret), operator="op-1", now=NOW, window_s=WINDOW)
    assert refilled.refills_line_on == "REF-1" and refilled.frees_line_on is None
    register = decide_void(recorded(TRANSITIONS[0]), operator="op-1", now=NOW, window_s=WINDOW)
    assert register.frees_line_on is None and register.refills_line_on is None


@pytest.mark.parametrize(("seconds", "words"), [(60, "60 s"), (90, "90 s"), (300, "5 min")])
def test_window_words(seconds: float, words: str) -> None:
    assert window_words(seconds) == words


def document(state: str = "open", scanned: int = 10) -> DocumentView:
    return DocumentView(
        reference_no="DC-1",
        kind=DocumentKind.DC,
        dc_no=None,
        invoice_no=None,
        from_site="P1",
        to_site="G1",
        to_name=None,
        state=state,
        lines=(DocumentLineView("SKU-1", "Pump", 10, scanned),),
        created_at=NOW,
    )


def test_a_full_document_closes_for_anyone() -> None:
    assert decide_close(document(), role=Role.OPERATOR).verdict is Verdict.APPLY
    assert decide_close(document(state="closed")).verdict is Verdict.ALREADY


def test_closing_short_needs_a_reason_and_a_supervisor() -> None:
    short = document(scanned=7)
    assert "3 short" in decide_close(short).message
    assert decide_close(short, "  ").verdict is Verdict.REJECTED
    assert decide_close(short, "truck full").verdict is Verdict.APPLY  # no users: as before
    refused = decide_close(short, "truck full", role=Role.OPERATOR)
    assert refused.verdict is Verdict.REJECTED and refused.needs_role is Role.SUPERVISOR
    assert refused.message.startswith("DC-1 stays open: closing a document short needs")
    approved = decide_close(short, "truck full", role=Role.OPERATOR, approver_role=Role.SUPERVISOR)
    assert approved.verdict is Verdict.APPLY and approved.approved


def test_reopening_needs_a_reason_and_a_supervisor() -> None:
    closed = document(state="closed")
    assert decide_reopen(document()).verdict is Verdict.ALREADY
    no_reason = decide_reopen(closed)
    assert no_reason.verdict is Verdict.REJECTED and "--reason" in no_reason.message
    assert decide_reopen(closed, "miscounted").verdict is Verdict.APPLY  # no users
    refused = decide_reopen(closed, "miscounted", role=Role.OPERATOR)
    assert refused.verdict is Verdict.REJECTED and refused.needs_role is Role.SUPERVISOR
    done = decide_reopen(closed, "miscounted", role=Role.SUPERVISOR)
    assert done.verdict is Verdict.APPLY and done.message == "DC-1 reopened"
