"""The command line through real processes on a real database file: the public contract."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

SHOW_KEYS = {
    "serial_no",
    "sku",
    "item_name",
    "generation_no",
    "secondary_qr",
    "stage",
    "site",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "print_count",
    "printed_at",
    "events",
}
EVENT_KEYS = {
    "at",
    "by",
    "approved_by",
    "station",
    "site",
    "outcome",
    "from_stage",
    "to_stage",
    "document",
    "comment",
    "recorded_at",
}
SCAN_KEYS = {"payload", "serial", "outcome", "stage_before", "stage_after", "message"}


def run(
    db: Path | str,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    echo: bool = True,
) -> subprocess.CompletedProcess[str]:
    """One `scanstation` process. What it printed is echoed into the test's captured output
    (`echo`), so the search for leaked secrets (tests/conftest.py) sees it too."""
    done = subprocess.run(
        [sys.executable, "-m", "scanstation", "--db", str(db), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    if echo:
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
    return done


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "cli.db"
    for args in (
        ("db", "init"),
        ("site", "add", "P1", "--name", "Pune Plant", "--kind", "plant"),
        ("site", "add", "G1", "--name", "Mumbai Godown", "--kind", "godown"),
        (
            "item",
            "add",
            "PUMP",
            "--name",
            "Pump 1HP",
            "--gtin",
            "8901234500019",
            "--model",
            "MB-100",
        ),
    ):
        result = run(path, *args)
        assert result.returncode == 0, result.stderr
    return path


def generate(db: Path, count: int = 5) -> list[str]:
    result = run(db, "generate", "PUMP", "--count", str(count), "--site", "P1", "--json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert set(data) == {"generation_no", "serials"}
    return data["serials"]


def test_generate_scan_show_export(db: Path) -> None:
    serials = generate(db)
    assert len(serials) == 5 and all(len(s) <= 20 for s in serials)

    ok = run(
        db,
        "scan",
        "--station",
        "S1",
        "--site",
        "P1",
        "--mode",
        "register",
        "--operator",
        "op-7",
        "--json",
        serials[0],
        serials[0],
    )
    assert ok.returncode == 0, ok.stderr
    first, second = (json.loads(line) for line in ok.stdout.splitlines())
    assert set(first) == SCAN_KEYS
    assert first["outcome"] == "ok" and first["serial"] == serials[0]
    assert (first["stage_before"], first["stage_after"]) == (
        "Not Registered at Plant",
        "Registered at Plant",
    )
    assert second["outcome"] == "already"

    shown = run(db, "show", serials[0], "--json")
    assert shown.returncode == 0
    data = json.loads(shown.stdout)
    assert set(data) == SHOW_KEYS
    assert data["stage"] == "Registered at Plant" and data["item_name"] == "Pump 1HP"
    assert data["created_at"].endswith("+00:00")
    assert [set(e) for e in data["events"]] == [EVENT_KEYS]
    event = data["events"][0]
    assert (event["by"], event["station"], event["outcome"]) == ("op-7", "S1", "ok")

    by_qr = run(db, "show", data["secondary_qr"], "--json")
    assert json.loads(by_qr.stdout)["serial_no"] == serials[0]
    assert run(db, "show", "NOPE").returncode == 1

    csv_out = run(db, "export", "--stage", "Registered at Plant")
    rows = csv_out.stdout.splitlines()
    assert rows[0].startswith("serial_no,sku,item_name") and len(rows) == 2
    json_out = run(db, "export", "--format", "json", "--site", "P1")
    records = [json.loads(line) for line in json_out.stdout.splitlines()]
    assert len(records) == 5 and "events" not in records[0]
    assert run(db, "export", "--stage", "Lost").returncode == 2


def test_show_lists_history_in_recording_order_with_both_times_of_a_late_scan(
    db: Path,
) -> None:
    """Finding 4: a scan read offline an hour ago and recorded now is listed where it was
    recorded, after the scan that reached the database first, and shows both times."""
    from datetime import timedelta

    from scanstation.domain.model import ScanEvent, utc_now
    from scanstation.domain.stages import Mode
    from scanstation.service import StationService, StationSetup

    serial = generate(db, 1)[0]
    service = StationService.open(str(db))
    try:
        service.scan(ScanEvent(serial), StationSetup("GATE-B", "P1", Mode.REGISTER, "op-b"))
        read_offline = ScanEvent(serial, read_at=utc_now() - timedelta(hours=1))
        service.scan(read_offline, StationSetup("GATE-A", "P1", Mode.VALIDATE, "op-a"), replay=True)
    finally:
        service.close()
    data = json.loads(run(db, "show", serial, "--json").stdout)
    assert [e["station"] for e in data["events"]] == ["GATE-B", "GATE-A"]
    late = data["events"][1]
    assert late["at"] < data["events"][0]["at"] < late["recorded_at"]
    text = run(db, "show", serial).stdout.splitlines()
    gate_b, gate_a = (line for line in text if "@ GATE-" in line)
    assert "@ GATE-B" in gate_b and "(recorded" not in gate_b
    assert "@ GATE-A" in gate_a and f"(recorded {late['recorded_at'][:19]}" in gate_a


def test_scan_exit_codes(db: Path) -> None:
    serials = generate(db, 2)
    base = ("scan", "--station", "S1", "--site", "P1", "--json")
    assert run(db, *base, "--mode", "register", serials[0]).returncode == 0
    assert run(db, *base, "--mode", "register", "NOPE").returncode == 1
    empty = run(db, *base, "--mode", "register", "")
    assert empty.returncode == 1 and json.loads(empty.stdout)["outcome"] == "rejected"
    # usage: unknown mode, unknown site, a --doc naming no document
    assert run(db, *base, "--mode", "teleport", serials[1]).returncode == 2
    unknown_site = run(
        db, "scan", "--station", "S1", "--site", "X9", "--mode", "register", serials[1]
    )
    assert unknown_site.returncode == 2 and "X9" in unknown_site.stderr
    assert run(db, *base, "--mode", "dispatch", "--doc", "NODOC", serials[1]).returncode == 2
    # dispatch without a document is a per-scan REJECTED
    run(db, *base, "--mode", "validate", serials[0])
    no_doc = run(db, *base, "--mode", "dispatch", serials[0])
    assert no_doc.returncode == 1 and json.loads(no_doc.stdout)["outcome"] == "rejected"
    assert no_doc.stderr == ""


def test_stdin_stream_is_answered_line_by_line(db: Path) -> None:
    serials = generate(db, 3)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scanstation",
            "--db",
            str(db),
            "scan",
            "--station",
            "S1",
            "--site",
            "P1",
            "--mode",
            "register",
            "--json",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin and proc.stdout
    answers = []
    # Each answer must come back before the next payload is sent: streamed, not batched.
    for payload in [
        serials[0],
        "[red]x[/]",
        "\x1b[31mBAD",
        serials[1],
        "A" * 5000,
        f"]C1{serials[2]}\x1d",
    ]:
        proc.stdin.write(payload + "\n")
        proc.stdin.flush()
        answers.append(json.loads(proc.stdout.readline()))
    proc.stdin.close()
    assert proc.wait(timeout=30) == 1
    assert [a["outcome"] for a in answers] == [
        "ok",
        "unknown",
        "rejected",
        "ok",
        "rejected",
        "rejected",
    ]
    assert answers[1]["payload"] == "[red]x[/]"
    assert answers[2]["payload"] == "\x1b[31mBAD"


def test_gs_inside_a_stdin_line_is_data(db: Path) -> None:
    serials = generate(db, 1)
    payload = f"]d2010890123450001921{serials[0]}\x1d10LOT1"
    result = run(
        db,
        "scan",
        "--station",
        "S1",
        "--site",
        "P1",
        "--mode",
        "register",
        "--json",
        stdin=payload + "\n",
    )
    answer = json.loads(result.stdout)
    assert answer["outcome"] == "ok" and answer["serial"] == serials[0]


def test_documents(db: Path) -> None:
    serials = generate(db, 3)
    added = run(
        db,
        "doc",
        "add",
        "--kind",
        "dc",
        "--reference-no",
        "R-1",
        "--dc-no",
        "DC-9",
        "--from",
        "P1",
        "--to",
        "G1",
        "--line",
        "PUMP=2",
    )
    assert added.returncode == 0, added.stderr
    assert (
        run(
            db,
            "doc",
            "add",
            "--kind",
            "dc",
            "--reference-no",
            "R-2",
            "--from",
            "P1",
            "--to",
            "G1",
            "--line",
            "PUMP=many",
        ).returncode
        == 2
    )
    scan = ("scan", "--station", "S1", "--site", "P1", "--json")
    run(db, *scan, "--mode", "register", *serials)
    run(db, *scan, "--mode", "validate", *serials)
    sent = run(db, *scan, "--mode", "dispatch", "--doc", "R-1", *serials)
    assert [json.loads(x)["outcome"] for x in sent.stdout.splitlines()] == ["ok", "ok", "rejected"]
    shown = json.loads(run(db, "doc", "show", "R-1", "--json").stdout)
    assert shown["lines"][0]["scanned"] == 2 and shown["dc_no"] == "DC-9"
    assert run(db, "doc", "close", "R-1").returncode == 0
    received = run(
        db, "scan", "--station", "G", "--site", "G1", "--mode", "receive", "--json", serials[0]
    )
    assert json.loads(received.stdout)["stage_after"] == "Received at Godown"


def test_import(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "serial_no,sku,generation_no,secondary_qr\nA-1,PUMP,,\nA-1,PUMP,,\nA-2,NOPE,,\n",
        encoding="utf-8",
    )
    result = run(db, "import", str(bad))
    assert result.returncode == 1
    assert f"{bad}:3:" in result.stderr and f"{bad}:4:" in result.stderr
    assert json.loads(run(db, "db", "info", "--json").stdout)["serials"] == 0
    good = tmp_path / "good.csv"
    good.write_text("serial_no,sku,generation_no,secondary_qr\nA-1,PUMP,,QA1\n", encoding="utf-8")
    assert run(db, "import", str(good), "--dry-run").returncode == 0
    assert json.loads(run(db, "db", "info", "--json").stdout)["serials"] == 0
    assert run(db, "import", str(good)).returncode == 0
    assert json.loads(run(db, "db", "info", "--json").stdout)["serials"] == 1


def test_bad_databases_are_clear_errors(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database" * 100)
    result = run(corrupt, "db", "info")
    assert result.returncode == 2 and "not a scanstation database" in result.stderr
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.commit()
    result = run(foreign, "db", "info")
    assert result.returncode == 2 and "another program" in result.stderr
    missing = run(tmp_path / "missing.db", "db", "info")
    assert missing.returncode == 2 and "db init" in missing.stderr
    unreachable = run("postgresql://nobody@127.0.0.1:1/nodb", "db", "info")
    assert unreachable.returncode == 2 and "Cannot reach" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr + result.stderr


def test_config_errors_exit_2(tmp_path: Path, db: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[station]\nsitee = 'G1'\n", encoding="utf-8")
    result = run(db, "--config", str(config), "db", "info")
    assert result.returncode == 2
    assert str(config) in result.stderr and "station.sitee" in result.stderr
    env = run(db, "db", "info", env={"SCANSTATION_SCANNER_MAX_PAYLOAD": "tiny"})
    assert env.returncode == 2 and "SCANSTATION_SCANNER_MAX_PAYLOAD" in env.stderr


def test_demo(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    result = run(path, "demo")
    assert result.returncode == 0, result.stderr
    assert "scanstation" in result.stdout and "--site" in result.stdout
    # The summary is one line a stage, not one line with the line breaks made visible.
    assert "␊" not in result.stdout
    assert any(line.startswith("  Scrapped ") for line in result.stdout.splitlines())
    info = json.loads(run(path, "db", "info", "--json").stdout)
    assert 1900 <= info["serials"] <= 2100
    assert all(n > 0 for n in info["serials_by_stage"].values()), info["serials_by_stage"]
    assert info["open_documents"] >= 2
    again = run(path, "demo", "--if-missing")
    assert again.returncode == 0 and "already" in again.stdout
    assert f"--db {path} demo --new-pins" in again.stdout  # how to get in again
    assert run(path, "demo").returncode == 2
    check_demo_people(path, result.stdout)


def demo_pins(stdout: str) -> dict[str, str]:
    """name → PIN of the people `scanstation demo` printed."""
    found = re.findall(r"^  (\S+) +(?:admin|supervisor|operator) +PIN (\d+)", stdout, re.M)
    return dict(found)


def check_demo_people(path: Path, printed: str) -> None:
    """The demo's people sign in with the PINs it printed; `--new-pins` replaces them, but
    only while the demo's people are the database's only ones."""
    pins = demo_pins(printed)
    assert sorted(pins) == ["admin", "op-17", "op-23", "sup-01"]

    def as_admin(pin: str, *args: str) -> subprocess.CompletedProcess[str]:
        return run(path, *args, "--user", "admin", env={"SCANSTATION_PIN": pin})

    listed = as_admin(pins["admin"], "user", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    roles = {u["name"]: u["role"] for u in map(json.loads, listed.stdout.splitlines())}
    assert roles == {"admin": "admin", "sup-01": "supervisor", "op-23": "operator"} | {
        "op-17": "operator"
    }
    # op-23 receives at G1 with the printed PIN: the README's demo station, from the CLI.
    received = run(
        path,
        *("scan", "SN0000000181", "--site", "G1", "--mode", "receive", "--user", "op-23"),
        env={"SCANSTATION_PIN": pins["op-23"]},
    )
    assert received.returncode == 0, received.stderr
    assert (
        json.loads(run(path, "show", "SN0000000181", "--json").stdout)["events"][-1]["by"]
        == "op-23"
    )

    renewed = run(path, "demo", "--new-pins")
    assert renewed.returncode == 0, renewed.stderr
    new = demo_pins(renewed.stdout)
    assert sorted(new) == sorted(pins) and new != pins
    if new["admin"] != pins["admin"]:
        assert as_admin(pins["admin"], "user", "list").returncode == 2  # the old PIN is gone
    assert as_admin(new["admin"], "user", "list").returncode == 0

    # Someone who is not the demo's: the demo's PINs are an admin's business from now on.
    added = as_admin(new["admin"], "user", "add", "Asha", "--role", "operator")
    assert added.returncode == 0, added.stderr
    refused = run(path, "demo", "--new-pins")
    assert refused.returncode == 2 and "other users too (Asha)" in refused.stderr
    assert "user pin NAME" in refused.stderr and "PIN " not in refused.stdout
    assert as_admin(new["admin"], "user", "list").returncode == 0  # nothing changed


def test_new_pins_only_for_a_demo_database(db: Path) -> None:
    refused = run(db, "demo", "--new-pins")
    assert refused.returncode == 2
    assert "not built by `scanstation demo`" in refused.stderr and "PIN " not in refused.stdout


def test_a_misspelt_environment_variable_stops_every_command(db: Path) -> None:
    """Issue 11, finding 13: exit 2 naming the variable, before any database is opened."""
    result = run(db, "db", "info", env={"SCANSTATION_DATABSE_URL": str(db)})
    assert result.returncode == 2
    assert result.stderr.startswith("scanstation: SCANSTATION_DATABSE_URL: unknown environment")
    assert "did you mean SCANSTATION_DATABASE_URL?" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_every_command_and_each_one_answers_its_own_help(tmp_path: Path) -> None:
    """Commands load when named (the station starts without them): every one `--help`
    lists must still be there, under its public name, with its options."""
    listed = run(tmp_path / "none.db", "--help")
    assert listed.returncode == 0, listed.stderr
    names = re.findall(r"^  ([a-z]+) ", listed.stdout.split("Commands:", 1)[1], re.MULTILINE)
    public = {"db", "decode", "demo", "doc", "export", "generate", "import", "item", "journal"}
    public |= {"keys", "kiosk", "labels", "report", "scan", "serve", "show", "site", "token"}
    public |= {"user", "verify", "void"}
    assert set(names) == public
    doc_help = run(tmp_path / "none.db", "doc", "--help")
    assert {"add", "close", "import", "list", "print", "reopen", "show"} <= set(
        re.findall(r"^  ([a-z]+)", doc_help.stdout.split("Commands:", 1)[1], re.MULTILINE)
    )
    from click.testing import CliRunner

    from scanstation.cli import main

    for name in [*names, "doc print", "doc list", "doc import"]:
        result = CliRunner().invoke(main, [*name.split(), "--help"], prog_name="scanstation")
        assert result.exit_code == 0, f"{name}: {result.output}"
        assert f"Usage: scanstation {name} [OPTIONS]" in result.output
    assert not (tmp_path / "none.db").exists()  # help opens no database


def test_a_usage_error_lists_the_choices_without_control_marks(tmp_path: Path) -> None:
    """click indents the choices of a missing option with tabs; they read as an indented list,
    not as `␉` marks after `Error:` on every line."""
    done = run(tmp_path / "x.db", "labels", "SN1")
    assert done.returncode == 2
    assert "Error: Missing option '--format'. Choose from:" in done.stderr
    assert "␉" not in done.stderr
    assert re.search(r"^ +zpl,$", done.stderr, re.MULTILINE)
    assert re.search(r"^ +pdf$", done.stderr, re.MULTILINE)
