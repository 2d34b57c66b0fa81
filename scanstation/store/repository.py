"""Every query and every transaction. Peewee owns the schema and the ordinary queries; the few
hot-path statements of a scan are written once as SQL text and run on the connection's cursor,
because building SQL text per call was most of Peewee's cost there (see benchmarks/store.py)."""

from __future__ import annotations

import random
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import peewee

from scanstation.domain.model import (
    DocumentLineView,
    DocumentView,
    EventView,
    GenerationView,
    ItemView,
    SerialView,
    SiteView,
)
from scanstation.domain.stages import DocumentKind, SiteKind, Stage
from scanstation.store.database import (
    NOTIFY_CHANNEL,
    SCHEMA_VERSION,
    DatabaseTarget,
    StoreBusy,
    StoreError,
    open_database,
)
from scanstation.store.tables import (
    Document,
    DocumentLine,
    Event,
    GenerationRun,
    Item,
    Meta,
    Serial,
    Site,
)

T = TypeVar("T")

# Bounded retry of a write that found the database locked (SQLite) or hit a serialisation
# failure / dropped connection (PostgreSQL): at most WRITE_BUDGET_S, then the caller is told.
WRITE_BUDGET_S = 5.0
BACKOFF_START_S = 0.002
BACKOFF_MAX_S = 0.2


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


class ChangeWatcher:
    """Wakes a station when another station commits: PostgreSQL LISTEN/NOTIFY, or on SQLite a
    poll of `PRAGMA data_version` (it changes when another connection commits; one cheap read).
    Runs on its own connection, in the caller's (background) thread."""

    def __init__(self, target: DatabaseTarget, poll_interval: float = 0.25) -> None:
        self.target = target
        self.poll_interval = poll_interval
        self._conn: Any = None
        self._version: int | None = None

    def _connect(self) -> None:
        if self.target.backend == "sqlite":
            self._conn = sqlite3.connect(str(self.target.path), check_same_thread=False)
            self._version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            return
        import psycopg2  # only a PostgreSQL site needs it

        self._conn = psycopg2.connect(self.target.url, connect_timeout=5)
        self._conn.autocommit = True
        self._conn.cursor().execute(f"LISTEN {NOTIFY_CHANNEL}")

    def wait(self, timeout: float) -> bool:
        """True when something changed within `timeout` seconds (or the connection came back)."""
        import select

        try:
            if self._conn is None:
                self._connect()
                return True
            if self.target.backend == "sqlite":
                deadline = time.monotonic() + timeout
                while True:
                    version = self._conn.execute("PRAGMA data_version").fetchone()[0]
                    if version != self._version:
                        self._version = version
                        return True
                    if time.monotonic() >= deadline:
                        return False
                    time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))
            if not self._conn.notifies:
                ready, _, _ = select.select([self._conn], [], [], timeout)
                if ready:
                    self._conn.poll()
            changed = bool(self._conn.notifies)
            self._conn.notifies.clear()
            return changed
        except Exception:  # a lost connection is retried on the next call
            self.close()
            time.sleep(min(timeout, 1.0))
            return False

    def close(self) -> None:
        if self._conn is not None:
            with suppress(Exception):
                self._conn.close()
        self._conn = None


class VersionChanged(Exception):
    """The row changed between our locked read and our write: the write is retried whole."""


class ConnectionLost(StoreBusy):
    """The connection failed or the database stayed locked for one statement."""


class DuplicateScan(Exception):
    """This scan id is already recorded: the transaction was rolled back, nothing applied."""


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _dollar_params(sql: str) -> str:
    """`?` placeholders → PostgreSQL's `$1, $2, …` for PREPARE."""
    parts = sql.split("?")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))


@dataclass(frozen=True, slots=True)
class LoadedSerial:
    """A serial as read for a scan: its view plus the ids the write needs."""

    id: int
    view: SerialView
    item_id: int
    site_id: int | None
    document_id: int | None


_SERIAL_COLUMNS = (
    "s.id, s.serial_no, i.sku, i.name, i.gtin, g.generation_no, s.secondary_qr, s.stage, "
    "st.code, d.reference_no, s.created_at, s.created_by, s.updated_at, s.updated_by, "
    "s.version, s.item_id, s.site_id, s.document_id"
)
_SERIAL_FROM = (
    " FROM serial s JOIN item i ON i.id = s.item_id"
    " LEFT JOIN generation_run g ON g.id = s.generation_id"
    " LEFT JOIN site st ON st.id = s.site_id"
    " LEFT JOIN document d ON d.id = s.document_id"
)


_DOCUMENT_SELECT = (
    "SELECT d.id, d.reference_no, d.kind, d.dc_no, d.invoice_no, f.code, t.code, d.to_name, "
    "d.state, d.created_at, d.closed_reason FROM document d "
    "JOIN site f ON f.id = d.from_site_id LEFT JOIN site t ON t.id = d.to_site_id"
)


def _serial_from_row(row: Sequence[Any]) -> LoadedSerial:
    view = SerialView(
        serial_no=row[1],
        sku=row[2],
        item_name=row[3],
        gtin=row[4],
        generation_no=row[5],
        secondary_qr=row[6],
        stage=Stage(row[7]),
        site=row[8],
        document=row[9],
        created_at=from_iso(row[10]),
        created_by=row[11],
        updated_at=from_iso(row[12]),
        updated_by=row[13],
        version=row[14],
    )
    return LoadedSerial(row[0], view, row[15], row[16], row[17])


class Repository:
    """The store's face: sites, items, generation runs, serials, documents and events."""

    def __init__(self, db: peewee.Database, target: DatabaseTarget) -> None:
        self._db = db
        self.target = target
        self.is_sqlite = target.backend == "sqlite"
        param = "?" if self.is_sqlite else "%s"
        lock = "" if self.is_sqlite else " FOR UPDATE OF s"
        select = f"SELECT {_SERIAL_COLUMNS}"
        # The hot path of a scan: written once; prepared once per connection on PostgreSQL,
        # where planning the four-join read cost more than running it.
        self._hot: dict[str, str] = {
            "serial_by_no": f"{select}{_SERIAL_FROM} WHERE s.serial_no = ?",
            "serial_by_qr": f"{select}{_SERIAL_FROM} WHERE s.secondary_qr = ?",
            # The scan id is checked under the same lock, so two deliveries of one scan
            # cannot both pass the check.
            "lock_serial": (
                f"{select}, (SELECT outcome FROM event WHERE scan_id = ?)"
                f"{_SERIAL_FROM} WHERE s.id = ?{lock}"
            ),
            "scan_recorded": "SELECT id, outcome, serial_id FROM event WHERE scan_id = ?",
            # PostgreSQL only: find and lock in one round trip; SKIP LOCKED first, so a row
            # another station holds at this moment is noticed (then waited for).
            "lock_by_key_skip": (
                f"{select}, (SELECT outcome FROM event WHERE scan_id = ?){_SERIAL_FROM} "
                f"WHERE s.serial_no = ? OR s.secondary_qr = ?{lock} SKIP LOCKED"
            ),
            "lock_by_key": (
                f"{select}, (SELECT outcome FROM event WHERE scan_id = ?){_SERIAL_FROM} "
                f"WHERE s.serial_no = ? OR s.secondary_qr = ?{lock}"
            ),
            "update_serial": (
                "UPDATE serial SET stage = ?, site_id = ?, document_id = ?, updated_at = ?, "
                "updated_by = ?, version = version + 1 WHERE id = ? AND version = ?"
            ),
            # Guarded: never over a line's quantity, never on a document closed meanwhile.
            "fill_line": (
                "UPDATE document_line SET scanned = scanned + 1 "
                "WHERE document_id = ? AND item_id = ? AND scanned < quantity "
                "AND (SELECT state FROM document WHERE id = document_id) = 'open'"
            ),
            "document_by_ref": f"{_DOCUMENT_SELECT} WHERE d.reference_no = ?",
            "document_by_id": f"{_DOCUMENT_SELECT} WHERE d.id = ?",
            "document_lines": (
                "SELECT i.sku, i.name, l.quantity, l.scanned FROM document_line l "
                "JOIN item i ON i.id = l.item_id WHERE l.document_id = ? ORDER BY l.id"
            ),
            "insert_event": (
                "INSERT INTO event (scan_id, kind, serial_id, mode, from_stage, to_stage, "
                "station, site, operator, at, recorded_at, document_id, source, payload, "
                "comment, outcome, message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                + ("" if self.is_sqlite else " RETURNING id")
            ),
            # A journaled scan replayed: the newest change another station made to the serial
            # since the scan was read (recording time, so a backdated read cannot hide it).
            "changed_since": (
                "SELECT station, operator, to_stage, recorded_at FROM event "
                "WHERE serial_id = ? AND to_stage IS NOT NULL AND station <> ? "
                "AND recorded_at > ? ORDER BY id DESC LIMIT 1"
            ),
        }
        self._prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
        self._driver_errors: tuple[type[BaseException], ...] = (
            sqlite3.OperationalError,
            peewee.OperationalError,
            peewee.InterfaceError,
        )
        self._integrity_errors: tuple[type[BaseException], ...] = (
            sqlite3.IntegrityError,
            peewee.IntegrityError,
        )
        if not self.is_sqlite:
            import psycopg2

            self._driver_errors += (psycopg2.OperationalError, psycopg2.InterfaceError)
            self._integrity_errors += (psycopg2.IntegrityError,)
        self._sql_param = param
        self._sites: dict[str, tuple[int, SiteView]] = {}

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, create: bool = False) -> Repository:
        db, target = open_database(url, create=create)
        return cls(db, target)

    def close(self) -> None:
        if not self._db.is_closed():
            self._db.close()

    @contextmanager
    def relaxed_durability(self) -> Iterator[None]:
        """For building throw-away data (the demo) fast: no fsync per commit on SQLite, then
        FULL again and a checkpoint, so what was built is on disk when this returns."""
        if not self.is_sqlite:
            yield
            return
        self._db.execute_sql("PRAGMA synchronous = OFF")
        try:
            yield
        finally:
            self._db.execute_sql("PRAGMA synchronous = FULL")
            self._db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def _cursor(self, sql: str, params: Sequence[Any] = (), *, retry: bool = True) -> Any:
        """Run one statement on this thread's connection; a lost connection or a locked
        database becomes ConnectionLost (a StoreBusy), never a driver error."""
        for attempt in (1, 2) if retry else (2,):
            try:
                cursor = self._db.cursor()
                cursor.execute(sql, params)
                return cursor
            except self._driver_errors as error:
                self._drop_broken_connection()
                # A read outside a transaction may simply go again on a fresh connection
                # (a server restart drops every pooled one); inside, the transaction is gone.
                if attempt == 2 or self.is_sqlite or self._db.in_transaction():
                    raise ConnectionLost(f"{self.target.display}: {_first_line(error)}") from error
        raise AssertionError("unreachable")

    def _run(self, name: str, params: Sequence[Any]) -> Any:
        """A hot-path statement by name (prepared once per connection on PostgreSQL)."""
        sql = self._hot[name]
        if self.is_sqlite:
            return self._cursor(sql, params)  # sqlite3 keeps its own statement cache
        try:
            return self._execute_prepared(name, sql, params)
        except ConnectionLost:
            if self._db.in_transaction():
                raise
            return self._execute_prepared(name, sql, params)  # once more, on a new connection

    def _execute_prepared(self, name: str, sql: str, params: Sequence[Any]) -> Any:
        try:
            connection = self._db.connection()
        except self._driver_errors as error:
            self._drop_broken_connection()
            raise ConnectionLost(f"{self.target.display}: {_first_line(error)}") from error
        prepared = self._prepared.setdefault(connection, set())
        if name not in prepared:
            self._cursor(f"PREPARE {name} AS {_dollar_params(sql)}", retry=False)
            prepared.add(name)
        placeholders = ", ".join(["%s"] * len(params))
        statement = f"EXECUTE {name} ({placeholders})" if params else f"EXECUTE {name}"
        return self._cursor(statement, params, retry=False)

    def _drop_broken_connection(self) -> None:
        """A PostgreSQL connection that failed is closed for good, not returned to the pool,
        so the next statement connects afresh."""
        if self.is_sqlite:
            return
        with suppress(Exception):
            self._db.manual_close()  # type: ignore[attr-defined]

    def write(self, work: Callable[[], T]) -> T:
        """Run `work` in one write transaction, retried whole while the database is busy or the
        connection was lost, for at most WRITE_BUDGET_S; then StoreBusy (nothing was saved).

        SQLite: BEGIN IMMEDIATE takes the write lock before the first read, so what `work`
        reads cannot change before it writes. PostgreSQL: `work` locks rows with FOR UPDATE.
        Either way the serial's version is checked again on update (belt and braces).
        """
        delay = BACKOFF_START_S
        deadline = time.monotonic() + WRITE_BUDGET_S
        last_error: Exception | None = None
        while True:
            try:
                if self.is_sqlite:
                    with self._db.atomic("IMMEDIATE"):
                        return work()
                with self._db.atomic():
                    return work()
            except (VersionChanged, ConnectionLost) as error:
                last_error = error
            except self._driver_errors as error:
                if not self._is_retryable(error):
                    raise StoreError(f"{self.target.display}: {_first_line(error)}") from error
                last_error = error
                self._drop_broken_connection()
            if time.monotonic() + delay > deadline:
                break
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, BACKOFF_MAX_S)
        raise StoreBusy(
            f"{self.target.display} stayed busy or unreachable ({last_error}); nothing was saved"
        )

    def _is_retryable(self, error: BaseException) -> bool:
        text = str(error).lower()
        return any(
            marker in text
            for marker in (
                "database is locked",
                "busy",
                "could not serialize",
                "deadlock",
                "server closed",
                "connection",
                "terminating",
                "closed",
            )
        )

    # -- sites and items ----------------------------------------------------------------------

    def add_site(self, code: str, name: str, kind: SiteKind) -> SiteView:
        try:
            with self._db.atomic():
                Site.create(code=code, name=name, kind=kind.value)
        except peewee.IntegrityError as error:
            raise StoreError(f"Site {code} already exists") from error
        return SiteView(code, name, kind)

    def site(self, code: str) -> SiteView | None:
        known = self._site_by_code(code)
        return known[1] if known else None

    def site_id(self, code: str) -> int | None:
        known = self._site_by_code(code)
        return known[0] if known else None

    def _site_by_code(self, code: str) -> tuple[int, SiteView] | None:
        """Sites are never deleted and their code and kind never change, so a found site is
        cached (it was a Peewee query on every scan); a miss asks again, as another terminal
        may have added it since."""
        known = self._sites.get(code)
        if known is None:
            row = Site.get_or_none(Site.code == code)
            if row is None:
                return None
            known = (row.id, SiteView(row.code, row.name, SiteKind(row.kind)))
            self._sites[code] = known
        return known

    def sites(self) -> list[SiteView]:
        return [
            SiteView(r.code, r.name, SiteKind(r.kind)) for r in Site.select().order_by(Site.code)
        ]

    def add_item(self, sku: str, name: str, gtin: str | None, model_no: str | None) -> ItemView:
        try:
            with self._db.atomic():
                Item.create(sku=sku, name=name, gtin=gtin, model_no=model_no)
        except peewee.IntegrityError as error:
            if Item.get_or_none(Item.sku == sku):
                raise StoreError(f"Item {sku} already exists") from error
            raise StoreError(f"GTIN {gtin} already belongs to another item") from error
        return ItemView(sku, name, gtin, model_no)

    def item(self, sku: str) -> ItemView | None:
        row = Item.get_or_none(Item.sku == sku)
        return ItemView(row.sku, row.name, row.gtin, row.model_no) if row else None

    def item_detail(self, sku: str) -> ItemView | None:
        """The item with its generation runs and how many of its serials are in each stage."""
        row = Item.get_or_none(Item.sku == sku)
        if row is None:
            return None
        runs = tuple(
            GenerationView(
                r.generation_no,
                sku,
                r.count,
                r.site.code if r.site_id else None,
                from_iso(r.created_at),
                r.created_by,
            )
            for r in GenerationRun.select(GenerationRun, Site)
            .join(Site, peewee.JOIN.LEFT_OUTER)
            .where(GenerationRun.item == row.id)
            .order_by(GenerationRun.id)
        )
        counts = {
            Stage(stage): n
            for stage, n in Serial.select(Serial.stage, peewee.fn.COUNT(Serial.id))
            .where(Serial.item == row.id)
            .group_by(Serial.stage)
            .tuples()
        }
        stage_counts = tuple((stage, counts.get(stage, 0)) for stage in Stage)
        return ItemView(row.sku, row.name, row.gtin, row.model_no, runs, stage_counts)

    # -- generation runs and imports ----------------------------------------------------------

    def _next_counter(self, key: str, step: int) -> int:
        """Reserve `step` numbers of a counter kept in meta; returns the first. In a write tx."""
        row = Meta.get_or_none(Meta.key == key)
        first = int(row.value) + 1 if row else 1
        if row:
            Meta.update(value=str(first + step - 1)).where(Meta.key == key).execute()
        else:
            Meta.create(key=key, value=str(first + step - 1))
        return first

    def create_generation(
        self,
        sku: str,
        site_code: str,
        make_serials: Callable[[int, int], list[tuple[str, str]]],
        count: int,
        by: str,
        at: datetime,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[str, list[str]]:
        """One generation run: `make_serials(first_number, count)` gives (serial, secondary QR)."""
        item = Item.get_or_none(Item.sku == sku)
        if item is None:
            raise StoreError(f"Unknown SKU {sku}")
        site = Site.get_or_none(Site.code == site_code)
        if site is None:
            raise StoreError(f"Unknown site {site_code}")
        stamp = iso(at)

        def work() -> tuple[str, list[str]]:
            run_no = self._next_counter("generation_seq", 1)
            first = self._next_counter("serial_seq", count)
            generation_no = f"G-{run_no:06d}"
            run = GenerationRun.create(
                generation_no=generation_no,
                item=item.id,
                count=count,
                site=site.id,
                created_at=stamp,
                created_by=by,
            )
            pairs = make_serials(first, count)
            self._insert_serials(
                ((sn, qr, item.id, run.id, site.id) for sn, qr in pairs), stamp, by, progress
            )
            Event.create(
                kind="generate",
                station="cli",
                site=site_code,
                operator=by,
                at=stamp,
                outcome="ok",
                to_stage=Stage.NOT_REGISTERED.value,
                comment=f"Generation run {generation_no}: {count} serials of {sku}",
            )
            return generation_no, [sn for sn, _ in pairs]

        try:
            return self.write(work)
        except peewee.IntegrityError as error:
            raise StoreError(f"Generation failed, nothing was written: {error}") from error

    _INSERT_CHUNK = 20_000

    def _insert_serials(
        self,
        rows: Iterable[tuple[str, str | None, int, int | None, int | None]],
        stamp: str,
        by: str,
        progress: Callable[[int], None] | None,
    ) -> None:
        """Bulk insert with executemany: Peewee's insert_many was 4x slower per row here."""
        p = self._sql_param
        sql = (
            "INSERT INTO serial (serial_no, secondary_qr, item_id, generation_id, site_id, stage, "
            "created_at, created_by, updated_at, updated_by, version) VALUES "
            f"({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, 1)"
        )
        stage = Stage.NOT_REGISTERED.value
        cursor = self._db.cursor()
        chunk: list[tuple[Any, ...]] = []
        done = 0
        for sn, qr, item_id, run_id, site_id in rows:
            chunk.append((sn, qr, item_id, run_id, site_id, stage, stamp, by, stamp, by))
            if len(chunk) >= self._INSERT_CHUNK:
                cursor.executemany(sql, chunk)
                done += len(chunk)
                chunk.clear()
                if progress:
                    progress(done)
        if chunk:
            cursor.executemany(sql, chunk)
            done += len(chunk)
            if progress:
                progress(done)

    def existing(self, column: str, values: Sequence[str]) -> set[str]:
        """Which of `values` are already taken as serial numbers or secondary QR codes."""
        field = {"serial_no": Serial.serial_no, "secondary_qr": Serial.secondary_qr}[column]
        found: set[str] = set()
        for start in range(0, len(values), 500):
            batch = values[start : start + 500]
            found.update(v for (v,) in Serial.select(field).where(field.in_(batch)).tuples())
        return found

    def sku_ids(self) -> dict[str, int]:
        return dict(Item.select(Item.sku, Item.id).tuples())

    def generation_ids(self) -> dict[str, int]:
        return dict(GenerationRun.select(GenerationRun.generation_no, GenerationRun.id).tuples())

    def import_serials(
        self,
        rows: Sequence[tuple[str, str, str | None, str | None]],
        by: str,
        at: datetime,
        source_name: str,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """All or nothing: rows are (serial_no, sku, generation_no, secondary_qr), checked."""
        skus = self.sku_ids()
        stamp = iso(at)

        def work() -> int:
            runs = self.generation_ids()
            new_runs: dict[str, int] = {}
            for _sn, sku, generation_no, _qr in rows:
                if generation_no and generation_no not in runs and generation_no not in new_runs:
                    count = sum(1 for r in rows if r[2] == generation_no)
                    new_runs[generation_no] = GenerationRun.create(
                        generation_no=generation_no,
                        item=skus[sku],
                        count=count,
                        site=None,
                        created_at=stamp,
                        created_by=by,
                    ).id
            runs.update(new_runs)
            self._insert_serials(
                (
                    (sn, qr or None, skus[sku], runs[gen] if gen else None, None)
                    for sn, sku, gen, qr in rows
                ),
                stamp,
                by,
                progress,
            )
            Event.create(
                kind="import",
                station="cli",
                operator=by,
                at=stamp,
                outcome="ok",
                to_stage=Stage.NOT_REGISTERED.value,
                comment=f"Imported {len(rows)} serials from {source_name}",
            )
            return len(rows)

        try:
            return self.write(work)
        except peewee.IntegrityError as error:
            raise StoreError(f"Import failed, nothing was written: {error}") from error

    # -- serials ------------------------------------------------------------------------------

    def find_serial(self, key: str) -> LoadedSerial | None:
        """By serial number, else by secondary QR code."""
        row = self._run("serial_by_no", (key,)).fetchone()
        if row is None:
            row = self._run("serial_by_qr", (key,)).fetchone()
        return _serial_from_row(row) if row else None

    def lock_serial(self, serial_id: int, scan_id: str) -> tuple[LoadedSerial, str | None]:
        """Read a serial inside a write transaction (FOR UPDATE on PostgreSQL), with the
        outcome already recorded for this scan id, if any."""
        row = self._run("lock_serial", (scan_id, serial_id)).fetchone()
        return _serial_from_row(row), row[18]

    def lock_serial_by_key(
        self, key: str, scan_id: str
    ) -> tuple[LoadedSerial, str | None, bool] | None:
        """PostgreSQL: find a serial by number or secondary QR and lock it, in a write
        transaction. Returns it, the outcome already recorded for this scan id, and whether
        another transaction held the row at that moment; None when no serial matches."""
        contended = False
        row = self._run("lock_by_key_skip", (scan_id, key, key)).fetchone()
        if row is None:
            row = self._run("lock_by_key", (scan_id, key, key)).fetchone()
            contended = row is not None
        if row is None:
            return None
        return _serial_from_row(row), row[18], contended

    def scan_already_recorded(self, scan_id: str) -> tuple[str, int | None] | None:
        row = self._run("scan_recorded", (scan_id,)).fetchone()
        return (row[1], row[2]) if row else None

    def move_serial(
        self,
        serial: LoadedSerial,
        to_stage: Stage,
        site_id: int | None,
        document_id: int | None,
        by: str,
        at: datetime,
    ) -> None:
        cursor = self._run(
            "update_serial",
            (to_stage.value, site_id, document_id, iso(at), by, serial.id, serial.view.version),
        )
        if cursor.rowcount != 1:
            raise VersionChanged(serial.view.serial_no)

    def fill_document_line(self, document_id: int, item_id: int) -> bool:
        """Count one unit against the line; False when the line is full (or absent)."""
        return self._run("fill_line", (document_id, item_id)).rowcount == 1

    def append_event(
        self,
        *,
        scan_id: str | None,
        kind: str,
        serial_id: int | None,
        mode: str | None,
        from_stage: Stage | None,
        to_stage: Stage | None,
        station: str,
        site: str | None,
        operator: str,
        at: datetime,
        recorded_at: datetime | None,
        document_id: int | None,
        source: str | None,
        payload: str | None,
        comment: str | None,
        outcome: str,
        message: str | None,
    ) -> int:
        """Append one event; returns its id."""
        values = (
            scan_id, kind, serial_id, mode,
            from_stage.value if from_stage else None, to_stage.value if to_stage else None,
            station, site, operator, iso(at), iso(recorded_at) if recorded_at else None,
            document_id, source, payload, comment, outcome, message,
        )  # fmt: skip
        try:
            cursor = self._run("insert_event", values)
        except self._integrity_errors as error:
            if scan_id is not None and "scan_id" in str(error):
                # The same scan, delivered twice at once: the first delivery won.
                raise DuplicateScan(scan_id) from error
            raise
        return int(cursor.lastrowid if self.is_sqlite else cursor.fetchone()[0])

    def changed_since(
        self, serial_id: int, station: str, since: datetime
    ) -> tuple[str, str, Stage, datetime] | None:
        """The newest change another station recorded on the serial after `since`: (station,
        operator, stage it moved to, when recorded); None when there is none."""
        row = self._run("changed_since", (serial_id, station, iso(since))).fetchone()
        return (row[0], row[1], Stage(row[2]), from_iso(row[3])) if row else None

    def serial_id(self, serial_no: str) -> int | None:
        row = Serial.select(Serial.id).where(Serial.serial_no == serial_no).tuples().first()
        return row[0] if row else None

    _EVENT_SQL = (
        "SELECT e.id, e.at, e.operator, e.station, e.site, e.outcome, e.from_stage, e.to_stage, "
        "d.reference_no, e.comment, e.payload, s.serial_no, e.mode, e.message, e.recorded_at "
        "FROM event e "
        "LEFT JOIN document d ON d.id = e.document_id LEFT JOIN serial s ON s.id = e.serial_id"
    )

    @staticmethod
    def _event_from_row(row: Sequence[Any]) -> EventView:
        return EventView(
            at=from_iso(row[1]),
            by=row[2],
            station=row[3],
            site=row[4],
            outcome=row[5],
            from_stage=Stage(row[6]) if row[6] else None,
            to_stage=Stage(row[7]) if row[7] else None,
            document=row[8],
            comment=row[9],
            payload=row[10],
            serial_no=row[11],
            mode=row[12],
            message=row[13],
            recorded_at=from_iso(row[14]) if row[14] else None,
            event_id=row[0],
        )

    def events(self, serial_no: str) -> list[EventView]:
        """The serial's history in the order it was recorded (a scan replayed from an offline
        journal comes where it was recorded, not where it was read)."""
        serial_id = self.serial_id(serial_no)
        if serial_id is None:
            return []
        p = self._sql_param
        rows = self._cursor(
            f"{self._EVENT_SQL} WHERE e.serial_id = {p} ORDER BY e.id", (serial_id,)
        ).fetchall()
        return [self._event_from_row(row) for row in rows]

    def recent_events(
        self, *, station: str | None = None, limit: int = 50, before_id: int | None = None
    ) -> list[tuple[int, EventView]]:
        """Scan events newest first, for paging a station's history from the database."""
        p = self._sql_param
        clauses, params = ["e.kind = 'scan'"], []
        if station is not None:
            clauses.append(f"e.station = {p}")
            params.append(station)
        if before_id is not None:
            clauses.append(f"e.id < {p}")
            params.append(before_id)
        rows = self._cursor(
            f"{self._EVENT_SQL} WHERE {' AND '.join(clauses)} "
            f"ORDER BY e.id DESC LIMIT {int(limit)}",
            params,
        ).fetchall()
        return [(row[0], self._event_from_row(row)) for row in rows]

    def iter_serials(self, stage: Stage | None, site: str | None) -> Iterator[SerialView]:
        sql = f"SELECT {_SERIAL_COLUMNS}{_SERIAL_FROM}"
        clauses: list[str] = []
        params: list[Any] = []
        if stage is not None:
            clauses.append(f"s.stage = {self._sql_param}")
            params.append(stage.value)
        if site is not None:
            clauses.append(f"st.code = {self._sql_param}")
            params.append(site)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY s.id"
        cursor = self._cursor(sql, params)
        while rows := cursor.fetchmany(2000):
            for row in rows:
                yield _serial_from_row(row).view

    # -- documents ----------------------------------------------------------------------------

    def add_document(
        self,
        *,
        kind: DocumentKind,
        reference_no: str,
        dc_no: str | None,
        invoice_no: str | None,
        from_site: str,
        to_site: str | None,
        to_name: str | None,
        lines: Sequence[tuple[str, int]],
        by: str,
        at: datetime,
    ) -> DocumentView:
        def work() -> None:
            if Document.get_or_none(Document.reference_no == reference_no):
                raise StoreError(f"Document {reference_no} already exists")
            source = Site.get_or_none(Site.code == from_site)
            if source is None:
                raise StoreError(f"Unknown site {from_site}")
            dest = Site.get_or_none(Site.code == to_site) if to_site else None
            doc = Document.create(
                reference_no=reference_no,
                kind=kind.value,
                dc_no=dc_no,
                invoice_no=invoice_no,
                from_site=source.id,
                to_site=dest.id if dest else None,
                to_name=to_name,
                state="open",
                created_at=iso(at),
                created_by=by,
            )
            for sku, quantity in lines:
                item = Item.get_or_none(Item.sku == sku)
                if item is None:
                    raise StoreError(f"Unknown SKU {sku} on line {sku}={quantity}")
                DocumentLine.create(document=doc.id, item=item.id, quantity=quantity)

        try:
            self.write(work)
        except peewee.IntegrityError as error:
            raise StoreError(f"Document {reference_no} not saved: {error}") from error
        view = self.document(reference_no)
        assert view is not None
        return view

    def document_id(self, reference_no: str) -> int | None:
        found = self.document_with_id(reference_no)
        return found[0] if found else None

    def document(self, reference_no: str) -> DocumentView | None:
        found = self.document_with_id(reference_no)
        return found[1] if found else None

    def document_with_id(self, reference_no: str) -> tuple[int, DocumentView] | None:
        row = self._run("document_by_ref", (reference_no,)).fetchone()
        return (row[0], self._document_from_row(row)) if row else None

    def document_by_id(self, document_id: int) -> DocumentView | None:
        row = self._run("document_by_id", (document_id,)).fetchone()
        return self._document_from_row(row) if row else None

    def _document_from_row(self, row: Sequence[Any]) -> DocumentView:
        lines = tuple(
            DocumentLineView(sku, name, quantity, scanned)
            for sku, name, quantity, scanned in self._run("document_lines", (row[0],)).fetchall()
        )
        return DocumentView(
            reference_no=row[1],
            kind=DocumentKind(row[2]),
            dc_no=row[3],
            invoice_no=row[4],
            from_site=row[5],
            to_site=row[6],
            to_name=row[7],
            state=row[8],
            lines=lines,
            created_at=from_iso(row[9]),
            closed_reason=row[10],
        )

    def documents(
        self, *, state: str | None = "open", from_site: str | None = None
    ) -> list[DocumentView]:
        query = Document.select(Document.id).order_by(Document.id)
        if state:
            query = query.where(Document.state == state)
        if from_site:
            query = query.join(Site, on=(Document.from_site == Site.id)).where(
                Site.code == from_site
            )
        found = (self.document_by_id(doc_id) for (doc_id,) in query.tuples())
        return [view for view in found if view is not None]

    def close_document(self, reference_no: str, reason: str | None, by: str, at: datetime) -> None:
        def work() -> None:
            updated = (
                Document.update(
                    state="closed",
                    closed_at=iso(at),
                    closed_by=by,
                    closed_reason=reason,
                    version=Document.version + 1,
                )
                .where(Document.reference_no == reference_no, Document.state == "open")
                .execute()
            )
            if updated != 1:
                raise StoreError(f"Document {reference_no} is not open")
            Event.create(
                kind="document",
                station="cli",
                operator=by,
                at=iso(at),
                outcome="ok",
                document=Document.get(Document.reference_no == reference_no).id,
                comment=f"Closed {reference_no}" + (f": {reason}" if reason else ""),
            )

        self.write(work)

    # -- comments and information -------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        counts = {
            "sites": Site.select().count(),
            "items": Item.select().count(),
            "generation_runs": GenerationRun.select().count(),
            "serials": Serial.select().count(),
            "documents": Document.select().count(),
            "open_documents": Document.select().where(Document.state == "open").count(),
            "events": Event.select().count(),
        }
        by_stage = dict(
            Serial.select(Serial.stage, peewee.fn.COUNT(Serial.id)).group_by(Serial.stage).tuples()
        )
        return {
            "backend": self.target.backend,
            "database": self.target.display,
            "schema_version": SCHEMA_VERSION,
            **counts,
            "serials_by_stage": {stage.value: by_stage.get(stage.value, 0) for stage in Stage},
        }

    # -- live refresh ------------------------------------------------------------------------

    def last_event_id(self) -> int:
        row = self._cursor("SELECT max(id) FROM event").fetchone()
        return int(row[0] or 0)

    def changes_since(self, event_id: int) -> tuple[int, set[str], set[str]]:
        """What other stations changed after `event_id`: (new last id, serials, documents)."""
        p = self._sql_param
        rows = self._cursor(
            "SELECT e.id, s.serial_no, d.reference_no FROM event e "
            "LEFT JOIN serial s ON s.id = e.serial_id "
            f"LEFT JOIN document d ON d.id = e.document_id WHERE e.id > {p} ORDER BY e.id",
            (event_id,),
        ).fetchall()
        last = max((row[0] for row in rows), default=event_id)
        return (
            last,
            {row[1] for row in rows if row[1]},
            {row[2] for row in rows if row[2]},
        )

    def watcher(self) -> ChangeWatcher:
        return ChangeWatcher(self.target)
