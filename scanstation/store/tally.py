"""Counts kept as rows are written, so `db info` reads a few rows instead of counting millions:
serials per stage and events, in the `tally` table (schema 6), kept in the writing
transaction. Triggers count every change of a serial's stage (a scan, a correction, an UPDATE
made by hand), every serial deleted and every event; serials are created by one bulk insert in
the store (generation runs and imports, store/runs.py), which counts what it inserted in one
statement (a trigger a row halved SQLite's generation rate).

PostgreSQL: each count is split over up to TALLY_SLOTS rows, one per connection (by its
backend pid), so stations writing at once do not wait on one another's count row; a
generation run or an import (a long transaction holding its count rows to the end) counts in
slot 0, which no scan uses. Reading sums the slots. SQLite has one writer at a time: one slot.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ADD_TO_TALLY",
    "BULK_SLOT",
    "EVENTS",
    "TALLY_TABLE",
    "postgresql_tally_triggers",
    "sqlite_tally_triggers",
    "tally_backfill",
]

EVENTS: Final = "event"  # the tally's name for the count of events; the others are stages
TALLY_SLOTS: Final = 64
BULK_SLOT_SETTING: Final = "scanstation.tally_slot"
BULK_SLOT: Final = 0

# The store's bulk insert counts what it inserted (name, slot, n), written with `?`.
ADD_TO_TALLY: Final = (
    "INSERT INTO tally (name, slot, n) VALUES (?, ?, ?) "
    "ON CONFLICT (name, slot) DO UPDATE SET n = tally.n + excluded.n"
)

TALLY_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS tally (name VARCHAR(32) NOT NULL, slot INTEGER NOT NULL, "
    "n BIGINT NOT NULL, PRIMARY KEY (name, slot))"
)


def tally_backfill() -> tuple[str, ...]:
    """The counts of a database that had none (run under the schema lock, the tables locked)."""
    return (
        "DELETE FROM tally",
        "INSERT INTO tally (name, slot, n) SELECT stage, 0, count(*) FROM serial GROUP BY stage",
        f"INSERT INTO tally (name, slot, n) SELECT '{EVENTS}', 0, count(*) FROM event",
    )


def _sqlite_add(name: str, n: int) -> str:
    return (
        f"INSERT INTO tally (name, slot, n) VALUES ({name}, 0, {n}) "
        "ON CONFLICT (name, slot) DO UPDATE SET n = n + excluded.n;"
    )


def sqlite_tally_triggers() -> tuple[str, ...]:
    return (
        "CREATE TRIGGER IF NOT EXISTS tally_serial_stage AFTER UPDATE OF stage ON serial "
        "WHEN OLD.stage IS NOT NEW.stage "
        f"BEGIN {_sqlite_add('OLD.stage', -1)} {_sqlite_add('NEW.stage', 1)} END",
        "CREATE TRIGGER IF NOT EXISTS tally_serial_delete AFTER DELETE ON serial "
        f"BEGIN {_sqlite_add('OLD.stage', -1)} END",
        "CREATE TRIGGER IF NOT EXISTS tally_event_insert AFTER INSERT ON event "
        f"BEGIN {_sqlite_add(repr(EVENTS), 1)} END",
    )


# PostgreSQL: rows added in one statement (ordered by name, so two transactions sharing a slot
# lock its rows in the same order and cannot deadlock).
_PG_ADD: Final = (
    "INSERT INTO tally AS t (name, slot, n) {rows} "
    "ON CONFLICT (name, slot) DO UPDATE SET n = t.n + excluded.n"
)


def _pg_function(name: str, rows: str) -> str:
    body = _PG_ADD.format(rows=rows)
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$fn$ BEGIN {body}; RETURN NULL; END $fn$"
    )


def _pg_trigger(name: str, timing: str, function: str) -> tuple[str, str]:
    return (
        f"DROP TRIGGER IF EXISTS {name} ON {timing.split(' ON ')[1].split()[0]}",
        f"CREATE TRIGGER {name} {timing} EXECUTE FUNCTION {function}()",
    )


def postgresql_tally_triggers() -> tuple[str, ...]:
    slot = "scanstation_tally_slot()"
    return (
        # A generation run or an import sets the bulk slot (0) for its transaction.
        "CREATE OR REPLACE FUNCTION scanstation_tally_slot() RETURNS integer LANGUAGE sql "
        f"STABLE AS $fn$ SELECT coalesce(nullif(current_setting('{BULK_SLOT_SETTING}', true), "
        f"'')::integer, 1 + mod(pg_backend_pid(), {TALLY_SLOTS - 1})) $fn$",
        _pg_function(
            "scanstation_tally_serials_out",
            f"SELECT stage, {slot}, -count(*) FROM old_rows GROUP BY stage ORDER BY stage",
        ),
        # A scan moves one serial: a row trigger, fired only when the stage changes.
        _pg_function(
            "scanstation_tally_stage",
            f"SELECT v.name, {slot}, v.n FROM (VALUES (OLD.stage, -1), (NEW.stage, 1)) "
            "AS v (name, n) ORDER BY v.name",
        ),
        _pg_function("scanstation_tally_event", f"VALUES ('{EVENTS}', {slot}, 1)"),
        *_pg_trigger(
            "tally_serial_delete",
            "AFTER DELETE ON serial REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT",
            "scanstation_tally_serials_out",
        ),
        *_pg_trigger(
            "tally_serial_stage",
            "AFTER UPDATE OF stage ON serial FOR EACH ROW "
            "WHEN (OLD.stage IS DISTINCT FROM NEW.stage)",
            "scanstation_tally_stage",
        ),
        *_pg_trigger(
            "tally_event_insert",
            "AFTER INSERT ON event FOR EACH ROW",
            "scanstation_tally_event",
        ),
    )
