"""The schema's version: creating it, and walking an older database forward one version at a
time, inside one transaction, under the write lock (SQLite) or an advisory lock (PostgreSQL),
so two terminals opening an old database at once migrate it once."""

from __future__ import annotations

import peewee

from scanstation.store.dialect import Dialect
from scanstation.store.errors import StoreError
from scanstation.store.tables import Tables

SCHEMA_VERSION = 14
APPLICATION_ID = 0x5C5A_7001  # marks a SQLite file as ours, so a foreign file is refused

EVENT_DOCUMENT_INDEX = (
    "CREATE INDEX IF NOT EXISTS event_document ON event (document_id) WHERE document_id IS NOT NULL"
)
SERIAL_ITEM_ID_INDEX = "CREATE INDEX IF NOT EXISTS serial_item_id_id ON serial (item_id, id)"

# Each step takes the schema from version N to N + 1.
COMMON_MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 2: a station's scan list pages its history from the database by (station, id).
    # Events are read by serial or by station, never by time alone: the `at` index only
    # cost every scan a page write.
    1: (
        "CREATE INDEX IF NOT EXISTS event_station_id ON event (station, id)",
        "DROP INDEX IF EXISTS event_at",
        # Foreign-key indexes no query used, each a page written by every scan.
        "DROP INDEX IF EXISTS serial_item_id",
        "DROP INDEX IF EXISTS serial_generation_id",
        "DROP INDEX IF EXISTS serial_site_id",
        "DROP INDEX IF EXISTS serial_document_id",
        "DROP INDEX IF EXISTS event_document_id",
    ),
    # 5: the reports. The serials' one index also covers the site, so counts per SKU × stage
    # × site never read the table; events that name a document (dispatches, cited
    # receives) are indexed by it, partially, so no other event pays for it.
    4: (
        "DROP INDEX IF EXISTS serial_item_id_stage",
        "CREATE INDEX IF NOT EXISTS serial_item_id_stage_site_id "
        "ON serial (item_id, stage, site_id)",
        EVENT_DOCUMENT_INDEX,
    ),
    # 7: an event names the supervisor who approved it on the spot; events become
    # append-only in the database itself (the dialects' triggers, in schema_extras).
    6: ("ALTER TABLE event ADD COLUMN approved_by VARCHAR(100)",),
    # 8: a secondary QR may be signed (its signature kept beside the token); how many times a
    # serial's label was printed, and when last.
    7: (
        "ALTER TABLE serial ADD COLUMN qr_seal VARCHAR(128)",
        "ALTER TABLE serial ADD COLUMN print_count INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE serial ADD COLUMN printed_at VARCHAR(40)",
    ),
    # 9: Find by SKU pages a SKU's serials in the order they were made from (item, id) alone:
    # without it the first page looked for the SKU's first id among all its (item, stage,
    # site) entries (475 ms on 1M serials). A scan changes neither column, so no scan writes it.
    8: (SERIAL_ITEM_ID_INDEX,),
}


# Tables a step creates (from the models, in the dialect's own DDL) before its statements run.
CREATED_TABLES: dict[int, tuple[str, ...]] = {
    # 7: people who sign in, and the hashed API tokens of scripts.
    6: ("user", "token"),
}


def migrations(dialect: Dialect, version: int) -> tuple[str, ...]:
    """The statements that take the schema from `version` to `version + 1`."""
    if version == 2:
        # 3: events know when they were recorded (every row), what an admin request made
        # (so its retry answers the same) and, on PostgreSQL, their transaction (the change
        # feed in commit order).
        return dialect.migration_3()
    if version == 3:
        # 4: on PostgreSQL, a scan's transition is applied by one function in one round trip
        # (store/scan_function.py).
        return dialect.migration_4()
    if version == 5:
        # 6: serials per stage and events counted as they are written (store/tally.py), so
        # `db info` never counts the tables.
        return dialect.migration_6()
    if version == 9:
        # 10: on PostgreSQL, a scan finds its serial and applies the station's decision table in
        # one call (store/scan_rules.py).
        return dialect.migration_10()
    if version == 10:
        # 11: on PostgreSQL, that call moves the serial and appends the event itself (a
        # guarded UPDATE and an INSERT) instead of calling scanstation_apply_scan, which
        # locked, checked and probed the scan id again: fewer statements on the server a scan.
        return dialect.migration_11()
    if version == 11:
        # 12: on PostgreSQL, that call also makes the moves of a dispatch (counting the unit
        # on the station's document's line) and of a receive (the serial's document addressed
        # here): a scan against a document is one round trip too.
        return dialect.migration_12()
    if version == 12:
        # 13: on PostgreSQL, that call reads the serial joined to its item only (the names of
        # its generation, site and document told from their ids by the store), and the scan
        # id's outcome in the same statement: each join and statement is an executor set up
        # and torn down at every scan.
        return dialect.migration_13()
    if version == 13:
        # 14: on PostgreSQL, that call answers in one text column (a JSON array) instead of 25:
        # the driver describes each column of a result before reading it, most of what the
        # answer cost the station.
        return dialect.migration_14()
    return COMMON_MIGRATIONS.get(version, ())


def schema_version(tables: Tables) -> int | None:
    meta = tables.meta
    if not meta._meta.database.table_exists("meta"):
        return None
    row = meta.get_or_none(meta.key == "schema_version")
    if row is None:
        return None
    try:
        return int(row.value)
    except ValueError as error:
        raise StoreError(f"schema version {row.value!r} is not a number") from error


def ensure_schema(
    db: peewee.Database, tables: Tables, dialect: Dialect, *, create: bool, display: str
) -> None:
    """Create (with `create`) or migrate the schema; refuse a newer one."""
    version = schema_version(tables)
    if version == SCHEMA_VERSION:
        return
    if version is not None and version > SCHEMA_VERSION:
        raise StoreError(
            f"{display} has schema version {version}, newer than this scanstation "
            f"({SCHEMA_VERSION}): upgrade scanstation"
        )
    if version is None and not create:
        raise StoreError(f"{display} holds no scanstation schema: run `scanstation db init`")
    with dialect.schema_transaction(db):
        version = schema_version(tables)  # again, under the lock: another terminal may have
        if version is None:
            db.create_tables(tables.all, safe=True)
            _run(db, (EVENT_DOCUMENT_INDEX,))
            _run(db, dialect.schema_extras())
            meta = tables.meta
            meta.insert(key="schema_version", value=str(SCHEMA_VERSION)).on_conflict(
                conflict_target=[meta.key], preserve=[meta.value]
            ).execute()
            return
        if version >= SCHEMA_VERSION:
            return
        for step in range(version, SCHEMA_VERSION):
            created = [getattr(tables, name) for name in CREATED_TABLES.get(step, ())]
            if created:
                db.create_tables(created, safe=True)
            _run(db, migrations(dialect, step))
        _run(db, dialect.schema_extras())
        dialect.refresh_statistics(db)
        meta = tables.meta
        meta.update(value=str(SCHEMA_VERSION)).where(meta.key == "schema_version").execute()


def _run(db: peewee.Database, statements: tuple[str, ...]) -> None:
    for statement in statements:
        db.execute_sql(statement)
