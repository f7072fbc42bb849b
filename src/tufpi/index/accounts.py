"""Accounts and API tokens: who may upload. Tokens are stored only as their SHA-256."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tufpi.clock import Clock
from tufpi.db.models import Token, User
from tufpi.index import tokens
from tufpi.index.errors import InvalidUpload, NotAuthenticated, NotFound
from tufpi.index.names import normalize


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who is calling, established from a token or a web session."""

    user_id: int
    user_name: str
    token_id: int | None  # None: a web session or the server's administrator
    project_scope: str | None
    via: str = "token"  # journal: "web", "token N", "server"


class AccountService:
    """Users and tokens in the database."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    def authenticate(self, credentials: tuple[str, str] | None) -> Identity:
        """Identify the caller from Basic auth credentials (``__token__`` + token).

        Raises:
            NotAuthenticated: no credentials, not a token, unknown or revoked token.
        """
        if credentials is None:
            raise NotAuthenticated("Authentication required: use __token__ and an API token.")
        username, password = credentials
        if username != tokens.TOKEN_USERNAME:
            raise NotAuthenticated(
                "Invalid credentials: the username must be __token__ and the password an API token."
            )
        with self.sessions() as session:
            token = session.scalar(select(Token).where(Token.digest == tokens.digest(password)))
            if token is None or token.revoked is not None:
                raise NotAuthenticated("Invalid or revoked API token.")
            return Identity(
                token.user_id, token.user.name, token.id, token.project, via=f"token {token.id}"
            )

    def add_user(self, name: str, password_hash: str | None = None) -> int:
        """Create a user; ``password_hash`` (``Passwords.hash``) lets it sign in on the web,
        None keeps it to API tokens."""
        with self.sessions.begin() as session:
            if session.scalar(select(User).where(User.name == name)) is not None:
                raise InvalidUpload(f"User {name!r} already exists.")
            user = User(name=name, created=self.clock(), password_hash=password_hash)
            session.add(user)
            session.flush()
            return user.id

    def create_token(self, user: str, project: str | None, description: str = "") -> str:
        """Create a token for ``user``, optionally limited to one project; returns its secret."""
        secret = tokens.new_token()
        with self.sessions.begin() as session:
            owner = session.scalar(select(User).where(User.name == user))
            if owner is None:
                raise NotFound(f"No user {user!r}.")
            session.add(
                Token(
                    user_id=owner.id,
                    project=normalize(project) if project else None,
                    digest=tokens.digest(secret),
                    description=description,
                    created=self.clock(),
                )
            )
        return secret

    def revoke_token(self, secret_or_id: str) -> None:
        with self.sessions.begin() as session:
            if secret_or_id.isdigit():
                token = session.get(Token, int(secret_or_id))
            else:
                token = session.scalar(
                    select(Token).where(Token.digest == tokens.digest(secret_or_id))
                )
            if token is None:
                raise NotFound("No such token.")
            token.revoked = self.clock()

    def list_tokens(self) -> list[tuple[int, str, str | None, str, bool]]:
        with self.sessions() as session:
            rows = session.scalars(select(Token).order_by(Token.id))
            return [
                (t.id, t.user.name, t.project, t.description, t.revoked is not None) for t in rows
            ]
