"""Who scans, where and how (StationSetup), and what the service raises when a request cannot
be carried out (ServiceError)."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field

from scanstation.domain.roles import Role
from scanstation.domain.stages import Mode

__all__ = ["ServiceError", "StationSetup", "login_name"]


class ServiceError(Exception):
    """A request the service cannot carry out; the message says why (usage errors, exit 2).

    Never a database failure: retrying the same request cannot help, and a station must not
    keep it in its offline journal or retry it behind other scans."""


def login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "operator"


@dataclass(frozen=True, slots=True)
class StationSetup:
    """Who scans, where and how: fixed for one scan (the TUI may change it between scans)."""

    station_id: str
    site_code: str
    mode: Mode = Mode.LOOKUP
    operator: str = field(default_factory=login_name)
    document: str | None = None  # reference no of the open document
    reason: str | None = None
    # The signed-in operator's role (None: a database without users). Once the database has
    # users a scan without a role is refused: nothing is applied anonymously.
    role: Role | None = None
    # A supervisor who approved this scan on the spot (already authenticated by the face):
    # their name goes on the event with the operator's.
    approved_by: str | None = None
    approver_role: Role | None = None
