"""Issue 11, findings 9, 11 and 12 on the command line, through real processes: argv that is
not valid UTF-8 gets a sentence (never a traceback), every text a person or a file gave is
shown through `visible` in every output, and a database password is never printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_cli import db, generate  # noqa: F401 - the fixture

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\u202e\u200b\x9b"
RAW = ("\x1b", "\x07", "\u202e", "\u200b", "\x9b")
SHOWN = "␛]0;pwned␇␛[2J⟨U+202E⟩⟨U+200B⟩\\x9b"


def run_bytes(
    database: Path, *args: str | bytes, stdin: bytes | None = None
) -> tuple[int, str, str]:
    """Run with argv given as bytes where it must not be valid UTF-8."""
    result = subprocess.run(
        [sys.executable, "-m", "scanstation", "--db", str(database), *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    return (
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


def assert_clean(*outputs: str) -> None:
    for output in outputs:
        assert "Traceback" not in output and "internal error" not in output, output
        assert not any(ch in output for ch in RAW), ascii(output)


SCAN = ("scan", "--station", "S-1", "--site", "P1", "--mode", "register")


@pytest.mark.parametrize(
    "args",
    [
        ("scan", "--station", b"ST\xff", "--site", "P1", "--mode", "register", "SN1"),
        ("scan", "--station", "S", "--site", b"P\xff", "--mode", "register", "SN1"),
        (*SCAN, "--operator", b"op\xfe\xff", "SN1"),
        (*SCAN, "--doc", b"\xc3", "SN1"),
        (*SCAN, "--reason", b"why\xff", "SN1"),
        ("show", b"SN\xff"),
        ("doc", "show", b"R\xff"),
        ("doc", "add", "--kind", "dc", "--reference-no", b"R\xff", "--from", "P1", "--to", "G1"),
        ("site", "add", b"X\xff", "--name", "x", "--kind", "plant"),
        ("--operator", b"\xff"),
        ("--station", b"\xff", "db", "info"),
    ],
)
def test_argv_that_is_not_utf8_is_a_usage_error_naming_the_option(
    db: Path,  # noqa: F811
    args: tuple[str | bytes, ...],
) -> None:
    code, out, err = run_bytes(db, *args)
    assert code == 2, err
    assert "is not valid UTF-8 text" in err and "\\x" in err
    assert_clean(out, err)


def test_a_payload_that_is_not_utf8_is_a_rejected_scan(db: Path) -> None:  # noqa: F811
    """A payload is data, not usage: answered REJECTED with its bytes shown (exit 1), from
    argv and from stdin alike, and the scans around it are still decided."""
    serials = generate(db, 2)
    code, out, err = run_bytes(db, *SCAN, "--json", serials[0], b"SN\xff\x1b", serials[1])
    assert code == 1, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["outcome"] for line in lines] == ["ok", "rejected", "ok"]
    assert "SN\\xff␛" in lines[1]["message"]
    code, out, err = run_bytes(db, *SCAN, stdin=b"SN\xfe\n")
    assert code == 1 and out.startswith("REJECTED") and "SN\\xfe" in out
    assert_clean(out, err)


def test_a_bom_at_the_start_of_stdin_is_not_part_of_the_first_payload(
    db: Path,  # noqa: F811
) -> None:
    serials = generate(db, 2)
    stdin = ("\ufeff" + serials[0] + "\n" + serials[1] + "\n").encode()
    code, out, err = run_bytes(db, *SCAN, "--json", stdin=stdin)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["payload"], line["outcome"]) for line in lines] == [
        (serials[0], "ok"),
        (serials[1], "ok"),
    ]


def test_stored_text_reaches_the_terminal_only_visibly(db: Path) -> None:  # noqa: F811
    """Finding 11: `show` printed operator and station names with OSC and CSI sequences."""
    serials = generate(db, 1)
    code, out, err = run_bytes(db, "site", "add", "G9", "--name", f"Godown{HOSTILE}")
    assert code == 2  # --kind is missing: a usage error, and still no raw byte
    assert_clean(out, err)
    code, out, err = run_bytes(
        db, "site", "add", "G9", "--name", f"Godown{HOSTILE}", "--kind", "godown"
    )
    assert code == 0 and SHOWN in out
    assert_clean(out, err)
    code, out, err = run_bytes(db, "item", "add", "FAN", "--name", f"Fan{HOSTILE}")
    assert code == 0 and SHOWN in out
    assert_clean(out, err)
    code, out, err = run_bytes(
        db,
        "scan",
        "--station",
        f"ST{HOSTILE}",
        "--site",
        "P1",
        "--mode",
        "register",
        "--operator",
        f"op{HOSTILE}",
        serials[0],
        f"X{HOSTILE}",
    )
    assert code == 1
    assert_clean(out, err)
    code, out, err = run_bytes(db, "show", serials[0])
    assert code == 0 and f"op{SHOWN} @ ST{SHOWN}" in out
    assert_clean(out, err)
    code, out, err = run_bytes(
        db, "doc", "add", "--kind", "dc", "--reference-no", f"R{HOSTILE}", "--from", "P1"
    )
    assert code == 2
    assert_clean(out, err)
    code, out, err = run_bytes(
        db,
        "doc",
        "add",
        "--kind",
        "dc",
        "--reference-no",
        f"R{HOSTILE}",
        "--dc-no",
        f"D{HOSTILE}",
        "--from",
        "P1",
        "--to",
        "G9",
        "--line",
        "PUMP=2",
    )
    assert code == 0, err
    assert_clean(out, err)
    code, out, err = run_bytes(db, "doc", "show", f"R{HOSTILE}")
    assert code == 0 and f"D{SHOWN}" in out and "G9" in out
    assert_clean(out, err)
    for args in (
        ("show", f"NOPE{HOSTILE}"),
        ("doc", "show", f"NOPE{HOSTILE}"),
        (*SCAN[:4], f"NO{HOSTILE}", *SCAN[5:], "x"),
        ("import", f"/nowhere/{HOSTILE}.csv"),
        ("export", "--stage", f"S{HOSTILE}"),
        ("scan", f"--{HOSTILE}"),
        (f"no-such-command{HOSTILE}",),
    ):
        code, out, err = run_bytes(db, *args)
        assert code in (1, 2), (args, err)
        assert_clean(out, err)


def test_journal_show_prints_an_operator_visibly(db: Path) -> None:  # noqa: F811
    serials = generate(db, 1)
    moved = db.with_name("away.db")
    db.rename(moved)
    try:
        code, out, err = run_bytes(
            db, *SCAN, "--journal", "--operator", f"op{HOSTILE}", serials[0], f"P{HOSTILE}"
        )
        assert code == 0, err
        assert_clean(out, err)
        code, out, err = run_bytes(db, "journal", "show", "--station", "S-1")
        assert code == 0 and f"op{SHOWN}" in out and f"P{SHOWN}" in out
        assert_clean(out, err)
    finally:
        moved.rename(db)


def test_a_password_is_never_printed(tmp_path: Path) -> None:
    """Finding 12 (the CLI's part): errors and the demo's closing hint mask the password."""
    for url in (
        "postgresql://scan:s3cret@127.0.0.1:1/site",
        "mysql://scan:s3cret@db-host/site",
    ):
        code, out, err = run_bytes(tmp_path / "unused.db", "--db", url, "db", "info")
        assert code == 2 and "s3cret" not in out + err, err
        assert "scan:***@" in err or "127.0.0.1" in err
        assert_clean(out, err)


@pytest.mark.postgres
def test_the_demo_hint_masks_the_password(pg_url: str) -> None:
    with_password = pg_url.replace("://postgres@", "://postgres:s3cret@", 1)
    if with_password == pg_url:
        pytest.skip("SCANSTATION_TEST_PG_URL has no user to give a password to")
    result = subprocess.run(
        [sys.executable, "-m", "scanstation", "demo", "--db", with_password],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert "--db postgresql://postgres:***@" in result.stdout
