"""Events: the append-only history (every change, every refused or unknown scan, every comment
and admin write), read in the order it was recorded; request ids that make a retried write
apply once; and the change feed, in commit order, that live refresh follows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

from scanstation.domain.model import EventView
from scanstation.domain.stages import Stage
from scanstation.store.codec import from_iso, iso
from scanstation.store.errors import DuplicateScan
from scanstation.store.feed import ChangeWatcher
from scanstation.store.postgresql_dialect import PostgresDialect

if TYPE_CHECKING:
    from scanstation.store.repository import Repository
    from scanstation.store.tries import Tries

__all__ = ["EVENT_SQL", "EventStore", "RequestRecord"]

T = TypeVar("T")

ADMIN_STATION: Final = "cli"

EVENT_SQL: Final[dict[str, str]] = {
    "scan_recorded": "SELECT id, outcome, serial_id FROM event WHERE scan_id = ?",
    "scan_move": "SELECT id, from_stage, to_stage, message FROM event WHERE scan_id = ?",
    "scan_answer": (
        "SELECT id, outcome, message, recorded_at, station FROM event WHERE scan_id = ?"
    ),
    "request_event": (
        "SELECT id, kind, serial_id, document_id, generation_id, count, outcome "
        "FROM event WHERE scan_id = ?"
    ),
    "insert_event": (
        "INSERT INTO event (scan_id, kind, serial_id, mode, from_stage, to_stage, "
        "station, site, operator, at, recorded_at, document_id, source, payload, "
        "comment, outcome, message, generation_id, count, approved_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?){returning}"
    ),
    # A refused scan's event, written only while the serial is at the version and in the
    # stage it was decided on (PostgreSQL: locked while the row is written, as the locked
    # path holds it): one round trip in place of that path's BEGIN, lock, insert and COMMIT.
    "insert_refusal_if_unchanged": (
        "INSERT INTO event (scan_id, kind, serial_id, mode, from_stage, to_stage, "
        "station, site, operator, at, recorded_at, document_id, source, payload, "
        "comment, outcome, message, generation_id, count, approved_by) "
        "SELECT ?, 'scan', s.id, ?, s.stage, NULL, ?, ?, ?, ?, ?, CAST(? AS INTEGER), ?, ?, "
        "NULL, ?, ?, NULL, NULL, NULL FROM serial s "
        "WHERE s.id = ? AND s.version = ? AND s.stage = ?{lock}{returning}"
    ),
    # A journaled scan replayed: the newest change another station made to the serial since
    # the scan was read (recording time, so a backdated read cannot hide it).
    "changed_since": (
        "SELECT station, operator, to_stage, recorded_at FROM event "
        "WHERE serial_id = ? AND to_stage IS NOT NULL AND station <> ? "
        "AND recorded_at > ? ORDER BY id DESC LIMIT 1"
    ),
}

_EVENT_SELECT: Final = (
    "SELECT e.id, e.at, e.operator, e.station, e.site, e.outcome, e.from_stage, e.to_stage, "
    "d.reference_no, e.comment, e.payload, s.serial_no, e.mode, e.message, e.recorded_at, "
    "e.approved_by FROM event e LEFT JOIN document d ON d.id = e.document_id "
    "LEFT JOIN serial s ON s.id = e.serial_id"
)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """The event a request id already wrote: what the request made."""

    id: int
    kind: str
    serial_id: int | None
    document_id: int | None
    generation_id: int | None
    count: int | None
    outcome: str


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
        approved_by=row[15],
    )


class EventStore:
    """Events, request ids and the change feed (a part of Repository)."""

    # -- writing ------------------------------------------------------------------------------

    def append_event(
        self: Repository,
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
        recorded_at: datetime,
        document_id: int | None,
        source: str | None,
        payload: str | None,
        comment: str | None,
        outcome: str,
        message: str | None,
        generation_id: int | None = None,
        count: int | None = None,
        approved_by: str | None = None,
    ) -> int:
        """Append one event inside the caller's transaction; returns its id. A scan id (or
        request id) already recorded raises DuplicateScan: the other delivery won."""
        return self.insert_event(
            (scan_id, kind, serial_id, mode,
             from_stage.value if from_stage else None, to_stage.value if to_stage else None,
             station, site, operator, iso(at), iso(recorded_at),
             document_id, source, payload, comment, outcome, message, generation_id, count,
             approved_by)
        )  # fmt: skip

    def append_refusal_if_unchanged(
        self: Repository,
        *,
        serial_id: int,
        version: int,
        stage: Stage,
        scan_id: str,
        mode: str,
        station: str,
        site: str,
        operator: str,
        at: datetime,
        recorded_at: datetime,
        document_id: int | None,
        source: str | None,
        payload: str,
        outcome: str,
        message: str,
        tries: Tries | None = None,
    ) -> int | None:
        """Outside any transaction: a refused scan's event (as `append_event` writes it, the
        serial staying in `stage`), only while the serial is still at `version` in `stage`:
        its id, else None and nothing written. One round trip on PostgreSQL, committed by
        itself; one write transaction on SQLite. DuplicateScan as `append_event`. `tries`: as
        `write`'s."""
        values = (
            scan_id, mode, station, site, operator, iso(at), iso(recorded_at), document_id,
            source, payload, outcome, message, serial_id, version, stage.value,
        )  # fmt: skip

        def insert() -> int | None:
            db, name = self._db, "insert_refusal_if_unchanged"
            try:
                cursor = self.dialect.execute_hot(db, name, self._hot[name], values)
            except Exception as error:
                self.raise_if_duplicate(scan_id, error)
                raise
            return self.dialect.inserted_id(cursor) if cursor.rowcount == 1 else None

        return self.write_alone(insert, tries)

    def insert_event(self: Repository, values: tuple[Any, ...]) -> int:
        """`append_event` with its values in the statement's order, times already as text
        (a scan's write, which has them at hand). DuplicateScan as there."""
        try:
            cursor = self.dialect.execute_hot(
                self._db, "insert_event", self._hot["insert_event"], values
            )
        except Exception as error:
            self.raise_if_duplicate(values[0], error)
            raise
        return self.dialect.inserted_id(cursor)

    def raise_if_duplicate(self: Repository, scan_id: str | None, error: Exception) -> None:
        """`error` is the scan id's unique index refusing a second event: DuplicateScan (the
        other delivery won)."""
        if scan_id is not None and self.dialect.is_duplicate_scan(error):
            raise DuplicateScan(str(scan_id)) from error

    def append_admin_event(
        self: Repository,
        *,
        request_id: str,
        kind: str,
        site: str | None,
        by: str,
        at: datetime,
        comment: str,
        serial_id: int | None = None,
        document_id: int | None = None,
        generation_id: int | None = None,
        count: int | None = None,
        station: str = ADMIN_STATION,
        approved_by: str | None = None,
    ) -> int:
        return self.append_event(
            scan_id=request_id,
            kind=kind,
            serial_id=serial_id,
            mode=None,
            from_stage=None,
            to_stage=Stage.NOT_REGISTERED if kind in ("generate", "import") else None,
            station=station,
            site=site,
            operator=by,
            at=at,
            recorded_at=at,
            document_id=document_id,
            source=None,
            payload=None,
            comment=comment,
            outcome="ok",
            message=None,
            generation_id=generation_id,
            count=count,
            approved_by=approved_by,
        )

    def add_comment(
        self: Repository,
        *,
        serial_id: int,
        text: str,
        station: str,
        site: str | None,
        by: str,
        at: datetime,
        request_id: str,
    ) -> int:
        """A comment on a serial, once per request id; returns its event's id."""

        def work() -> int:
            done = self.request_event(request_id)
            if done is not None:
                return done.id
            return self.append_admin_event(
                request_id=request_id,
                kind="comment",
                site=site,
                by=by,
                at=at,
                comment=text,
                serial_id=serial_id,
                station=station,
            )

        return self.write_request(work)

    def request_event(self: Repository, request_id: str) -> RequestRecord | None:
        """The event this request id wrote, if it was recorded (checked in the transaction,
        so a retry after a lost COMMIT finds it and applies nothing twice)."""
        row = self._run("request_event", (request_id,)).fetchone()
        return RequestRecord(*row) if row else None

    def write_request(self: Repository, work: Callable[[], T]) -> T:
        """`write(work)` for an admin request: when another delivery of the same request
        committed first (its event's request id is taken), `work` runs again and finds it."""
        try:
            return self.write(work)
        except DuplicateScan:
            return self.write(work)

    # -- reading ------------------------------------------------------------------------------

    def scan_already_recorded(self: Repository, scan_id: str) -> tuple[str, int | None] | None:
        row = self._run("scan_recorded", (scan_id,)).fetchone()
        return (row[1], row[2]) if row else None

    def scan_answer(
        self: Repository, scan_id: str
    ) -> tuple[int, str, str | None, datetime | None, str] | None:
        """The event this scan id recorded: its id, outcome, sentence, when it was recorded
        and by which station (None: none is)."""
        row = self._run("scan_answer", (scan_id,)).fetchone()
        if row is None:
            return None
        return int(row[0]), row[1], row[2], from_iso(row[3]) if row[3] else None, row[4]

    def scan_move(self: Repository, scan_id: str) -> tuple[int, Stage, Stage, str] | None:
        """The move this scan id recorded: its event's id, stages and sentence (None: no move
        is recorded for it)."""
        row = self._run("scan_move", (scan_id,)).fetchone()
        if row is None or row[1] is None or row[2] is None:
            return None
        return int(row[0]), Stage(row[1]), Stage(row[2]), row[3] or ""

    def changed_since(
        self: Repository, serial_id: int, station: str, since: datetime
    ) -> tuple[str, str, Stage, datetime] | None:
        """The newest change another station recorded on the serial after `since`: (station,
        operator, stage it moved to, when recorded); None when there is none."""
        row = self._run("changed_since", (serial_id, station, iso(since))).fetchone()
        return (row[0], row[1], Stage(row[2]), from_iso(row[3])) if row else None

    def events(self: Repository, serial_no: str) -> list[EventView]:
        """The serial's history in the order it was recorded (a scan replayed from an offline
        journal comes where it was recorded, not where it was read). Events of one serial are
        written under its row lock, so their ids are in recording order on both databases."""
        serial_id = self.serial_id(serial_no)
        if serial_id is None:
            return []
        rows = self._cursor(
            f"{_EVENT_SELECT} WHERE e.serial_id = ? ORDER BY e.id", (serial_id,)
        ).fetchall()
        return [_event_from_row(row) for row in rows]

    def event_by_id(self: Repository, event_id: int) -> EventView | None:
        row = self._cursor(f"{_EVENT_SELECT} WHERE e.id = ?", (event_id,)).fetchone()
        return _event_from_row(row) if row else None

    def recent_events(
        self: Repository,
        *,
        station: str | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[tuple[int, EventView]]:
        """Scan events newest first, for paging a station's history from the database."""
        clauses, params = ["e.kind = 'scan'"], []
        if station is not None:
            clauses.append("e.station = ?")
            params.append(station)
        if before_id is not None:
            clauses.append("e.id < ?")
            params.append(before_id)
        rows = self._cursor(
            f"{_EVENT_SELECT} WHERE {' AND '.join(clauses)} ORDER BY e.id DESC LIMIT {int(limit)}",
            params,
        ).fetchall()
        return [(row[0], _event_from_row(row)) for row in rows]

    # -- the change feed (live refresh) -------------------------------------------------------

    def last_event_id(self: Repository) -> Any:
        """Where the change feed stands now: an opaque position to give `changes_since` (an
        event id on SQLite; on PostgreSQL a snapshot, since ids are not in commit order)."""
        with self.driver_errors():
            return self.dialect.feed_position(self._db)

    change_cursor = last_event_id

    def changes_since(self: Repository, position: Any) -> tuple[Any, set[str], set[str]]:
        """What committed after `position`: (new position, serials, documents), in commit
        order on both databases, so no change is missed or seen twice."""
        with self.driver_errors():
            new_position, rows = self.dialect.feed_since(self._db, position)
        return (
            new_position,
            {serial for serial, _ in rows if serial},
            {document for _, document in rows if document},
        )

    def watcher(self: Repository) -> ChangeWatcher:
        pg = self.dialect if isinstance(self.dialect, PostgresDialect) else None
        path = str(self.target.path) if self.target.path is not None else None
        return ChangeWatcher(self.target.backend, path=path, pg=pg)
