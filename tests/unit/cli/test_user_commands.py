"""``tufpi user add | password | reset-2fa`` in-process (click's runner) on an SQLite index:
passwords from standard input only, checked before anything is written, stored as argon2id;
the administrator's reset lifts a lock-out, ends the account's web sessions and is journaled.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from tests.support.state import query
from tufpi.cli import main


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'tufpi.sqlite3'}"
    return {"TUFPI_DATA_DIR": str(tmp_path), "TUFPI_DATABASE_URL": url}


def tufpi(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, env=env, catch_exceptions=False)


def users(env: dict[str, str]) -> dict[str, tuple[object, ...]]:
    rows = query(
        env["TUFPI_DATABASE_URL"],
        "SELECT name, password_hash, failed_logins, locked_until, totp_secret FROM users",
    )
    return {r[0]: r[1:] for r in rows}


def test_user_add_takes_the_password_from_stdin_only(env: dict[str, str]) -> None:
    short = tufpi(env, "user", "add", "alice", "--password-stdin", stdin="short\n")
    assert short.exit_code != 0
    assert "A password needs at least 8 characters." in short.output
    # No terminal to ask on, and no flag: refused, rather than a token-only account.
    untold = tufpi(env, "user", "add", "alice", stdin="")
    assert untold.exit_code == 2
    assert "--password-stdin" in untold.output
    added = tufpi(env, "user", "add", "alice", "--password-stdin", stdin="long enough\n")
    assert added.exit_code == 0, added.output
    tokens_only = tufpi(env, "user", "add", "bob", "--no-password")
    assert "API tokens only" in tokens_only.output
    found = users(env)
    assert str(found["alice"][0]).startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert found["bob"][0] is None


def test_the_administrator_resets_a_password_and_the_second_factor(env: dict[str, str]) -> None:
    tufpi(env, "user", "add", "carol", "--password-stdin", stdin="first password\n")
    url = env["TUFPI_DATABASE_URL"]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE users SET failed_logins = 0, locked_until = :t, "
                "totp_secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' WHERE name = 'carol'"
            ),
            {"t": later},
        )
        conn.execute(
            text(
                "INSERT INTO web_sessions (digest, user_id, csrf, complete, created, expires) "
                "SELECT 'd', id, 'c', true, :t, :t FROM users WHERE name = 'carol'"
            ),
            {"t": later},
        )
    engine.dispose()
    before = users(env)["carol"][0]
    reset = tufpi(env, "user", "password", "carol", "--password-stdin", stdin="second password\n")
    assert reset.exit_code == 0, reset.output
    password_hash, failed, locked_until, secret = users(env)["carol"]
    assert password_hash != before
    assert (failed, locked_until) == (0, None)  # the lock-out is lifted
    assert secret is not None
    assert query(url, "SELECT count(*) FROM web_sessions") == [(0,)]
    assert tufpi(env, "user", "reset-2fa", "carol").exit_code == 0
    assert users(env)["carol"][3] is None
    assert query(url, "SELECT action, account, via, detail FROM journal ORDER BY id") == [
        ("password changed", "admin", "server", "carol"),
        ("2fa disabled", "admin", "server", "carol"),
    ]
    missing = tufpi(env, "user", "reset-2fa", "nobody")
    assert missing.exit_code == 1
    assert "No user 'nobody'." in missing.output
