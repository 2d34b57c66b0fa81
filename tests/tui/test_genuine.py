"""A signed secondary QR at the station: a forged one answers red NOT GENUINE and changes
nothing; a genuine one is scanned like its serial and says so. Real app, real SQLite file."""

from __future__ import annotations

from pathlib import Path

from test_station import burst, events_of, make_app, outcomes, ready, serial_stage

from scanstation.config import KeysSettings, Settings
from scanstation.domain.outcome import OutcomeKind
from scanstation.service import StationService
from scanstation.signing import KeyRing, init_keys


def _signed_serial(db: Path, keys: Path) -> tuple[str, str]:
    """A serial generated with the key pair: (serial no, its QR text)."""
    private, public = keys / "k.pem", keys / "k.pub.pem"
    init_keys(private, public)
    service = StationService.open(str(db), keys=KeyRing(private, public))
    _, [serial] = service.generate("PUMP-1HP", 1, "P1")
    view = service.serial(serial)
    service.close()
    assert view is not None and view.secondary_qr
    return serial, view.secondary_qr


async def test_a_forged_qr_is_a_red_not_genuine_and_a_genuine_one_registers(
    demo_db: Path, tmp_path: Path
) -> None:
    serial, qr = _signed_serial(demo_db, tmp_path)
    forged = qr[:4] + ("7" if qr[4] != "7" else "6") + qr[5:]
    settings = Settings(
        keys=KeysSettings(
            private_key=str(tmp_path / "absent.pem"), public_key=str(tmp_path / "k.pub.pem")
        )
    )
    app = make_app(demo_db, settings=settings, site="P1", mode="register")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        burst(app, forged + "\r")
        [refused] = await outcomes(pilot, app, 1)
        assert refused.kind is OutcomeKind.NOT_GENUINE
        banner = app.station.banner
        assert banner.kind == "not_genuine" and banner.has_class("-error")
        assert "NOT GENUINE" in banner.text
        assert serial_stage(demo_db, serial) == "Not Registered at Plant"
        burst(app, qr + "\r")
        _, registered = await outcomes(pilot, app, 2)
        assert registered.kind is OutcomeKind.OK
        assert "(secondary QR genuine)" in registered.message
    assert serial_stage(demo_db, serial) == "Registered at Plant"
    assert [outcome for _payload, outcome, _stage in events_of(demo_db)] == ["not_genuine", "ok"]
