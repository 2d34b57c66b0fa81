"""`scan` as a station: its station and site from the config and environment, blank stdin lines
skipped, site-aware answers; `export --site` of an unknown site is usage."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import db, generate, run  # noqa: F401 - the fixture


def scan(path: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    return run(path, "scan", *args, "--json", stdin=stdin, env=env)


def answers(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_blank_stdin_lines_are_skipped_not_refused(db: Path) -> None:  # noqa: F811
    serials = generate(db, 2)
    stdin = f"{serials[0]}\n\n   \n\t\r\n{serials[1]}\n\n"
    result = scan(db, "--station", "S1", "--site", "P1", "--mode", "register", stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert [a["outcome"] for a in answers(result)] == ["ok", "ok"]


def test_an_empty_argv_payload_is_still_rejected(db: Path) -> None:  # noqa: F811
    result = scan(db, "--station", "S1", "--site", "P1", "--mode", "register", "")
    assert result.returncode == 1
    assert [a["outcome"] for a in answers(result)] == ["rejected"]


def test_station_and_site_come_from_the_environment(db: Path) -> None:  # noqa: F811
    serial = generate(db, 1)[0]
    env = {"SCANSTATION_STATION_ID": "GATE-7", "SCANSTATION_STATION_SITE": "P1"}
    result = scan(db, "--mode", "register", serial, env=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(run(db, "show", serial, "--json").stdout)
    assert shown["events"][-1]["station"] == "GATE-7"


def test_station_and_site_come_from_the_config_file(db: Path, tmp_path: Path) -> None:  # noqa: F811
    serial = generate(db, 1)[0]
    config = tmp_path / "config.toml"
    config.write_text('[station]\nid = "DOCK-2"\nsite = "P1"\n')
    result = run(db, "--config", str(config), "scan", "--mode", "register", serial, "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(run(db, "show", serial, "--json").stdout)
    assert shown["events"][-1]["station"] == "DOCK-2"


def test_no_site_anywhere_is_usage(db: Path) -> None:  # noqa: F811
    result = scan(db, "--mode", "register", "SN0000000001")
    assert result.returncode == 2
    assert "--site" in result.stderr and "Traceback" not in result.stderr


def test_a_unit_on_record_elsewhere_is_rejected_naming_both_sites(db: Path) -> None:  # noqa: F811
    assert run(db, "site", "add", "P2", "--name", "Nashik Plant", "--kind", "plant").returncode == 0
    serial = generate(db, 1)[0]
    assert scan(db, "--site", "P1", "--mode", "register", serial).returncode == 0
    result = scan(db, "--site", "P2", "--mode", "validate", serial)
    assert result.returncode == 1
    (answer,) = answers(result)
    assert answer["outcome"] == "rejected"
    assert "Pune Plant (P1), not here at Nashik Plant (P2)" in answer["message"]


def test_export_of_an_unknown_site_is_usage(db: Path) -> None:  # noqa: F811
    result = run(db, "export", "--site", "NOPE")
    assert result.returncode == 2
    assert "Unknown site 'NOPE'" in result.stderr and "P1" in result.stderr
    assert result.stdout == ""
    assert run(db, "export", "--site", "P1").returncode == 0


def test_void_reopen_and_a_dcs_arrivals_on_the_command_line(db: Path) -> None:  # noqa: F811
    serials = generate(db, 2)
    assert run(db, "doc", "add", "--kind", "dc", "--reference-no", "DC-9", "--from", "P1",
               "--to", "G1", "--line", "PUMP=3").returncode == 0  # fmt: skip
    for mode in ("register", "validate"):
        assert scan(db, "--site", "P1", "--mode", mode, *serials).returncode == 0
    assert scan(db, "--site", "P1", "--mode", "dispatch", "--doc", "DC-9", *serials).returncode == 0
    assert scan(db, "--site", "G1", "--mode", "receive", serials[0]).returncode == 0

    shown = json.loads(run(db, "doc", "show", "DC-9", "--json").stdout)
    assert shown["lines"][0] | {"item_name": None} == {
        "sku": "PUMP", "item_name": None, "quantity": 3, "scanned": 2, "received": 1,
    }  # fmt: skip
    assert shown["missing"] == [serials[1]] and shown["returns"] == []

    voided = run(db, "void", serials[1], "--site", "P1", "--reason", "wrong truck", "--json")
    assert voided.returncode == 0, voided.stderr
    (answer,) = answers(voided)
    assert answer["outcome"] == "ok" and answer["stage_after"] == "Validated at Plant"
    shown = json.loads(run(db, "doc", "show", "DC-9", "--json").stdout)
    assert shown["lines"][0]["scanned"] == 1 and shown["missing"] == []
    again = run(db, "void", serials[1], "--site", "P1")
    assert again.returncode == 1 and "void already" in again.stdout

    assert run(db, "doc", "close", "DC-9", "--reason", "truck left").returncode == 0
    assert run(db, "doc", "reopen", "DC-9").returncode == 2  # --reason is required
    reopened = run(db, "doc", "reopen", "DC-9", "--reason", "second truck")
    assert reopened.returncode == 0 and "DC-9 reopened" in reopened.stdout
    assert json.loads(run(db, "doc", "show", "DC-9", "--json").stdout)["state"] == "open"
    assert run(db, "doc", "reopen", "DC-9", "--reason", "x").returncode == 2  # open already
