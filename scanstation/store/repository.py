"""The store's face: every query and every transaction, on the database this repository opened
(and on no other: there is no process-wide proxy).

Peewee owns the schema and the ordinary queries; the few hot-path statements of a scan are
written once as SQL text and run on the connection's cursor (prepared once per connection on
PostgreSQL), because building SQL text per call was most of Peewee's cost there (see
benchmarks/store.py). Whatever differs between SQLite and PostgreSQL is asked of the dialect.
Every driver error leaves as a StoreError, transient or permanent (store/errors.py).

The methods are grouped by what they do: serials, generation runs and imports
(store/serials.py), documents (store/documents.py), events and the change feed
(store/events.py), the supervisor's reports (store/reports.py), lists (store/lists.py) and search
(store/search.py);
this module keeps the connection, the bounded write transaction, sites, items and the
database's summary.
"""

from __future__ import annotations

import functools
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import peewee

from scanstation.domain.model import ItemView, SiteView
from scanstation.domain.stages import SiteKind, Stage
from scanstation.store.codec import from_iso, iso
from scanstation.store.corrections import CorrectionStore
from scanstation.store.database import SCHEMA_VERSION, DatabaseTarget, open_database
from scanstation.store.dialect import first_line
from scanstation.store.documents import DOCUMENT_SQL, DocumentStore
from scanstation.store.errors import DuplicateScan, StoreBusy, StoreError, VersionChanged
from scanstation.store.events import EVENT_SQL, EventStore
from scanstation.store.feed import ChangeWatcher
from scanstation.store.lists import ListStore
from scanstation.store.prints import PrintStore
from scanstation.store.reports import ReportStore
from scanstation.store.runs import ImportRow, RunStore, SerialCollision
from scanstation.store.scan_rules import RULES_SQL, RuledScanStore, ScanNames, ScanRules
from scanstation.store.search import SearchStore
from scanstation.store.serials import SERIAL_SQL, LoadedSerial, ScanLock, SerialStore
from scanstation.store.station_role import station_role_sql, valid_role_name
from scanstation.store.tally import EVENTS
from scanstation.store.tries import Tries
from scanstation.store.users import StoredToken, StoredUser, UserStore

__all__ = [
    "ChangeWatcher",
    "DuplicateScan",
    "ImportRow",
    "LoadedSerial",
    "Repository",
    "ScanLock",
    "SerialCollision",
    "StoredToken",
    "StoredUser",
    "VersionChanged",
    "from_iso",
    "iso",
]

T = TypeVar("T")
P = ParamSpec("P")

# Bounded retry of a write that found the database locked (SQLite), a row held or a
# serialisation failure (PostgreSQL) or the connection lost: at most WRITE_BUDGET_S of tries
# (each try's waits bounded by what is left of it), then StoreBusy: nothing was saved.
WRITE_BUDGET_S = 5.0
BACKOFF_START_S = 0.002
BACKOFF_MAX_S = 0.2


def _is_driver_error(error: BaseException) -> bool:
    if isinstance(error, peewee.PeeweeException | sqlite3.Error | UnicodeEncodeError):
        return True
    if type(error).__module__.startswith("psycopg2"):
        return True
    # psycopg2 refuses a NUL in a string parameter with a plain ValueError.
    return isinstance(error, ValueError) and "NUL" in str(error)


def guarded(method: Callable[P, T]) -> Callable[P, T]:
    """A public repository method: driver errors leave it as StoreError."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        self = args[0]
        assert isinstance(self, Repository)
        with self.driver_errors():
            return method(*args, **kwargs)

    return wrapper


class Repository(
    SerialStore,
    RuledScanStore,
    RunStore,
    DocumentStore,
    EventStore,
    ReportStore,
    ListStore,
    SearchStore,
    CorrectionStore,
    UserStore,
    PrintStore,
):
    """Sites, items, generation runs, serials, documents, events and users of one database."""

    def __init__(self, url: str, *, create: bool = False) -> None:
        opened = open_database(url, create=create)
        self._db = opened.db
        self.target: DatabaseTarget = opened.target
        self.dialect = opened.dialect
        self.t = opened.tables
        self._hot: dict[str, str] = {
            name: self.dialect.hot_sql(text)
            for name, text in {**SERIAL_SQL, **RULES_SQL, **DOCUMENT_SQL, **EVENT_SQL}.items()
        }
        self._sites: dict[str, tuple[int, SiteView]] = {}
        # Each station's scan call: its prepared statement's name and text (store/scan_rules.py).
        self._scan_calls: dict[ScanRules, tuple[str, str]] = {}
        self._scan_names = ScanNames()

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, create: bool = False) -> Repository:
        return cls(url, create=create)

    def close(self) -> None:
        """Let go of this thread's connection (each thread has its own; a pool takes it back)."""
        with suppress(Exception):
            if not self._db.is_closed():
                self._db.close()

    @contextmanager
    def relaxed_durability(self) -> Iterator[None]:
        """For building throw-away data (the demo) fast: see the dialect's."""
        with self.dialect.relaxed_durability(self._db):
            yield

    # -- errors and statements ----------------------------------------------------------------

    @contextmanager
    def driver_errors(self) -> Iterator[None]:
        """Driver errors inside become StoreError (transient or permanent); a connection
        found broken is dropped for good, so the next statement connects afresh."""
        try:
            yield
        except Exception as error:
            classified = self._classified(error)
            if classified is None:
                raise
            raise classified from error

    def _classified(self, error: Exception) -> StoreError | None:
        """`error` as the StoreError `driver_errors` raises for it (dropping a connection found
        broken); None when it is not a driver's and goes up as it is. The hot paths (`_run`,
        `write`) call this from a plain `except`: a generator context manager a statement
        cost a scan microseconds."""
        if isinstance(error, StoreError | VersionChanged | DuplicateScan):
            return None
        if not _is_driver_error(error):
            return None
        classified = self.dialect.classify(error)
        if self.dialect.connection_lost(error):
            self._drop_broken_connection()
        return classified

    def _connection_lost(self, error: BaseException) -> bool:
        """`error`, or the driver's error a StoreBusy was raised from, is a lost connection."""
        cause = error.__cause__
        return self.dialect.connection_lost(error) or (
            cause is not None and self.dialect.connection_lost(cause)
        )

    def _drop_broken_connection(self) -> None:
        connection = getattr(self._db._state, "conn", None)
        if connection is not None:
            self.dialect.forget_connection(connection)
        if self.dialect.pooled:
            with suppress(Exception):
                self._db.manual_close()  # type: ignore[attr-defined]

    def _cursor(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (written with `?`) on this thread's connection. A read outside a
        transaction whose connection was lost (a server restart drops every pooled one) goes
        again once on a fresh connection; inside a transaction the transaction is gone."""
        text = self.dialect.sql(sql)
        for attempt in (1, 2):
            try:
                with self.driver_errors():
                    cursor = self._db.cursor()
                    cursor.execute(text, params)
                    return cursor
            except StoreBusy:
                if attempt == 2 or self._db.in_transaction() or not self._db.is_closed():
                    raise
        raise AssertionError("unreachable")

    def _run(self, name: str, params: Sequence[Any]) -> Any:
        """A hot-path statement by name (prepared once per connection on PostgreSQL)."""
        for attempt in (1, 2):
            try:
                return self.dialect.execute_hot(self._db, name, self._hot[name], params)
            except Exception as error:
                classified = self._classified(error)
                if classified is None:
                    raise
                if (
                    not isinstance(classified, StoreBusy)
                    or attempt == 2
                    or self._db.in_transaction()
                    or not self._db.is_closed()
                ):
                    raise classified from error
        raise AssertionError("unreachable")

    def write_alone(self, work: Callable[[], T], tries: Tries | None = None) -> T:
        """`work`, one write statement, committed by itself on PostgreSQL (one round trip, no
        BEGIN or COMMIT); in a write transaction of its own on SQLite. Retried as `write`."""
        return self.write(work, transaction=not self.dialect.scan_function, tries=tries)

    def write(
        self, work: Callable[[], T], *, transaction: bool = True, tries: Tries | None = None
    ) -> T:
        """Run `work` in one write transaction, retried whole while the database is busy or the
        connection was lost, for at most WRITE_BUDGET_S; then StoreBusy (nothing was saved).
        A permanent error (or a transient one retrying cannot help, such as a damaged file)
        is raised at once. Without `transaction`, `work` is one statement that commits by
        itself (PostgreSQL's scan function), retried the same way.

        SQLite: BEGIN IMMEDIATE takes the write lock before the first read, so what `work`
        reads cannot change before it writes. PostgreSQL: `work` locks rows with FOR UPDATE.
        Either way the serial's version is checked again on update (belt and braces).

        `tries`, when given, notes a try cut off by a lost connection (it may have committed:
        see store/tries.py), also when a later try raises.
        """
        delay = BACKOFF_START_S
        deadline = time.monotonic() + WRITE_BUDGET_S
        last_error: Exception | None = None
        while True:
            try:
                if not transaction:
                    return work()
                with self.dialect.write_transaction(self._db, deadline - time.monotonic()):
                    return work()
            except VersionChanged as error:
                last_error = error
            except StoreBusy as error:
                last_error = error
                if tries is not None and self._connection_lost(error):
                    tries.lost = True
            except Exception as error:
                if tries is not None and self._connection_lost(error):
                    tries.lost = True
                classified = self._classified(error)
                if classified is None:
                    raise
                if not isinstance(classified, StoreBusy):
                    raise classified from error
                classified.__cause__ = error
                last_error = classified
            if time.monotonic() + delay > deadline:
                break
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, BACKOFF_MAX_S)
        if isinstance(last_error, StoreBusy):
            raise StoreBusy(f"Nothing was saved: {last_error}") from last_error
        raise StoreBusy(
            f"Nothing was saved: {self.target.display} stayed busy ({first_line(last_error)})"
            if last_error
            else f"Nothing was saved: {self.target.display} stayed busy"
        )

    # -- sites and items ----------------------------------------------------------------------

    @guarded
    def add_site(self, code: str, name: str, kind: SiteKind) -> SiteView:
        site = self.t.site

        def work() -> None:
            if site.get_or_none(site.code == code) is not None:
                raise StoreError(f"Site {code} already exists")
            site.create(code=code, name=name, kind=kind.value)

        self.write(work)
        return SiteView(code, name, kind)

    def site(self, code: str) -> SiteView | None:
        known = self._sites.get(code) or self._site_by_code(code)
        return known[1] if known else None

    def site_id(self, code: str) -> int | None:
        known = self._sites.get(code) or self._site_by_code(code)
        return known[0] if known else None

    @guarded
    def _site_by_code(self, code: str) -> tuple[int, SiteView] | None:
        """Sites are never deleted and their code and kind never change, so a found site is
        cached (it was a Peewee query on every scan; `site` and `site_id` look in the cache
        before they come here); a miss asks again, as another terminal may have added it
        since."""
        site = self.t.site
        row = site.get_or_none(site.code == code)
        if row is None:
            return None
        known = (row.id, SiteView(row.code, row.name, SiteKind(row.kind)))
        self._sites[code] = known
        return known

    @guarded
    def sites(self) -> list[SiteView]:
        site = self.t.site
        return [
            SiteView(r.code, r.name, SiteKind(r.kind)) for r in site.select().order_by(site.code)
        ]

    @guarded
    def add_item(self, sku: str, name: str, gtin: str | None, model_no: str | None) -> ItemView:
        item = self.t.item

        def work() -> None:
            if item.get_or_none(item.sku == sku) is not None:
                raise StoreError(f"Item {sku} already exists")
            if gtin is not None and item.get_or_none(item.gtin == gtin) is not None:
                raise StoreError(f"GTIN {gtin} already belongs to another item")
            item.create(sku=sku, name=name, gtin=gtin, model_no=model_no)

        self.write(work)
        return ItemView(sku, name, gtin, model_no)

    @guarded
    def item(self, sku: str) -> ItemView | None:
        item = self.t.item
        row = item.get_or_none(item.sku == sku)
        return ItemView(row.sku, row.name, row.gtin, row.model_no) if row else None

    @guarded
    def item_by_gtin(self, gtin: str) -> ItemView | None:
        item = self.t.item
        row = item.get_or_none(item.gtin == gtin)
        return ItemView(row.sku, row.name, row.gtin, row.model_no) if row else None

    @guarded
    def item_detail(self, sku: str) -> ItemView | None:
        """The item with its generation runs and how many of its serials are in each stage."""
        found = self.item(sku)
        if found is None:
            return None
        item_id = self.item_id(sku)
        runs = tuple(self.generations_of(item_id)) if item_id is not None else ()
        rows = self._cursor(
            "SELECT stage, count(*) FROM serial WHERE item_id = ? GROUP BY stage", (item_id,)
        ).fetchall()
        counts = {Stage(stage): n for stage, n in rows}
        stage_counts = tuple((stage, counts.get(stage, 0)) for stage in Stage)
        return ItemView(found.sku, found.name, found.gtin, found.model_no, runs, stage_counts)

    @guarded
    def item_id(self, sku: str) -> int | None:
        row = self._cursor("SELECT id FROM item WHERE sku = ?", (sku,)).fetchone()
        return int(row[0]) if row else None

    @guarded
    def sku_ids(self) -> dict[str, int]:
        return dict(self._cursor("SELECT sku, id FROM item").fetchall())

    # -- the station role (PostgreSQL) -------------------------------------------------------

    def station_role_sql(self, role: str) -> tuple[str, ...]:
        """The least-privilege role of the terminals (store/station_role.py); StoreError on
        SQLite, where a file's permissions are what guards it."""
        if self.target.backend != "postgresql":
            raise StoreError(
                "database roles are for PostgreSQL; a SQLite file is guarded by its file "
                "permissions"
            )
        if not valid_role_name(role):
            raise StoreError(f"role {role!r}: use lower-case letters, digits and _")
        return station_role_sql(role, urlsplit(self.target.url).path.lstrip("/"))

    @guarded
    def run_statements(self, statements: Sequence[str]) -> None:
        """Run `statements` in one transaction (all or nothing), as the connected user."""
        self.write(lambda: [self._cursor(statement) for statement in statements])

    # -- the database's summary ---------------------------------------------------------------

    @guarded
    def info(self) -> dict[str, Any]:
        """What the database holds. Serials per stage and events come from the tally
        (store/tally.py), kept as they are written: no table of millions is counted."""
        one = self._cursor(
            "SELECT (SELECT count(*) FROM site), (SELECT count(*) FROM item), "
            "(SELECT count(*) FROM generation_run), (SELECT count(*) FROM document), "
            "(SELECT count(*) FROM document WHERE state = 'open')"
        ).fetchone()
        names = ("sites", "items", "generation_runs", "documents", "open_documents")
        counts = dict(zip(names, one, strict=True))
        tally = {
            name: int(n) for name, n in self._cursor("SELECT name, sum(n) FROM tally GROUP BY name")
        }
        by_stage = {stage.value: tally.get(stage.value, 0) for stage in Stage}
        # PostgreSQL: the role this connection works as, so IT can see that a terminal logs
        # in as a member of the station role, not as the owner (never the password).
        login = (
            {"database_user": str(self._cursor("SELECT current_user").fetchone()[0])}
            if self.target.backend == "postgresql"
            else {}
        )
        return {
            "backend": self.target.backend,
            "database": self.target.display,
            **login,
            "schema_version": SCHEMA_VERSION,
            "sites": counts["sites"],
            "items": counts["items"],
            "generation_runs": counts["generation_runs"],
            "serials": sum(by_stage.values()),
            "documents": counts["documents"],
            "open_documents": counts["open_documents"],
            "events": tally.get(EVENTS, 0),
            "serials_by_stage": by_stage,
        }
