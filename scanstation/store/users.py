"""People and tokens: the user accounts (name, role, badge, PIN hash, the count of wrong PINs
and the lockout, kept here so they hold on every terminal) and the API tokens of scripts,
kept as SHA-256 digests. Nothing here sees a PIN or a token in clear.

Users and tokens are rows that change; every change to who may do what (a user added or
disabled, a PIN set, a token created or revoked, a lockout) is also an event of kind `user`
in the same transaction, so the audit trail nobody can rewrite keeps it (`export --events`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from scanstation.domain.model import UserView, new_scan_id, utc_now
from scanstation.domain.roles import Role
from scanstation.store.codec import from_iso, iso
from scanstation.store.errors import StoreError

if TYPE_CHECKING:
    from scanstation.store.repository import Repository

__all__ = ["StoredToken", "StoredUser", "UserStore"]

_USER_COLUMNS: Final = (
    "id, name, role, badge, disabled, pin_hash, failed_pins, locked_until FROM user_account"
)


@dataclass(frozen=True, slots=True)
class StoredUser:
    """A user as the service checks them: the view, plus what only the check may read."""

    id: int
    view: UserView
    pin_hash: str | None
    failed_pins: int


@dataclass(frozen=True, slots=True)
class StoredToken:
    id: int
    user: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def _user(row: Sequence[Any]) -> StoredUser:
    locked = from_iso(row[7]) if row[7] else None
    view = UserView(row[1], Role(row[2]), row[3], bool(row[4]), row[5] is not None, locked)
    return StoredUser(int(row[0]), view, row[5], int(row[6]))


class UserStore:
    """Users and tokens (a part of Repository)."""

    def has_pinned_users(self: Repository) -> bool:
        """Has any user (disabled or not) ever been given a PIN? From then on the database
        has people, and every face asks who is there."""
        row = self._cursor("SELECT 1 FROM user_account WHERE pin_hash IS NOT NULL LIMIT 1")
        return row.fetchone() is not None

    def user_count(self: Repository) -> int:
        return int(self._cursor("SELECT count(*) FROM user_account").fetchone()[0])

    def meta_value(self: Repository, key: str) -> str | None:
        """A value of the database's own key-value table (the demo's people, say)."""
        row = self._cursor("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta_value(self: Repository, key: str, value: str) -> None:
        table = self.t.meta
        self.write(
            lambda: (
                table.insert(key=key, value=value)
                .on_conflict(conflict_target=[table.key], preserve=[table.value])
                .execute()
            )
        )

    def find_user(self: Repository, name_key: str, badge: str | None = None) -> StoredUser | None:
        """By case-folded name, or (when given) by badge."""
        if badge is None:
            row = self._cursor(f"SELECT {_USER_COLUMNS} WHERE name_key = ?", (name_key,))
        else:
            row = self._cursor(
                f"SELECT {_USER_COLUMNS} WHERE name_key = ? OR badge = ? "
                "ORDER BY CASE WHEN badge = ? THEN 0 ELSE 1 END LIMIT 1",
                (name_key, badge, badge),
            )
        found = row.fetchone()
        return _user(found) if found else None

    def users(self: Repository) -> list[UserView]:
        rows = self._cursor(f"SELECT {_USER_COLUMNS} ORDER BY name_key").fetchall()
        return [_user(row).view for row in rows]

    def add_user(
        self: Repository,
        *,
        name: str,
        name_key: str,
        role: Role,
        badge: str | None,
        by: str,
        at: datetime,
        first_must_be: Role | None = None,
    ) -> None:
        """Add a user; StoreError when the name or badge is taken. `first_must_be`: the role
        the first user of the database must have (checked under the write lock, so two
        terminals bootstrapping at once cannot both make the first user)."""
        table = self.t.user

        def work() -> None:
            first = first_must_be is not None and table.select().count() == 0
            if first and role is not first_must_be:
                raise StoreError(
                    f"the first user must be {first_must_be.with_article}, "
                    "who can then add the others"
                )
            if table.get_or_none(table.name_key == name_key) is not None:
                raise StoreError(f"a user named {name} already exists")
            if badge is not None and table.get_or_none(table.badge == badge) is not None:
                raise StoreError("that badge already belongs to another user")
            table.create(
                name=name,
                name_key=name_key,
                role=role.value,
                badge=badge,
                created_at=iso(at),
                created_by=by,
            )
            badged = " with a badge" if badge is not None else ""
            self._people_event(by, at, f"Added user {name} ({role.value}){badged}")

        self.write(work)

    def _people_event(self: Repository, by: str, at: datetime, note: str) -> None:
        """A change to who may do what, in the audit trail (never a PIN, token or badge)."""
        self.append_admin_event(
            request_id=new_scan_id(), kind="user", site=None, by=by, at=at, comment=note
        )

    def _user_name(self: Repository, user_id: int) -> str:
        return str(
            self._cursor("SELECT name FROM user_account WHERE id = ?", (user_id,)).fetchone()[0]
        )

    def set_user_disabled(
        self: Repository, user_id: int, disabled: bool, at: datetime, *, by: str
    ) -> None:
        """Disable (and revoke the tokens of) a user, or enable them again; the last admin
        who can sign in cannot be disabled (nobody could manage users after)."""
        table = self.t.user

        def work() -> None:
            if disabled and self._is_last_admin(user_id):
                raise StoreError("that is the last admin who can sign in; make another admin first")
            table.update(disabled=int(disabled)).where(table.id == user_id).execute()
            name = self._user_name(user_id)
            if disabled:
                revoked = self._revoke(user_id, None, at)
                tokens = f"; {revoked} token(s) revoked" if revoked else ""
                self._people_event(by, at, f"Disabled user {name}{tokens}")
            else:
                self._people_event(by, at, f"Enabled user {name}")

        self.write(work)

    def _is_last_admin(self: Repository, user_id: int) -> bool:
        table = self.t.user
        admins = table.select(table.id).where(
            (table.role == Role.ADMIN.value) & (table.disabled == 0) & table.pin_hash.is_null(False)
        )
        ids = {row.id for row in admins}
        return ids == {user_id}

    def set_user_pin(
        self: Repository, user_id: int, pin_hash: str, *, by: str, at: datetime
    ) -> None:
        """A new PIN: the count of wrong ones and any lockout start over."""
        table = self.t.user

        def work() -> None:
            table.update(pin_hash=pin_hash, failed_pins=0, locked_until=None).where(
                table.id == user_id
            ).execute()
            self._people_event(by, at, f"Set the PIN of {self._user_name(user_id)}")

        self.write(work)

    def record_wrong_pin(
        self: Repository, user_id: int, *, limit: int, lock_until: datetime
    ) -> tuple[int, datetime | None]:
        """Count one wrong PIN (atomically: terminals race); at `limit` the user is locked
        until `lock_until` and the count starts over. (wrong PINs now, locked until)."""

        def work() -> tuple[int, datetime | None]:
            self._cursor(
                "UPDATE user_account SET failed_pins = failed_pins + 1 WHERE id = ?", (user_id,)
            )
            failed = int(
                self._cursor(
                    "SELECT failed_pins FROM user_account WHERE id = ?", (user_id,)
                ).fetchone()[0]
            )
            if failed < limit:
                return failed, None
            self._cursor(
                "UPDATE user_account SET failed_pins = 0, locked_until = ? WHERE id = ?",
                (iso(lock_until), user_id),
            )
            # Whoever typed them is unknown: the event names the user who was locked.
            name = self._user_name(user_id)
            self._people_event(
                name, utc_now(), f"Locked {name} until {iso(lock_until)} after {limit} wrong PINs"
            )
            return failed, lock_until

        return self.write(work)

    def record_right_pin(self: Repository, user_id: int) -> None:
        self.write(
            lambda: self._cursor(
                "UPDATE user_account SET failed_pins = 0, locked_until = NULL "
                "WHERE id = ? AND (failed_pins <> 0 OR locked_until IS NOT NULL)",
                (user_id,),
            )
        )

    # -- tokens -------------------------------------------------------------------------------

    def add_token(
        self: Repository,
        *,
        digest: str,
        user_id: int,
        by: str,
        at: datetime,
        expires_at: datetime | None,
    ) -> int:
        table = self.t.token

        def work() -> int:
            token_id = int(
                table.insert(
                    digest=digest,
                    user=user_id,
                    created_at=iso(at),
                    created_by=by,
                    expires_at=iso(expires_at) if expires_at else None,
                ).execute()
            )
            until = f", expires {iso(expires_at)}" if expires_at else ", never expires"
            name = self._user_name(user_id)
            self._people_event(by, at, f"Created token {token_id} for {name}{until}")
            return token_id

        return self.write(work)

    def token_owner(self: Repository, digest: str) -> tuple[StoredToken, StoredUser] | None:
        row = self._cursor(
            "SELECT t.id, t.created_at, t.expires_at, t.revoked_at, t.user_id "
            "FROM user_token t WHERE t.digest = ?",
            (digest,),
        ).fetchone()
        if row is None:
            return None
        user = self._cursor(f"SELECT {_USER_COLUMNS} WHERE id = ?", (row[4],)).fetchone()
        owner = _user(user)
        return _token(row, owner.view.name), owner

    def tokens(self: Repository) -> list[StoredToken]:
        rows = self._cursor(
            "SELECT t.id, t.created_at, t.expires_at, t.revoked_at, u.name "
            "FROM user_token t JOIN user_account u ON u.id = t.user_id ORDER BY t.id"
        ).fetchall()
        return [_token(row, row[4]) for row in rows]

    def revoke_tokens(
        self: Repository, user_id: int, token_id: int | None, at: datetime, *, by: str
    ) -> int:
        """Revoke one of the user's tokens (`token_id`) or all of them: how many were live."""

        def work() -> int:
            revoked = self._revoke(user_id, token_id, at)
            if revoked:
                which = f"token {token_id}" if token_id is not None else f"{revoked} token(s)"
                self._people_event(by, at, f"Revoked {which} of {self._user_name(user_id)}")
            return revoked

        return self.write(work)

    def _revoke(self: Repository, user_id: int, token_id: int | None, at: datetime) -> int:
        sql = "UPDATE user_token SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL"
        params: list[Any] = [iso(at), user_id]
        if token_id is not None:
            sql += " AND id = ?"
            params.append(token_id)
        return int(self._cursor(sql, params).rowcount)


def _token(row: Sequence[Any], user: str) -> StoredToken:
    return StoredToken(
        int(row[0]),
        user,
        from_iso(row[1]),
        from_iso(row[2]) if row[2] else None,
        from_iso(row[3]) if row[3] else None,
    )
