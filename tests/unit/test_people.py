"""Users, PINs, the lockout and tokens, through the real service on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest

from scanstation.domain.roles import Role
from scanstation.service import AuthError, ServiceError, StationService
from tests.conftest import secret

# Distinctive secrets: the captured output of the whole run is searched for them.
ADMIN_PIN = secret("730261948357")
OPERATOR_PIN = secret("581944203716")
WRONG_PIN = secret("000917364521")


def _people(service: StationService) -> None:
    """The bootstrap: an admin without credentials, then the others by that admin."""
    service.add_user("Asha", Role.ADMIN, badge="BADGE-ASHA")
    service.set_pin("asha", ADMIN_PIN)
    admin = service.authenticate("Asha", ADMIN_PIN)
    service.add_user("Ravi", Role.OPERATOR, badge="BADGE-RAVI", by=admin)
    service.set_pin("Ravi", OPERATOR_PIN, by=admin)


def test_bootstrap_first_user_is_an_admin_and_needs_no_credentials(
    service: StationService,
) -> None:
    assert not service.has_users()
    with pytest.raises(ServiceError, match="first user must be an admin"):
        service.add_user("Ravi", Role.OPERATOR)
    service.add_user("Asha", Role.ADMIN)
    assert not service.has_users()  # nobody can sign in yet: still an open station
    service.add_user("Ravi", Role.OPERATOR)  # bootstrap: no credentials until the first PIN
    service.set_pin("Asha", ADMIN_PIN)
    assert service.has_users()
    with pytest.raises(AuthError, match="needs an admin: this database has users"):
        service.add_user("Meena", Role.OPERATOR)
    service.set_pin("Ravi", OPERATOR_PIN, by=service.authenticate("asha", ADMIN_PIN))
    operator = service.authenticate("Ravi", OPERATOR_PIN)
    with pytest.raises(AuthError, match="managing users needs an admin; Ravi is an operator"):
        service.add_user("Meena", Role.OPERATOR, by=operator)
    assert [u.name for u in service.users()] == ["Asha", "Ravi"]


def test_names_and_badges_sign_in_and_nothing_stores_the_pin(service: StationService) -> None:
    _people(service)
    by_name = service.authenticate("  ASHA ", ADMIN_PIN)
    by_badge = service.authenticate("BADGE-RAVI", OPERATOR_PIN)
    assert (by_name.name, by_name.role) == ("Asha", Role.ADMIN)
    assert (by_badge.name, by_badge.role) == ("Ravi", Role.OPERATOR)
    stored = service.repo._cursor("SELECT pin_hash FROM user_account").fetchall()
    assert all(row[0].startswith("scrypt$") for row in stored)
    assert not any(pin in row[0] for row in stored for pin in (ADMIN_PIN, OPERATOR_PIN))
    with pytest.raises(ServiceError, match="already exists"):
        service.add_user("asha", Role.OPERATOR, by=by_name)
    with pytest.raises(ServiceError, match="badge already belongs"):
        service.add_user("Kiran", Role.OPERATOR, badge="BADGE-RAVI", by=by_name)
    with pytest.raises(ServiceError, match="4 to 12 digits"):
        service.set_pin("Ravi", "12", by=by_name)


def test_unknown_names_and_wrong_pins_are_refused_without_the_pin(
    service: StationService,
) -> None:
    _people(service)
    with pytest.raises(AuthError) as unknown:
        service.authenticate("Nobody", ADMIN_PIN)
    with pytest.raises(AuthError) as wrong:
        service.authenticate("Ravi", WRONG_PIN)
    assert "no user has that name or badge" in str(unknown.value)
    assert "wrong PIN for Ravi (4 more before a lockout)" in str(wrong.value)
    for error in (unknown.value, wrong.value):
        assert ADMIN_PIN not in str(error) and WRONG_PIN not in str(error)


def test_five_wrong_pins_lock_a_user_on_every_terminal(service: StationService) -> None:
    _people(service)
    service.lockout_s = 2
    other = StationService.open(service.repo.target.url, lockout_s=2)  # another terminal
    try:
        for n in range(4):
            terminal = service if n % 2 else other
            with pytest.raises(AuthError, match="wrong PIN for Ravi"):
                terminal.authenticate("Ravi", WRONG_PIN)
        with pytest.raises(AuthError, match="Ravi is locked for 2 s after 5 wrong PINs"):
            service.authenticate("Ravi", WRONG_PIN)
        # The other terminal refuses even the right PIN while the lock lasts.
        with pytest.raises(AuthError, match="Ravi is locked after 5 wrong PINs: try again in"):
            other.authenticate("BADGE-RAVI", OPERATOR_PIN)
        assert other.authenticate("Asha", ADMIN_PIN).name == "Asha"  # only Ravi is locked
        time.sleep(2.2)
        assert other.authenticate("Ravi", OPERATOR_PIN).name == "Ravi"
        # The count started over: one wrong PIN is not a lockout.
        with pytest.raises(AuthError, match=r"\(4 more before a lockout\)"):
            service.authenticate("Ravi", WRONG_PIN)
    finally:
        other.close()


def test_a_right_pin_clears_the_count(service: StationService) -> None:
    _people(service)
    for _ in range(4):
        with pytest.raises(AuthError):
            service.authenticate("Ravi", WRONG_PIN)
    service.authenticate("Ravi", OPERATOR_PIN)
    with pytest.raises(AuthError, match=r"\(4 more before a lockout\)"):
        service.authenticate("Ravi", WRONG_PIN)


def test_disabled_users_cannot_sign_in_and_the_last_admin_stays(service: StationService) -> None:
    _people(service)
    admin = service.authenticate("Asha", ADMIN_PIN)
    _, token, _ = service.create_token("Ravi", by=admin)
    assert service.disable_user("Ravi", by=admin).disabled
    with pytest.raises(AuthError, match="Ravi is disabled: ask an admin"):
        service.authenticate("Ravi", OPERATOR_PIN)
    with pytest.raises(AuthError, match="revoked"):
        service.authenticate_token(token)
    with pytest.raises(ServiceError, match="last admin who can sign in"):
        service.disable_user("Asha", by=admin)
    assert service.authenticate("Asha", ADMIN_PIN).name == "Asha"


def test_a_user_may_change_their_own_pin_only(service: StationService) -> None:
    _people(service)
    operator = service.authenticate("Ravi", OPERATOR_PIN)
    service.set_pin("Ravi", "4455667", by=operator)
    assert service.authenticate("Ravi", "4455667").name == "Ravi"
    with pytest.raises(AuthError, match="needs an admin"):
        service.set_pin("Asha", "4455667", by=operator)


def test_tokens_are_stored_hashed_and_can_be_revoked(service: StationService) -> None:
    _people(service)
    admin = service.authenticate("Asha", ADMIN_PIN)
    operator = service.authenticate("Ravi", OPERATOR_PIN)
    with pytest.raises(AuthError, match="needs an admin"):
        service.create_token("Ravi", by=operator)
    token_id, token, expires = service.create_token("Ravi", by=admin, expires_days=30)
    assert expires is not None and token.startswith("sst_")
    assert service.authenticate_token(token).name == "Ravi"
    digests = [r[0] for r in service.repo._cursor("SELECT digest FROM user_token").fetchall()]
    assert digests and token not in digests and all(len(d) == 64 for d in digests)
    listed = service.tokens(by=admin)
    assert [(t.id, t.user) for t in listed] == [(token_id, "Ravi")]
    assert service.revoke_tokens("Ravi", by=admin) == 1
    with pytest.raises(AuthError, match=rf"the token \(id {token_id}\) was revoked"):
        service.authenticate_token(token)
    with pytest.raises(AuthError, match="not one this database issued"):
        service.authenticate_token("sst_" + "x" * 43)


def test_an_expired_token_is_refused(service: StationService) -> None:
    _people(service)
    admin = service.authenticate("Asha", ADMIN_PIN)
    _, token, _ = service.create_token("Ravi", by=admin, expires_days=1)
    service.repo._cursor("UPDATE user_token SET expires_at = '2001-01-01T00:00:00+00:00'")
    with pytest.raises(AuthError, match="expired on 2001-01-01"):
        service.authenticate_token(token)


def test_changes_to_who_may_do_what_are_in_the_audit_trail(service: StationService) -> None:
    """An auditor asks who added a user, set a PIN, disabled someone, made or revoked a
    script's token, and when someone was locked out: each is an event of kind `user` (in
    `export --events`, append-only like every event), naming who did it and never a PIN,
    token or badge."""
    from scanstation.domain.reports import ReportFilter

    _people(service)
    admin = service.authenticate("Asha", ADMIN_PIN)
    _, token, _ = service.create_token("Ravi", by=admin, expires_days=7)
    secret(token)
    service.revoke_tokens("Ravi", by=admin)
    for _ in range(5):
        with pytest.raises(AuthError):
            service.authenticate("Ravi", WRONG_PIN)
    service.add_user("Meena", Role.SUPERVISOR, by=admin)
    service.disable_user("Meena", by=admin)
    trail = [
        (e.operator, str(e.reason))
        for e in service.audit_events(ReportFilter())
        if e.kind == "user"
    ]
    assert [(who, why.split(" until ")[0].split(", expires")[0]) for who, why in trail] == [
        ("bootstrap", "Added user Asha (admin) with a badge"),
        ("bootstrap", "Set the PIN of Asha"),
        ("Asha", "Added user Ravi (operator) with a badge"),
        ("Asha", "Set the PIN of Ravi"),
        ("Asha", "Created token 1 for Ravi"),
        ("Asha", "Revoked 1 token(s) of Ravi"),
        ("Ravi", "Locked Ravi"),
        ("Asha", "Added user Meena (supervisor)"),
        ("Asha", "Disabled user Meena"),
    ]
    text = repr(trail)
    assert not any(s in text for s in (ADMIN_PIN, OPERATOR_PIN, WRONG_PIN, token, "BADGE-"))
