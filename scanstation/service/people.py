"""People: users, their PINs and badges, signing in, the lockout after wrong PINs, and the API
tokens of scripts (a part of StationService).

Who is asking is passed in as a `UserView` the face has already authenticated (`by`); the
service checks that person's role against the permission table (domain.roles). Until some
user has a PIN the database is an open station: managing users needs no credentials, and the
first user must be an admin (the bootstrap). No PIN or token is ever put in a sentence.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from scanstation.credentials import (
    hash_pin,
    looks_like_token,
    new_pin,
    new_token,
    pin_problem,
    token_digest,
    verify_pin,
)
from scanstation.domain import limits
from scanstation.domain.model import UserView, utc_now
from scanstation.domain.roles import Action, Role, permission
from scanstation.domain.text import has_invisible, visible
from scanstation.service.admin import _refusals
from scanstation.service.setup import ServiceError
from scanstation.store.users import StoredToken, StoredUser

if TYPE_CHECKING:
    from scanstation.service.station import StationService

__all__ = ["WRONG_PINS_BEFORE_LOCKOUT", "AuthError", "DemoPerson", "People", "TokenInfo"]

WRONG_PINS_BEFORE_LOCKOUT: Final = 5
DEMO_PEOPLE_KEY: Final = "demo_people"  # meta: the names of the people `demo` made, one a line
USERS_CHECK_S: Final = 2.0  # an open station notices its first user's PIN within this
MAX_TOKEN_DAYS: Final = 3650

TokenInfo = StoredToken  # what `tokens()` lists: id, user, created, expires, revoked
DemoPerson = tuple[UserView, str]  # a demo user and their new PIN, to be shown once


class AuthError(ServiceError):
    """Credentials refused, or a person without the role an act needs. The sentence names the
    user and what to do, never the PIN or token."""


def _who(by: UserView | None) -> str:
    """Who an event of the people's changes names: the signed-in admin, or before the first
    PIN (when anyone may), the bootstrap."""
    return by.name if by is not None else "bootstrap"


def _period(seconds: float) -> str:
    seconds = max(1, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    return f"{round(seconds / 60)} min"


def _person_text(limit: limits.TextLimit, value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise ServiceError(f"the {what} is empty")
    if has_invisible(value):
        raise ServiceError(f"the {what} {visible(value)!r} has invisible characters")
    problem = limit.problem(value)
    if problem:
        raise ServiceError(problem)
    return value


class People:
    """Users, sign-in and tokens (a part of StationService)."""

    lockout_s: int
    _users_seen: bool = False
    _users_checked_at: float = -USERS_CHECK_S

    # -- who is there -------------------------------------------------------------------------

    def has_users(self: StationService) -> bool:
        """Does this database have people? True from the first PIN on: every face then asks
        who is there. False: an open station, as before users existed."""
        self._users_seen = self._users_seen or self.repo.has_pinned_users()
        return self._users_seen

    def users_present(self: StationService) -> bool:
        """`has_users()` for the scan path, asked of the database at most every
        USERS_CHECK_S while the station is open: once some user has a PIN it stays so (users
        are never deleted, a PIN never removed), so True is kept for good."""
        if self._users_seen:
            return True
        now = time.monotonic()
        if now >= self._users_checked_at + USERS_CHECK_S:
            self._users_seen = self.repo.has_pinned_users()
            self._users_checked_at = now
        return self._users_seen

    def require_signed_in(self: StationService, role: Role | None) -> None:
        """Once the database has users, nothing is done anonymously (a role of None)."""
        if role is None and self.users_present():
            raise AuthError("this database has users: sign in first (nothing was recorded)")

    def users(self: StationService) -> list[UserView]:
        return self.repo.users()

    def user(self: StationService, name: str) -> UserView | None:
        found = self._find(name)
        return found.view if found else None

    def _find(self: StationService, name: str, *, badge: bool = False) -> StoredUser | None:
        key = name.strip()
        if not key or limits.USER_NAME.problem(key):
            return None
        return self.repo.find_user(key.casefold(), badge=key if badge else None)

    def _existing(self: StationService, name: str) -> StoredUser:
        found = self._find(name)
        if found is None:
            raise ServiceError(f"no user named {visible(name.strip())!r}")
        return found

    def require(self: StationService, action: Action, by: UserView | None) -> None:
        """May `by` do `action`? Nothing to check on an open station; AuthError otherwise,
        naming the role needed."""
        if not self.has_users():
            return
        row = permission(action)
        if by is None:
            raise AuthError(
                f"{row.words} needs {row.role.with_article}: this database has users, so sign "
                "in (--user NAME and a PIN, or SCANSTATION_TOKEN)"
            )
        if not by.role.includes(row.role):
            raise AuthError(
                f"{row.words} needs {row.role.with_article}; {visible(by.name)} is "
                f"{by.role.with_article}"
            )

    # -- managing users -----------------------------------------------------------------------

    def add_user(
        self: StationService,
        name: str,
        role: Role,
        badge: str | None = None,
        *,
        by: UserView | None = None,
    ) -> UserView:
        """A new user, without a PIN yet (`set_pin`). Before the first PIN anyone may add
        users, and the first must be an admin."""
        self.require(Action.MANAGE_USERS, by)
        name = _person_text(limits.USER_NAME, name, "user name")
        badge = _person_text(limits.BADGE, badge, "badge") if badge is not None else None
        open_station = not self.has_users()
        with _refusals():
            self.repo.add_user(
                name=name,
                name_key=name.casefold(),
                role=role,
                badge=badge,
                by=_who(by),
                at=utc_now(),
                first_must_be=Role.ADMIN if open_station else None,
            )
        return UserView(name, role, badge)

    def disable_user(self: StationService, name: str, *, by: UserView | None = None) -> UserView:
        """The user can no longer sign in; their tokens are revoked. Their events stay."""
        self.require(Action.MANAGE_USERS, by)
        found = self._existing(name)
        with _refusals():
            self.repo.set_user_disabled(found.id, True, utc_now(), by=_who(by))
        return self._existing(name).view

    def set_pin(
        self: StationService, name: str, pin: str, *, by: UserView | None = None
    ) -> UserView:
        """Set a user's PIN (hashed; the wrong-PIN count and any lockout start over). An
        admin sets anyone's; a user may change their own; before the first PIN, anyone."""
        found = self._existing(name)
        if by is None or by.name.casefold() != found.view.name.casefold():
            self.require(Action.MANAGE_USERS, by)
        problem = pin_problem(pin)
        if problem:
            raise ServiceError(problem)
        self.repo.set_user_pin(found.id, hash_pin(pin), by=_who(by), at=utc_now())
        self._users_seen = True
        return self._existing(name).view

    # -- the demo's people ---------------------------------------------------------------------

    def add_demo_people(
        self: StationService, people: list[tuple[str, Role, str | None]]
    ) -> list[DemoPerson]:
        """The demo's people (name, role, badge; the first an admin), each with a random PIN
        returned once to be shown and stored only hashed. Only on a database without users;
        they are marked as the demo's, so `new_demo_pins` can give them new PINs later."""
        if self.repo.user_count():
            raise ServiceError("the database already has users: the demo adds its own to none")
        for name, role, badge in people:
            self.add_user(name, role, badge)
        self.repo.set_meta_value(DEMO_PEOPLE_KEY, "\n".join(name for name, _, _ in people))
        return self._new_pins([name for name, _, _ in people])

    def demo_people(self: StationService) -> list[str]:
        """The names of the people `scanstation demo` made here ([] on any other database)."""
        value = self.repo.meta_value(DEMO_PEOPLE_KEY)
        return value.split("\n") if value else []

    def new_demo_pins(self: StationService) -> list[DemoPerson]:
        """New random PINs for the demo's people, since theirs were shown only once. Needs no
        credentials, so only a database whose every user the demo made: there the PINs were
        printed to whoever built it anyway. Once it has anyone else, an admin sets PINs."""
        names = self.demo_people()
        ask_an_admin = "an admin sets a PIN with `scanstation user pin NAME`"
        if not names:
            raise ServiceError(f"this database was not built by `scanstation demo`: {ask_an_admin}")
        others = sorted(u.name for u in self.users() if u.name not in names)
        if others:
            raise ServiceError(
                f"this demo database has other users too ({visible(', '.join(others))}): "
                f"{ask_an_admin}"
            )
        return self._new_pins(names)

    def _new_pins(self: StationService, names: list[str]) -> list[DemoPerson]:
        given = []
        for name in names:
            pin = new_pin()
            found = self._existing(name)
            self.repo.set_user_pin(found.id, hash_pin(pin), by="demo", at=utc_now())
            given.append((self._existing(name).view, pin))
        self._users_seen = True
        return given

    # -- signing in ---------------------------------------------------------------------------

    def authenticate(self: StationService, name_or_badge: str, pin: str) -> UserView:
        """The user with this name or badge, if `pin` is theirs; AuthError otherwise. Every
        wrong PIN is counted in the database: WRONG_PINS_BEFORE_LOCKOUT of them lock the user
        for `lockout_s` on every terminal. A locked user's PIN is not even checked."""
        found = self._find(name_or_badge, badge=True)
        if found is None:
            verify_pin(pin, None)  # the same work: the time taken does not tell names apart
            raise AuthError("no user has that name or badge")
        view = found.view
        who = visible(view.name)
        now = utc_now()
        if view.disabled:
            raise AuthError(f"{who} is disabled: ask an admin")
        if view.locked_until is not None and view.locked_until > now:
            wait = _period((view.locked_until - now).total_seconds())
            raise AuthError(
                f"{who} is locked after {WRONG_PINS_BEFORE_LOCKOUT} wrong PINs: try again in "
                f"{wait}, or ask an admin to set a new PIN"
            )
        if found.pin_hash is None:
            verify_pin(pin, None)
            raise AuthError(f"{who} has no PIN yet: an admin sets one with `scanstation user pin`")
        if not verify_pin(pin, found.pin_hash):
            failed, locked = self.repo.record_wrong_pin(
                found.id,
                limit=WRONG_PINS_BEFORE_LOCKOUT,
                lock_until=now + timedelta(seconds=self.lockout_s),
            )
            if locked is not None:
                raise AuthError(
                    f"wrong PIN: {who} is locked for {_period(self.lockout_s)} after "
                    f"{WRONG_PINS_BEFORE_LOCKOUT} wrong PINs"
                )
            left = WRONG_PINS_BEFORE_LOCKOUT - failed
            raise AuthError(f"wrong PIN for {who} ({left} more before a lockout)")
        if found.failed_pins or view.locked_until is not None:
            self.repo.record_right_pin(found.id)
        return UserView(view.name, view.role, view.badge, False, True)

    def authenticate_token(self: StationService, token: str) -> UserView:
        """The user a script's token belongs to; AuthError when it is unknown, revoked,
        expired or its user disabled."""
        token = token.strip()
        found = self.repo.token_owner(token_digest(token)) if looks_like_token(token) else None
        if found is None:
            raise AuthError("the token is not one this database issued")
        stored, owner = found
        if stored.revoked_at is not None:
            raise AuthError(f"the token (id {stored.id}) was revoked")
        if stored.expires_at is not None and stored.expires_at <= utc_now():
            raise AuthError(
                f"the token (id {stored.id}) expired on {stored.expires_at:%Y-%m-%d %H:%M} UTC"
            )
        if owner.view.disabled:
            raise AuthError(f"the token's user {visible(owner.view.name)} is disabled")
        return owner.view

    # -- the terminals' database role ----------------------------------------------------------

    def station_role_sql(
        self: StationService, role: str, *, by: UserView | None = None
    ) -> tuple[str, ...]:
        """The SQL of PostgreSQL's least-privilege station role (an admin's)."""
        self.require(Action.DATABASE_ROLES, by)
        with _refusals():
            return self.repo.station_role_sql(role)

    def apply_station_role(
        self: StationService, role: str, *, by: UserView | None = None
    ) -> tuple[str, ...]:
        """Create or update the station role now, as the connected (owner) user."""
        statements = self.station_role_sql(role, by=by)
        with _refusals():
            self.repo.run_statements(statements)
        return statements

    # -- tokens -------------------------------------------------------------------------------

    def create_token(
        self: StationService,
        name: str,
        *,
        by: UserView | None,
        expires_days: int | None = None,
    ) -> tuple[int, str, datetime | None]:
        """A new token for user `name`: (id, the token — shown once, kept only as its
        digest, expiry). Needs an admin; there is no token on an open station."""
        if not self.has_users():
            raise ServiceError("tokens need users: add an admin and give them a PIN first")
        self.require(Action.MANAGE_TOKENS, by)
        assert by is not None
        found = self._existing(name)
        if found.view.disabled:
            raise ServiceError(f"{visible(found.view.name)} is disabled")
        if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
            raise ServiceError(f"--expires is 1 to {MAX_TOKEN_DAYS} days")
        now = utc_now()
        expires = now + timedelta(days=expires_days) if expires_days else None
        token = new_token()
        token_id = self.repo.add_token(
            digest=token_digest(token), user_id=found.id, by=by.name, at=now, expires_at=expires
        )
        return token_id, token, expires

    def revoke_tokens(
        self: StationService, name: str, *, by: UserView | None, token_id: int | None = None
    ) -> int:
        """Revoke user `name`'s token `token_id`, or all their tokens: how many were live."""
        self.require(Action.MANAGE_TOKENS, by)
        found = self._existing(name)
        return self.repo.revoke_tokens(found.id, token_id, utc_now(), by=_who(by))

    def tokens(self: StationService, *, by: UserView | None) -> list[TokenInfo]:
        self.require(Action.MANAGE_TOKENS, by)
        return self.repo.tokens()
