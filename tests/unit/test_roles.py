"""Who may do what: the roles include each other, every gated action has one answer, and
a database without users gates nothing but grants no supervisor's override either."""

from __future__ import annotations

import itertools

import pytest

from scanstation.domain.roles import (
    APPROVAL_HOW,
    PERMISSIONS,
    Action,
    Role,
    authorise,
    permission,
    required_role,
    role_refusal,
)


def test_roles_include_the_ones_below() -> None:
    assert Role.ADMIN.includes(Role.SUPERVISOR) and Role.ADMIN.includes(Role.OPERATOR)
    assert Role.SUPERVISOR.includes(Role.OPERATOR) and Role.SUPERVISOR.includes(Role.SUPERVISOR)
    assert not Role.OPERATOR.includes(Role.SUPERVISOR)
    assert not Role.SUPERVISOR.includes(Role.ADMIN)
    assert [r.with_article for r in Role] == ["an operator", "a supervisor", "an admin"]


def test_every_action_is_in_the_table_once() -> None:
    assert [row.action for row in PERMISSIONS] == list(Action)
    for row in PERMISSIONS:
        assert row.words and row.words == row.words.lower()[:1] + row.words[1:]


# What issue 9 asks for, as the table must say it.
ISSUE_9 = {
    Action.SCRAP: Role.SUPERVISOR,
    Action.SCRAP_AWAY: Role.SUPERVISOR,
    Action.RECEIVE_BY_OVERRIDE: Role.SUPERVISOR,
    Action.RETURN_WITHOUT_DOCUMENT: Role.SUPERVISOR,
    Action.CLOSE_DOCUMENT_SHORT: Role.SUPERVISOR,
    Action.REOPEN_DOCUMENT: Role.SUPERVISOR,
    Action.VOID_OWN_RECENT: Role.OPERATOR,
    Action.VOID_ANY: Role.SUPERVISOR,
    Action.ACKNOWLEDGE_REFUSED: Role.SUPERVISOR,
    Action.MANAGE_USERS: Role.ADMIN,
    Action.MANAGE_TOKENS: Role.ADMIN,
    # Issue 10: a generation run's labels are printed by a supervisor.
    Action.PRINT_LABEL: Role.OPERATOR,
    Action.PRINT_LABELS: Role.SUPERVISOR,
}


@pytest.mark.parametrize(("action", "role"), ISSUE_9.items())
def test_the_issues_actions_need_their_role(action: Action, role: Role) -> None:
    assert required_role(action) is role


@pytest.mark.parametrize(
    ("action", "actor", "approver"),
    list(itertools.product(Action, [None, *Role], [None, *Role])),
)
def test_authorise_over_the_whole_table(
    action: Action, actor: Role | None, approver: Role | None
) -> None:
    row = permission(action)
    answer = authorise(action, actor=actor, approver=approver)
    if actor is None:
        # No users: as before, except the overrides only a supervisor could grant.
        assert answer.allowed is row.open_station and not answer.approved
        assert answer.needs_role is None
        if not answer.allowed:
            assert "no users" in answer.refusal
    elif actor.includes(row.role):
        assert answer.allowed and not answer.approved and answer.refusal == ""
    elif approver is not None and approver.includes(row.role):
        assert answer.allowed and answer.approved
    else:
        assert not answer.allowed and answer.needs_role is row.role
        assert answer.refusal == role_refusal(row.words, row.role)
        assert answer.refusal.endswith(APPROVAL_HOW)


def test_the_strictest_of_several_actions_decides() -> None:
    both = authorise(Action.SCRAP, Action.SCRAP_AWAY, actor=None)
    assert not both.allowed  # scrap alone is allowed without users; away from the site not
    assert both.words == permission(Action.SCRAP_AWAY).words
    users = authorise(Action.VOID_OWN_RECENT, Action.MANAGE_USERS, actor=Role.SUPERVISOR)
    assert not users.allowed and users.needs_role is Role.ADMIN
    with pytest.raises(ValueError):
        authorise(actor=Role.ADMIN)


def test_the_refusal_sentence_of_the_brief() -> None:
    answer = authorise(Action.SCRAP, actor=Role.OPERATOR)
    assert (
        answer.refusal
        == "scrapping needs a supervisor — ask one to approve with their badge and PIN"
    )
