"""The maintainers' rules (``tufpi.index.permissions``), pure: who may manage a project,
its owners and tokens, and what a yank's reason or a token's description may hold."""

from __future__ import annotations

import pytest

from tufpi.index import permissions
from tufpi.index.accounts import Identity
from tufpi.index.errors import Forbidden, InvalidRequest, NotFound

ALICE = Identity(1, "alice", 11, None, via="token 11")
BOB = Identity(2, "bob", 12, None, via="token 12")
SCOPED = Identity(1, "alice", 13, "demo", via="token 13")
WEB = Identity(1, "alice", None, None, via="web")


def test_an_owner_may_manage_its_project_and_a_web_session_too() -> None:
    permissions.check_owner(ALICE, "Demo", is_owner=True)
    permissions.check_owner(WEB, "Demo", is_owner=True)


def test_a_non_owner_is_refused_with_the_project_named() -> None:
    with pytest.raises(Forbidden, match="User 'bob' is not an owner of project 'Demo'"):
        permissions.check_owner(BOB, "Demo", is_owner=False)


def test_a_scoped_token_may_only_upload_even_to_its_own_project() -> None:
    with pytest.raises(Forbidden) as refused:
        permissions.check_owner(SCOPED, "demo", is_owner=True)
    assert refused.value.message == (
        "This API token is limited to uploads to project demo; "
        "managing projects needs an account-wide token."
    )
    with pytest.raises(Forbidden):
        permissions.check_may_manage(SCOPED)
    permissions.check_may_manage(ALICE)


def test_the_administrator_manages_every_project_but_nobody_else_is_it() -> None:
    permissions.check_owner(permissions.ADMINISTRATOR, "ownerless", is_owner=False)
    assert permissions.is_administrator(permissions.ADMINISTRATOR)
    # A user called "admin", by token or on the web, is just a user.
    for lookalike in (
        Identity(0, "admin", 5, None, via="token 5"),
        Identity(0, "admin", None, None, via="web"),
        Identity(3, "admin", None, None, via="server"),
    ):
        assert not permissions.is_administrator(lookalike)
        with pytest.raises(Forbidden):
            permissions.check_owner(lookalike, "ownerless", is_owner=False)


def test_a_new_owner_must_not_own_it_already() -> None:
    permissions.check_new_owner("Demo", ["alice"], "bob")
    with pytest.raises(InvalidRequest, match="'bob' is already an owner of project 'Demo'"):
        permissions.check_new_owner("Demo", ["alice", "bob"], "bob")


def test_an_owner_is_removed_only_while_another_remains() -> None:
    permissions.check_owner_removal("Demo", ["alice", "bob"], "bob")
    permissions.check_owner_removal("Demo", ["alice", "bob"], "alice")  # itself
    with pytest.raises(Forbidden) as refused:
        permissions.check_owner_removal("Demo", ["alice"], "alice")
    assert "'alice' is the last owner of project 'Demo'" in refused.value.message
    assert "Add another owner first" in refused.value.message


def test_removing_someone_who_is_no_owner_is_not_found() -> None:
    with pytest.raises(NotFound, match="'carol' is not an owner of project 'Demo'"):
        permissions.check_owner_removal("Demo", ["alice"], "carol")


def test_a_token_may_be_limited_only_to_a_project_its_user_owns() -> None:
    permissions.check_token_project(ALICE, "Demo", is_owner=True)
    with pytest.raises(Forbidden, match="limited only to a project you own"):
        permissions.check_token_project(BOB, "Demo", is_owner=False)


def test_another_users_token_is_not_found_rather_than_forbidden() -> None:
    permissions.check_token_holder(ALICE, 11, holder_id=1)
    permissions.check_token_holder(permissions.ADMINISTRATOR, 11, holder_id=1)
    for holder in (1, None):  # alice's token, and no token at all: the same answer
        with pytest.raises(NotFound) as refused:
            permissions.check_token_holder(BOB, 11, holder_id=holder)
        assert refused.value.message == "No such token."


@pytest.mark.parametrize(
    "reason", [None, "", "broken build", "é" * 1000, "CVE-2026-1: see https://x"]
)
def test_plain_reasons_up_to_1000_characters_are_accepted(reason: str | None) -> None:
    permissions.check_reason(reason)


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("x" * 1001, "1001 characters long; at most 1000"),
        ("two\nlines", "U+000A"),
        ("bell\x07", "U+0007"),
        ("escape \x1b[31m red", "U+001B"),
        ("bidi \u202e override", "U+202E"),
        ("line \u2028 separator", "U+2028"),
    ],
)
def test_long_or_control_character_reasons_are_refused(reason: str, said: str) -> None:
    with pytest.raises(InvalidRequest, match=said.replace("+", r"\+")):
        permissions.check_reason(reason)


def test_a_token_description_is_one_short_plain_line() -> None:
    permissions.check_description("laptop twine")
    with pytest.raises(InvalidRequest, match="at most 200"):
        permissions.check_description("d" * 201)
    with pytest.raises(InvalidRequest, match="U+000D".replace("+", r"\+")):
        permissions.check_description("a\rb")
