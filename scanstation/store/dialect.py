"""What differs between SQLite and PostgreSQL, in one object per database: how to connect and
bound every wait, the placeholder and the row lock, how hot statements are prepared, how a
driver error is classed (transient or permanent, with a sentence), the extra DDL, how the
serial namespace is locked for a generation run or an import, and the change feed in commit
order. The repository asks its dialect; nothing above the store branches on the backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import peewee

from scanstation.store.errors import StoreError
from scanstation.store.tally import TALLY_TABLE, tally_backfill

__all__ = [
    "APPEND_ONLY",
    "SERIAL_FIXED_COLUMNS",
    "SERIAL_ROW_COLUMNS",
    "Dialect",
    "driver_error",
    "first_line",
]

# A bulk insert of serials (Dialect.insert_serials): the columns each row brings (a list, one
# value a row, or one value every row has), and the ones every row of a generation run or an
# import shares.
SERIAL_ROW_COLUMNS = ("serial_no", "secondary_qr", "item_id", "generation_id", "site_id", "qr_seal")
SERIAL_FIXED_COLUMNS = ("stage", "created_at", "created_by", "updated_at", "updated_by", "version")

# What the database answers an UPDATE or DELETE of an event with (its triggers).
APPEND_ONLY = "events are append-only: a correction is a new event"


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def driver_error(error: BaseException) -> BaseException:
    """The driver's own exception under Peewee's wrapper (which keeps it as `orig`)."""
    inner = getattr(error, "orig", None) if isinstance(error, peewee.PeeweeException) else None
    return inner if isinstance(inner, BaseException) else error


class Dialect:
    """The SQLite/PostgreSQL differences the repository needs (see the module docstring)."""

    backend: str
    param: str  # the driver's placeholder in SQL text
    lock_clause: str  # appended to a read that locks the serial row
    # A scan's transition is applied by the database's own function in one round trip
    # (store/scan_function.py); otherwise by statements in one write transaction.
    scan_function: bool
    pooled: bool  # connections come from a pool; a broken one is closed for good
    insert_chunk: int = 20_000  # serials inserted by one statement of a bulk write
    # An import's rows are written, on a second connection, while the file is still checked
    # (service/imports.py): the server's insert then overlaps Python's checks.
    streamed_import: bool = False

    def connection_lost(self, error: BaseException) -> bool:
        """Did `error` break the connection (so it must not be used again)?"""
        return False

    def forget_connection(self, connection: Any) -> None:
        """A connection is gone: forget what was prepared on it."""

    def __init__(self, display: str) -> None:
        self.display = display

    # -- connecting ---------------------------------------------------------------------------

    def connect(self) -> peewee.Database:
        raise NotImplementedError

    def connect_error(self, error: BaseException) -> StoreError:
        """Why connecting failed, as a sentence (transient when trying later may help)."""
        raise NotImplementedError

    def sql(self, text: str) -> str:
        """SQL written with `?` placeholders, in this driver's style."""
        return text if self.param == "?" else text.replace("?", self.param)

    # -- the write transaction ----------------------------------------------------------------

    def write_transaction(
        self, db: peewee.Database, remaining_s: float
    ) -> AbstractContextManager[object]:
        raise NotImplementedError

    def lock_serial_namespace(self, db: peewee.Database) -> None:
        """Inside a write transaction: no other generation run or import until it ends."""

    @contextmanager
    def schema_transaction(self, db: peewee.Database) -> Iterator[None]:
        """Creating or migrating the schema: one at a time, however many terminals open an
        old database at once."""
        raise NotImplementedError
        yield

    # -- statements ---------------------------------------------------------------------------

    def hot_sql(self, text: str) -> str:
        """A hot-path statement as the store writes it (`?`, {lock}, {returning}), for this
        driver."""
        return self.sql(text.format(lock=self.lock_clause, returning=self.returning_id()))

    def execute_hot(self, db: peewee.Database, name: str, sql: str, params: Sequence[Any]) -> Any:
        raise NotImplementedError

    def execute_prepared(
        self, db: peewee.Database, name: str, body: str, params: Sequence[Any]
    ) -> Any:
        """EXECUTE `name`, prepared once per connection as `body`, which is written with
        `$1, $2, …` and used as it is (it may hold literals made by `literals`)."""
        raise NotImplementedError

    def literals(self, db: peewee.Database, values: Sequence[Any]) -> tuple[str, ...]:
        """`values` as SQL literals, quoted by the driver: a statement prepared with what
        every call repeats written in (a station's decision table) sends only the rest."""
        raise NotImplementedError

    def inserted_id(self, cursor: Any) -> int:
        raise NotImplementedError

    def insert_serials(self, cursor: Any, columns: Sequence[Any], fixed: tuple[Any, ...]) -> None:
        """New serials given a column at a time, the SERIAL_ROW_COLUMNS (each a list of one
        value a row, or one value for every row), every row with the same `fixed`
        SERIAL_FIXED_COLUMNS: in one statement or a few, the rows in their order (their ids
        follow it), no per-row statement or parameter binding in Python."""
        raise NotImplementedError

    def returning_id(self) -> str:
        """Appended to the event INSERT: how its id comes back in the same round trip."""
        return ""

    def any_of(
        self, column: str, values: Sequence[str] | Sequence[int], *more_columns: str
    ) -> tuple[str, list[Any]]:
        """`column` (or any of `more_columns`) is one of `values`: one parameter for the whole
        list, encoded once however many columns are compared."""
        raise NotImplementedError

    def codes_in(self, column: str, codes: Sequence[str]) -> tuple[str, list[Any]]:
        """A statement: which of `codes` (sorted) `column`'s unique index of serial holds, one
        row each."""
        where, params = self.any_of(column, codes)
        return f"SELECT {column} FROM serial WHERE {where}", params

    def any_in_range(self, column: str, codes: list[str]) -> tuple[str, list[Any]]:
        """A statement (one row, one boolean): does `column`'s index of serial hold any text
        between the lowest and the highest of `codes` (sorted as Python sorts them), in the
        index's own order? When it holds none, none of `codes` is there."""
        raise NotImplementedError

    @contextmanager
    def bulk_write(self, db: peewee.Database) -> Iterator[None]:
        """Around a generation run or an import: what a million-row transaction needs that a
        scan should not have."""
        yield

    @contextmanager
    def random_index_set_aside(self, db: peewee.Database, new_rows: int) -> Iterator[None]:
        """Inside a bulk write's transaction, around the insert of serials whose codes were
        checked already and of which `new_rows` carry a secondary QR code (0: the index is
        read meanwhile, keep it): the secondary-QR index may be dropped and built again from
        the table once the rows are in."""
        yield

    # -- errors -------------------------------------------------------------------------------

    def classify(self, error: BaseException) -> StoreError:
        """The driver error as a StoreError: transient (retry, journal) or permanent."""
        raise NotImplementedError

    def is_duplicate_scan(self, error: BaseException) -> bool:
        """`error` is the unique index on event.scan_id refusing a second event, and no other
        refusal (a message may quote the column in another constraint's context)."""
        raise NotImplementedError

    # -- schema -------------------------------------------------------------------------------

    def schema_extras(self) -> tuple[str, ...]:
        """DDL run after the tables are created (and after every migration)."""
        return ()

    def migration_3(self) -> tuple[str, ...]:
        """Schema 2 → 3 in this dialect."""
        raise NotImplementedError

    def migration_4(self) -> tuple[str, ...]:
        """Schema 3 → 4: the scan function, where there is one."""
        return ()

    def migration_10(self) -> tuple[str, ...]:
        """Schema 9 → 10: the one-call scan (store/scan_rules.py), where there is a function."""
        return ()

    def migration_11(self) -> tuple[str, ...]:
        """Schema 10 → 11: the one-call scan writes inline, where there is a function."""
        return ()

    def migration_12(self) -> tuple[str, ...]:
        """Schema 11 → 12: the one-call scan takes document rows, where there is a function."""
        return ()

    def migration_13(self) -> tuple[str, ...]:
        """Schema 12 → 13: the one-call scan reads fewer rows, where there is a function."""
        return ()

    def migration_14(self) -> tuple[str, ...]:
        """Schema 13 → 14: the one-call scan answers in one column, where there is a function."""
        return ()

    def migration_6(self) -> tuple[str, ...]:
        """Schema 5 → 6: the tally (store/tally.py) and its counts so far."""
        return (TALLY_TABLE, *tally_backfill())

    def refresh_statistics(self, db: peewee.Database) -> None:
        """After a migration: keep the planner's statistics whole where they are kept by hand
        (PostgreSQL's autovacuum analyzes a table by itself)."""

    @contextmanager
    def relaxed_durability(self, db: peewee.Database) -> Iterator[None]:
        yield

    # -- change feed --------------------------------------------------------------------------

    def feed_position(self, db: peewee.Database) -> Any:
        raise NotImplementedError

    def feed_since(self, db: peewee.Database, position: Any) -> tuple[Any, list[tuple[Any, ...]]]:
        """(new position, rows of (serial_no, reference_no)) committed after `position`."""
        raise NotImplementedError
