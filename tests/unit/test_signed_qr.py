"""Signed secondary QR codes: the compact text form (domain/qr.py), signing on generate and
import when the deployment has a key pair, and the serial/QR namespace kept whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zxingcpp

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.qr import (
    QrFormatError,
    QrKind,
    parse_signed,
    qr_kind,
    signed_text,
)
from scanstation.domain.stages import Mode, Stage
from scanstation.service import StationService
from scanstation.signing import KeyRing, Signer, Verdict, init_keys
from tests.conftest import station


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    private, public = tmp_path / "keys" / "k.pem", tmp_path / "keys" / "k.pub.pem"
    init_keys(private, public)
    return KeyRing(private, public)


@pytest.fixture
def signed_service(service: StationService, ring: KeyRing) -> StationService:
    """The small database (made unsigned), now with a key pair."""
    service.keys = ring
    return service


@pytest.fixture
def signed_serial(signed_service: StationService) -> str:
    """The first of a run generated with the key pair."""
    return signed_service.generate("PUMP", 3, "P1", prefix="SIG")[1][0]


def _signer(ring: KeyRing) -> Signer:
    assert ring.signer is not None
    return ring.signer


def test_the_text_form_round_trips_and_fits_a_version_6_m_qr(ring: KeyRing) -> None:
    seal = _signer(ring).seal("ABCDEFGHIJKL")
    text = signed_text("ABCDEFGHIJKL", seal)
    signed = parse_signed(text.lower())  # a station may change case: base32 does not care
    assert (signed.token, signed.text, signed.seal) == ("ABCDEFGHIJKL", text, seal)
    assert qr_kind(text) is QrKind.SIGNED and qr_kind("ABCDEFGHIJKL") is QrKind.UNSIGNED
    symbol = zxingcpp.create_barcode(text, zxingcpp.QRCode, ec_level="M")
    modules = np.array(symbol.to_image(scale=1, add_quiet_zones=False)).shape[0]
    assert modules <= 41  # version 6 is 41 x 41 modules
    for bad in ("SQ1.ABC", "SQ1.A B.ABCDEFGH." + "A" * 103, text[:-1], text + "A"):
        with pytest.raises(QrFormatError):
            parse_signed(bad)
        assert qr_kind(bad) is QrKind.UNREADABLE


def test_many_tokens_are_signed_in_worker_processes_the_same_way(ring: KeyRing) -> None:
    signer = _signer(ring)
    tokens = [f"T{n:011d}" for n in range(20_000)]
    tokens[5_001] = "not signable"  # stays unsigned; the seals after it stay in their places
    seals = signer.seal_many(tokens)
    assert seals[5_001] is None
    # Both ends, both sides of the gap and of every block the workers sign, and a sample.
    for index in [0, 4_999, 5_000, 5_002, 9_999, 10_000, 19_999, *range(1, 20_000, 997)]:
        assert seals[index] == signer.seal(tokens[index]), index
    verifier = signer.verifier()
    assert verifier.check(signed_text(tokens[777], str(seals[777])))[0] is Verdict.GENUINE


def test_a_few_tokens_are_signed_here_the_same_way_as_one_by_one(ring: KeyRing) -> None:
    signer = _signer(ring)
    tokens = ["A", "-", "Z" * 24, "Z" * 25, "", *(f"Q{n}" for n in range(300))]
    seals = signer.seal_many(tokens)
    assert seals[3] is None and seals[4] is None  # too long; empty
    assert [seal for i, seal in enumerate(seals) if i not in (3, 4)] == [
        signer.seal(token) for i, token in enumerate(tokens) if i not in (3, 4)
    ]
    assert signer.seal_many([]) == []


def test_generate_signs_with_a_key_pair_and_not_without(
    signed_service: StationService, signed_serial: str, ring: KeyRing
) -> None:
    view = signed_service.serial(signed_serial)
    assert view is not None and view.secondary_qr is not None
    verifier = ring.verifier
    assert verifier is not None
    assert verifier.check(view.secondary_qr)[0] is Verdict.GENUINE
    assert signed_service.serial(view.secondary_qr) == view  # the QR text finds its serial
    signed_service.keys = None
    _, [unsigned] = signed_service.generate("PUMP", 1, "P1")
    plain = signed_service.serial(unsigned)
    assert plain is not None and plain.secondary_qr is not None
    assert qr_kind(plain.secondary_qr) is QrKind.UNSIGNED


def test_import_signs_plain_tokens_and_checks_signed_ones(
    signed_service: StationService, ring: KeyRing, tmp_path: Path
) -> None:
    signer = _signer(ring)
    genuine = signed_text("IMPORTEDTOKEN2", signer.seal("IMPORTEDTOKEN2"))
    forged = genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BA")
    good = tmp_path / "good.csv"
    good.write_text(
        "serial_no,sku,generation_no,secondary_qr\n"
        "IM-1,PUMP,,IMPORTEDTOKEN1\n"
        f"IM-2,PUMP,,{genuine}\n"
        "IM-3,PUMP,,\n"
    )
    assert signed_service.import_csv(good).written
    verifier = signer.verifier()
    first, second, third = (signed_service.serial(f"IM-{n}") for n in (1, 2, 3))
    assert first and verifier.check(str(first.secondary_qr))[0] is Verdict.GENUINE
    assert second and second.secondary_qr == genuine
    assert third and third.secondary_qr is None

    bad = tmp_path / "bad.csv"
    bad.write_text(f"serial_no,sku,generation_no,secondary_qr\nIM-4,PUMP,,{forged}\n")
    report = signed_service.import_csv(bad)
    assert not report.written
    assert "not genuine" in report.problems[0].message and report.problems[0].line == 2
    assert signed_service.serial("IM-4") is None


def test_a_serial_never_equals_a_signed_token(
    signed_service: StationService, signed_serial: str, tmp_path: Path
) -> None:
    view = signed_service.serial(signed_serial)
    assert view is not None and view.secondary_qr
    token = parse_signed(view.secondary_qr).token
    clash = tmp_path / "clash.csv"
    clash.write_text(f"serial_no,sku,generation_no,secondary_qr\n{token},PUMP,,\n")
    report = signed_service.import_csv(clash)
    assert not report.written
    assert f"serial {token} is already a secondary QR" in report.problems[0].message


# -- at the station ------------------------------------------------------------------------


def _refusals(service: StationService) -> list[tuple[str | None, str | None]]:
    return [(e.outcome, e.serial_no) for _id, e in service.recent_events(station="T-1")]


def test_a_genuine_signed_qr_scans_and_says_so(
    signed_service: StationService, signed_serial: str
) -> None:
    view = signed_service.serial(signed_serial)
    assert view is not None and view.secondary_qr
    outcome = signed_service.scan(ScanEvent(view.secondary_qr.lower()), station())
    assert outcome.kind is OutcomeKind.OK and outcome.serial_no == signed_serial
    assert outcome.message.endswith("(secondary QR genuine)")
    assert outcome.stage_after is Stage.REGISTERED


@pytest.mark.parametrize("mode", [Mode.REGISTER, Mode.LOOKUP])
def test_a_forged_signed_qr_is_not_genuine_logged_and_changes_nothing(
    signed_service: StationService, signed_serial: str, tmp_path: Path, mode: Mode
) -> None:
    view = signed_service.serial(signed_serial)
    assert view is not None and view.secondary_qr
    token_at = len("SQ1.")
    other_char = "7" if view.secondary_qr[token_at] != "7" else "6"  # really one changed
    changed = view.secondary_qr[:token_at] + other_char + view.secondary_qr[token_at + 1 :]
    other_key = init_keys(tmp_path / "o.pem", tmp_path / "o.pub.pem")
    token = parse_signed(view.secondary_qr).token
    other = signed_text(token, other_key.seal(token))
    for forged, why in ((changed, "does not match"), (other, "not by this deployment's key")):
        outcome = signed_service.scan(ScanEvent(forged), station(mode=mode))
        assert outcome.kind is OutcomeKind.NOT_GENUINE and not outcome.kind.is_success
        assert outcome.message.startswith("NOT GENUINE") and why in outcome.message
    assert signed_service.serial(signed_serial) == view  # nothing changed
    assert _refusals(signed_service)[:2] == [("not_genuine", None)] * 2


def test_a_bare_token_of_a_signed_unit_is_not_genuine(
    signed_service: StationService, signed_serial: str
) -> None:
    view = signed_service.serial(signed_serial)
    assert view is not None and view.secondary_qr
    bare = parse_signed(view.secondary_qr).token
    outcome = signed_service.scan(ScanEvent(bare), station())
    assert outcome.kind is OutcomeKind.NOT_GENUINE and "carries no signature" in outcome.message
    assert signed_service.serial(signed_serial) == view
    assert _refusals(signed_service)[0] == ("not_genuine", signed_serial)


def test_an_old_unsigned_token_still_finds_its_serial_and_says_unsigned(
    signed_service: StationService,
) -> None:
    view = signed_service.serial("SN0000000002")  # made before the key pair
    assert view is not None and view.secondary_qr and qr_kind(view.secondary_qr) is QrKind.UNSIGNED
    outcome = signed_service.scan(ScanEvent(view.secondary_qr), station())
    assert outcome.kind is OutcomeKind.OK and outcome.serial_no == "SN0000000002"
    assert outcome.message.endswith("(secondary QR unsigned)")
    by_number = signed_service.scan(ScanEvent("SN0000000003"), station())
    assert "secondary QR" not in by_number.message  # a serial number is no QR
