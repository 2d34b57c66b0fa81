"""Words a dock worker understands: how the rules' sentences name sites, stages, modes and the
next thing to do. Every sentence `decide()` and the correction rules produce is built from
these pieces, so a face never has to reword one.

The sentences are face-neutral: where an answer depends on a key, it names the key at the
station and the option on the command line together. Names and codes in them come from
people and files: the faces show every sentence through `text.visible`. Pure Python.
"""

from __future__ import annotations

from typing import Final

from scanstation.domain.terms import DocumentKind, Mode, Stage

__all__ = [
    "CITE_HOW",
    "MODE_GERUNDS",
    "MODE_VERBS",
    "OVERRIDE_HOW",
    "REASON_HOW",
    "STEP_PAIRS",
    "already_words",
    "article",
    "join_words",
    "mode_there",
    "site_label",
    "stage_state",
    "step_words",
]

# The keys and options that do what a sentence asks, at the station and on the command line.
OVERRIDE_HOW: Final = (
    "an override with a reason (ctrl+o at the station, --reason on the command line)"
)
REASON_HOW: Final = "(F2 at the station asks for one, --reason on the command line)"
CITE_HOW: Final = "(F3 at the station, --doc on the command line)"

MODE_VERBS: Final[dict[Mode, str]] = {
    Mode.LOOKUP: "looked up",
    Mode.REGISTER: "registered",
    Mode.VALIDATE: "validated",
    Mode.REJECT: "marked not validated",
    Mode.DISPATCH: "dispatched",
    Mode.RECEIVE: "received",
    Mode.SCRAP: "scrapped",
}

MODE_GERUNDS: Final[dict[Mode, str]] = {
    Mode.LOOKUP: "looking up",
    Mode.REGISTER: "registering",
    Mode.VALIDATE: "validating",
    Mode.REJECT: "marking it not validated",
    Mode.DISPATCH: "dispatching",
    Mode.RECEIVE: "receiving",
    Mode.SCRAP: "scrapping",
}

_MODE_THERE: Final[dict[Mode, str]] = {
    Mode.LOOKUP: "look it up there",
    Mode.REGISTER: "register it there",
    Mode.VALIDATE: "validate it there",
    Mode.REJECT: "mark it not validated there",
    Mode.DISPATCH: "dispatch it from there",
    Mode.RECEIVE: "receive it there",
    Mode.SCRAP: "scrap it there",
}

# What the record says of a unit in each stage: with the site it is on record at (for a
# dispatched unit, where it left from), and without, when that is unknown.
_STAGE_STATES: Final[dict[Stage, tuple[str, str]]] = {
    Stage.NOT_REGISTERED: ("is not registered yet", "is not registered yet"),
    Stage.REGISTERED: ("is registered at {site}", "is registered at its plant"),
    Stage.NOT_VALIDATED: ("is marked not validated at {site}", "is marked not validated"),
    Stage.VALIDATED: ("is validated at {site}", "is validated"),
    Stage.DISPATCHED_FROM_PLANT: ("was dispatched from {site}", "was dispatched from the plant"),
    Stage.RECEIVED_AT_GODOWN: ("was received at {site}", "was received at a godown"),
    Stage.DISPATCHED_FROM_GODOWN: ("was dispatched from {site}", "was dispatched from a godown"),
    Stage.SCRAPPED: ("was scrapped at {site}", "was scrapped"),
}

# A serial found in the mode's target stage, here: "SN… was received here already".
# "{on}" is " on REF-1" when the document it left on is known.
_ALREADY_WORDS: Final[dict[Stage, str]] = {
    Stage.NOT_REGISTERED: "is not registered yet",
    Stage.REGISTERED: "was registered here already",
    Stage.NOT_VALIDATED: "is marked not validated already",
    Stage.VALIDATED: "was validated already",
    Stage.DISPATCHED_FROM_PLANT: "was dispatched{on} already",
    Stage.RECEIVED_AT_GODOWN: "was received here already",
    Stage.DISPATCHED_FROM_GODOWN: "was dispatched{on} already",
    Stage.SCRAPPED: "was scrapped already",
}

# The steps of the ordinary flow, to tell a worker what comes first: (do it, done).
_STEPS: Final[dict[tuple[Stage, Stage], tuple[str, str]]] = {
    (Stage.NOT_REGISTERED, Stage.REGISTERED): ("register it at its plant", "registered"),
    (Stage.REGISTERED, Stage.VALIDATED): ("validate it", "validated"),
    (Stage.NOT_VALIDATED, Stage.VALIDATED): ("validate it after rework", "validated"),
    (Stage.VALIDATED, Stage.DISPATCHED_FROM_PLANT): (
        "dispatch it on a DC",
        "dispatched on a DC",
    ),
    (Stage.DISPATCHED_FROM_PLANT, Stage.RECEIVED_AT_GODOWN): (
        "receive it at a godown",
        "received at a godown",
    ),
    (Stage.RECEIVED_AT_GODOWN, Stage.DISPATCHED_FROM_GODOWN): (
        "dispatch it on an invoice",
        "dispatched on an invoice",
    ),
    (Stage.DISPATCHED_FROM_GODOWN, Stage.RECEIVED_AT_GODOWN): (
        "receive it back at a godown",
        "received back at a godown",
    ),
}
STEP_PAIRS: Final = frozenset(_STEPS)


def site_label(code: str, name: str | None = None) -> str:
    """ "Nagpur Godown (G2)"; just the code when the name is unknown or the code itself."""
    name = (name or "").strip()
    if not name or name == code:
        return code
    return f"{name} ({code})"


def article(kind: DocumentKind) -> str:
    return "a DC" if kind is DocumentKind.DC else "an invoice"


def join_words(words: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def stage_state(stage: Stage, site: str | None) -> str:
    """What the record says: "was received at Nagpur Godown (G2)", "is not registered yet"."""
    known, unknown = _STAGE_STATES[stage]
    return known.format(site=site) if site else unknown


def already_words(stage: Stage, document: str | None = None) -> str:
    return _ALREADY_WORDS[stage].format(on=f" on {document}" if document else "")


def step_words(step: tuple[Stage, Stage]) -> tuple[str, str]:
    """(imperative, participle) of one ordinary step: ("validate it", "validated")."""
    return _STEPS[step]


def mode_there(mode: Mode) -> str:
    """ "dispatch it from there": the mode done where the unit is on record."""
    return _MODE_THERE[mode]
