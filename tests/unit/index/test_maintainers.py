"""``MaintainerService`` over a real SQLite database: owners and tokens change only as the
rules allow, each change writes its journal entry in its own transaction, and a refusal
changes nothing. (Yanks and removals, which need signed metadata, are driven end to end in
tests/e2e/test_maintainers.py.)"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tufpi.config import Settings
from tufpi.db import make_engine, upgrade
from tufpi.db.models import JournalEntry, Owner, Project, Token
from tufpi.index import journal
from tufpi.index.accounts import Identity
from tufpi.index.errors import Forbidden, NotAuthenticated, NotFound
from tufpi.index.maintainers import MaintainerService
from tufpi.index.permissions import ADMINISTRATOR
from tufpi.services import Services

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


@dataclasses.dataclass
class World:
    services: Services
    maintainers: MaintainerService
    alice: Identity
    bob: Identity

    def project(self, name: str, *owners: Identity) -> None:
        with self.services.sessions.begin() as session:
            row = Project(name=name, normalized_name=name.lower(), created=NOW, serial=1)
            session.add(row)
            session.flush()
            for who in owners:
                session.add(Owner(project_id=row.id, user_id=who.user_id))

    def rows(self) -> tuple[int, int, int]:
        """Owners, tokens and journal entries: what a refusal must not change."""
        with self.services.sessions() as session:
            return (
                session.scalar(select(func.count(Owner.id))) or 0,
                session.scalar(select(func.count(Token.id))) or 0,
                session.scalar(select(func.count(JournalEntry.id))) or 0,
            )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path)
    upgrade(make_engine(settings.effective_database_url))
    services = Services.from_settings(settings, clock=lambda: NOW)
    accounts = services.accounts
    alice = Identity(accounts.add_user("alice"), "alice", None, None, via="web")
    bob = Identity(accounts.add_user("bob"), "bob", None, None, via="web")
    try:
        yield World(services, services.maintainers, alice, bob)
    finally:
        services.engine.dispose()


def test_an_owner_adds_a_co_owner_who_then_manages_too(world: World) -> None:
    world.project("Demo", world.alice)
    world.maintainers.add_owner(world.alice, "DEMO", "bob")
    assert world.maintainers.owners("demo") == ["alice", "bob"]
    assert world.maintainers.owned_projects(world.bob) == ["Demo"]
    world.maintainers.remove_owner(world.bob, "demo", "alice")
    assert world.maintainers.owners("demo") == ["bob"]
    entries = world.maintainers.journal("Demo")
    assert [(e.action, e.account, e.via, e.detail) for e in entries] == [
        ("owner removed", "bob", "web", "alice"),
        ("owner added", "alice", "web", "bob"),
    ]
    assert all(e.project == "demo" and e.time.replace(tzinfo=dt.UTC) == NOW for e in entries)


def test_refusals_change_nothing(world: World) -> None:
    world.project("demo", world.alice)
    before = world.rows()
    refusals = [
        (Forbidden, lambda: world.maintainers.add_owner(world.bob, "demo", "bob")),
        (Forbidden, lambda: world.maintainers.remove_owner(world.bob, "demo", "alice")),
        (Forbidden, lambda: world.maintainers.remove_owner(world.alice, "demo", "alice")),
        (NotFound, lambda: world.maintainers.add_owner(world.alice, "demo", "carol")),
        (NotFound, lambda: world.maintainers.add_owner(world.alice, "nothing", "bob")),
        (Forbidden, lambda: world.maintainers.create_token(world.bob, "demo", "")),
        (NotFound, lambda: world.maintainers.create_token(world.alice, "nothing", "")),
    ]
    for error, action in refusals:
        with pytest.raises(error):
            action()
    assert world.rows() == before
    assert world.maintainers.owners("demo") == ["alice"]


def test_a_scoped_token_manages_nothing(world: World) -> None:
    world.project("demo", world.alice)
    scoped = dataclasses.replace(world.alice, token_id=9, project_scope="demo", via="token 9")
    before = world.rows()
    for action in (
        lambda: world.maintainers.add_owner(scoped, "demo", "bob"),
        lambda: world.maintainers.create_token(scoped, None, ""),
        lambda: world.maintainers.tokens(scoped),
        lambda: world.maintainers.revoke_token(scoped, 9),
    ):
        with pytest.raises(Forbidden, match="limited to uploads to project demo"):
            action()
    assert world.rows() == before


def test_tokens_are_made_listed_and_revoked_by_their_own_user_only(world: World) -> None:
    world.project("demo", world.alice)
    accounts = world.services.accounts
    wide = world.maintainers.create_token(world.alice, None, "laptop")
    token_id, scoped = world.maintainers.issue_token(world.alice, "Demo", "ci")
    assert accounts.authenticate(("__token__", scoped)).project_scope == "demo"
    mine = world.maintainers.tokens(world.alice)
    assert [(t.id, t.user, t.project, t.description) for t in mine] == [
        (token_id - 1, "alice", None, "laptop"),
        (token_id, "alice", "demo", "ci"),
    ]
    assert world.maintainers.tokens(world.bob) == []
    # Bob cannot tell alice's token from no token at all, and it keeps working.
    for wanted in (token_id, 999):
        with pytest.raises(NotFound, match=r"No such token\."):
            world.maintainers.revoke_token(world.bob, wanted)
    assert accounts.authenticate(("__token__", scoped)).user_name == "alice"
    world.maintainers.revoke_token(world.alice, token_id)
    world.maintainers.revoke_token(world.alice, token_id)  # again: nothing more
    with pytest.raises(NotAuthenticated):
        accounts.authenticate(("__token__", scoped))
    assert accounts.authenticate(("__token__", wide)).via == f"token {token_id - 1}"
    account_entries = [
        (e.project, e.action, e.account, e.detail) for e in world.maintainers.journal(None)
    ]
    assert account_entries == [
        (None, "token revoked", "alice", f"token {token_id} of alice"),
        (None, "token created", "alice", f"token {token_id} of alice for project demo"),
        (None, "token created", "alice", f"token {token_id - 1} of alice for all its projects"),
    ]


def test_the_administrator_gives_an_ownerless_project_its_owner(world: World) -> None:
    world.project("imported")
    with pytest.raises(Forbidden):
        world.maintainers.add_owner(world.alice, "imported", "alice")
    world.maintainers.add_owner(ADMINISTRATOR, "imported", "alice")
    assert world.maintainers.owners("imported") == ["alice"]
    (entry,) = world.maintainers.journal("imported")
    assert (entry.action, entry.account, entry.via, entry.detail) == (
        "owner added",
        "admin",
        "server",
        "alice",
    )
    # The administrator makes tokens for any user and project name, and sees them all.
    world.maintainers.issue_token(ADMINISTRATOR, "Not_Yet", "", user="bob")
    world.maintainers.issue_token(ADMINISTRATOR, None, "", user="alice")
    listed = [(t.user, t.project) for t in world.maintainers.tokens(ADMINISTRATOR)]
    assert listed == [("bob", "not-yet"), ("alice", None)]


def test_a_change_whose_journal_entry_fails_is_not_kept(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.project("demo", world.alice)
    before = world.rows()

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("journal unavailable")

    monkeypatch.setattr(journal, "write", broken)
    with pytest.raises(RuntimeError):
        world.maintainers.add_owner(world.alice, "demo", "bob")
    with pytest.raises(RuntimeError):
        world.maintainers.create_token(world.alice, None, "")
    assert world.rows() == before
    assert world.maintainers.owners("demo") == ["alice"]
