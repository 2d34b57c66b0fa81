"""The key pair and `verify` through real processes: a signed secondary QR proves itself with
the public key only, and the private key never reaches any output."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.cli.test_cli import db, generate, run  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("keys")


def data_dir() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "scanstation"


@pytest.fixture
def outputs() -> list[str]:
    """Every stdout and stderr of the test, to look for the private key in."""
    return []


@pytest.fixture
def keys(db: Path, outputs: list[str]) -> Path:  # noqa: F811
    made = run(db, "keys", "init")
    outputs.extend((made.stdout, made.stderr))
    assert made.returncode == 0, made.stderr
    return data_dir() / "signing-key.pem"


def _secret(private_key: Path) -> str:
    """The private key's base64 body (what must never be printed)."""
    return "".join(
        line for line in private_key.read_text().splitlines() if not line.startswith("-----")
    )


def _verify(db: Path, outputs: list[str], *args: str) -> tuple[int, dict[str, object]]:  # noqa: F811
    result = run(db, "verify", *args, "--json")
    outputs.extend((result.stdout, result.stderr))
    return result.returncode, json.loads(result.stdout)


def test_keys_init_makes_a_private_file_and_refuses_to_overwrite_it(
    db: Path,  # noqa: F811
    keys: Path,
    outputs: list[str],
) -> None:
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    before = keys.read_bytes()
    again = run(db, "keys", "init")
    outputs.extend((again.stdout, again.stderr))
    assert again.returncode == 2 and "exists already" in again.stderr
    assert keys.read_bytes() == before  # the key every printed label verifies with is kept
    public = run(db, "keys", "export-public")
    outputs.append(public.stdout)
    assert public.returncode == 0
    assert public.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in public.stdout
    assert all(_secret(keys) not in text for text in outputs)


def test_a_signed_qr_verifies_and_a_changed_one_does_not(
    db: Path,  # noqa: F811
    keys: Path,
    outputs: list[str],
    tmp_path: Path,
) -> None:
    serial = generate(db, 3)[0]
    shown = run(db, "show", serial, "--json")
    outputs.append(shown.stdout)
    qr = json.loads(shown.stdout)["secondary_qr"]
    assert qr.startswith("SQ1.") and len(qr) <= 154  # version 6-M, alphanumeric mode

    code, answer = _verify(db, outputs, qr)
    assert (code, answer["verdict"], answer["genuine"]) == (0, "genuine", True)
    # The QR text is also a lookup key: it finds its serial.
    assert json.loads(run(db, "show", qr, "--json").stdout)["serial_no"] == serial

    # One character of the token changed: same form, a signature that does not match.
    token_at = len("SQ1.")
    changed = qr[:token_at] + ("B" if qr[token_at] == "A" else "A") + qr[token_at + 1 :]
    code, answer = _verify(db, outputs, changed)
    assert (code, answer["verdict"]) == (1, "not genuine")
    assert "does not match" in str(answer["reason"])

    # Another deployment's key: the customer's copy of OUR public key says not genuine.
    other_home = tmp_path / "other"
    env = {"XDG_DATA_HOME": str(other_home)}
    assert run(db, "keys", "init", env=env).returncode == 0
    other_public = tmp_path / "other.pem"
    other_public.write_text(run(db, "keys", "export-public", env=env).stdout)
    code, answer = _verify(db, outputs, qr, "--public-key", str(other_public))
    assert (code, answer["verdict"]) == (1, "not genuine")
    assert "not by this deployment's key" in str(answer["reason"])

    # Verification needs only the public key: no database, no private key.
    ours = tmp_path / "ours.pem"
    ours.write_text(run(db, "keys", "export-public").stdout)
    keys.rename(tmp_path / "moved-away.pem")
    (data_dir() / "signing-key.pub.pem").unlink()
    alone = run("/nonexistent/no.db", "verify", qr, "--public-key", str(ours))
    outputs.extend((alone.stdout, alone.stderr))
    assert alone.returncode == 0 and alone.stdout.startswith("GENUINE")
    private_text = (tmp_path / "moved-away.pem").read_text()
    assert all(_secret(tmp_path / "moved-away.pem") not in text for text in outputs)
    assert private_text not in "".join(outputs)


def test_unsigned_and_garbage(db: Path, outputs: list[str]) -> None:  # noqa: F811
    code, answer = _verify(db, outputs, "ABCDEFGHIJKL")
    assert (code, answer["verdict"], answer["genuine"]) == (1, "unsigned", False)
    for garbage in ("hello world", "SQ1.ABC.DEF", "SQ1.ABCDEFGHIJKL.ABCDEFGH." + "1" * 103, ""):
        code, answer = _verify(db, outputs, garbage)
        assert (code, answer["verdict"]) == (2, "unreadable"), garbage


def test_without_any_public_key_verify_says_what_to_give(db: Path, tmp_path: Path) -> None:  # noqa: F811
    result = run(db, "verify", "ABCDEFGHIJKL", env={"XDG_DATA_HOME": str(tmp_path / "none")})
    assert result.returncode == 2 and "--public-key" in result.stderr


def test_a_private_key_others_can_read_is_refused(db: Path, keys: Path) -> None:  # noqa: F811
    keys.chmod(0o644)
    result = run(db, "generate", "PUMP", "--count", "1", "--site", "P1")
    assert result.returncode == 2 and "chmod 600" in result.stderr
    assert "Traceback" not in result.stderr


def test_scan_json_says_not_genuine_and_unsigned(db: Path, outputs: list[str]) -> None:  # noqa: F811
    serial = generate(db, 1)[0]
    qr = json.loads(run(db, "show", serial, "--json").stdout)["secondary_qr"]
    forged = qr[:-1] + ("A" if qr[-1] != "A" else "Q")
    scanned = run(
        db, "scan", "--station", "S1", "--site", "P1", "--mode", "register", "--json", forged, qr
    )
    outputs.extend((scanned.stdout, scanned.stderr))
    bad, good = (json.loads(line) for line in scanned.stdout.splitlines())
    assert scanned.returncode == 1
    assert (bad["outcome"], bad["serial"], bad["stage_after"]) == ("not_genuine", None, None)
    assert bad["message"].startswith("NOT GENUINE")
    assert (good["outcome"], good["serial"]) == ("ok", serial)
    assert good["message"].endswith("(secondary QR genuine)")
