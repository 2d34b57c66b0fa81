"""Imports and generation runs (issue 11, findings 2, 3 and 10): serial numbers and secondary QR
codes kept disjoint, within a file and against the database, both ways; a lookup that always
picks the serial number first; `generate` that steps over numbers and generation nos an import
took; generation nos validated; CSV line numbers that are the physical lines of the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode
from scanstation.service import StationService
from tests.conftest import station

HEADER = "serial_no,sku,generation_no,secondary_qr\n"


def write_csv(tmp_path: Path, body: str | bytes, name: str = "units.csv") -> Path:
    path = tmp_path / name
    if isinstance(body, str):
        path.write_text(HEADER + body, encoding="utf-8", newline="")
    else:
        path.write_bytes(HEADER.encode() + body)
    return path


def problems(service: StationService, path: Path) -> list[tuple[int, str]]:
    report = service.import_csv(path)
    assert not report.written or not report.problems
    return [(p.line, p.message) for p in report.problems]


# -- finding 2: one namespace for serials and QR codes ----------------------------------------


def test_an_import_cannot_reuse_a_code_of_the_database_either_way(
    service: StationService, tmp_path: Path
) -> None:
    fan = service.serial("FN0000000021")
    assert fan is not None and fan.secondary_qr
    serials = service.info()["serials"]
    found = problems(
        service,
        write_csv(
            tmp_path,
            f"{fan.secondary_qr},PUMP,,\n"  # a serial equal to FAN's QR label
            "IMP-2,PUMP,,SN0000000001\n"  # a QR equal to an existing serial
            "IMP-3,PUMP,,QR-OK-3\n",
        ),
    )
    assert found == [
        (2, f"serial {fan.secondary_qr} is already a secondary QR in the database"),
        (3, "secondary QR SN0000000001 is already a serial in the database"),
    ]
    assert service.info()["serials"] == serials
    # FAN's QR label still means FAN, and only FAN.
    scanned = service.scan(ScanEvent(fan.secondary_qr), station())
    assert scanned.kind is OutcomeKind.OK and scanned.serial_no == "FN0000000021"


def test_a_file_cannot_use_one_code_twice_either_way(
    service: StationService, tmp_path: Path
) -> None:
    found = problems(
        service,
        write_csv(
            tmp_path,
            "IMP-1,PUMP,,QR-A\n"
            "QR-A,PUMP,,\n"  # a serial equal to line 2's QR
            "IMP-3,PUMP,,IMP-4\n"
            "IMP-4,PUMP,,\n"  # line 4's QR is this serial
            "imp-1,PUMP,,\n"  # line 2's serial again, after normalisation
            "IMP-7,PUMP,,QR-A\n"  # line 2's QR again
            "IMP-8,PUMP,,IMP-8\n",  # its own serial
        ),
    )
    assert found == [
        (3, "serial QR-A is the secondary QR of line 2"),
        (5, "serial IMP-4 is the secondary QR of line 4"),
        (6, "serial IMP-1 repeats line 2"),
        (7, "secondary QR QR-A repeats line 2"),
        (8, "secondary QR IMP-8 is the row's own serial"),
    ]


@pytest.mark.postgres
def test_postgresql_lookup_picks_the_serial_number_first(pg_url: str) -> None:
    """Rows written before codes were kept disjoint may have a QR equal to another row's
    serial: a scan of that code always means the serial, never whichever row comes first."""
    import psycopg2

    from tests.conftest import build_small

    service = StationService.open(pg_url, create=True)
    build_small(service)
    conn = psycopg2.connect(pg_url)
    with conn, conn.cursor() as cursor:  # as an older scanstation could leave it
        cursor.execute(
            "UPDATE serial SET secondary_qr = 'SN0000000004' WHERE serial_no = 'FN0000000021'"
        )
        cursor.execute("CLUSTER serial USING serial_secondary_qr")  # the QR row first on disk
    conn.close()
    for _ in range(5):
        found = service.scan(ScanEvent("SN0000000004"), station(mode=Mode.LOOKUP))
        assert found.serial_no == "SN0000000004"
    registered = service.scan(ScanEvent("SN0000000004"), station())
    assert registered.kind is OutcomeKind.OK and registered.serial_no == "SN0000000004"
    service.close()


def test_generated_tokens_never_equal_a_code_already_taken(
    service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token generator is random; when it draws a code in use it draws again."""
    import scanstation.service.admin as admin

    drawn = iter([["SN0000000001", "FREE-TOKEN-1"], ["FREE-TOKEN-2"]])
    monkeypatch.setattr(admin, "new_secondary_qrs", lambda n: next(drawn)[:n])
    _run, serials = service.generate("PUMP", 2, "P1")
    qrs = [service.serial(sn).secondary_qr for sn in serials]  # type: ignore[union-attr]
    assert qrs == ["FREE-TOKEN-2", "FREE-TOKEN-1"]


# -- finding 3: generate steps over what an import took ---------------------------------------


def test_generate_skips_serials_and_generation_nos_an_import_took(
    service: StationService, tmp_path: Path
) -> None:
    # The next run would be G-000003 with serials SN0000000026..; an import takes them first.
    report = service.import_csv(
        write_csv(
            tmp_path,
            "SN0000000026,PUMP,G-000003,\n"
            "SN0000000028,PUMP,G-000003,SN0000000027\n",  # a QR that is the next number
        )
    )
    assert report.written
    for _ in range(2):  # and it keeps working: the counter does not roll back
        run, serials = service.generate("PUMP", 3, "P1")
        assert run not in ("G-000003",) and len(serials) == 3
    assert serials[0] != "SN0000000026"
    first_run_serials = service.generate("PUMP", 1, "P1")[1]
    assert first_run_serials[0] not in {"SN0000000026", "SN0000000027", "SN0000000028"}
    generations = [g.generation_no for g in service.item("PUMP").generations]  # type: ignore[union-attr]
    assert generations == ["G-000001", "G-000003", "G-000004", "G-000005", "G-000006"]


def test_a_generation_run_right_after_an_import_of_its_numbers_succeeds(
    service: StationService, tmp_path: Path
) -> None:
    assert service.import_csv(write_csv(tmp_path, "SN0000000026,PUMP,,\n")).written
    _run, serials = service.generate("PUMP", 2, "P1")
    assert serials == ["SN0000000027", "SN0000000028"]


# -- finding 10: generation nos and CSV reading -----------------------------------------------


@pytest.mark.parametrize(
    ("generation_no", "message"),
    [
        ("G\x00X", "has characters outside GS1 AI 82"),
        ("G\x1b[2J", "has characters outside GS1 AI 82"),
        ("G X", "has characters outside GS1 AI 82"),
        ("G\u202eX", "invisible characters"),
        ("G" * 5000, "is longer than 32 characters"),
    ],
)
def test_a_bad_generation_no_is_a_problem(
    service: StationService, tmp_path: Path, generation_no: str, message: str
) -> None:
    found = problems(service, write_csv(tmp_path, f"IMP-1,PUMP,{generation_no},\n"))
    assert len(found) == 1 and found[0][0] == 2 and message in found[0][1]


def test_a_row_cannot_join_another_skus_run(service: StationService, tmp_path: Path) -> None:
    found = problems(
        service,
        write_csv(
            tmp_path,
            "IMP-1,PUMP,G-000002,\n"  # G-000002 is FAN's run in the database
            "IMP-2,PUMP,GX-9,\n"
            "IMP-3,FAN,GX-9,\n",  # GX-9 is PUMP's run in this file
        ),
    )
    assert found == [
        (2, "generation no G-000002 is a run of FAN, not of PUMP"),
        (4, "generation no GX-9 is a run of PUMP (line 3), not of FAN"),
    ]
    joined = service.import_csv(write_csv(tmp_path, "IMP-5,FAN,G-000002,\n", "fan.csv"))
    assert joined.written  # a run of its own SKU is fine
    assert service.serial("IMP-5").generation_no == "G-000002"  # type: ignore[union-attr]


def test_line_numbers_are_physical_lines_whatever_the_cells_hold(
    service: StationService, tmp_path: Path
) -> None:
    body = (
        '"IMP-1",PUMP,,"a QR\nover two lines"\n'  # lines 2-3: one record
        "IMP-2,PUMP,,QR\x0bVT\n"  # line 4: VT inside a cell
        "IMP-3,PUMP,,QR\u2028LS\n"  # line 5: U+2028 inside a cell
        "IMP-4,NOSUCH,,\n"  # line 6
    )
    found = problems(service, write_csv(tmp_path, body))
    assert [line for line, _ in found] == [2, 4, 5, 6]
    assert "unknown SKU 'NOSUCH'" in found[-1][1]


def test_bytes_that_are_not_utf8_are_reported_at_their_line(
    service: StationService, tmp_path: Path
) -> None:
    found = problems(service, write_csv(tmp_path, b"IMP-1,PUMP,,\nIMP-\xff2,PUMP,,\nIMP-3,X,,\n"))
    assert found[0] == (3, "not valid UTF-8 (byte 5 of the line)")
    assert found[1][0] == 4


def test_a_cell_over_the_csv_field_limit_is_a_problem(
    service: StationService, tmp_path: Path
) -> None:
    found = problems(service, write_csv(tmp_path, 'IMP-1,PUMP,,\n"' + "x" * 131_073 + '",PUMP,,\n'))
    assert found == [
        (3, "a cell is longer than 131,072 characters (the rest of the file was not read)")
    ]


def test_a_leading_bom_and_crlf_line_ends_are_read(service: StationService, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        b"\xef\xbb\xbf" + HEADER.replace("\n", "\r\n").encode() + b"IMP-1,PUMP,,QR-1\r\n"
    )
    report = service.import_csv(path)
    assert report.written and report.rows == 1
    assert service.serial("QR-1").serial_no == "IMP-1"  # type: ignore[union-attr]


def test_a_file_changed_between_check_and_write_writes_nothing(
    service: StationService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanstation.service import ServiceError
    from scanstation.service.imports import Imports

    path = write_csv(tmp_path, "IMP-1,PUMP,,\nIMP-2,PUMP,,\n")
    real = Imports._write_import

    def edit_then_write(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        path.write_text(HEADER + "IMP-1,PUMP,,\nIMP-9,PUMP,,\n", encoding="utf-8")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Imports, "_write_import", edit_then_write)
    serials = service.info()["serials"]
    with pytest.raises(ServiceError, match="changed while it was imported"):
        service.import_csv(path)
    assert service.info()["serials"] == serials


def test_many_problems_are_listed_up_to_a_thousand(service: StationService, tmp_path: Path) -> None:
    found = problems(service, write_csv(tmp_path, "IMP,NOSUCH,,\n" * 1500))
    assert len(found) == 1001
    assert found[-1] == (1002, "500 more problems from here on are not listed")
