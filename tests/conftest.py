"""Shared fixtures: real database files, built through the real service."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanstation.domain.stages import DocumentKind, Mode, SiteKind
from scanstation.service import StationService, StationSetup

SHARED = Path(__file__).resolve().parents[2] / "shared"

# PINs, tokens and passwords the tests use. The captured output (stdout, stderr, logs) of
# every test is searched for them: one that shows up fails the test (issue 9: no secret in
# any output). Long and distinctive, so no timestamp or serial matches one by chance.
SECRETS: set[str] = set()


def secret(value: str) -> str:
    """Register a PIN, token or password a test uses; returns it unchanged."""
    SECRETS.add(value)
    return value


def leaked(sections: list[tuple[str, str]], secrets: set[str]) -> list[str]:
    """The titles of captured sections that show one of `secrets` (never the secret)."""
    return [title for title, text in sections if any(s in text for s in secrets)]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    where = leaked(report.sections, SECRETS)
    if where and not report.failed:
        report.outcome = "failed"
        report.longrepr = (
            f"a registered secret (PIN, token or password) appeared in: {', '.join(where)}"
        )


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Tests never read the developer's own config or database."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    for name in list(os.environ):
        if name.startswith("SCANSTATION_") and name != "SCANSTATION_TEST_PG_URL":
            monkeypatch.delenv(name)


def build_small(service: StationService) -> None:
    """One plant, two godowns, two items, a DC and an invoice: enough for every transition."""
    service.add_site("P1", "Pune Plant", SiteKind.PLANT)
    service.add_site("G1", "Mumbai Godown", SiteKind.GODOWN)
    service.add_site("G2", "Nagpur Godown", SiteKind.GODOWN)
    service.add_item("PUMP", "Pump 1HP", "8901234500019", "MB-100")
    service.add_item("FAN", "Ceiling Fan", "8901234500040", "CF-1200")
    service.generate("PUMP", 20, "P1", prefix="SN", by="planner")
    service.generate("FAN", 5, "P1", prefix="FN", by="planner")
    service.add_document(
        kind=DocumentKind.DC,
        reference_no="DC-1",
        from_site="P1",
        to="G1",
        lines=[("PUMP", 3)],
        dc_no="DC-0001",
    )
    service.add_document(
        kind=DocumentKind.INVOICE,
        reference_no="INV-1",
        from_site="G1",
        to="Sharma Traders",
        lines=[("PUMP", 2)],
        invoice_no="INV-0001",
    )


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'station.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request: pytest.FixtureRequest, db_url: str) -> Iterator[StationService]:
    """The same behaviour on both backends: each service test runs on SQLite and PostgreSQL."""
    url = db_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    svc = StationService.open(url, create=True)
    build_small(svc)
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo database, built once a session (about 6 s); copy it before writing to it.
    Without the people `scanstation demo` adds: an open station (no users), as the tests
    of scanning want; people_db in tests/tui/test_sign_in.py adds people to a copy."""
    from scanstation.demo import build_demo
    from scanstation.station import OnlineStation

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    with OnlineStation(StationService.open(f"sqlite:///{path}", create=True)) as door:
        build_demo(door)
    return path


@pytest.fixture
def demo_db(demo_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "demo.db"
    shutil.copy(demo_template, path)
    return path


def station(site: str = "P1", mode: Mode = Mode.REGISTER, **kw: object) -> StationSetup:
    return StationSetup("T-1", site, mode, operator=str(kw.pop("operator", "op-1")), **kw)  # type: ignore[arg-type]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own, dropped afterwards."""
    import uuid
    from urllib.parse import urlparse, urlunparse

    base = os.environ.get("SCANSTATION_TEST_PG_URL")
    if not base:
        pytest.skip("SCANSTATION_TEST_PG_URL is not set: no PostgreSQL server to test against")
    import psycopg2

    name = f"scanstation_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(base)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    parsed = urlparse(base)
    yield urlunparse(parsed._replace(path=f"/{name}"))
    admin.cursor().execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
    )
    admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()
