"""The transition table, row by row: each allowed move, and each refusal a dock worker meets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scanstation.domain.model import DocumentLineView, DocumentView
from scanstation.domain.stages import (
    TRANSITIONS,
    DocumentKind,
    Mode,
    Needs,
    SerialState,
    SiteKind,
    Stage,
    StationContext,
    Verdict,
    decide,
    target_stages,
)

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
        assert row.mode in Mode and row.role and row.needs in Needs
    scrap_rows = [r for r in TRANSITIONS if r.mode is Mode.SCRAP]
    assert {r.from_stage for r in scrap_rows} == set(Stage) - {Stage.SCRAPPED}


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


def test_receive_at_the_addressed_godown() -> None:
    sent = serial(Stage.DISPATCHED_FROM_PLANT, "P1", document())
    assert decide(sent, StationContext(Mode.RECEIVE, **GODOWN)).to_stage is Stage.RECEIVED_AT_GODOWN


def test_receive_elsewhere_needs_an_override_reason() -> None:
    sent = serial(Stage.DISPATCHED_FROM_PLANT, "P1", document(to_site="G2"))
    refused = decide(sent, StationContext(Mode.RECEIVE, **GODOWN))
    assert refused.verdict is Verdict.REJECTED
    assert "G2" in refused.message and "override" in refused.message
    allowed = decide(sent, StationContext(Mode.RECEIVE, reason="truck rerouted", **GODOWN))
    assert allowed.verdict is Verdict.APPLY and allowed.override


def test_a_return_cites_its_original_invoice() -> None:
    invoice = document("INV-1", DocumentKind.INVOICE, "G1", None)
    sold = serial(Stage.DISPATCHED_FROM_GODOWN, "G1", invoice)
    assert decide(sold, StationContext(Mode.RECEIVE, **GODOWN)).verdict is Verdict.REJECTED
    cited = decide(sold, StationContext(Mode.RECEIVE, document=invoice, **GODOWN))
    assert cited.verdict is Verdict.APPLY and cited.to_stage is Stage.RECEIVED_AT_GODOWN


def test_a_transfer_is_received_where_it_was_addressed() -> None:
    transfer = document("TR-1", DocumentKind.INVOICE, "G2", "G1")
    moving = serial(Stage.DISPATCHED_FROM_GODOWN, "G2", transfer)
    assert decide(moving, StationContext(Mode.RECEIVE, **GODOWN)).verdict is Verdict.APPLY


REFUSED = [
    # (stage, mode, site, doc, reason, words in the sentence)
    (Stage.REGISTERED, Mode.REGISTER, PLANT, None, None, "already"),
    (Stage.NOT_VALIDATED, Mode.DISPATCH, PLANT, document(), None, "Not Validated at Plant"),
    (Stage.NOT_REGISTERED, Mode.VALIDATE, PLANT, None, None, "cannot be validated"),
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
    (Stage.VALIDATED, Mode.RECEIVE, GODOWN, None, None, "cannot be received"),
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
