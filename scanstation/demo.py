"""The demo database: the sites, items and documents in assets/demo/*.csv, and about two
thousand serials whose histories were made by real scans through the Station door — the same
path a dock worker's scan takes — timed over the last five weeks. `scanstation demo` then gives
it people (DEMO_PEOPLE, with random PINs it prints once), so its station opens on sign-in;
`build_demo` alone leaves an open station (no users), as the tests' copies of it are."""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from scanstation.domain.model import ScanEvent, UserView, utc_now
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.roles import Role
from scanstation.domain.stages import DocumentKind, Mode, SiteKind, Stage
from scanstation.station import ServiceError, Station, StationSetup

DEMO_DIR = Path(__file__).resolve().parent.parent / "assets" / "demo"
SERIALS_PER_ITEM = 335
OPEN_DOCUMENT_FILL = {"REF-1042": 0.5, "REF-88": 0.35}
REJECT_REASONS = ("Casing dent", "Noise above limit", "Label misprint", "Leak at seal")
SCRAP_REASONS = ("Damaged in handling", "Failed rework", "Water damage in storage")
# The history's own names: sup-01 scrapped at the plant, op-23 receives at G1's gate, op-17
# dispatches. The first is the admin the bootstrap needs.
DEMO_PEOPLE: list[tuple[str, Role, str | None]] = [
    ("admin", Role.ADMIN, None),
    ("sup-01", Role.SUPERVISOR, "BADGE-SUP-01"),
    ("op-23", Role.OPERATOR, "BADGE-OP-23"),
    ("op-17", Role.OPERATOR, "BADGE-OP-17"),
]
COMMENTS = ("Customer asked for early delivery", "Checked by QC supervisor", "Repacked at gate")


def _rows(name: str) -> Iterator[dict[str, str]]:
    with (DEMO_DIR / name).open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


class _Clock:
    """Walks forward from five weeks ago, a few minutes a scan."""

    def __init__(self, rng: random.Random) -> None:
        self.now = utc_now() - timedelta(days=35)
        self.rng = rng

    def tick(self, minutes: float = 2.0) -> None:
        self.now += timedelta(minutes=minutes * (0.5 + self.rng.random()))


def build_demo(service: Station) -> str:
    rng = random.Random(20261129)
    clock = _Clock(rng)
    plant = ""
    for row in _rows("sites.csv"):
        service.add_site(row["code"], row["name"], SiteKind(row["kind"]))
        plant = plant or (row["code"] if row["kind"] == "plant" else "")
    skus = []
    for row in _rows("items.csv"):
        service.add_item(row["sku"], row["name"], row["gtin"] or None, row["model_no"] or None)
        skus.append(row["sku"])

    with service.bulk_load():
        pools: dict[str, list[str]] = {}
        for sku in skus:
            clock.tick(60)
            _gen, serials = service.generate(
                sku, SERIALS_PER_ITEM, plant, by="planner", at=clock.now
            )
            pools[sku] = serials

        def scan(serial: str, station: StationSetup) -> None:
            clock.tick()
            outcome = service.scan(ScanEvent(serial, source="demo", read_at=clock.now), station)
            if outcome.kind is not OutcomeKind.OK:
                raise ServiceError(f"demo scan of {serial} failed: {outcome.message}")

        reg = StationSetup("PLANT-REG-1", plant, Mode.REGISTER, "op-04")
        qc = StationSetup("PLANT-QC-1", plant, Mode.VALIDATE, "qc-02")
        validated: dict[str, list[str]] = {}
        for sku in skus:
            serials = pools[sku]
            for serial in serials[20:]:
                scan(serial, reg)
            rejected = serials[20:45]  # serials[45:65] stay Registered, awaiting QC
            for serial in rejected:
                scan(
                    serial,
                    StationSetup(
                        "PLANT-QC-1", plant, Mode.REJECT, "qc-02", reason=rng.choice(REJECT_REASONS)
                    ),
                )
            for serial in serials[65:] + rejected[:10]:
                scan(serial, qc)
            good = serials[65:] + rejected[:10]
            for serial in good[:5]:
                scan(
                    serial,
                    StationSetup(
                        "PLANT-QC-1", plant, Mode.SCRAP, "sup-01", reason=rng.choice(SCRAP_REASONS)
                    ),
                )
            validated[sku] = good[5:]

        at_site: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for row in _rows("documents.csv"):
            lines = [
                (sku, int(qty))
                for sku, _, qty in (part.partition("=") for part in row["lines"].split(";"))
            ]
            document = service.add_document(
                kind=DocumentKind(row["kind"]),
                reference_no=row["reference_no"],
                from_site=row["from"],
                to=row["to"],
                lines=lines,
                dc_no=row["dc_no"] or None,
                invoice_no=row["invoice_no"] or None,
                by="clerk-1",
            )
            fill = (
                1.0
                if row["state"] == "closed"
                else OPEN_DOCUMENT_FILL.get(document.reference_no, 0.0)
            )
            source = row["from"]
            dispatcher = StationSetup(
                f"{source}-DOCK-1", source, Mode.DISPATCH, "op-17", document=document.reference_no
            )
            sent: list[str] = []
            for sku, quantity in lines:
                stock = validated[sku] if source == plant else at_site[source][sku]
                for _ in range(round(quantity * fill)):
                    serial = stock.pop(0)
                    scan(serial, dispatcher)
                    sent.append(serial)
            if row["state"] == "closed":
                service.close_document(document.reference_no, by="clerk-1")
            destination = service.site(row["to"])
            # An open document is still being loaded at the dock: nothing of it has arrived.
            if destination is None or not sent or row["state"] != "closed":
                continue
            receiver = StationSetup(
                f"{destination.code}-GATE-1", destination.code, Mode.RECEIVE, "op-23"
            )
            in_transit = 2 if document.kind is DocumentKind.DC else 0
            for serial in sent[: len(sent) - in_transit]:
                scan(serial, receiver)
                sku = service.serial(serial).sku  # type: ignore[union-attr]
                at_site[destination.code][sku].append(serial)
        # A customer return, cited against its original invoice.
        returns = [s for s in service.export(Stage.DISPATCHED_FROM_GODOWN)][:2]
        for view in returns:
            if view.document:
                scan(
                    view.serial_no,
                    StationSetup("G1-GATE-1", "G1", Mode.RECEIVE, "op-23", document=view.document),
                )
        station = StationSetup("G1-GATE-1", "G1", Mode.LOOKUP, "sup-01")
        for index, view in enumerate(service.export(Stage.RECEIVED_AT_GODOWN)):
            if index % 97 == 0:
                service.comment(view.serial_no, COMMENTS[index % len(COMMENTS)], station)

    counts = service.info()["serials_by_stage"]
    assert isinstance(counts, dict)
    lines = [f"  {stage:<24} {n}" for stage, n in counts.items()]
    return (
        "Demo data: sites P1 (plant), G1, G2 (godowns); items "
        + ", ".join(skus)
        + "\n"
        + ("\n".join(lines))
    )


def people_lines(given: list[tuple[UserView, str]]) -> list[str]:
    """One line a person: name, role, PIN, badge (the only place a PIN is ever shown)."""
    return [
        f"  {user.name:<8} {user.role.value:<11} PIN {pin}"
        + (f"   badge {user.badge}" if user.badge else "")
        for user, pin in given
    ]
