"""The transition table, row by row: each allowed move, and each refusal a dock worker meets.

Site-aware rules, roles and the wording are held over the whole table (every row, every
stage × mode × kind of site), not only hand-picked cases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scanstation.domain.model import DocumentLineView, DocumentView
from scanstation.domain.roles import Action, required_role
from scanstation.domain.stages import (
    STAGE_ABBREVIATIONS,
    TRANSITIONS,
    Decision,
    DocumentKind,
    Mode,
    Needs,
    Role,
    SerialState,
    SiteKind,
    Stage,
    StationContext,
    Transition,
    Verdict,
    decide,
    stage_label,
    target_stages,
    transition_label,
    transition_row,
)
from scanstation.domain.wording import STEP_PAIRS, site_label

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def document(
    ref: str = "REF-1",
    kind: DocumentKind = DocumentKind.DC,
    from_site: str = "P1",
    to_site: str | None = "G1",
    lines: tuple[tuple[str, int, int], ...] = (("SKU-1", 10, 0),),
    state: str = "open",
) -> DocumentView:
    return DocumentView(
        reference_no=ref,
        kind=kind,
        dc_no=None,
        invoice_no=None,
        from_site=from_site,
        to_site=to_site,
        to_name=None if to_site else "Customer",
        state=state,
        lines=tuple(DocumentLineView(sku, sku, q, s) for sku, q, s in lines),
        created_at=NOW,
    )


def serial(stage: Stage, site: str | None = "P1", doc: DocumentView | None = None) -> SerialState:
    return SerialState("SN1", "SKU-1", stage, site, doc)


PLANT = {"site_code": "P1", "site_kind": SiteKind.PLANT}
GODOWN = {"site_code": "G1", "site_kind": SiteKind.GODOWN}


def test_the_eight_stages_carry_the_seed_names() -> None:
    assert [s.value for s in Stage] == [
        "Not Registered at Plant",
        "Registered at Plant",
        "Not Validated at Plant",
        "Validated at Plant",
        "Dispatch from Plant",
        "Received at Godown",
        "Dispatch from Godown",
        "Scrapped",
    ]


def test_every_row_names_mode_role_and_needs() -> None:
    for row in TRANSITIONS:
        assert row.mode in Mode and row.role in Role and row.needs in Needs
    scrap_rows = [r for r in TRANSITIONS if r.mode is Mode.SCRAP]
    assert {r.from_stage for r in scrap_rows} == set(Stage) - {Stage.SCRAPPED}
    # The scrap rows and the table of actions agree: one answer to "who may scrap?".
    assert {r.role for r in scrap_rows} == {required_role(Action.SCRAP)} == {Role.SUPERVISOR}


ALLOWED = [
    (Stage.NOT_REGISTERED, Mode.REGISTER, PLANT, None, None, Stage.REGISTERED),
    (Stage.REGISTERED, Mode.VALIDATE, PLANT, None, None, Stage.VALIDATED),
    (Stage.REGISTERED, Mode.REJECT, PLANT, None, "scratch", Stage.NOT_VALIDATED),
    (Stage.NOT_VALIDATED, Mode.VALIDATE, PLANT, None, None, Stage.VALIDATED),
    (Stage.VALIDATED, Mode.DISPATCH, PLANT, document(), None, Stage.DISPATCHED_FROM_PLANT),
    (
        Stage.RECEIVED_AT_GODOWN,
        Mode.DISPATCH,
        GODOWN,
        document(kind=DocumentKind.INVOICE, from_site="G1", to_site=None),
        None,
        Stage.DISPATCHED_FROM_GODOWN,
    ),
    (Stage.VALIDATED, Mode.SCRAP, PLANT, None, "dropped", Stage.SCRAPPED),
    (Stage.RECEIVED_AT_GODOWN, Mode.SCRAP, GODOWN, None, "flood", Stage.SCRAPPED),
]


@pytest.mark.parametrize(("stage", "mode", "site", "doc", "reason", "to"), ALLOWED)
def test_allowed_transitions(stage, mode, site, doc, reason, to) -> None:
    serial_site = site["site_code"]
    decision = decide(
        serial(stage, serial_site), StationContext(mode, document=doc, reason=reason, **site)
    )
    assert decision.verdict is Verdict.APPLY, decision.message
    assert decision.to_stage is to
    assert not decision.approved and decision.needs_role is None


def test_receive_at_the_addressed_godown() -> None:
    sent = serial(Stage.DISPATCHED_FROM_PLANT, "P1", document())
    assert decide(sent, StationContext(Mode.RECEIVE, **GODOWN)).to_stage is Stage.RECEIVED_AT_GODOWN


def test_receive_elsewhere_needs_an_override_reason() -> None:
    sent = serial(Stage.DISPATCHED_FROM_PLANT, "P1", document(to_site="G2"))
    refused = decide(sent, StationContext(Mode.RECEIVE, **GODOWN))
    assert refused.verdict is Verdict.REJECTED
    assert "G2" in refused.message and "override" in refused.message
    # The sentence names the keys that make an override, at the station and on the CLI.
    assert "ctrl+o" in refused.message and "--reason" in refused.message
    allowed = decide(sent, StationContext(Mode.RECEIVE, reason="truck rerouted", **GODOWN))
    assert allowed.verdict is Verdict.APPLY and allowed.override
    assert allowed.frees_line_on is None  # a DC delivered elsewhere is not a return


def test_a_return_cites_its_original_invoice_and_frees_its_line() -> None:
    invoice = document("INV-1", DocumentKind.INVOICE, "G1", None)
    sold = serial(Stage.DISPATCHED_FROM_GODOWN, "G1", invoice)
    refused = decide(sold, StationContext(Mode.RECEIVE, **GODOWN))
    assert refused.verdict is Verdict.REJECTED
    assert "INV-1" in refused.message and "F3" in refused.message and "--doc" in refused.message
    cited = decide(sold, StationContext(Mode.RECEIVE, document=invoice, **GODOWN))
    assert cited.verdict is Verdict.APPLY and cited.to_stage is Stage.RECEIVED_AT_GODOWN
    assert cited.frees_line_on == "INV-1" and not cited.override


def test_a_return_citing_another_document_says_which_one_it_left_on() -> None:
    invoice = document("INV-1", DocumentKind.INVOICE, "G1", None)
    sold = serial(Stage.DISPATCHED_FROM_GODOWN, "G1", invoice)
    other = document("INV-9", DocumentKind.INVOICE, "G1", None)
    refused = decide(sold, StationContext(Mode.RECEIVE, document=other, **GODOWN))
    assert refused.verdict is Verdict.REJECTED
    assert "INV-1" in refused.message and "not on INV-9" in refused.message


def test_a_customer_return_by_override_frees_the_invoice_line() -> None:
    sold = serial(
        Stage.DISPATCHED_FROM_GODOWN, "G1", document("INV-1", DocumentKind.INVOICE, "G1", None)
    )
    back = decide(sold, StationContext(Mode.RECEIVE, reason="customer walk-in", **GODOWN))
    assert back.verdict is Verdict.APPLY and back.override and back.frees_line_on == "INV-1"


def test_a_transfer_is_received_where_it_was_addressed() -> None:
    transfer = document("TR-1", DocumentKind.INVOICE, "G2", "G1")
    moving = serial(Stage.DISPATCHED_FROM_GODOWN, "G2", transfer)
    received = decide(moving, StationContext(Mode.RECEIVE, **GODOWN))
    assert received.verdict is Verdict.APPLY and received.frees_line_on is None
    # Received elsewhere by override, a transfer is not a return: its line stays counted.
    astray = decide(moving, StationContext(Mode.RECEIVE, "G3", SiteKind.GODOWN, reason="astray"))
    assert astray.verdict is Verdict.APPLY and astray.override and astray.frees_line_on is None


REFUSED = [
    # (stage, mode, site, doc, reason, words in the sentence)
    (Stage.REGISTERED, Mode.REGISTER, PLANT, None, None, "already"),
    # Wording changed on purpose (issue 8, "Words a worker understands"): these three said
    # "is Not Validated at Plant — it cannot be dispatched" and the like; now they say what
    # to do first.
    (Stage.NOT_VALIDATED, Mode.DISPATCH, PLANT, document(), None, "validate it after rework"),
    (Stage.NOT_REGISTERED, Mode.VALIDATE, PLANT, None, None, "register it at its plant first"),
    (Stage.REGISTERED, Mode.REJECT, PLANT, None, None, "reason"),
    (Stage.REGISTERED, Mode.REJECT, PLANT, None, "   ", "reason"),
    (Stage.VALIDATED, Mode.SCRAP, PLANT, None, None, "reason"),
    (Stage.NOT_REGISTERED, Mode.REGISTER, GODOWN, None, None, "plant"),
    (Stage.VALIDATED, Mode.DISPATCH, PLANT, None, None, "open a DC"),
    (Stage.VALIDATED, Mode.DISPATCH, PLANT, document(state="closed"), None, "closed"),
    (
        Stage.VALIDATED,
        Mode.DISPATCH,
        PLANT,
        document(lines=(("SKU-2", 5, 0),)),
        None,
        "not on REF-1",
    ),
    (Stage.VALIDATED, Mode.DISPATCH, PLANT, document(lines=(("SKU-1", 5, 5),)), None, "5/5"),
    (Stage.VALIDATED, Mode.DISPATCH, PLANT, document(from_site="P2"), None, "from P2"),
    (
        Stage.VALIDATED,
        Mode.DISPATCH,
        PLANT,
        document(kind=DocumentKind.INVOICE),
        None,
        "an invoice",
    ),
    (Stage.RECEIVED_AT_GODOWN, Mode.DISPATCH, GODOWN, document(from_site="G1"), None, "a DC"),
    (Stage.SCRAPPED, Mode.REGISTER, PLANT, None, None, "Scrapped"),
    (Stage.SCRAPPED, Mode.RECEIVE, GODOWN, None, None, "Scrapped"),
    (Stage.VALIDATED, Mode.RECEIVE, GODOWN, None, None, "dispatch it on a DC first"),
    (Stage.DISPATCHED_FROM_PLANT, Mode.DISPATCH, GODOWN, None, None, "receive it at a godown"),
    (Stage.REGISTERED, Mode.VALIDATE, GODOWN, None, None, "validating is done at a plant"),
    (Stage.DISPATCHED_FROM_PLANT, Mode.RECEIVE, PLANT, None, None, "done at a godown"),
]


@pytest.mark.parametrize(("stage", "mode", "site", "doc", "reason", "words"), REFUSED)
def test_refused_transitions_say_why(stage, mode, site, doc, reason, words) -> None:
    decision = decide(
        serial(stage, site["site_code"]), StationContext(mode, document=doc, reason=reason, **site)
    )
    assert decision.verdict in (Verdict.REJECTED, Verdict.ALREADY)
    if words != "already":
        assert decision.verdict is Verdict.REJECTED
    assert words in decision.message
    assert decision.to_stage is None


@pytest.mark.parametrize(
    ("stage", "mode", "site"),
    [
        (Stage.REGISTERED, Mode.REGISTER, PLANT),
        (Stage.VALIDATED, Mode.VALIDATE, PLANT),
        (Stage.NOT_VALIDATED, Mode.REJECT, PLANT),
        (Stage.RECEIVED_AT_GODOWN, Mode.RECEIVE, GODOWN),
        (Stage.SCRAPPED, Mode.SCRAP, PLANT),
    ],
)
def test_already_in_target_stage_is_already(stage, mode, site) -> None:
    decision = decide(serial(stage, site["site_code"]), StationContext(mode, reason="r", **site))
    assert decision.verdict is Verdict.ALREADY
    assert "already" in decision.message


def test_dispatch_already_on_the_same_document_is_already_on_another_rejected() -> None:
    dc = document()
    sent = serial(Stage.DISPATCHED_FROM_PLANT, "P1", dc)
    assert decide(sent, StationContext(Mode.DISPATCH, document=dc, **PLANT)).verdict is (
        Verdict.ALREADY
    )
    other = decide(sent, StationContext(Mode.DISPATCH, document=document("REF-2"), **PLANT))
    assert other.verdict is Verdict.REJECTED and "REF-1" in other.message


def test_register_at_another_plant_is_refused() -> None:
    decision = decide(serial(Stage.NOT_REGISTERED, "P2"), StationContext(Mode.REGISTER, **PLANT))
    assert decision.verdict is Verdict.REJECTED and "P2" in decision.message


def test_target_stages() -> None:
    assert target_stages(Mode.DISPATCH, SiteKind.PLANT) == {Stage.DISPATCHED_FROM_PLANT}
    assert target_stages(Mode.DISPATCH, SiteKind.GODOWN) == {Stage.DISPATCHED_FROM_GODOWN}


# --- Site-aware rules, over the whole table ------------------------------------------------------

NAMES = {"P1": "Pune Plant", "P2": "Nashik Plant", "G1": "Mumbai Godown", "G2": "Nagpur Godown"}
HOME = {SiteKind.PLANT: "P1", SiteKind.GODOWN: "G1"}
AWAY = {SiteKind.PLANT: "P2", SiteKind.GODOWN: "G2"}


def station_for(
    row: Transition | None,
    mode: Mode,
    kind: SiteKind,
    *,
    role: Role | None = None,
    approver: Role | None = None,
    reason: str | None = "a reason",
) -> StationContext:
    """A station of `kind` set up as the row needs (its document, a reason)."""
    here = HOME[kind]
    doc = None
    if row is not None and row.needs is Needs.DOCUMENT:
        doc = document("DOC-9", row.document_kind or DocumentKind.DC, here, None)
    return StationContext(
        mode,
        here,
        kind,
        document=doc,
        reason=reason if mode in (Mode.REJECT, Mode.SCRAP) else None,
        site_name=NAMES[here],
        site_names=NAMES,
        role=role,
        approver_role=approver,
    )


# Rows that act where the unit is on record (receive follows its document's address).
LOCAL_ROWS = [
    pytest.param(row, kind, id=f"{row.mode}-{STAGE_ABBREVIATIONS[row.from_stage]}-{kind}")
    for row in TRANSITIONS
    if row.needs is not Needs.DESTINATION and row.needs is not Needs.ORIGINAL_DOCUMENT
    for kind in SiteKind
    if row.site_kind in (None, kind)
]


@pytest.mark.parametrize(("row", "kind"), LOCAL_ROWS)
def test_every_local_row_applies_at_the_units_own_site(row: Transition, kind: SiteKind) -> None:
    here = HOME[kind]
    unit = SerialState("SN9", "SKU-1", row.from_stage, here, None, NAMES[here])
    decision = decide(unit, station_for(row, row.mode, kind, role=Role.SUPERVISOR))
    assert decision.verdict is Verdict.APPLY, decision.message
    assert decision.transition == row and not decision.override


@pytest.mark.parametrize(("row", "kind"), LOCAL_ROWS)
def test_every_local_row_refuses_a_unit_on_record_at_another_site(
    row: Transition, kind: SiteKind
) -> None:
    there = AWAY[kind]
    unit = SerialState("SN9", "SKU-1", row.from_stage, there, None, NAMES[there])
    # Without users (role None) nothing is gated, and no override exists either.
    decision = decide(unit, station_for(row, row.mode, kind))
    assert decision.verdict is Verdict.REJECTED, decision.message
    assert decision.transition is None
    for code in (HOME[kind], there):  # both sites, by name and code
        assert site_label(code, NAMES[code]) in decision.message


TARGETS = [
    pytest.param(mode, stage, kind, id=f"{mode}-{STAGE_ABBREVIATIONS[stage]}-{kind}")
    for kind in SiteKind
    for mode in Mode
    if mode is not Mode.LOOKUP
    for stage in sorted(target_stages(mode, kind), key=list(Stage).index)
]


@pytest.mark.parametrize(("mode", "stage", "kind"), TARGETS)
def test_in_the_target_stage_here_is_already_elsewhere_rejected_naming_both_sites(
    mode: Mode, stage: Stage, kind: SiteKind
) -> None:
    here, there = HOME[kind], AWAY[kind]
    context = station_for(None, mode, kind, reason="r")
    at_home = decide(SerialState("SN9", "SKU-1", stage, here, None, NAMES[here]), context)
    assert at_home.verdict is Verdict.ALREADY and "already" in at_home.message
    away = decide(SerialState("SN9", "SKU-1", stage, there, None, NAMES[there]), context)
    assert away.verdict is Verdict.REJECTED
    assert "Mumbai Godown (G1)" in away.message or "Pune Plant (P1)" in away.message
    assert f"{NAMES[there]} ({there})" in away.message
    assert away.message.endswith("tell your supervisor")


def test_the_issues_example_names_both_godowns() -> None:
    unit = SerialState(
        "SN0000000421", "SKU-1", Stage.RECEIVED_AT_GODOWN, "G2", None, "Nagpur Godown"
    )
    station = StationContext(Mode.RECEIVE, "G1", SiteKind.GODOWN, site_name="Godown One")
    decision = decide(unit, station)
    assert decision.verdict is Verdict.REJECTED
    assert decision.message == (
        "SN0000000421 was received at Nagpur Godown (G2), not here at Godown One (G1) — "
        "tell your supervisor"
    )


def test_without_names_sentences_show_the_codes() -> None:
    unit = serial(Stage.RECEIVED_AT_GODOWN, "G2")
    message = decide(unit, StationContext(Mode.RECEIVE, **GODOWN)).message
    assert "at G2, not here at G1" in message and "(" not in message


def test_a_documents_sites_are_named_from_the_station_s_names() -> None:
    sent = serial(Stage.DISPATCHED_FROM_PLANT, "P1", document(to_site="G2"))
    station = StationContext(Mode.RECEIVE, "G1", SiteKind.GODOWN, site_names=NAMES)
    message = decide(sent, station).message
    assert "Nagpur Godown (G2)" in message and "Mumbai Godown (G1)" in message


@pytest.mark.parametrize("mode", [Mode.VALIDATE, Mode.REJECT])
def test_validate_and_reject_only_at_the_serials_own_plant(mode: Mode) -> None:
    unit = serial(Stage.REGISTERED, "P2")
    decision = decide(unit, StationContext(mode, reason="r", **PLANT))
    assert decision.verdict is Verdict.REJECTED and "P2" in decision.message


# --- Scrap: at the unit's site; elsewhere a supervisor's explicit override ---------------------


def test_scrap_elsewhere_without_users_stays_refused() -> None:
    unit = serial(Stage.VALIDATED, "P2")
    decision = decide(unit, StationContext(Mode.SCRAP, reason="crushed", **PLANT))
    assert decision.verdict is Verdict.REJECTED and decision.needs_role is None
    assert "no users" in decision.message and "P2" in decision.message


def test_scrap_elsewhere_needs_a_supervisors_approval() -> None:
    unit = serial(Stage.VALIDATED, "P2")
    asked = StationContext(Mode.SCRAP, reason="crushed", role=Role.OPERATOR, **PLANT)
    refused = decide(unit, asked)
    assert refused.verdict is Verdict.REJECTED and refused.needs_role is Role.SUPERVISOR
    assert "supervisor" in refused.message and "badge and PIN" in refused.message
    by_operator_pair = StationContext(
        Mode.SCRAP,
        reason="crushed",
        role=Role.OPERATOR,
        approver_role=Role.OPERATOR,
        **PLANT,
    )
    assert decide(unit, by_operator_pair).verdict is Verdict.REJECTED
    approved = StationContext(
        Mode.SCRAP,
        reason="crushed",
        role=Role.OPERATOR,
        approver_role=Role.SUPERVISOR,
        **PLANT,
    )
    done = decide(unit, approved)
    assert done.verdict is Verdict.APPLY and done.override and done.approved
    assert "override" in done.message and "approval" in done.message
    own = decide(unit, StationContext(Mode.SCRAP, reason="crushed", role=Role.ADMIN, **PLANT))
    assert own.verdict is Verdict.APPLY and own.override and not own.approved


# --- Roles from the table ------------------------------------------------------------------------

EVERY_ROW = [
    pytest.param(row, kind, id=f"{row.mode}-{STAGE_ABBREVIATIONS[row.from_stage]}-{kind}")
    for row in TRANSITIONS
    for kind in SiteKind
    if row.site_kind in (None, kind)
]


def scan_for(row: Transition, kind: SiteKind) -> SerialState:
    here = HOME[kind]
    sent_on = None
    if row.needs is Needs.DESTINATION:
        sent_on = document("DC-5", DocumentKind.DC, "P1", here)
    elif row.needs is Needs.ORIGINAL_DOCUMENT:
        sent_on = document("TR-5", DocumentKind.INVOICE, "G2", here)
    site = sent_on.from_site if sent_on else here
    return SerialState("SN9", "SKU-1", row.from_stage, site, sent_on, NAMES[site])


@pytest.mark.parametrize(("row", "kind"), EVERY_ROW)
@pytest.mark.parametrize("actor", [None, *Role])
def test_each_row_is_done_by_its_role_and_no_less(
    row: Transition, kind: SiteKind, actor: Role | None
) -> None:
    decision = decide(scan_for(row, kind), station_for(row, row.mode, kind, role=actor))
    if actor is None or actor.includes(row.role):
        assert decision.verdict is Verdict.APPLY, decision.message
        assert not decision.approved
    else:
        assert decision.verdict is Verdict.REJECTED
        assert decision.needs_role is row.role
        assert f"needs {row.role.with_article} — ask one to approve" in decision.message


@pytest.mark.parametrize(("row", "kind"), EVERY_ROW)
@pytest.mark.parametrize("approver", list(Role))
def test_an_approval_counts_for_the_approvers_role(
    row: Transition, kind: SiteKind, approver: Role
) -> None:
    station = station_for(row, row.mode, kind, role=Role.OPERATOR, approver=approver)
    decision = decide(scan_for(row, kind), station)
    needs_approval = not Role.OPERATOR.includes(row.role)
    if needs_approval and approver.includes(row.role):
        assert decision.verdict is Verdict.APPLY and decision.approved
        assert "approval" in decision.message
    elif needs_approval:
        assert decision.verdict is Verdict.REJECTED and decision.needs_role is row.role
    else:  # an approval nobody needed is not claimed
        assert decision.verdict is Verdict.APPLY and not decision.approved


@pytest.mark.parametrize(
    ("sent_on", "action"),
    [
        (document("DC-5", DocumentKind.DC, "P1", "G2"), Action.RECEIVE_BY_OVERRIDE),
        (document("INV-5", DocumentKind.INVOICE, "G1", None), Action.RETURN_WITHOUT_DOCUMENT),
    ],
)
def test_receive_overrides_need_a_supervisor_when_there_are_users(
    sent_on: DocumentView, action: Action
) -> None:
    stage = (
        Stage.DISPATCHED_FROM_PLANT
        if sent_on.kind is DocumentKind.DC
        else Stage.DISPATCHED_FROM_GODOWN
    )
    unit = serial(stage, sent_on.from_site, sent_on)

    def receive(role: Role | None, approver: Role | None = None) -> Decision:
        context = StationContext(
            Mode.RECEIVE, reason="rerouted", role=role, approver_role=approver, **GODOWN
        )
        return decide(unit, context)

    assert required_role(action) is Role.SUPERVISOR
    no_users = receive(None)
    assert no_users.verdict is Verdict.APPLY and no_users.override  # as before users existed
    operator = receive(Role.OPERATOR)
    assert operator.verdict is Verdict.REJECTED and operator.needs_role is Role.SUPERVISOR
    approved = receive(Role.OPERATOR, Role.SUPERVISOR)
    assert approved.verdict is Verdict.APPLY and approved.override and approved.approved
    supervisor = receive(Role.SUPERVISOR)
    assert supervisor.verdict is Verdict.APPLY and not supervisor.approved
    # Before the override is asked for, the sentence already says who must approve it.
    asking = decide(unit, StationContext(Mode.RECEIVE, role=Role.OPERATOR, **GODOWN))
    assert "supervisor's approval" in asking.message


# --- Labels ---------------------------------------------------------------------------------------


def test_stage_and_transition_labels_fit_the_width() -> None:
    assert stage_label(Stage.DISPATCHED_FROM_PLANT) == "Dispatch from Plant"
    assert stage_label(Stage.DISPATCHED_FROM_PLANT, 5) == "DFP"
    assert stage_label(None) == "new"
    full = transition_label(Stage.DISPATCHED_FROM_PLANT, Stage.RECEIVED_AT_GODOWN)
    assert full == "Dispatch from Plant → Received at Godown"
    assert transition_label(Stage.DISPATCHED_FROM_PLANT, Stage.RECEIVED_AT_GODOWN, 20) == (
        "DFP→RAG"
    )
    assert transition_label(None, Stage.NOT_REGISTERED, 10) == "new→NRP"
    assert transition_label(Stage.VALIDATED, Stage.SCRAPPED, len("Validated at Plant → Scrapped"))


def test_the_ordinary_steps_are_rows_of_the_table() -> None:
    for before, after in STEP_PAIRS:
        row = transition_row(before, after)
        assert row is not None and row.mode is not Mode.SCRAP
    assert transition_row(Stage.SCRAPPED, Stage.VALIDATED) is None
