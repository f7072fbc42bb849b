"""Maintainers acting for themselves: owners, yanks, removals, their own tokens, the journal.

The web forms (``/manage/``), the JSON API (``/api/v1/``) and the administrator's server
commands all come here with an ``Identity``; the rules are ``permissions`` (pure), checked
under the project's lock in the transaction that makes the change, and every change writes
its journal entry (``journal``) in that same transaction: a refusal changes nothing, and a
change is never left unjournaled.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tufpi.clock import Clock
from tufpi.db.models import Owner, Project, Token, User
from tufpi.index import journal, permissions, tokens
from tufpi.index.accounts import Identity
from tufpi.index.errors import NotFound
from tufpi.index.journal import JournalView
from tufpi.index.names import normalize
from tufpi.index.service import Check, IndexService, locked_project

__all__ = ["MaintainerService", "TokenView"]
_MAX_ID = 2**31 - 1  # tokens.id's column: a larger id names no token


@dataclasses.dataclass(frozen=True)
class TokenView:
    """One API token as its user sees it (never its secret)."""

    id: int
    user: str
    project: str | None  # normalised name; None: account-wide
    description: str
    created: dt.datetime
    revoked: dt.datetime | None


def _owner_names(session: Session, project: Project) -> list[str]:
    rows = session.scalars(
        select(User.name)
        .join(Owner, Owner.user_id == User.id)
        .where(Owner.project_id == project.id)
        .order_by(User.name)
    )
    return list(rows)


def _owns(session: Session, who: Identity, project: Project) -> bool:
    found = session.scalar(
        select(Owner.id).where(Owner.project_id == project.id, Owner.user_id == who.user_id)
    )
    return found is not None


class MaintainerService:
    """What an owner may do to its projects and its tokens, checked and journaled."""

    def __init__(
        self,
        index: IndexService,
        sessions: sessionmaker[Session],
        writes: sessionmaker[Session],
        clock: Clock,
    ) -> None:
        self.index = index
        self.sessions = sessions
        self.writes = writes
        self.clock = clock

    def _checker(self, who: Identity) -> Check:
        """The ownership check ``IndexService`` runs under the project's lock."""

        def check(session: Session, project: Project) -> None:
            permissions.check_owner(who, project.name, _owns(session, who, project))

        return check

    # -- projects and owners ----------------------------------------------------------------

    def owned_projects(self, who: Identity) -> list[str]:
        """The display names of the projects ``who`` owns, by normalised name."""
        with self.sessions() as session:
            rows = session.scalars(
                select(Project.name)
                .join(Owner, Owner.project_id == Project.id)
                .where(Owner.user_id == who.user_id)
                .order_by(Project.normalized_name)
            )
            return list(rows)

    def owners(self, project: str) -> list[str]:
        """The user names owning ``project``, sorted. Raises NotFound."""
        with self.sessions() as session:
            row = session.scalar(
                select(Project).where(Project.normalized_name == normalize(project))
            )
            if row is None:
                raise NotFound(f"No project {project!r}.")
            return _owner_names(session, row)

    def add_owner(self, who: Identity, project: str, user: str) -> None:
        """Make the existing account ``user`` an owner of ``project``.

        Raises:
            NotFound: no such project or user.
            Forbidden: ``who`` may not manage ``project``.
            InvalidRequest: ``user`` owns it already.
        """
        now = self.clock()
        with locked_project(self.writes, normalize(project)) as (session, row):
            if row is None:
                raise NotFound(f"No project {project!r}.")
            permissions.check_owner(who, row.name, _owns(session, who, row))
            account = session.scalar(select(User).where(User.name == user))
            if account is None:
                raise NotFound(f"No user {user!r}.")
            permissions.check_new_owner(row.name, _owner_names(session, row), account.name)
            session.add(Owner(project_id=row.id, user_id=account.id))
            journal.write(
                session,
                now,
                row.normalized_name,
                journal.OWNER_ADDED,
                who.user_name,
                who.via,
                account.name,
            )

    def remove_owner(self, who: Identity, project: str, user: str) -> None:
        """``user`` stops owning ``project`` (never its last owner; an owner may remove
        itself while another remains).

        Raises:
            NotFound: no such project, or ``user`` does not own it.
            Forbidden: ``who`` may not manage ``project``, or ``user`` is its last owner.
        """
        now = self.clock()
        with locked_project(self.writes, normalize(project)) as (session, row):
            if row is None:
                raise NotFound(f"No project {project!r}.")
            permissions.check_owner(who, row.name, _owns(session, who, row))
            permissions.check_owner_removal(row.name, _owner_names(session, row), user)
            user_id = session.scalar(select(User.id).where(User.name == user))
            owner = session.scalar(
                select(Owner).where(Owner.project_id == row.id, Owner.user_id == user_id)
            )
            session.delete(owner)
            journal.write(
                session,
                now,
                row.normalized_name,
                journal.OWNER_REMOVED,
                who.user_name,
                who.via,
                user,
            )

    # -- releases and files -----------------------------------------------------------------

    def set_yanked(
        self, who: Identity, project: str, version: str, yanked: bool, reason: str | None
    ) -> None:
        """PEP 592: yank (with an optional reason) or un-yank a release of ``project``.

        Raises:
            InvalidRequest: the reason is too long or holds a control character.
            NotFound: no such project or release.
            Forbidden: ``who`` may not manage ``project``.
        """
        permissions.check_may_manage(who)
        reason = reason or None
        permissions.check_reason(reason)
        self.index.set_yanked(
            project,
            version,
            yanked,
            reason,
            actor=who.user_name,
            via=who.via,
            check=self._checker(who),
        )

    def remove(
        self, who: Identity, project: str, version: str, filename: str | None = None
    ) -> list[str]:
        """Remove one file (``filename``) or a whole release of ``project``; returns the
        filenames removed. Removing a whole project is the administrator's alone
        (``IndexService.remove``).

        Raises:
            NotFound: no such project, release or file.
            Forbidden: ``who`` may not manage ``project``.
        """
        permissions.check_may_manage(who)
        return self.index.remove(
            project,
            version,
            filename,
            actor=who.user_name,
            via=who.via,
            check=self._checker(who),
        )

    # -- tokens -----------------------------------------------------------------------------

    def create_token(self, who: Identity, project: str | None, description: str) -> str:
        """A new token of ``who``'s, account-wide or limited to one project it owns; returns
        its secret, which is never shown again."""
        return self.issue_token(who, project, description)[1]

    def issue_token(
        self, who: Identity, project: str | None, description: str, user: str | None = None
    ) -> tuple[int, str]:
        """``create_token``, returning the new token's id as well. Only the administrator
        names another ``user`` to create it for, and limits it to any project name.

        Raises:
            Forbidden: a scoped token, or a project ``who`` does not own.
            NotFound: no such project (or user).
            InvalidRequest: the description is too long or not plain text.
        """
        permissions.check_may_manage(who)
        permissions.check_description(description)
        secret = tokens.new_token()
        with self.writes.begin() as session:
            holder = self._holder(session, who, user)
            scope: str | None = None
            if project and permissions.is_administrator(who):
                # The administrator's powers: any project, even one not uploaded yet
                # (its first upload with the token creates it).
                scope = normalize(project)
            elif project:
                row = session.scalar(
                    select(Project).where(Project.normalized_name == normalize(project))
                )
                if row is None:
                    raise NotFound(f"No project {project!r}.")
                owner = dataclasses.replace(who, user_id=holder.id, user_name=holder.name)
                permissions.check_token_project(owner, row.name, _owns(session, owner, row))
                scope = row.normalized_name
            token = Token(
                user_id=holder.id,
                project=scope,
                digest=tokens.digest(secret),
                description=description,
                created=self.clock(),
            )
            session.add(token)
            session.flush()
            detail = f"token {token.id} of {holder.name}"
            detail += f" for project {scope}" if scope else " for all its projects"
            journal.write(
                session, self.clock(), None, journal.TOKEN_CREATED, who.user_name, who.via, detail
            )
            return token.id, secret

    @staticmethod
    def _holder(session: Session, who: Identity, user: str | None) -> User:
        """The account a new token is for: ``who``'s own, or (the administrator) ``user``."""
        if user is not None and permissions.is_administrator(who):
            found = session.scalar(select(User).where(User.name == user))
            if found is None:
                raise NotFound(f"No user {user!r}.")
            return found
        account = session.get(User, who.user_id)
        if account is None:
            raise NotFound(f"No user {who.user_name!r}.")
        return account

    def tokens(self, who: Identity) -> list[TokenView]:
        """``who``'s tokens (the administrator's: every user's), oldest first."""
        permissions.check_may_manage(who)
        query = select(Token).order_by(Token.id)
        if not permissions.is_administrator(who):
            query = query.where(Token.user_id == who.user_id)
        with self.sessions() as session:
            return [
                TokenView(t.id, t.user.name, t.project, t.description, t.created, t.revoked)
                for t in session.scalars(query)
            ]

    def revoke_token(self, who: Identity, token_id: int) -> None:
        """Revoke one of ``who``'s tokens (revoking it again changes nothing).

        Raises:
            NotFound: no such token, or another user's.
            Forbidden: a scoped token.
        """
        permissions.check_may_manage(who)
        if not 0 < token_id <= _MAX_ID:
            raise NotFound("No such token.")
        with self.writes.begin() as session:
            token = session.scalar(
                select(Token).where(Token.id == token_id).with_for_update(of=Token)
            )
            permissions.check_token_holder(who, token_id, token.user_id if token else None)
            assert token is not None  # check_token_holder refuses a missing one
            if token.revoked is not None:
                return
            now = self.clock()
            token.revoked = now
            journal.write(
                session,
                now,
                None,
                journal.TOKEN_REVOKED,
                who.user_name,
                who.via,
                f"token {token.id} of {token.user.name}",
            )

    def token_id(self, secret: str) -> int:
        """The id of the token whose secret is ``secret`` (the administrator revokes by
        either). Raises NotFound."""
        with self.sessions() as session:
            found = session.scalar(select(Token.id).where(Token.digest == tokens.digest(secret)))
        if found is None:
            raise NotFound("No such token.")
        return found

    # -- the journal ------------------------------------------------------------------------

    def journal(self, project: str | None, limit: int = 200) -> list[JournalView]:
        """The newest ``limit`` journal entries of ``project`` (any spelling of its name),
        newest first; of every project and account when None."""
        with self.sessions() as session:
            return journal.entries(session, normalize(project) if project else None, limit)
