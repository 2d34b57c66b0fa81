"""`user` and `token` through real processes on a real database file: the bootstrap, the JSON
contract, PINs from stdin or SCANSTATION_PIN, exit 2 at once without a terminal, tokens."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from tests.cli.test_cli import run
from tests.conftest import secret

ADMIN_PIN = secret("662049173855")
OPERATOR_PIN = secret("318275640192")
AS_ADMIN = {"SCANSTATION_PIN": ADMIN_PIN}


@pytest.fixture
def people(tmp_path: Path) -> Path:
    """A database after the bootstrap: admin Asha (with a PIN) and operator Ravi."""
    path = tmp_path / "people.db"
    assert run(path, "db", "init").returncode == 0
    added = run(path, "user", "add", "Asha", "--role", "admin", "--badge", "B-ASHA")
    assert added.returncode == 0, added.stderr
    pinned = run(path, "user", "pin", "Asha", "--pin-stdin", stdin=f"{ADMIN_PIN}\n")
    assert pinned.returncode == 0 and pinned.stdout.strip() == "PIN set for Asha"
    assert run(path, "user", "add", "Ravi", "--role", "operator", "--user", "Asha", env=AS_ADMIN)
    pinned = run(
        path,
        "user",
        "pin",
        "Ravi",
        "--pin-stdin",
        "--user",
        "asha",
        stdin=OPERATOR_PIN,
        env=AS_ADMIN,
    )
    assert pinned.returncode == 0, pinned.stderr
    return path


def test_the_first_user_must_be_an_admin(tmp_path: Path) -> None:
    path = tmp_path / "first.db"
    run(path, "db", "init")
    refused = run(path, "user", "add", "Ravi", "--role", "operator")
    assert refused.returncode == 2
    assert "the first user must be an admin" in refused.stderr


def test_user_list_json_never_holds_a_pin(people: Path) -> None:
    listed = run(people, "user", "list", "--json", "--user", "Asha", env=AS_ADMIN)
    assert listed.returncode == 0, listed.stderr
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert lines == [
        {"name": "Asha", "role": "admin", "badge": "B-ASHA", "disabled": False},
        {"name": "Ravi", "role": "operator", "badge": None, "disabled": False},
    ]
    assert ADMIN_PIN not in listed.stdout + listed.stderr
    with sqlite3.connect(people) as conn:
        dump = "\n".join(conn.iterdump())
    assert ADMIN_PIN not in dump and OPERATOR_PIN not in dump


def test_without_credentials_a_command_exits_2_at_once(people: Path) -> None:
    started = time.monotonic()
    no_user = run(people, "user", "list")
    no_pin = run(people, "user", "list", "--user", "Asha")  # stdin is a pipe: nobody to ask
    assert time.monotonic() - started < 30  # answered, not waiting for a PIN
    assert no_user.returncode == 2 and "say who you are with --user NAME" in no_user.stderr
    assert no_pin.returncode == 2 and "no terminal to ask on" in no_pin.stderr
    wrong = run(
        people, "user", "disable", "Ravi", "--user", "Asha", env={"SCANSTATION_PIN": "1111"}
    )
    assert wrong.returncode == 2 and "wrong PIN for Asha" in wrong.stderr
    assert "1111" not in wrong.stderr


def test_an_operator_cannot_manage_users(people: Path) -> None:
    refused = run(
        people,
        *("user", "add", "Kiran", "--role", "admin", "--user", "Ravi"),
        env={"SCANSTATION_PIN": OPERATOR_PIN},
    )
    assert refused.returncode == 2
    assert "managing users needs an admin; Ravi is an operator" in refused.stderr
    listed = run(people, "user", "list", "--json", "--user", "Asha", env=AS_ADMIN)
    assert "Kiran" not in listed.stdout


def test_a_bad_new_pin_is_refused_without_being_echoed(people: Path) -> None:
    bad = run(
        people, "user", "pin", "Ravi", "--pin-stdin", "--user", "Asha", stdin="12ab\n", env=AS_ADMIN
    )
    assert bad.returncode == 2 and "a PIN is digits only" in bad.stderr
    assert "12ab" not in bad.stderr + bad.stdout


def test_tokens_act_as_their_user_until_revoked(people: Path) -> None:
    created = run(
        people, "token", "create", "Asha", "--expires", "7", "--user", "Asha", env=AS_ADMIN,
        echo=False,  # the one output that shows the token
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    *lines, token = created.stdout.splitlines()
    secret(token)  # from here on, no output may show it
    assert token.startswith("sst_") and "shown only now" in lines[-1]
    with sqlite3.connect(people) as conn:
        assert token not in "\n".join(conn.iterdump())
    by_token = run(people, "user", "disable", "Ravi", env={"SCANSTATION_TOKEN": token})
    assert by_token.returncode == 0 and by_token.stdout.strip() == "User Ravi disabled"
    listed = run(people, "token", "list", "--json", env={"SCANSTATION_TOKEN": token})
    assert [json.loads(line)["user"] for line in listed.stdout.splitlines()] == ["Asha"]
    assert token not in listed.stdout
    revoked = run(people, "token", "revoke", "Asha", "--user", "Asha", env=AS_ADMIN)
    assert revoked.returncode == 0 and "1 token(s) of Asha revoked" in revoked.stdout
    refused = run(people, "user", "list", env={"SCANSTATION_TOKEN": token})
    assert refused.returncode == 2 and "was revoked" in refused.stderr


AS_RAVI = {"SCANSTATION_PIN": OPERATOR_PIN}


def test_changing_data_needs_credentials_and_the_role(people: Path) -> None:
    anonymous = run(people, "site", "add", "P1", "--name", "Pune", "--kind", "plant")
    assert anonymous.returncode == 2 and "--user NAME" in anonymous.stderr
    operator = run(
        people, "site", "add", "P1", "--name", "Pune", "--kind", "plant", "--user", "Ravi",
        env=AS_RAVI,
    )  # fmt: skip
    assert operator.returncode == 2 and "adding a site needs an admin" in operator.stderr
    with sqlite3.connect(people) as conn:
        assert conn.execute("SELECT count(*) FROM site").fetchone() == (0,)  # nothing written
    for args in (
        ("site", "add", "P1", "--name", "Pune", "--kind", "plant"),
        ("item", "add", "PUMP", "--name", "Pump"),
        ("generate", "PUMP", "--count", "3", "--site", "P1"),
    ):
        done = run(people, *args, "--user", "Asha", env=AS_ADMIN)
        assert done.returncode == 0, done.stderr
    # A scan names the signed-in user; an operator's scrap is refused and says what to do.
    scanned = run(
        people, "scan", "--station", "T-1", "--site", "P1", "--mode", "register", "--json",
        "--user", "ravi", "SN0000000001", env=AS_RAVI,
    )  # fmt: skip
    assert scanned.returncode == 0, scanned.stderr
    scrap = run(
        people, "scan", "--station", "T-1", "--site", "P1", "--mode", "scrap", "--reason", "bent",
        "--user", "Ravi", "SN0000000001", env=AS_RAVI,
    )  # fmt: skip
    assert scrap.returncode == 1 and "scrapping needs a supervisor" in scrap.stdout
    # What to do at a command line: no badge can be scanned here; a supervisor runs it.
    assert "run it as one (--user NAME with their PIN" in scrap.stdout
    assert "badge" not in scrap.stdout
    shown = json.loads(run(people, "show", "SN0000000001", "--json").stdout)
    assert [(e["by"], e["outcome"], e["site"]) for e in shown["events"]] == [
        ("Ravi", "ok", "P1"),
        ("Ravi", "rejected", "P1"),
    ]
    assert all(e["approved_by"] is None for e in shown["events"])
    anonymous_scan = run(
        people, "scan", "--station", "T-1", "--site", "P1", "--mode", "validate", "SN0000000001"
    )
    assert anonymous_scan.returncode == 2


def test_an_open_station_needs_no_credentials(tmp_path: Path) -> None:
    path = tmp_path / "open.db"
    for args in (
        ("db", "init"),
        ("site", "add", "P1", "--name", "Pune", "--kind", "plant"),
        ("item", "add", "PUMP", "--name", "Pump"),
        ("generate", "PUMP", "--count", "1", "--site", "P1"),
        ("scan", "--station", "T-1", "--site", "P1", "--mode", "scrap", "--reason", "x",
         "SN0000000001"),
    ):  # fmt: skip
        done = run(path, *args)
        assert done.returncode == 0, done.stderr


def test_importing_documents_needs_credentials(people: Path, tmp_path: Path) -> None:
    """`doc import` opens documents as `doc add` does: once the database has users, by
    someone signed in (it opened them anonymously); the documents name who did."""
    for args in (
        ("site", "add", "P1", "--name", "Pune", "--kind", "plant"),
        ("site", "add", "G1", "--name", "Mumbai", "--kind", "godown"),
        ("item", "add", "PUMP", "--name", "Pump"),
    ):
        assert run(people, *args, "--user", "Asha", env=AS_ADMIN).returncode == 0
    sheet = tmp_path / "docs.csv"
    sheet.write_text(
        "reference_no,kind,dc_no,invoice_no,from,to,lines\nDC-9,dc,DC-0009,,P1,G1,PUMP=2\n"
    )
    anonymous = run(people, "doc", "import", str(sheet))
    assert anonymous.returncode == 2 and "--user NAME" in anonymous.stderr
    wrong = run(people, "doc", "import", str(sheet), "--user", "Ravi", env=AS_ADMIN)
    assert wrong.returncode == 2 and "wrong PIN for Ravi" in wrong.stderr
    with sqlite3.connect(people) as conn:
        assert conn.execute("SELECT count(*) FROM document").fetchone() == (0,)
    done = run(people, "doc", "import", str(sheet), "--user", "Ravi", env=AS_RAVI)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(people) as conn:
        assert conn.execute("SELECT operator FROM event WHERE kind = 'document'").fetchall() == [
            ("Ravi",)
        ]
