"""The supervisor's Find paging and `report stages` on a million serials.

    python benchmarks/find.py [--serials 1000000] [--db PATH] [--runs 20] [--page 34]

Builds a SQLite database of `--serials` serials in six SKUs through the service (a generation
run each), then spreads them over the stages and sites a working database has (one UPDATE per
stage, on the raw side: a benchmark's shortcut, not a path the station takes), or reuses
`--db`. Then, through the Station door the Find screen uses:

- Find: for each search (none, a SKU, a stage at a site, the start of a serial number, a
  document), the first page and `--runs` further pages, each page `--page` rows (a 160×48
  table) read by keyset after the last serial shown; median and p95 of each.
- `report stages` over everything: median and p95 of `--runs` runs.

Targets (issue 12): first page ≤ 150 ms and further pages ≤ 100 ms at p95; `report stages`
≤ 1 s. The load average is printed beside the figures: other work on the machine slows them.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from scanstation.config import Settings
from scanstation.domain.reports import ReportFilter, SerialSearch
from scanstation.domain.stages import DocumentKind, SiteKind, Stage
from scanstation.station import Station, open_station

SKUS = ("PUMP-1HP", "PUMP-2HP", "MOTOR-3HP", "FAN-1200", "STAB-4KVA", "GEYSER-15L")
# (stage, site, share of the serials): roughly a working plant and two godowns.
SPREAD = (
    (Stage.REGISTERED, "P1", 0.10),
    (Stage.VALIDATED, "P1", 0.25),
    (Stage.NOT_VALIDATED, "P1", 0.02),
    (Stage.DISPATCHED_FROM_PLANT, "P1", 0.05),
    (Stage.RECEIVED_AT_GODOWN, "G1", 0.20),
    (Stage.RECEIVED_AT_GODOWN, "G2", 0.15),
    (Stage.DISPATCHED_FROM_GODOWN, "G1", 0.10),
    (Stage.SCRAPPED, "P1", 0.01),
)  # the rest stay Not Registered at Plant


def build(path: Path, serials: int) -> float:
    started = time.perf_counter()
    with open_station(Settings(), database_url=str(path), journal=False, create=True) as door:
        door.add_site("P1", "Pune Plant", SiteKind.PLANT)
        door.add_site("G1", "Mumbai Godown", SiteKind.GODOWN)
        door.add_site("G2", "Nagpur Godown", SiteKind.GODOWN)
        for sku in SKUS:
            door.add_item(sku, sku.title())
        with door.bulk_load():
            for sku in SKUS:
                door.generate(sku, serials // len(SKUS), "P1", prefix="SN", by="bench")
        door.add_document(
            kind=DocumentKind.DC, reference_no="DC-1", from_site="P1", to="G1",
            lines=[(SKUS[0], 1000)], by="bench",
        )  # fmt: skip
    raw = sqlite3.connect(path)
    total = raw.execute("SELECT max(id) FROM serial").fetchone()[0]
    start = 0
    for stage, site, share in SPREAD:
        end = start + int(total * share)
        raw.execute(
            "UPDATE serial SET stage = ?, site_id = (SELECT id FROM site WHERE code = ?) "
            "WHERE id % 1000 >= ? AND id % 1000 < ?",
            (stage.value, site, start * 1000 // total, end * 1000 // total),
        )
        start = end
    # A document's 200 units, each with the dispatch event a scan writes.
    raw.execute(
        "UPDATE serial SET document_id = (SELECT id FROM document) WHERE id IN "
        "(SELECT id FROM serial WHERE stage = ? ORDER BY id DESC LIMIT 200)",
        (Stage.DISPATCHED_FROM_PLANT.value,),
    )
    raw.execute(
        "INSERT INTO event (kind, serial_id, mode, to_stage, station, site, operator, at, "
        "recorded_at, document_id, outcome) SELECT 'scan', id, 'dispatch', stage, 'bench', "
        "'P1', 'bench', updated_at, updated_at, document_id, 'ok' FROM serial "
        "WHERE document_id IS NOT NULL"
    )
    raw.commit()
    raw.execute("ANALYZE")
    raw.close()
    return time.perf_counter() - started


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def bench_find(door: Station, name: str, search: SerialSearch, runs: int, page: int) -> bool:
    firsts, further = [], []
    for _ in range(max(3, runs // 4)):
        firsts.append(timed(lambda: door.find_serials(search, limit=page)))
    last: str | int | None = None
    for _ in range(runs):
        started = time.perf_counter()
        found = door.find_serials(search, after=last, limit=page)
        further.append((time.perf_counter() - started) * 1000)
        if len(found) < page:
            break
        last = found[-1][0]
    ok = p95(firsts) <= 150 and p95(further) <= 100
    print(
        f"  {name:<28} first {statistics.median(firsts):7.1f} ms (p95 {p95(firsts):7.1f})   "
        f"next {statistics.median(further):7.1f} ms (p95 {p95(further):7.1f}, "
        f"{len(further)} pages)   {'ok' if ok else 'OVER TARGET'}"
    )
    return ok


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serials", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="Reuse (or build here) a database.")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--page", type=int, default=34, help="Rows a page (a 160×48 table).")
    args = parser.parse_args(argv)
    workdir = tempfile.TemporaryDirectory(prefix="scanstation-find-")
    path = args.db or Path(workdir.name) / "find.db"
    if not path.exists():
        print(f"Building {args.serials:,} serials in {path} …", flush=True)
        print(f"  built in {build(path, args.serials):.1f} s", flush=True)
    print(f"load average before: {load_average()}")
    ok = True
    with open_station(Settings(), database_url=str(path), journal=False) as door:
        print(f"{door.info()['serials']:,} serials; Find, {args.page} rows a page:")
        searches = {
            "everything": SerialSearch(),
            "a SKU": SerialSearch(sku="FAN-1200"),
            "a stage at a site": SerialSearch(stage=Stage.RECEIVED_AT_GODOWN.value, site="G2"),
            "a rare stage": SerialSearch(stage=Stage.SCRAPPED.value),
            "start of a serial no": SerialSearch(text="SN00005"),
            "a document": SerialSearch(document="DC-1"),
        }
        for name, search in searches.items():
            ok = bench_find(door, name, search, args.runs, args.page) and ok
        stages = [timed(lambda: door.stage_report(ReportFilter())) for _ in range(args.runs)]
        fast = p95(stages) <= 1000
        ok = ok and fast
        print(
            f"report stages: median {statistics.median(stages):.0f} ms, p95 {p95(stages):.0f} ms "
            f"({args.runs} runs)   {'ok' if fast else 'OVER TARGET'}"
        )
    print(f"load average after: {load_average()}")
    workdir.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
