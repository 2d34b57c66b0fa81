"""`scanstation report` through real processes on the demo database: the JSON keys (a public
contract), exit 2 for an unknown site or SKU, and DC-1042's missing units counted here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanstation.domain.stages import Stage
from scanstation.service import StationService
from tests.cli.test_cli import run

KEYS = {
    "stages": {"sku", "site", "stage", "count"},
    "transit": {"serial_no", "sku", "document", "from", "to", "dispatched_at", "days"},
    "aging": {"site", "sku", "bucket", "count"},
    "throughput": {"hour", "station", "operator", "ok", "refused"},
    "exceptions": {"at", "kind", "serial_no", "payload", "operator", "station", "site", "reason"},
}
LINE_KEYS = {"record", "sku", "expected", "dispatched", "received"}
WHERE = ("--site", "G1", "--mode", "receive")
UNIT_KEYS = {"record", "serial_no", "sku", "stage", "site", "at"}


def records(db: Path, *args: str) -> list[dict[str, object]]:
    result = run(db, "report", *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.isascii()
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("name", sorted(KEYS))
def test_each_report_prints_json_lines_with_its_keys(demo_db: Path, name: str) -> None:
    if name == "exceptions":  # the demo has none: make one
        assert run(demo_db, "scan", "--station", "G1-GATE-1", *WHERE, "NOPE-1").returncode == 1
    rows = records(demo_db, name)
    assert rows, f"report {name} printed nothing"
    assert all(set(row) == KEYS[name] for row in rows)


def test_stages_json_agrees_with_the_serials(demo_db: Path) -> None:
    rows = records(demo_db, "stages")
    service = StationService.open(f"sqlite:///{demo_db}")
    info = service.info()
    service.close()
    by_stage: dict[str, int] = {}
    for row in rows:
        by_stage[str(row["stage"])] = by_stage.get(str(row["stage"]), 0) + int(row["count"])
    assert by_stage == {k: v for k, v in info["serials_by_stage"].items() if v}


def test_document_dc_1042_lists_exactly_the_units_not_received(demo_db: Path) -> None:
    service = StationService.open(f"sqlite:///{demo_db}")
    on_the_road = sorted(
        view.serial_no
        for view in service.export(Stage.DISPATCHED_FROM_PLANT)
        if view.document == "REF-1042"
    )
    service.close()
    rows = records(demo_db, "document", "DC-1042")
    lines = [row for row in rows if row["record"] == "line"]
    missing = [row for row in rows if row["record"] == "missing"]
    assert all(set(row) == LINE_KEYS for row in lines)
    assert all(set(row) == UNIT_KEYS for row in missing)
    assert len(on_the_road) == 55
    assert sorted(str(row["serial_no"]) for row in missing) == on_the_road
    assert sum(int(row["dispatched"]) for row in lines) == 55
    assert not [row for row in rows if row["record"] == "extra"]
    table = run(demo_db, "report", "document", "DC-1042")
    assert table.returncode == 0 and "55 missing, 0 extra" in table.stdout


@pytest.mark.parametrize("flag", ["--site", "--sku"])
def test_an_unknown_site_or_sku_is_exit_2(demo_db: Path, flag: str) -> None:
    result = run(demo_db, "report", "stages", flag, "NOPE\x1b[2J")
    assert result.returncode == 2
    assert "Unknown" in result.stderr and "\x1b" not in result.stderr


def test_a_bad_date_is_a_usage_error(demo_db: Path) -> None:
    result = run(demo_db, "report", "throughput", "--since", "yesterday")
    assert result.returncode == 2 and "not a date" in result.stderr
