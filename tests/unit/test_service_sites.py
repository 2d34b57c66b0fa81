"""Site-aware scans through the service, on SQLite and PostgreSQL: a unit on record at another
site is refused with both sites named, validate/reject only at the unit's own plant, scrap only
where the unit is on record; and a plain product barcode is named as one."""

from __future__ import annotations

import pytest

from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import DocumentKind, Mode, SiteKind, Stage
from scanstation.service import StationService
from tests.conftest import station
from tests.unit.test_service import TO_GODOWN, TO_VALIDATED, move, scan

SN = "SN0000000007"


def at_g2(service: StationService) -> None:
    """SN0000000007 is received at Nagpur Godown (G2), sent there on DC-2."""
    service.add_document(
        kind=DocumentKind.DC, reference_no="DC-2", from_site="P1", to="G2", lines=[("PUMP", 3)]
    )
    move(
        service,
        SN,
        *TO_VALIDATED,
        ("P1", Mode.DISPATCH, {"document": "DC-2"}),
        ("G2", Mode.RECEIVE, {}),
    )


def test_received_elsewhere_is_rejected_naming_both_sites(service: StationService) -> None:
    at_g2(service)
    events = service.info()["events"]
    answer = scan(service, SN, station("G1", Mode.RECEIVE))
    assert answer.kind is OutcomeKind.REJECTED
    assert answer.message == (
        f"{SN} was received at Nagpur Godown (G2), not here at Mumbai Godown (G1) — "
        "tell your supervisor"
    )
    assert service.serial(SN).site == "G2"  # type: ignore[union-attr]
    assert service.info()["events"] == events + 1  # the refusal is logged for supervisors


def test_the_same_scan_at_its_own_site_is_already(service: StationService) -> None:
    at_g2(service)
    assert scan(service, SN, station("G2", Mode.RECEIVE)).kind is OutcomeKind.ALREADY


@pytest.mark.parametrize("mode", [Mode.VALIDATE, Mode.REJECT])
def test_validate_and_reject_only_at_the_units_own_plant(
    service: StationService, mode: Mode
) -> None:
    service.add_site("P2", "Nashik Plant", SiteKind.PLANT)
    move(service, SN, ("P1", Mode.REGISTER, {}))
    answer = scan(service, SN, station("P2", mode, reason="dented"))
    assert answer.kind is OutcomeKind.REJECTED
    assert "Pune Plant (P1)" in answer.message and "Nashik Plant (P2)" in answer.message
    assert service.serial(SN).stage is Stage.REGISTERED  # type: ignore[union-attr]
    assert scan(service, SN, station("P1", mode, reason="dented")).kind is OutcomeKind.OK


def test_validated_elsewhere_is_rejected_not_already(service: StationService) -> None:
    service.add_site("P2", "Nashik Plant", SiteKind.PLANT)
    move(service, SN, *TO_VALIDATED)
    answer = scan(service, SN, station("P2", Mode.VALIDATE))
    assert answer.kind is OutcomeKind.REJECTED
    assert "Pune Plant (P1), not here at Nashik Plant (P2)" in answer.message


def test_scrap_only_where_the_unit_is_on_record(service: StationService) -> None:
    move(service, SN, ("P1", Mode.REGISTER, {}))
    away = scan(service, SN, station("G1", Mode.SCRAP, reason="crushed"))
    assert away.kind is OutcomeKind.REJECTED
    assert "Pune Plant (P1), not here at Mumbai Godown (G1); scrap it there" in away.message
    assert service.serial(SN).stage is Stage.REGISTERED  # type: ignore[union-attr]
    here = scan(service, SN, station("P1", Mode.SCRAP, reason="crushed"))
    assert here.kind is OutcomeKind.OK and here.stage_after is Stage.SCRAPPED


def test_a_receive_elsewhere_names_where_the_dc_was_sent(service: StationService) -> None:
    move(service, SN, *TO_VALIDATED, ("P1", Mode.DISPATCH, {"document": "DC-1"}))
    answer = scan(service, SN, station("G2", Mode.RECEIVE))
    assert answer.kind is OutcomeKind.REJECTED
    assert "sent to Mumbai Godown (G1) on DC-1, not to Nagpur Godown (G2)" in answer.message
    assert "ctrl+o" in answer.message  # the override's key


@pytest.mark.parametrize("payload", ["8901234500019", "08901234500019", "]E08901234500019"])
def test_a_product_barcode_is_named_with_or_without_its_prefix(
    service: StationService, payload: str
) -> None:
    move(service, SN, *TO_GODOWN)
    for mode in (Mode.RECEIVE, Mode.LOOKUP):
        answer = scan(service, payload, station("G1", mode))
        assert answer.kind is OutcomeKind.REJECTED, answer.message
        assert answer.message == (
            "This is a product barcode (GTIN 08901234500019, Pump 1HP), not a serial label — "
            "scan the serial"
        )


def test_digits_of_no_known_item_are_still_not_a_known_serial(service: StationService) -> None:
    answer = scan(service, "4006381333931", station("G1", Mode.RECEIVE))
    assert answer.kind is OutcomeKind.UNKNOWN
    assert "not a known serial" in answer.message
