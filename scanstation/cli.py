"""The command line: the station (no subcommand) and the scripted commands.

Names, flags, JSON keys and exit codes here are a public contract: extend, never rename.
Exit codes: 0 every scan ok/already (or the command did what was asked), 1 a scan was rejected,
unknown or conflict (or `show` found nothing), 2 a usage, configuration or database error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

import click

from scanstation.cli_decode import decode
from scanstation.cli_serve import serve
from scanstation.config import MODE_NAMES, ConfigError, Settings, load_settings

EXIT_OK, EXIT_SCAN_FAILED, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"scanstation: {message}", err=True)
    sys.exit(code)


@dataclass
class CliState:
    config_path: str | None
    db_url: str | None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as error:
                fail(str(error))
        return self._settings

    def database_url(self, override: str | None = None) -> str:
        return override or self.db_url or self.settings.database.resolved_url()

    @contextmanager
    def service(self, *, create: bool = False, db: str | None = None) -> Iterator[Any]:
        """Open the service on the configured database; database problems exit 2."""
        from scanstation.service import StationService, StoreError

        settings = self.settings
        try:
            service = StationService.open(
                self.database_url(db),
                create=create,
                serial_case=settings.scanner.serial_case,
                max_payload=settings.scanner.max_payload,
            )
        except StoreError as error:
            fail(str(error))
        try:
            yield service
        except StoreError as error:
            fail(str(error))
        finally:
            service.close()


def _state(ctx: click.Context) -> CliState:
    state = ctx.find_object(CliState)
    assert state is not None
    return state


def _service_errors(action: Callable[[], Any]) -> Any:
    from scanstation.service import ServiceError

    try:
        return action()
    except ServiceError as error:
        fail(str(error))


def _json_line(data: object, stream: IO[str] | None = None) -> None:
    # ensure_ascii: no byte of a hostile payload reaches a terminal raw (C1 controls included).
    out = stream or sys.stdout
    out.write(json.dumps(data, ensure_ascii=True) + "\n")
    out.flush()


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_url", metavar="URL", help="Database: a SQLite path/URL or postgresql://…")
@click.option("--config", "config_path", metavar="PATH", help="config.toml to use.")
@click.option("--station", "station_id", metavar="ID", help="Station id (the station app).")
@click.option("--site", metavar="CODE", help="Site code of this station (the station app).")
@click.option("--mode", type=click.Choice(MODE_NAMES), help="Scan mode (the station app).")
@click.option("--operator", metavar="NAME", help="Operator name (the station app).")
@click.option(
    "--journal/--no-journal",
    "use_journal",
    default=None,
    help="Keep scanning into this terminal's offline journal while the database is "
    "unreachable (the station app). Default: config station.journal.",
)
@click.version_option(package_name="scanstation")
@click.pass_context
def main(
    ctx: click.Context,
    db_url: str | None,
    config_path: str | None,
    station_id: str | None,
    site: str | None,
    mode: str | None,
    operator: str | None,
    use_journal: bool | None,
) -> None:
    """scanstation: follow every serial from the plant to the godown and beyond.

    With no command, opens the scanning station on the configured database.
    """
    ctx.obj = CliState(config_path, db_url)
    if ctx.invoked_subcommand is not None:
        return
    from scanstation.tui.launch import run_station

    state = ctx.obj
    code = run_station(
        state.settings,
        database_url=state.database_url(),
        station_id=station_id,
        site=site,
        mode=mode,
        operator=operator,
        journal=use_journal,
    )
    sys.exit(code)


# -- db ----------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Create or describe the database."""


@db.command("init")
@click.pass_context
def db_init(ctx: click.Context) -> None:
    """Create the database (and its schema) if it does not exist."""
    state = _state(ctx)
    with state.service(create=True) as service:
        click.echo(f"Database ready: {service.repo.target.display}")


@db.command("info")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.pass_context
def db_info(ctx: click.Context, as_json: bool) -> None:
    """Backend, schema version and counts."""
    with _state(ctx).service() as service:
        info = service.info()
    if as_json:
        _json_line(info)
        return
    for key, value in info.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for sub, n in value.items():
                click.echo(f"  {sub:<24} {n}")
        else:
            click.echo(f"{key:<26} {value}")


# -- sites and items ---------------------------------------------------------------------------


@main.group()
def site() -> None:
    """Plants and godowns."""


@site.command("add")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--kind", type=click.Choice(["plant", "godown"]), required=True)
@click.pass_context
def site_add(ctx: click.Context, code: str, name: str, kind: str) -> None:
    from scanstation.domain.stages import SiteKind

    with _state(ctx).service() as service:
        added = _service_errors(lambda: service.add_site(code, name, SiteKind(kind)))
    click.echo(f"Site {added.code} ({added.kind}): {added.name}")


@main.group()
def item() -> None:
    """Items (SKUs)."""


@item.command("add")
@click.argument("sku")
@click.option("--name", required=True)
@click.option("--gtin", default=None)
@click.option("--model", "model_no", default=None)
@click.pass_context
def item_add(
    ctx: click.Context, sku: str, name: str, gtin: str | None, model_no: str | None
) -> None:
    with _state(ctx).service() as service:
        added = _service_errors(lambda: service.add_item(sku, name, gtin, model_no))
    gtin_text = f" GTIN {added.gtin}" if added.gtin else ""
    click.echo(f"Item {added.sku}: {added.name}{gtin_text}")


# -- generation runs and imports ---------------------------------------------------------------


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty() or total < 1000:
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        seen = 0

        def advance(done: int) -> None:
            nonlocal seen
            bar.update(done - seen)
            seen = done

        yield advance


@main.command()
@click.argument("sku")
@click.option("--count", type=click.IntRange(min=1), required=True)
@click.option("--site", "site_code", required=True, metavar="CODE")
@click.option("--prefix", default="SN", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def generate(
    ctx: click.Context, sku: str, count: int, site_code: str, prefix: str, as_json: bool
) -> None:
    """Create a generation run of COUNT serials of SKU in "Not Registered at Plant"."""
    with _state(ctx).service() as service, _progress(count, "Generating") as progress:
        generation_no, serials = _service_errors(
            lambda: service.generate(sku, count, site_code, prefix=prefix, progress=progress)
        )
    if as_json:
        _json_line({"generation_no": generation_no, "serials": serials})
    else:
        click.echo(
            f"Generation run {generation_no}: {len(serials)} serials of {sku} "
            f"({serials[0]} … {serials[-1]})"
        )


@main.command("import")
@click.argument("csv_file", metavar="FILE.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file; write nothing.")
@click.pass_context
def import_(ctx: click.Context, csv_file: Path, dry_run: bool) -> None:
    """Import serials: serial_no,sku,generation_no,secondary_qr (all or nothing)."""
    try:
        with csv_file.open("rb") as handle:
            rows = max(0, sum(1 for _ in handle) - 1)  # the bar's length: lines less the header
    except OSError:
        rows = 0  # the service names the file and the problem
    with _state(ctx).service() as service, _progress(rows, "Importing") as progress:
        report = _service_errors(
            lambda: service.import_csv(csv_file, dry_run=dry_run, progress=progress)
        )
    for problem in report.problems:
        click.echo(f"{csv_file}:{problem.line}: {problem.message}", err=True)
    if report.problems:
        fail(f"{len(report.problems)} problem(s); nothing was imported", EXIT_SCAN_FAILED)
    if dry_run:
        click.echo(f"{report.rows} rows would be imported; nothing was written (--dry-run)")
    else:
        click.echo(f"Imported {report.rows} serials")


# -- documents ---------------------------------------------------------------------------------


def _parse_line(text: str) -> tuple[str, int]:
    sku, sep, qty = text.rpartition("=")
    if not sep or not sku.strip():
        raise click.BadParameter(f"{text!r}: expected SKU=QTY", param_hint="--line")
    try:
        return sku.strip(), int(qty)
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: the quantity must be a whole number", param_hint="--line"
        ) from None


@main.group()
def doc() -> None:
    """Delivery challans (DC) and invoices."""


@doc.command("add")
@click.option("--kind", type=click.Choice(["dc", "invoice"]), required=True)
@click.option("--reference-no", required=True)
@click.option("--dc-no", default=None)
@click.option("--invoice-no", default=None)
@click.option("--from", "from_site", required=True, metavar="SITE")
@click.option("--to", "to", required=True, metavar="SITE_OR_NAME")
@click.option("--line", "lines", multiple=True, required=True, metavar="SKU=QTY")
@click.pass_context
def doc_add(
    ctx: click.Context,
    kind: str,
    reference_no: str,
    dc_no: str | None,
    invoice_no: str | None,
    from_site: str,
    to: str,
    lines: tuple[str, ...],
) -> None:
    from scanstation.domain.stages import DocumentKind

    parsed = [_parse_line(line) for line in lines]
    with _state(ctx).service() as service:
        added = _service_errors(
            lambda: service.add_document(
                kind=DocumentKind(kind),
                reference_no=reference_no,
                from_site=from_site,
                to=to,
                lines=parsed,
                dc_no=dc_no,
                invoice_no=invoice_no,
            )
        )
    click.echo(
        f"{added.kind.upper()} {added.reference_no} open: {added.from_site} → "
        f"{added.destination}, {len(added.lines)} line(s)"
    )


def document_json(document: Any) -> dict[str, Any]:
    return {
        "reference_no": document.reference_no,
        "kind": document.kind.value,
        "dc_no": document.dc_no,
        "invoice_no": document.invoice_no,
        "from": document.from_site,
        "to": document.destination,
        "state": document.state,
        "closed_reason": document.closed_reason,
        "lines": [
            {
                "sku": line.sku,
                "item_name": line.item_name,
                "quantity": line.quantity,
                "scanned": line.scanned,
            }
            for line in document.lines
        ],
    }


@doc.command("show")
@click.argument("reference_no")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def doc_show(ctx: click.Context, reference_no: str, as_json: bool) -> None:
    with _state(ctx).service() as service:
        document = service.document(reference_no)
    if document is None:
        fail(f"No document with reference no {reference_no!r}", EXIT_SCAN_FAILED)
    if as_json:
        _json_line(document_json(document))
        return
    click.echo(f"{document.kind.upper()} {document.reference_no} ({document.state})")
    click.echo(f"  DC no       {document.dc_no or '-'}")
    click.echo(f"  Invoice no  {document.invoice_no or '-'}")
    click.echo(f"  From → to   {document.from_site} → {document.destination}")
    for line in document.lines:
        click.echo(f"  {line.sku:<12} {line.item_name:<28} {line.scanned:>6}/{line.quantity}")
    if document.closed_reason:
        click.echo(f"  Closed: {document.closed_reason}")


@doc.command("close")
@click.argument("reference_no")
@click.option("--reason", default=None, help="Needed when lines are not full.")
@click.pass_context
def doc_close(ctx: click.Context, reference_no: str, reason: str | None) -> None:
    with _state(ctx).service() as service:
        closed = _service_errors(lambda: service.close_document(reference_no, reason))
    click.echo(
        f"{closed.reference_no} closed"
        + (f" ({closed.shortfall} short: {reason})" if closed.shortfall else "")
    )


# -- scanning ----------------------------------------------------------------------------------


def _stdin_payloads() -> Iterator[str]:
    """One payload a line. Only LF (and a CR before it) ends a line: GS, RS and the other
    separators that str.splitlines() would cut at are data."""
    stream = sys.stdin.buffer
    while True:
        raw = stream.readline()
        if not raw:
            return
        if raw.endswith(b"\n"):
            raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
        yield raw.decode("utf-8", errors="replace")


@main.command()
@click.option("--station", "station_id", required=True, metavar="ID")
@click.option("--site", "site_code", required=True, metavar="CODE")
@click.option("--mode", type=click.Choice(MODE_NAMES), required=True)
@click.option("--doc", "document", default=None, metavar="REFERENCE_NO")
@click.option("--operator", default=None, metavar="NAME")
@click.option("--reason", default=None, metavar="TEXT")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per scan on stdout.")
@click.option(
    "--journal/--no-journal",
    "use_journal",
    default=None,
    help="While the database is unreachable, save scans in this station's offline journal "
    "(answered `queued`) and replay them when it returns. Default: config station.journal.",
)
@click.argument("payloads", nargs=-1)
@click.pass_context
def scan(
    ctx: click.Context,
    station_id: str,
    site_code: str,
    mode: str,
    document: str | None,
    operator: str | None,
    reason: str | None,
    as_json: bool,
    use_journal: bool | None,
    payloads: tuple[str, ...],
) -> None:
    """Scan PAYLOADs, or one payload a line from stdin, answering each once committed
    (or, with --journal, once saved in the offline journal)."""
    from scanstation.domain.model import ScanEvent
    from scanstation.domain.stages import Mode
    from scanstation.service import ServiceError, StationSetup

    state = _state(ctx)
    setup = StationSetup(
        station_id=station_id,
        site_code=site_code,
        mode=Mode(mode),
        document=document or None,
        reason=reason,
        **({"operator": operator} if operator else {}),
    )
    if use_journal is None:
        use_journal = state.settings.station.journal
    if use_journal:
        _scan_journaled(state, setup, payloads, as_json)
    with state.service() as service:
        try:
            service.check_station(setup)
        except ServiceError as error:
            fail(str(error))
        source = "argv" if payloads else "stdin"
        stream = iter(payloads) if payloads else _stdin_payloads()
        failed = 0
        for payload in stream:
            outcome = service.scan(ScanEvent(payload, source=source), setup)
            if not outcome.kind.is_success:
                failed += 1
            _print_outcome(outcome, as_json)
    sys.exit(EXIT_SCAN_FAILED if failed else EXIT_OK)


def _print_outcome(outcome: Any, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    from scanstation.domain.codes import visible

    if as_json:
        _json_line({**outcome.as_json(), **(extra or {})})
        return
    label = outcome.kind.value.upper()
    serial = outcome.serial_no or visible(outcome.event.payload)
    click.echo(f"{label:<9} {serial:<22} {visible(outcome.message)}")
    sys.stdout.flush()


def _replay_note(outcomes: list[Any]) -> None:
    """Earlier scans (answered `queued`) decided now: a summary on stderr, so stdout keeps
    exactly one answer a scan."""
    if not outcomes:
        return
    from collections import Counter

    from scanstation.store.journal import REFUSED_KINDS

    counts = Counter(o.kind.value for o in outcomes)
    refused = sum(1 for o in outcomes if o.kind in REFUSED_KINDS)
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    note = f"replayed {len(outcomes)} journaled scan(s): {summary}"
    if refused:
        note += " — refused scans are listed by `scanstation journal show`"
    click.echo(f"scanstation: {note}", err=True)


def _open_journal(state: CliState, station_id: str) -> Any:
    from scanstation.store.journal import Journal, JournalError

    try:
        return Journal.for_station(station_id, state.database_url())
    except JournalError as error:
        fail(str(error))


def _journaled_station(state: CliState, station_id: str, **options: Any) -> Any:
    from scanstation.journaled import JournaledStation
    from scanstation.service import StationService

    settings = state.settings
    url = state.database_url()

    def open_service() -> StationService:
        return StationService.open(
            url,
            serial_case=settings.scanner.serial_case,
            max_payload=settings.scanner.max_payload,
        )

    return JournaledStation(open_service, _open_journal(state, station_id), **options)


def _scan_journaled(
    state: CliState, setup: Any, payloads: tuple[str, ...], as_json: bool
) -> NoReturn:
    """`scan --journal`: an unreachable database is not an error; scans go to the journal."""
    from scanstation.domain.model import ScanEvent
    from scanstation.service import ServiceError, StoreError
    from scanstation.store.journal import JournalError

    station = _journaled_station(state, setup.station_id, on_replay=_replay_note)
    failed = 0
    try:
        if station.connect() and station.service is not None:
            try:
                station.service.check_station(setup)
            except ServiceError as error:
                fail(str(error))
            # Continue where a killed run stopped: what it saved offline goes first.
            _replay_note(station.replay())
        else:
            click.echo(
                f"scanstation: OFFLINE — {station.journal.database} is unreachable "
                f"({station.last_error}); scans are saved in {station.journal.path}",
                err=True,
            )
        source = "argv" if payloads else "stdin"
        stream = iter(payloads) if payloads else _stdin_payloads()
        for payload in stream:
            try:
                outcome = station.scan(ScanEvent(payload, source=source), setup)
            except ServiceError as error:
                fail(str(error))
            if not outcome.kind.is_success:
                failed += 1
            _print_outcome(outcome, as_json)
        if station.pending_count:
            _replay_note(station.replay())
        left = station.pending_count
        if left:
            why = f" ({station.last_error})" if station.last_error else ""
            click.echo(
                f"scanstation: {left} scan(s) wait in the journal {station.journal.path}{why}; "
                "they are replayed by the next `scanstation scan --journal` or "
                "`scanstation journal replay`",
                err=True,
            )
    except (StoreError, JournalError) as error:
        fail(str(error))
    finally:
        station.close()
    sys.exit(EXIT_SCAN_FAILED if failed else EXIT_OK)


# -- the offline journal -----------------------------------------------------------------------


@main.group()
def journal() -> None:
    """A station's offline journal: scans saved while the database was unreachable."""


def _journal_station_id(state: CliState, station_id: str | None) -> str:
    return station_id or state.settings.station.id


@journal.command("show")
@click.option("--station", "station_id", default=None, metavar="ID", help="Default: station.id.")
@click.option("--all", "show_all", is_flag=True, help="Also replayed and acknowledged scans.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.pass_context
def journal_show(ctx: click.Context, station_id: str | None, show_all: bool, as_json: bool) -> None:
    """Scans waiting to be replayed, and replayed scans the rules refused (for a supervisor).

    Reads the journal only: works while the database is unreachable."""
    from scanstation.domain.codes import visible
    from scanstation.store.journal import Journal, JournalError, database_identity, journal_path

    state = _state(ctx)
    station = _journal_station_id(state, station_id)
    url = state.database_url()
    try:
        opened = Journal.existing(station, url)
        path, database = journal_path(station, url), database_identity(url)
        if opened is None:
            pending, refused, replayed = [], [], []
        else:
            with opened:
                pending = opened.pending()
                refused = opened.refused(include_acknowledged=show_all)
                replayed = (
                    [e for e in opened.entries() if e.state == "replayed"] if show_all else []
                )
    except JournalError as error:
        fail(str(error))
    if as_json:
        data: dict[str, Any] = {
            "station": station,
            "database": database,
            "journal": str(path),
            "pending_count": len(pending),
            "refused_count": len(refused),
            "pending": [e.as_json() for e in pending],
            "refused": [e.as_json() for e in refused],
        }
        if show_all:
            data["replayed"] = [e.as_json() for e in replayed]
        _json_line(data)
        return
    click.echo(f"Journal of station {station} on {database}: {path}")
    click.echo(f"{len(pending)} pending, {len(refused)} refused on replay")
    for title, entries in (("pending", pending), ("refused", refused), ("replayed", replayed)):
        if not entries:
            continue
        click.echo(f"{title}:")
        for e in entries:
            when = e.read_at.astimezone().isoformat(timespec="seconds")
            line = f"  #{e.seq:<6} {when} {e.mode.value:<9} {e.site_code:<6} {visible(e.payload)}"
            if e.outcome is not None:
                line += f" → {e.outcome.value}: {visible(e.message or '')}"
            click.echo(line)


@journal.command("replay")
@click.option("--station", "station_id", default=None, metavar="ID", help="Default: station.id.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per replayed scan.")
@click.pass_context
def journal_replay(ctx: click.Context, station_id: str | None, as_json: bool) -> None:
    """Replay the station's pending scans into the database now, in order.

    Exit 0 when all were decided ok/already, 1 when the rules refused some (listed by
    `journal show`), 2 when the database is unreachable (what is left stays pending)."""
    from scanstation.service import StoreError
    from scanstation.store.journal import Journal, JournalError

    state = _state(ctx)
    station_id = _journal_station_id(state, station_id)
    try:
        existing = Journal.existing(station_id, state.database_url())
    except JournalError as error:
        fail(str(error))
    if existing is None:
        click.echo(
            f"Station {station_id} has no journal for this database: nothing to replay", err=True
        )
        return
    existing.close()
    station = _journaled_station(state, station_id)
    try:
        if not station.connect():
            fail(
                f"Cannot replay: {station.journal.database} is unreachable "
                f"({station.last_error}); "
                f"{station.pending_count} scan(s) stay in the journal"
            )
        outcomes = station.replay()
        refused = {e.scan_id for e in station.journal.refused(include_acknowledged=True)}
        for outcome in outcomes:
            _print_outcome(
                outcome,
                as_json,
                {"scan_id": outcome.event.scan_id, "read_at": outcome.event.read_at.isoformat()},
            )
        left = station.pending_count
        if left:
            why = (
                "another process is replaying this journal now"
                if station.online
                else f"the database failed during the replay ({station.last_error})"
            )
            fail(f"{left} scan(s) stay in the journal: {why}")
    except (StoreError, JournalError) as error:
        fail(str(error))
    finally:
        station.close()
    if not as_json:
        click.echo(f"Replayed {len(outcomes)} journaled scan(s)", err=True)
    failed = any(o.event.scan_id in refused for o in outcomes)
    sys.exit(EXIT_SCAN_FAILED if failed else EXIT_OK)


# -- reading -----------------------------------------------------------------------------------


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def serial_json(view: Any) -> dict[str, Any]:
    return {
        "serial_no": view.serial_no,
        "sku": view.sku,
        "item_name": view.item_name,
        "generation_no": view.generation_no,
        "secondary_qr": view.secondary_qr,
        "stage": view.stage.value,
        "site": view.site,
        "created_at": _iso(view.created_at),
        "created_by": view.created_by,
        "updated_at": _iso(view.updated_at),
        "updated_by": view.updated_by,
    }


def event_json(event: Any) -> dict[str, Any]:
    return {
        "at": _iso(event.at),
        "by": event.by,
        "station": event.station,
        "outcome": event.outcome,
        "from_stage": event.from_stage.value if event.from_stage else None,
        "to_stage": event.to_stage.value if event.to_stage else None,
        "document": event.document,
        "comment": event.comment,
    }


@main.command()
@click.argument("serial")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, serial: str, as_json: bool) -> None:
    """A serial's details and its history (by serial no or secondary QR)."""
    from scanstation.domain.codes import visible

    with _state(ctx).service() as service:
        view = service.serial(serial)
        if view is None:
            fail(f"{visible(serial)} is not a known serial", EXIT_SCAN_FAILED)
        events = service.events(view.serial_no)
    if as_json:
        _json_line({**serial_json(view), "events": [event_json(e) for e in events]})
        return
    for key, value in serial_json(view).items():
        click.echo(f"{key:<14} {value if value is not None else '-'}")
    click.echo("events:")
    for e in events:
        move = f"{e.from_stage} → {e.to_stage}" if e.to_stage else e.outcome
        extra = f" [{e.document}]" if e.document else ""
        note = f" — {visible(e.comment)}" if e.comment else ""
        click.echo(
            f"  {e.at.isoformat(timespec='seconds')} {e.by} @ {e.station}: {move}{extra}{note}"
        )


EXPORT_FIELDS = (
    "serial_no",
    "sku",
    "item_name",
    "generation_no",
    "secondary_qr",
    "stage",
    "site",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
)


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="csv with a header row, or JSON lines.",
)
@click.option("--stage", default=None, metavar="STAGE", help='e.g. "Received at Godown".')
@click.option("--site", "site_code", default=None, metavar="CODE")
@click.pass_context
def export(ctx: click.Context, fmt: str, stage: str | None, site_code: str | None) -> None:
    """One record a serial, with the fields of `show` except events."""
    import csv

    from scanstation.domain.stages import Stage

    stage_value = None
    if stage is not None:
        matches = [s for s in Stage if s.value.lower() == stage.strip().lower()]
        if not matches:
            fail(f"Unknown stage {stage!r}; stages are: " + ", ".join(s.value for s in Stage))
        stage_value = matches[0]
    with _state(ctx).service() as service:
        out = sys.stdout
        writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        if writer:
            writer.writerow(EXPORT_FIELDS)
        for view in service.export(stage_value, site_code):
            record = serial_json(view)
            if writer:
                writer.writerow([record[f] if record[f] is not None else "" for f in EXPORT_FIELDS])
            else:
                out.write(json.dumps(record, ensure_ascii=True) + "\n")
        out.flush()


@main.command()
@click.option("--db", "demo_db", default=None, metavar="URL", help="Where to build it.")
@click.option("--if-missing", is_flag=True, help="Do nothing when the database already has data.")
@click.pass_context
def demo(ctx: click.Context, demo_db: str | None, if_missing: bool) -> None:
    """Build a realistic demo database (sites, items, ~2,000 serials with histories)."""
    from scanstation.demo import build_demo

    state = _state(ctx)
    url = state.database_url(demo_db)
    with state.service(create=True, db=url) as service:
        if service.info()["serials"]:
            if if_missing:
                click.echo(f"Demo database already present: {service.repo.target.display}")
                return
            fail(
                f"{service.repo.target.display} already has data; the demo needs an empty "
                "database (use --db to pick another)"
            )
        summary = _service_errors(lambda: build_demo(service))
        target = service.repo.target.display
    click.echo(summary)
    db_flag = f" --db {url}" if (demo_db or state.db_url) else ""
    click.echo(f"Demo database ready: {target}")
    click.echo(f"Start the station on it:  scanstation{db_flag} --site G1 --mode receive")


main.add_command(decode)
main.add_command(serve)


if __name__ == "__main__":
    main()
