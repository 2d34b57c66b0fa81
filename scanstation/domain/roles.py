"""Who may do what: the roles, the role-gated actions that are not scan transitions, and the
one check every face asks (`authorise`).

The scan transitions carry their own role (stages.TRANSITIONS); this table holds the rest —
overrides, corrections, document closing and reopening, journal acknowledgement and the admin
commands — so the service, the station and the CLI ask the same question and get the same
answer. A role includes the ones below it: admin ⊇ supervisor ⊇ operator.

An acting role of None means a database with no users (an "open station"): nothing is gated,
as before users existed, but the overrides reserved for a supervisor do not exist either,
since nobody could be one (`Permission.open_station`). Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "APPROVAL_HOW",
    "PERMISSIONS",
    "Action",
    "Authority",
    "Permission",
    "Role",
    "authorise",
    "authorise_role",
    "permission",
    "required_role",
    "role_refusal",
]


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def includes(self, other: Role) -> bool:
        """May someone with this role do what `other` may? (admin ⊇ supervisor ⊇ operator)"""
        return self.rank >= other.rank

    @property
    def with_article(self) -> str:
        """ "a supervisor", "an admin": for sentences."""
        return f"an {self.value}" if self is Role.ADMIN or self is Role.OPERATOR else f"a {self}"


_RANKS: Final[dict[Role, int]] = {Role.OPERATOR: 0, Role.SUPERVISOR: 1, Role.ADMIN: 2}


class Action(StrEnum):
    """A role-gated act that is not simply a scan transition's row."""

    SCRAP = "scrap"
    SCRAP_AWAY = "scrap away"  # scrap a unit on record at another site (an explicit override)
    RECEIVE_BY_OVERRIDE = "receive by override"
    RETURN_WITHOUT_DOCUMENT = "return without document"
    CLOSE_DOCUMENT_SHORT = "close document short"
    REOPEN_DOCUMENT = "reopen document"
    VOID_OWN_RECENT = "void own recent scan"  # the worker's own scan within the void window
    VOID_ANY = "void any scan"  # someone else's scan, or one older than the void window
    ACKNOWLEDGE_REFUSED = "acknowledge refused scans"  # refused offline-journal scans
    KIOSK_CONTROLS = "kiosk controls"  # quit, suspend, theme, screenshots on a kiosk
    ADD_SITE = "add site"
    ADD_ITEM = "add item"
    MAKE_SERIALS = "make serials"  # a generation run or an import
    OPEN_DOCUMENT = "open document"
    MANAGE_USERS = "manage users"
    MANAGE_TOKENS = "manage tokens"
    DATABASE_ROLES = "database roles"
    PRINT_LABEL = "print a label"  # one serial's label, on a printer (recorded)
    PRINT_LABELS = "print labels"  # a generation run's labels, or several serials', on a printer
    SUPERVISOR_SCREENS = "supervisor screens"  # the station's Find, Overview and Documents


@dataclass(frozen=True, slots=True)
class Permission:
    action: Action
    role: Role
    words: str  # the act as the subject of a sentence: "scrapping", "reopening a document"
    # Allowed where the database has no users. False for the overrides only a supervisor
    # could grant: with no users nobody can, so they stay refused.
    open_station: bool = True


PERMISSIONS: Final[tuple[Permission, ...]] = (
    Permission(Action.SCRAP, Role.SUPERVISOR, "scrapping"),
    Permission(
        Action.SCRAP_AWAY,
        Role.SUPERVISOR,
        "scrapping a unit that is on record at another site",
        open_station=False,
    ),
    Permission(Action.RECEIVE_BY_OVERRIDE, Role.SUPERVISOR, "receiving by override"),
    Permission(
        Action.RETURN_WITHOUT_DOCUMENT,
        Role.SUPERVISOR,
        "taking a return without its original document",
    ),
    Permission(Action.CLOSE_DOCUMENT_SHORT, Role.SUPERVISOR, "closing a document short"),
    Permission(Action.REOPEN_DOCUMENT, Role.SUPERVISOR, "reopening a document"),
    Permission(Action.VOID_OWN_RECENT, Role.OPERATOR, "voiding your own last scan"),
    Permission(
        Action.VOID_ANY,
        Role.SUPERVISOR,
        "voiding someone else's scan, or one older than the void window",
        open_station=False,
    ),
    Permission(Action.ACKNOWLEDGE_REFUSED, Role.SUPERVISOR, "acknowledging refused scans"),
    Permission(
        Action.KIOSK_CONTROLS,
        Role.SUPERVISOR,
        "leaving or changing a kiosk station",
        open_station=False,
    ),
    Permission(Action.ADD_SITE, Role.ADMIN, "adding a site"),
    Permission(Action.ADD_ITEM, Role.SUPERVISOR, "adding an item"),
    Permission(Action.MAKE_SERIALS, Role.SUPERVISOR, "generating or importing serials"),
    Permission(Action.OPEN_DOCUMENT, Role.OPERATOR, "opening a document"),
    Permission(Action.MANAGE_USERS, Role.ADMIN, "managing users"),
    Permission(Action.MANAGE_TOKENS, Role.ADMIN, "creating or revoking tokens"),
    Permission(Action.DATABASE_ROLES, Role.ADMIN, "setting up database roles"),
    Permission(Action.PRINT_LABEL, Role.OPERATOR, "printing a serial's label"),
    # Many genuine labels (each a signed QR code) at once: a supervisor's job.
    Permission(
        Action.PRINT_LABELS,
        Role.SUPERVISOR,
        "printing the labels of a generation run or of several serials",
    ),
    # What every serial, document and person's scans look like: a supervisor's view.
    Permission(
        Action.SUPERVISOR_SCREENS,
        Role.SUPERVISOR,
        "opening the supervisor's screens (Find, Overview, Documents)",
    ),
)

_BY_ACTION: Final[dict[Action, Permission]] = {row.action: row for row in PERMISSIONS}

# How a refused worker gets an approval, in words every face can show.
APPROVAL_HOW: Final = "ask one to approve with their badge and PIN"


def permission(action: Action) -> Permission:
    return _BY_ACTION[action]


def required_role(action: Action) -> Role:
    """The least role that may do `action` (on its own, or by approving it on the spot)."""
    return _BY_ACTION[action].role


def role_refusal(words: str, role: Role) -> str:
    """ "scrapping needs a supervisor — ask one to approve with their badge and PIN"."""
    return f"{words} needs {role.with_article} — {APPROVAL_HOW}"


@dataclass(frozen=True, slots=True)
class Authority:
    """The answer to "may this person do this, here and now?"."""

    allowed: bool
    role: Role  # the least role the act needs
    approved: bool = False  # allowed only thanks to the approving person's role
    needs_role: Role | None = None  # refused, and an approval with this role would allow it
    words: str = ""  # the act, as the subject of the refusal sentence

    @property
    def refusal(self) -> str:
        """Why not, in words (empty when allowed): the role it needs and what to do, or,
        where the database has no users, that nobody here can grant it."""
        if self.allowed:
            return ""
        if self.needs_role is None:
            return f"{self.words} needs {self.role.with_article}, and this database has no users"
        return role_refusal(self.words, self.needs_role)


def authorise(*actions: Action, actor: Role | None, approver: Role | None = None) -> Authority:
    """May someone with role `actor` (None: a database with no users) do all of `actions`,
    alone or with the approval of someone with role `approver`? The strictest action sets
    the role; the last one names the act in the refusal."""
    if not actions:
        raise ValueError("authorise() needs at least one action")
    rows = [_BY_ACTION[action] for action in actions]
    return authorise_role(
        max((row.role for row in rows), key=lambda role: role.rank),
        actor=actor,
        approver=approver,
        words=rows[-1].words,
        open_station=all(row.open_station for row in rows),
    )


def authorise_role(
    needed: Role,
    *,
    actor: Role | None,
    approver: Role | None = None,
    words: str = "",
    open_station: bool = True,
) -> Authority:
    """The check behind `authorise`, for a role given directly (a transition row's)."""
    if actor is None:
        # No users: as before users existed, but a supervisor's override cannot be had.
        return Authority(open_station, needed, words=words)
    if actor.includes(needed):
        return Authority(True, needed, words=words)
    if approver is not None and approver.includes(needed):
        return Authority(True, needed, approved=True, words=words)
    return Authority(False, needed, needs_role=needed, words=words)
