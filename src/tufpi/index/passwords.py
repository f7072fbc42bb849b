"""Passwords for signing in on the web (issue 16): argon2id, a memory-hard KDF.

argon2-cffi's ``PasswordHasher`` with its defaults, which are RFC 9106's second recommended
option (argon2id, t=3, m=64 MiB, p=4): each hash takes 64 MiB of memory and tens of
milliseconds of CPU, so ``Passwords`` runs at most a few at once and makes a caller wait
(bounded) for its turn rather than let a burst of sign-ins take the machine's memory. The
stored form is the PHC string (``$argon2id$v=19$m=65536,t=3,p=4$salt$hash``): its
parameters travel with it, and a hash made with older ones is replaced at the next sign-in
(``needs_rehash``).
"""

from __future__ import annotations

import threading

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tufpi.index.errors import Busy, InvalidRequest

MIN_LENGTH = 8  # characters (NIST SP 800-63B's minimum for a chosen secret)
MAX_BYTES = 1024  # of UTF-8: hashing is cheap at any length, reading a huge form is not
CONCURRENT_HASHES = 4  # 4 x 64 MiB at most, whatever the number of sign-ins at once
WAIT_SECONDS = 10.0  # then "busy, retry" rather than an ever longer queue


def password_problem(password: str) -> str | None:
    """What is wrong with ``password`` as a new password, in plain words; None if nothing.

    Only length is checked (NIST SP 800-63B: no composition rules)."""
    if len(password) < MIN_LENGTH:
        return f"A password needs at least {MIN_LENGTH} characters."
    if len(password.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return f"A password may have at most {MAX_BYTES} bytes (UTF-8)."
    return None


class Passwords:
    """Hash and verify passwords with argon2id, at most ``concurrency`` at once."""

    def __init__(
        self, concurrency: int = CONCURRENT_HASHES, wait_seconds: float = WAIT_SECONDS
    ) -> None:
        self._hasher = argon2.PasswordHasher()  # RFC 9106's second recommendation
        self._turns = threading.BoundedSemaphore(concurrency)
        self._wait = wait_seconds
        # Spent on a sign-in by a name with no password, so that it costs as much time
        # as one with a wrong password (no answer tells which names exist).
        self._dummy = self._hasher.hash("tufpi: no such account")

    def hash(self, password: str) -> str:
        """The PHC string of a new password.

        Raises:
            InvalidRequest: ``password_problem`` found something wrong with it.
            Busy: too many hashes under way for too long.
        """
        problem = password_problem(password)
        if problem is not None:
            raise InvalidRequest(problem)
        with self._turn():
            return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches the ``stored`` hash; with no stored hash (no such
        account, or one without a password) a hash is spent all the same and it is False.

        Raises:
            Busy: too many hashes under way for too long.
        """
        if len(password.encode("utf-8", "surrogatepass")) > MAX_BYTES:
            return False  # never a password we accepted
        with self._turn():
            try:
                return self._hasher.verify(stored or self._dummy, password) and stored is not None
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than today's."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    def _turn(self) -> _Turn:
        return _Turn(self._turns, self._wait)


class _Turn:
    """One of the semaphore's places, taken within ``wait`` seconds or ``Busy``."""

    def __init__(self, turns: threading.BoundedSemaphore, wait: float) -> None:
        self._turns = turns
        self._wait = wait

    def __enter__(self) -> None:
        if not self._turns.acquire(timeout=self._wait):
            raise Busy("Too many sign-ins at once: try again in a few seconds.", retry_after=5)

    def __exit__(self, *_exc: object) -> None:
        self._turns.release()
