"""Ctrl+F: find serials by serial number (its start), secondary QR, SKU, stage, site, document
and the date range of their last change; Enter opens the serial in the portlets. By the start
of a serial number they are listed in serial-number order, otherwise in the order they were
made.

The box takes words: `sku:PUMP-1HP stage:RAG site:G1 doc:DC-1042 from:2026-11-01
to:2026-11-30` and, without a name, the start of a serial number or a whole secondary QR.
"""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from scanstation.domain.reports import SerialSearch
from scanstation.domain.stages import STAGE_ABBREVIATIONS, Stage, stage_label
from scanstation.domain.text import visible
from scanstation.tui.screens.paged import Page, PagedScreen

if TYPE_CHECKING:
    from scanstation.station import Station

__all__ = ["FindScreen", "parse_search"]

_NAMES = {"sku": "sku", "stage": "stage", "site": "site", "doc": "document", "document": "document"}


def _stage(text: str) -> str:
    wanted = text.strip().lower()
    for stage in Stage:
        if wanted in (stage.value.lower(), STAGE_ABBREVIATIONS[stage].lower()):
            return stage.value
    raise ValueError(
        f"Unknown stage {visible(text)!r}: use a name or "
        + ", ".join(STAGE_ABBREVIATIONS[stage] for stage in Stage)
    )


def _when(text: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name}:{visible(text)} is not a date (2026-11-30)") from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def parse_search(text: str) -> SerialSearch:
    """The box's words as a search; ValueError with a sentence for what cannot be one."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise ValueError(f"Cannot read the search: {error}") from None
    fields: dict[str, Any] = {}
    free: list[str] = []
    for word in words:
        name, sep, value = word.partition(":")
        key = name.lower()
        if not sep or not (key in _NAMES or key in ("from", "to")):
            free.append(word)
        elif key == "stage":
            fields["stage"] = _stage(value)
        elif key == "from":
            fields["since"] = _when(value, "from")
        elif key == "to":
            fields["until"] = _when(value, "to")
        else:
            fields[_NAMES[key]] = value
    if len(free) > 1:
        raise ValueError("One serial or QR code at a time (the rest as name:value)")
    return SerialSearch(text=free[0] if free else None, **fields)


class FindScreen(PagedScreen[str | int]):
    TITLE_TEXT = "Find serials"
    HINT = "serial or QR · sku:SKU stage:RAG site:G1 doc:DC-1042 from:2026-11-01 to:2026-11-30"
    PLACEHOLDER = "SN00000001 sku:PUMP-1HP stage:RAG"
    GROUP = "find"

    DEFAULT_CSS: ClassVar[str] = """
    FindScreen > #paged-box { border: thick $accent; }
    """

    _wide = False

    def prepare(self) -> None:
        self._wide = self.app.size.width >= 120  # read here: `fetch` runs on a reader thread

    def columns(self) -> list[tuple[str, int | None]]:
        wide = self.app.size.width >= 120
        return [
            ("Serial", 14),
            ("SKU", 12),
            ("Stage", 22 if wide else 5),
            ("Site", 5),
            ("Document", 10),
            ("Changed", 16),
        ]

    def criteria(self, text: str) -> SerialSearch:
        return parse_search(text)

    def take_scan(self, payload: str) -> bool:
        """A label scanned while Find is open is looked up here, as the supervisor expects
        of a search box, and recorded nowhere: the hint says so."""
        shown = visible(payload)
        self.search_for(SerialSearch(text=payload), shown)
        self.hint.update(
            f"Scanned {shown}: looked up here, not recorded — Esc closes Find, then scan"
        )
        return True

    def fetch(
        self, door: Station, criteria: Any, after: str | int | None, limit: int
    ) -> Page[str | int]:
        found = door.find_serials(criteria, after=after, limit=limit)
        serials = [view for _, view in found]
        wide = self._wide
        rows = [
            (
                view.serial_no,
                (
                    visible(view.serial_no),
                    visible(view.sku),
                    stage_label(view.stage, None if wide else 5),
                    visible(view.site or "-"),
                    visible(view.document or "-"),
                    view.updated_at.astimezone().strftime("%Y-%m-%d %H:%M"),
                ),
            )
            for view in serials
        ]
        last = found[-1][0] if found else None
        return Page(rows, last, len(found) == limit)
