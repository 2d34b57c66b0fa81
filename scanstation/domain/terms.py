"""The domain's words: stages, scan modes, kinds of site and document, and how a stage is
labelled at every width. `stages` re-exports them all; they live here so the wording and the
rules can both use them without importing each other. Pure Python.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = [
    "STAGE_ABBREVIATIONS",
    "DocumentKind",
    "Mode",
    "SiteKind",
    "Stage",
    "stage_label",
    "transition_label",
]


class Stage(StrEnum):
    # The values are the stage names a worker knows, and what the database stores.
    NOT_REGISTERED = "Not Registered at Plant"
    REGISTERED = "Registered at Plant"
    NOT_VALIDATED = "Not Validated at Plant"
    VALIDATED = "Validated at Plant"
    DISPATCHED_FROM_PLANT = "Dispatch from Plant"
    RECEIVED_AT_GODOWN = "Received at Godown"
    DISPATCHED_FROM_GODOWN = "Dispatch from Godown"
    SCRAPPED = "Scrapped"


# Short forms for narrow timelines ("VP→DFP").
STAGE_ABBREVIATIONS: Final[dict[Stage, str]] = {
    Stage.NOT_REGISTERED: "NRP",
    Stage.REGISTERED: "RP",
    Stage.NOT_VALIDATED: "NVP",
    Stage.VALIDATED: "VP",
    Stage.DISPATCHED_FROM_PLANT: "DFP",
    Stage.RECEIVED_AT_GODOWN: "RAG",
    Stage.DISPATCHED_FROM_GODOWN: "DFG",
    Stage.SCRAPPED: "SCR",
}

NEW: Final = "new"  # the "stage" before a serial's first event (a generation run or an import)


def stage_label(stage: Stage | None, width: int | None = None) -> str:
    """The stage's full name, or its abbreviation when the name is wider than `width`."""
    if stage is None:
        return NEW
    if width is None or len(stage.value) <= width:
        return stage.value
    return STAGE_ABBREVIATIONS[stage]


def transition_label(before: Stage | None, after: Stage | None, width: int | None = None) -> str:
    """A timeline's "Dispatch from Plant → Received at Godown", or "DFP→RAG" where the full
    names do not fit in `width` (None: always full)."""
    full = f"{stage_label(before)} → {stage_label(after)}"
    if width is None or len(full) <= width:
        return full
    short = (STAGE_ABBREVIATIONS[s] if s is not None else NEW for s in (before, after))
    return "→".join(short)


class Mode(StrEnum):
    LOOKUP = "lookup"
    REGISTER = "register"
    VALIDATE = "validate"
    REJECT = "reject"
    DISPATCH = "dispatch"
    RECEIVE = "receive"
    SCRAP = "scrap"


class SiteKind(StrEnum):
    PLANT = "plant"
    GODOWN = "godown"


class DocumentKind(StrEnum):
    DC = "dc"
    INVOICE = "invoice"
