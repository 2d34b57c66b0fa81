"""The Find screen's search on SQLite and PostgreSQL (the `service` fixture runs each test on
both): every kind of search answers what the test put there, a page at a time, and the SKU's
pages come from its own index."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.reports import SerialSearch
from scanstation.domain.stages import Mode, Stage
from scanstation.service import StationService
from scanstation.store.database import SCHEMA_VERSION
from scanstation.store.repository import Repository
from tests.conftest import build_small, station


def numbers(service: StationService, search: SerialSearch, **page: Any) -> list[str]:
    return [view.serial_no for _, view in service.find_serials(search, **page)]


def test_a_skus_serials_come_in_pages_in_the_order_they_were_made(
    service: StationService,
) -> None:
    first = service.find_serials(SerialSearch(sku="PUMP"), limit=8)
    assert [v.serial_no for _, v in first] == [f"SN{n:010d}" for n in range(1, 9)]
    rest = numbers(service, SerialSearch(sku="PUMP"), after=first[-1][0], limit=50)
    assert rest == [f"SN{n:010d}" for n in range(9, 21)]  # no FAN among them, none twice
    assert numbers(service, SerialSearch(sku="FAN")) == [f"FN{n:010d}" for n in range(21, 26)]


def test_stage_site_number_qr_and_date_each_find_what_was_scanned(
    service: StationService,
) -> None:
    for serial in ("SN0000000003", "SN0000000007"):
        service.scan(ScanEvent(serial), station("P1", Mode.REGISTER))
    registered = SerialSearch(stage=Stage.REGISTERED.value)
    assert numbers(service, registered) == ["SN0000000003", "SN0000000007"]
    assert numbers(service, SerialSearch(stage=Stage.REGISTERED.value, sku="FAN")) == []
    assert len(numbers(service, SerialSearch(site="P1"))) == 25
    assert numbers(service, SerialSearch(site="G1")) == []
    assert numbers(service, SerialSearch(text="SN000000001")) == [
        f"SN{n:010d}" for n in range(10, 20)
    ]
    qr = service.serial("FN0000000022")
    assert qr is not None and qr.secondary_qr
    assert numbers(service, SerialSearch(text=str(qr.secondary_qr))) == ["FN0000000022"]
    now = datetime.now(UTC)
    changed = SerialSearch(since=now - timedelta(hours=1), until=now + timedelta(hours=1))
    assert len(numbers(service, changed)) == 25
    assert numbers(service, SerialSearch(until=now - timedelta(days=1))) == []


def test_a_documents_units_are_found_by_it(service: StationService) -> None:
    for serial in ("SN0000000002", "SN0000000005"):
        for mode in (Mode.REGISTER, Mode.VALIDATE):
            service.scan(ScanEvent(serial), station("P1", mode))
        service.scan(ScanEvent(serial), station("P1", Mode.DISPATCH, document="DC-1"))
    assert numbers(service, SerialSearch(document="DC-1")) == ["SN0000000002", "SN0000000005"]


def plans(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The query plan of every serial page read while the test runs (SQLite)."""
    seen: list[str] = []
    original = Repository._cursor

    def explained(self: Repository, sql: str, params: Any = ()) -> Any:
        if sql.startswith("SELECT") and "ORDER BY s." in sql:
            rows = original(self, "EXPLAIN QUERY PLAN " + sql, params).fetchall()
            seen.append(" / ".join(row[-1] for row in rows))
        return original(self, sql, params)

    monkeypatch.setattr(Repository, "_cursor", explained)
    return seen


def test_a_skus_page_is_read_from_its_index_on_an_analyzed_database(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = StationService.open(db_url, create=True)
    build_small(service)
    service.repo._cursor("ANALYZE")
    seen = plans(service.repo, monkeypatch)
    service.find_serials(SerialSearch(sku="PUMP"), limit=5)
    service.find_serials(SerialSearch(stage=Stage.NOT_REGISTERED.value), limit=5)
    service.close()
    assert "USING INDEX serial_item_id_id (item_id=?)" in seen[0]
    assert all("TEMP B-TREE" not in plan for plan in seen), seen  # no sort of all matches


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_version_8_database_gets_the_skus_index(
    backend: str, db_url: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    service = StationService.open(url, create=True)
    build_small(service)
    service.scan(ScanEvent("SN0000000004"), station())
    service.repo._cursor("DROP INDEX serial_item_id_id")
    service.repo._cursor("UPDATE meta SET value = '8' WHERE key = 'schema_version'")
    if backend == "sqlite":
        service.repo._cursor("ANALYZE")  # statistics taken before the index existed
    service.close()
    service = StationService.open(url)
    assert service.info()["schema_version"] == SCHEMA_VERSION  # 9 and on
    assert numbers(service, SerialSearch(sku="FAN")) == [f"FN{n:010d}" for n in range(21, 26)]
    assert numbers(service, SerialSearch(stage=Stage.REGISTERED.value)) == ["SN0000000004"]
    if backend == "sqlite":
        seen = plans(service.repo, monkeypatch)
        service.find_serials(SerialSearch(stage=Stage.NOT_REGISTERED.value), limit=5)
        assert "TEMP B-TREE" not in seen[0]  # the new index measured too, not guessed
    service.close()
    StationService.open(url).close()  # nothing left to migrate
    if backend == "sqlite":
        with sqlite3.connect(Path(url.removeprefix("sqlite:///"))) as conn:
            measured = {r[0] for r in conn.execute("SELECT idx FROM sqlite_stat1")}
        conn.close()
        assert "serial_item_id_id" in measured
