"""The least-privilege PostgreSQL role of a site's terminals (`scanstation db roles`).

Terminals scan, comment, sign people in and close documents; the admin keeps the owner role
for the schema, sites, items, generation runs, imports and users. So the station role may
read everything, append events, move serials, fill and close documents and count wrong PINs
— and nothing else: no DELETE anywhere, no UPDATE of an event (the append-only triggers
refuse even the owner's), no DDL (it owns nothing and may not create in the schema).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["ROLE_NAME", "station_role_sql", "valid_role_name"]

ROLE_NAME: Final = "scanstation_station"
_ROLE: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# The columns a terminal's writes change, table by table (store/serials.py,
# store/scan_function.py, store/documents.py, store/users.py, store/tally.py).
_UPDATES: Final[tuple[tuple[str, str], ...]] = (
    ("serial", "stage, site_id, document_id, updated_at, updated_by, version"),
    ("document_line", "scanned"),
    ("document", "state, closed_at, closed_by, closed_reason, version"),
    ("user_account", "failed_pins, locked_until"),
    ("tally", "n"),  # the counts kept as rows are written (store/tally.py)
)


def valid_role_name(name: str) -> bool:
    """A plain lower-case identifier (nothing to quote, nothing to inject)."""
    return _ROLE.fullmatch(name) is not None


def station_role_sql(role: str, database: str) -> tuple[str, ...]:
    """The statements that create (if missing) and limit the station role, idempotent: run
    them again after an upgrade. `role` must pass `valid_role_name`."""
    if not valid_role_name(role):
        raise ValueError(f"{role!r} is not a plain lower-case role name")
    quoted_db = '"' + database.replace('"', '""') + '"'
    return (
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
        f"THEN CREATE ROLE {role} NOLOGIN; END IF; END $$",
        # Start from nothing, so running it again also takes back what an older version gave.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {quoted_db} TO {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT INSERT ON event TO {role}",
        f"GRANT INSERT ON tally TO {role}",
        f"GRANT USAGE ON SEQUENCE event_id_seq TO {role}",
        *(f"GRANT UPDATE ({columns}) ON {table} TO {role}" for table, columns in _UPDATES),
    )
