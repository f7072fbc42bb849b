"""argon2id password hashes (``index.passwords``): the stored form, the length rules, the
bounded number of hashes at once, and a hash spent for a name without a password."""

from __future__ import annotations

import threading
import time

import argon2
import pytest

from tufpi.index.errors import Busy, InvalidRequest
from tufpi.index.passwords import MAX_BYTES, Passwords, password_problem


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords()


def test_stored_as_argon2id_with_rfc_9106_parameters(passwords: Passwords) -> None:
    stored = passwords.hash("correct horse")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify(stored, "correct horse")
    assert not passwords.verify(stored, "correct horsE")
    assert not passwords.needs_rehash(stored)


def test_length_rules() -> None:
    assert password_problem("1234567") == "A password needs at least 8 characters."
    assert password_problem("12345678") is None
    assert password_problem("é" * 512) is None  # 1024 bytes
    assert "at most 1024 bytes" in (password_problem("é" * 513) or "")
    with pytest.raises(InvalidRequest, match="at least 8"):
        Passwords(1).hash("short")


def test_a_longer_password_is_never_right(passwords: Passwords) -> None:
    stored = passwords.hash("x" * MAX_BYTES)
    assert passwords.verify(stored, "x" * MAX_BYTES)
    assert not passwords.verify(stored, "x" * (MAX_BYTES + 1))


def test_old_parameters_are_rehashed(passwords: Passwords) -> None:
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("old pass")
    assert passwords.verify(weak, "old pass")
    assert passwords.needs_rehash(weak)
    assert passwords.needs_rehash("not a hash")


def test_no_stored_hash_still_costs_a_hash(passwords: Passwords) -> None:
    stored = passwords.hash("a password")
    start = time.perf_counter()
    passwords.verify(stored, "wrong one")
    with_hash = time.perf_counter() - start
    start = time.perf_counter()
    assert not passwords.verify(None, "wrong one")
    without = time.perf_counter() - start
    assert without > with_hash / 3  # the dummy hash is spent (no early answer)


def test_at_most_n_hashes_at_once() -> None:
    passwords = Passwords(concurrency=1, wait_seconds=0.01)
    # Hold the only turn, as a hash under way does: the next caller is told to retry.
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with passwords._turn():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        with pytest.raises(Busy, match="Too many sign-ins at once"):
            passwords.hash("another password")
    finally:
        release.set()
        thread.join()
    assert passwords.hash("another password").startswith("$argon2id$")
