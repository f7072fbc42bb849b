"""Signing in on the web (issue 16): passwords, the TOTP second factor, the lock-out, web
sessions, and the account changes made from a session or by an administrator.

A session's cookie holds a random 256-bit secret; the database keeps only its SHA-256
(``web_sessions.digest``), as it does for API tokens, so a copy of the database signs no one
in. A session is ``complete`` once every factor the account has was given; until then it
may only finish signing in. Password hashes are computed outside any transaction (each costs
tens of milliseconds and 64 MiB: ``passwords``), and every attempt is counted before it is
checked (``signin.count_attempt``). The pure decisions are in ``signin`` and ``totp``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from tufpi.clock import Clock
from tufpi.db.models import User, WebSession
from tufpi.index import journal, signin, totp
from tufpi.index.accounts import Identity
from tufpi.index.errors import IndexProblem, InvalidRequest, NotAuthenticated, NotFound
from tufpi.index.passwords import Passwords

WRONG_PASSWORD = "Wrong name or password."  # noqa: S105 - a message
WRONG_CODE = "Wrong code, or a code already used: wait for the next one."
# Journal actions of accounts (``project`` None).
PASSWORD_CHANGED = "password changed"  # noqa: S105 - a journal action
TOTP_ENABLED = "2fa enabled"
TOTP_DISABLED = "2fa disabled"


class Locked(IndexProblem):
    """Too many failed sign-ins in a row: refused for a while (429)."""

    status = 429


@dataclasses.dataclass(frozen=True)
class Started:
    """A new session: the cookie's secret (shown to no one else), its CSRF token, and
    whether it is complete or still waits for the second factor."""

    secret: str
    csrf: str
    complete: bool


@dataclasses.dataclass(frozen=True)
class WebUser:
    """The account behind a live session."""

    session_id: int
    user_id: int
    user_name: str
    csrf: str
    complete: bool
    totp: bool  # whether the account has the second factor

    def identity(self) -> Identity:
        """Who acts through this session (the journal's ``via="web"``)."""
        return Identity(self.user_id, self.user_name, None, None, via="web")


def digest(secret: str) -> str:
    """What the database keeps of a session's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


class LoginService:
    """Sign-in, sessions and account changes, over the database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        writes: sessionmaker[Session],
        passwords: Passwords,
        clock: Clock,
    ) -> None:
        self.sessions = sessions
        self.writes = writes
        self.passwords = passwords
        self.clock = clock

    # -- signing in -------------------------------------------------------------------------

    def sign_in(self, name: str, password: str) -> Started:
        """Check ``name`` and ``password`` and start a session (complete unless the account
        has TOTP).

        Raises:
            NotAuthenticated: no such account, no password, or a wrong one (one message).
            Locked: too many failures in a row (also the tenth failure itself).
            Busy: too many password hashes under way (``Passwords``).
        """
        attempt, stored = self._count_attempt(name)
        if attempt is not None and not attempt.allowed and attempt.locked_until is not None:
            raise Locked(signin.lock_message(attempt.locked_until))
        if not self.passwords.verify(stored, password):
            if attempt is not None and attempt.locked_until is not None:
                raise Locked(f"{WRONG_PASSWORD} {signin.lock_message(attempt.locked_until)}")
            raise NotAuthenticated(WRONG_PASSWORD)
        assert stored is not None  # verify is False without a stored hash
        with self.writes.begin() as session:
            user = self._user(session, name)
            if self.passwords.needs_rehash(stored):
                user.password_hash = self.passwords.hash(password)
            if user.totp_secret is None:  # with TOTP, only the code ends the count
                user.failed_logins, user.locked_until = 0, None
            now = self.clock()
            session.execute(delete(WebSession).where(WebSession.expires <= now))
            return self._start(session, user, complete=user.totp_secret is None)

    def second_factor(self, secret: str, code: str) -> Started:
        """Finish the sign-in of an incomplete session with a TOTP code; the session is
        replaced by a new complete one (a new secret: what was set before the second factor
        never signs anyone in fully).

        Raises:
            NotAuthenticated: no such incomplete session, or a wrong or used code.
            Locked: too many failures in a row.
        """
        now = self.clock()
        with self.writes.begin() as session:
            row = session.scalar(
                select(WebSession).where(WebSession.digest == digest(secret)).with_for_update()
            )
            if row is None or row.complete or not signin.session_live(row.expires, now):
                raise NotAuthenticated("Sign in again: this sign-in has ended.")
            user = session.get_one(User, row.user_id, with_for_update=True)
            attempt = signin.count_attempt(user.failed_logins, user.locked_until, now)
            if not attempt.allowed and attempt.locked_until is not None:
                raise Locked(signin.lock_message(attempt.locked_until))
            step = totp.accepted_step(user.totp_secret or "", code, now, user.totp_last_step)
            if step is None:
                user.failed_logins, user.locked_until = attempt.failed, attempt.locked_until
                started = None
            else:
                user.failed_logins, user.locked_until = 0, None
                user.totp_last_step = step
                session.delete(row)
                started = self._start(session, user, complete=True)
        if started is None:
            raise NotAuthenticated(WRONG_CODE)
        return started

    def current(self, secret: str | None) -> WebUser | None:
        """The live session whose cookie holds ``secret``; None if there is none."""
        if not secret:
            return None
        with self.sessions() as session:
            found = session.execute(
                select(WebSession, User)
                .join(User, User.id == WebSession.user_id)
                .where(WebSession.digest == digest(secret))
            ).one_or_none()
            if found is None or not signin.session_live(found[0].expires, self.clock()):
                return None
            row, user = found
            return WebUser(
                row.id, user.id, user.name, row.csrf, row.complete, user.totp_secret is not None
            )

    def sign_out(self, secret: str) -> None:
        """End the session whose cookie holds ``secret`` (nothing if there is none)."""
        with self.writes.begin() as session:
            session.execute(delete(WebSession).where(WebSession.digest == digest(secret)))

    # -- account changes from a session -----------------------------------------------------

    def change_password(self, who: WebUser, current: str, new: str) -> None:
        """Replace the password (the current one is asked again) and end every other
        session of the account.

        Raises:
            InvalidRequest: the new password is too short or too long.
            NotAuthenticated: the current password is wrong. Locked: as ``sign_in``.
        """
        new_hash = self.passwords.hash(new)  # checks it first
        attempt, stored = self._count_attempt(who.user_name)
        if attempt is not None and not attempt.allowed and attempt.locked_until is not None:
            raise Locked(signin.lock_message(attempt.locked_until))
        if not self.passwords.verify(stored, current):
            raise NotAuthenticated("The current password is wrong: nothing was changed.")
        with self.writes.begin() as session:
            user = session.get_one(User, who.user_id, with_for_update=True)
            user.password_hash = new_hash
            user.failed_logins, user.locked_until = 0, None
            session.execute(
                delete(WebSession).where(
                    WebSession.user_id == user.id, WebSession.id != who.session_id
                )
            )
            self._journal(session, PASSWORD_CHANGED, who.user_name, "web", who.user_name)

    def enable_totp(self, who: WebUser, secret: str, code: str) -> None:
        """Turn the second factor on with ``secret`` (``totp.new_secret``, shown to the user)
        once ``code`` shows the user's app has it.

        Raises:
            InvalidRequest: already on, a malformed secret, or a code that does not fit.
        """
        if not totp.well_formed(secret):
            raise InvalidRequest("The form's TOTP secret is malformed: start again.")
        step = totp.accepted_step(secret, code, self.clock(), None)
        if step is None:
            raise InvalidRequest(
                "That code does not match the secret: check the app has it and its clock is right."
            )
        with self.writes.begin() as session:
            user = session.get_one(User, who.user_id, with_for_update=True)
            if user.totp_secret is not None:
                raise InvalidRequest("Two-factor sign-in is already on.")
            user.totp_secret, user.totp_last_step = secret, step
            self._journal(session, TOTP_ENABLED, who.user_name, "web", who.user_name)

    def disable_totp(self, who: WebUser, code: str) -> None:
        """Turn the second factor off; a current code is asked (and used up).

        Raises:
            InvalidRequest: it is not on. NotAuthenticated: a wrong or used code.
        """
        with self.writes.begin() as session:
            user = session.get_one(User, who.user_id, with_for_update=True)
            if user.totp_secret is None:
                raise InvalidRequest("Two-factor sign-in is not on.")
            step = totp.accepted_step(user.totp_secret, code, self.clock(), user.totp_last_step)
            if step is None:
                raise NotAuthenticated(f"{WRONG_CODE} Two-factor sign-in is still on.")
            user.totp_secret, user.totp_last_step = None, None
            self._journal(session, TOTP_DISABLED, who.user_name, "web", who.user_name)

    # -- the administrator's commands -------------------------------------------------------

    def set_password(self, name: str, password: str) -> None:
        """Set ``name``'s password (``tufpi user password``), lift any lock-out and end its
        sessions. Raises NotFound, InvalidRequest (``password_problem``)."""
        new_hash = self.passwords.hash(password)
        with self.writes.begin() as session:
            user = self._user(session, name)
            user.password_hash = new_hash
            user.failed_logins, user.locked_until = 0, None
            session.execute(delete(WebSession).where(WebSession.user_id == user.id))
            self._journal(
                session, PASSWORD_CHANGED, journal.SERVER_ACCOUNT, journal.SERVER_VIA, name
            )

    def reset_totp(self, name: str) -> None:
        """Turn ``name``'s second factor off (``tufpi user reset-2fa``: a lost phone) and
        end its sessions. Raises NotFound."""
        with self.writes.begin() as session:
            user = self._user(session, name)
            user.totp_secret, user.totp_last_step = None, None
            session.execute(delete(WebSession).where(WebSession.user_id == user.id))
            self._journal(session, TOTP_DISABLED, journal.SERVER_ACCOUNT, journal.SERVER_VIA, name)

    # -- steps ------------------------------------------------------------------------------

    def _count_attempt(self, name: str) -> tuple[signin.Attempt | None, str | None]:
        """Count an attempt at ``name``'s password, in its own transaction (committed before
        the hash is checked); (None, None) for a name with no password."""
        with self.writes.begin() as session:
            user = session.scalar(select(User).where(User.name == name).with_for_update())
            if user is None or user.password_hash is None:
                return None, None
            attempt = signin.count_attempt(user.failed_logins, user.locked_until, self.clock())
            if attempt.allowed:
                user.failed_logins, user.locked_until = attempt.failed, attempt.locked_until
            return attempt, user.password_hash

    @staticmethod
    def _user(session: Session, name: str) -> User:
        user = session.scalar(select(User).where(User.name == name).with_for_update())
        if user is None:
            raise NotFound(f"No user {name!r}.")
        return user

    def _start(self, session: Session, user: User, complete: bool) -> Started:
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock()
        session.add(
            WebSession(
                digest=digest(secret),
                user_id=user.id,
                csrf=csrf,
                complete=complete,
                created=now,
                expires=signin.session_expires(now, complete),
            )
        )
        return Started(secret, csrf, complete)

    def _journal(self, session: Session, action: str, account: str, via: str, detail: str) -> None:
        """The account change's journal entry, in its transaction (``project`` None)."""
        journal.write(session, self.clock(), None, action, account, via, detail)
