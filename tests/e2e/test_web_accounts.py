"""Signing in on the web against a running private index, driven with httpx and its cookie
jar (the browser's flows are tests/e2e's Playwright modules): passwords kept as argon2id
(and rehashed at sign-in when made with older parameters),
one answer for a wrong password and an unknown name, the lock-out after 10 failures, TOTP
with a code accepted once, sessions ended by sign-out and by a password change, CSRF tokens
and the Origin check, no open redirect after sign-in, the cookies' flags, a web session as a
read credential of a private index, and a maintainer's token and project pages.

Each attack is shown refused, and beside it the same request without the attack's flaw (the
naive path) going through, so the refusal is the check's doing. One server for the module
(argon2id costs about 0.1 s a hash: the tests sign in a dozen times in all).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator

import argon2
import httpx
import pyotp
import pytest
from sqlalchemy import create_engine, text

from tests.support import server as server_support
from tests.support.server import IndexServer
from tests.support.state import query, snapshot
from tests.support.uploads import post_wheel
from tufpi.index.passwords import Passwords

PASSWORDS = {
    "alice": "alice's long password",
    "bob": "bob's long password",
    "mallory": "mallory's password",
    "tina": "tina's password, with TOTP",
}
OLD_PARAMETERS = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
RFC_9106 = "$argon2id$v=19$m=65536,t=3,p=4$"
_HIDDEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    """A private index (reads need a token or a web session) with four accounts."""
    srv = server_support.start(tmp_path_factory.mktemp("web-accounts"), private="true")
    try:
        # As `tufpi user add NAME --password-stdin` stores them (which
        # tests/unit/cli/test_user_commands.py runs): a process for it costs seconds here.
        hashes = Passwords()
        engine = create_engine(srv.database_url)
        with engine.begin() as conn:
            for name, password in PASSWORDS.items():
                # alice's hash has older, cheaper parameters: signing in replaces it.
                stored = OLD_PARAMETERS.hash(password) if name == "alice" else hashes.hash(password)
                conn.execute(
                    text(
                        "INSERT INTO users (name, created, password_hash, failed_logins) "
                        "VALUES (:n, CURRENT_TIMESTAMP, :h, 0)"
                    ),
                    {"n": name, "h": stored},
                )
        engine.dispose()
        yield srv
    finally:
        srv.stop()


def browser(server: IndexServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)


def csrf_of(page: httpx.Response) -> str:
    found = _HIDDEN.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def sign_in(
    client: httpx.Client, name: str, password: str | None = None, next_path: str = "/manage/"
) -> httpx.Response:
    """The sign-in form, fetched then posted as a browser does."""
    form = client.get("/account/login/", params={"next": next_path})
    assert form.status_code == 200
    fields = {
        "csrf_token": csrf_of(form),
        "name": name,
        "password": PASSWORDS[name] if password is None else password,
        "next": next_path,
    }
    return client.post("/account/login/", data=fields)


def sessions_of(server: IndexServer, name: str) -> list[tuple[str, bool]]:
    return [
        (r[0], bool(r[1]))
        for r in query(
            server.database_url,
            "SELECT web_sessions.digest, web_sessions.complete FROM web_sessions "
            "JOIN users ON users.id = web_sessions.user_id WHERE users.name = :n",
            n=name,
        )
    ]


def journal(server: IndexServer, action: str) -> list[tuple[str, str, str]]:
    return [
        (r[0], r[1], r[2])
        for r in query(
            server.database_url,
            "SELECT account, via, detail FROM journal WHERE action = :a AND project IS NULL",
            a=action,
        )
    ]


def password_hash(server: IndexServer, name: str) -> str:
    [(stored,)] = query(
        server.database_url, "SELECT password_hash FROM users WHERE name = :n", n=name
    )
    return str(stored)


def test_sign_in_and_out(server: IndexServer) -> None:
    old = password_hash(server, "alice")
    assert old.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    with browser(server) as client:
        asked = client.get("/manage/")
        assert asked.status_code == 303
        assert asked.headers["location"] == "/account/login/?next=/manage/"
        signed = sign_in(client, "alice")
        assert signed.status_code == 303
        assert signed.headers["location"] == "/manage/"
        cookie = next(
            c for c in signed.headers.get_list("set-cookie") if c.startswith("tufpi_session=")
        )
        flags = [f.strip().lower() for f in cookie.split(";")]
        assert {"httponly", "path=/", "samesite=lax", "max-age=43200"} <= set(flags)
        assert "secure" not in flags  # plain http here; https gets Secure (tests/unit/web)
        secret = client.cookies["tufpi_session"]
        # Signing in replaced the hash of older parameters with today's (RFC 9106's).
        assert password_hash(server, "alice").startswith(RFC_9106)
        assert PASSWORDS["alice"] not in password_hash(server, "alice")
        # The database keeps only the secret's sha256.
        assert (hashlib.sha256(secret.encode()).hexdigest(), True) in sessions_of(server, "alice")
        page = client.get("/manage/")
        assert page.status_code == 200
        assert 'Signed in as <strong id="account-name">alice</strong>' in page.text
        assert "You are signed in." in page.text  # the flash, shown once
        assert "You are signed in." not in client.get("/manage/").text
        out = client.post("/account/logout/", data={"csrf_token": csrf_of(page)})
        assert out.status_code == 303
        assert sessions_of(server, "alice") == []
        assert client.get("/manage/").status_code == 303
        # The old cookie, replayed: the session is gone.
        replayed = httpx.get(server.url + "manage/", cookies={"tufpi_session": secret})
        assert replayed.status_code == 303


def test_a_wrong_password_and_an_unknown_name_get_one_answer(server: IndexServer) -> None:
    with browser(server) as client:
        wrong = sign_in(client, "bob", password="not bob's password")
        unknown = sign_in(client, "nobody", password="not bob's password")
    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert "Wrong name or password." in answer.text
        assert "tufpi_session" not in answer.headers.get("set-cookie", "")
    assert sessions_of(server, "bob") == []


def test_no_open_redirect_after_sign_in(server: IndexServer) -> None:
    with browser(server) as client:
        signed = sign_in(client, "bob", next_path="//evil.example/")
        assert signed.headers["location"] == "/manage/"
        # Signed in, the sign-in page sends the browser on to next= at once: checked too.
        for target in ("https://evil.example/", "/\\evil.example", "//evil.example/"):
            went = client.get("/account/login/", params={"next": target})
            assert went.headers["location"] == "/manage/"
        kept = client.get("/account/login/", params={"next": "/manage/account/tokens/"})
        assert kept.headers["location"] == "/manage/account/tokens/"


def test_lock_out_after_ten_failures(server: IndexServer) -> None:
    with browser(server) as client:
        for _ in range(9):
            assert sign_in(client, "mallory", password="guess guess").status_code == 401
        tenth = sign_in(client, "mallory", password="guess guess")
        assert tenth.status_code == 429
        assert "Too many failed sign-ins (10 in a row)" in tenth.text
        assert "locked until" in tenth.text
        # Now even the right password is refused, unchecked, for 15 minutes.
        right = sign_in(client, "mallory")
        assert right.status_code == 429
        assert sessions_of(server, "mallory") == []
        [(locked_until,)] = query(
            server.database_url, "SELECT locked_until FROM users WHERE name = 'mallory'"
        )
        assert locked_until is not None
    # `tufpi user password` lifts it: tests/unit/cli/test_user_commands.py.


def _code(secret: str, after: int | None) -> tuple[str, int]:
    """A code for the current step, or for the step after ``after`` if that is later (so
    it was never used): what an authenticator shows a few seconds on."""
    step = max(int(time.time()) // 30, (after or 0) + 1)
    return pyotp.TOTP(secret).at(step * 30), step


def test_totp_is_asked_and_a_code_is_accepted_once(server: IndexServer) -> None:
    with browser(server) as client:
        assert sign_in(client, "tina").status_code == 303
        account = client.get("/manage/account/")
        secret = re.search(r'id="totp-secret">([A-Z2-7]{32})<', account.text).group(1)  # type: ignore[union-attr]
        assert f"otpauth://totp/tufpi:tina?secret={secret}" in account.text
        code, step = _code(secret, None)
        fields = {"csrf_token": csrf_of(account), "secret": secret, "code": code}
        enabled = client.post("/manage/account/2fa-enable", data=fields)
        assert enabled.status_code == 303
        assert "Two-factor sign-in is on" in client.get("/manage/account/").text
    assert ("tina", "web", "tina") in journal(server, "2fa enabled")

    with browser(server) as client:
        password_only = sign_in(client, "tina")
        assert password_only.status_code == 303
        assert password_only.headers["location"] == "/account/login/?next=/manage/"
        assert sessions_of(server, "tina")[-1][1] is False  # incomplete
        assert client.get("/manage/").status_code == 303  # not signed in yet
        # Nor may it read the private index.
        assert client.get("/simple/").status_code == 401
        form = client.get("/account/login/")
        assert 'id="totp-form"' in form.text
        replayed = client.post(
            "/account/login/", data={"csrf_token": csrf_of(form), "code": code, "next": "/manage/"}
        )
        assert replayed.status_code == 401  # the enrolment's code, used once already
        assert "already used" in replayed.text
        fresh, _ = _code(secret, step)
        done = client.post(
            "/account/login/", data={"csrf_token": csrf_of(form), "code": fresh, "next": "/manage/"}
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/manage/"
        assert client.get("/manage/").status_code == 200
        # The session was replaced: the incomplete one's secret signs no one in.
        assert all(complete for _digest, complete in sessions_of(server, "tina"))

    with browser(server) as client:
        sign_in(client, "tina")
        form = client.get("/account/login/")
        again = client.post(
            "/account/login/", data={"csrf_token": csrf_of(form), "code": fresh, "next": "/"}
        )
        assert again.status_code == 401  # a code seen once (over a shoulder) is no use


def test_csrf_and_origin_are_checked(server: IndexServer) -> None:
    with browser(server) as client:
        sign_in(client, "alice")
        page = client.get("/manage/account/tokens/")
        token = csrf_of(page)
        before = snapshot(server)
        missing = client.post("/manage/account/tokens/", data={"description": "forged"})
        wrong = client.post(
            "/manage/account/tokens/", data={"csrf_token": "x" * 43, "description": "forged"}
        )
        other_site = client.post(
            "/manage/account/tokens/",
            data={"csrf_token": token, "description": "forged"},
            headers={"origin": "https://evil.example"},
        )
        for refused in (missing, wrong):
            assert refused.status_code == 403
            assert "CSRF token is missing or wrong" in refused.text
        assert other_site.status_code == 403
        assert "posted from another site (Origin https://evil.example)" in other_site.text
        assert snapshot(server) == before
        # The naive path: the same post from this origin, with the token, goes through.
        made = client.post(
            "/manage/account/tokens/",
            data={"csrf_token": token, "description": "laptop"},
            headers={"origin": server.url.rstrip("/")},
        )
        assert made.status_code == 200
        assert made.headers["cache-control"] == "no-store"
        assert re.search(r'id="token-secret" class="hash">tufpi-', made.text)
        # Shown once: the list shows the token, never its secret again.
        listing = client.get("/manage/account/tokens/")
        assert "laptop" in listing.text
        assert 'id="token-secret"' not in listing.text


def test_the_sign_in_form_has_its_own_csrf_cookie(server: IndexServer) -> None:
    before = sessions_of(server, "bob")
    with browser(server) as client:
        # A form posted from another site carries no tufpi_csrf cookie (login CSRF).
        forged = client.post(
            "/account/login/",
            data={"csrf_token": "chosen", "name": "bob", "password": PASSWORDS["bob"]},
        )
        assert forged.status_code == 403
        form = client.get("/account/login/")
        cookie = next(c for c in form.headers.get_list("set-cookie") if c.startswith("tufpi_csrf"))
        assert "httponly" in cookie.lower()
        assert "samesite=lax" in cookie.lower()
        assert client.cookies["tufpi_csrf"] == csrf_of(form)
    assert sessions_of(server, "bob") == before


def test_a_password_change_ends_the_other_sessions(server: IndexServer) -> None:
    before_change = password_hash(server, "bob")
    with browser(server) as laptop, browser(server) as phone:
        sign_in(laptop, "bob")
        sign_in(phone, "bob")
        assert phone.get("/manage/").status_code == 200
        page = laptop.get("/manage/account/")
        fields = {
            "csrf_token": csrf_of(page),
            "current_password": "not the password",
            "new_password": "bob's newer password",
            "repeat_password": "bob's newer password",
        }
        refused = laptop.post("/manage/account/password", data=fields)
        assert refused.status_code == 303
        assert "The current password is wrong" in laptop.get("/manage/account/").text
        assert phone.get("/manage/").status_code == 200  # nothing changed
        fields["current_password"] = PASSWORDS["bob"]
        assert laptop.post("/manage/account/password", data=fields).status_code == 303
        assert "your other sessions are signed out" in laptop.get("/manage/account/").text
        assert phone.get("/manage/").status_code == 303
        assert laptop.get("/manage/").status_code == 200
    assert ("bob", "web", "bob") in journal(server, "password changed")
    assert password_hash(server, "bob").startswith(RFC_9106)
    assert password_hash(server, "bob") != before_change
    with browser(server) as client:
        assert sign_in(client, "bob").status_code == 401  # the old password
        PASSWORDS["bob"] = "bob's newer password"
        assert sign_in(client, "bob").status_code == 303


def test_a_session_reads_the_private_index_and_manages_a_project(server: IndexServer) -> None:
    with browser(server) as client:
        assert client.get("/simple/").status_code == 401
        sign_in(client, "alice")
        assert client.get("/simple/").status_code == 200  # a complete session reads
        page = client.get("/manage/account/tokens/")
        made = client.post(
            "/manage/account/tokens/",
            data={"csrf_token": csrf_of(page), "description": "upload"},
        )
        secret = re.search(r"(tufpi-[A-Za-z0-9_-]+)", made.text).group(1)  # type: ignore[union-attr]
        assert post_wheel(client, server.url, secret, "web-demo", "1.0").status_code == 200
        assert "web-demo" in client.get("/manage/").text
        manage = client.get("/manage/project/web-demo/")
        assert manage.status_code == 200
        csrf = csrf_of(manage)
        path = "/manage/project/web-demo/"
        added = client.post(path + "owner-add", data={"csrf_token": csrf, "user": "mallory"})
        assert added.status_code == 303
        assert "mallory is now an owner of web-demo." in client.get(path).text
        yank = {"csrf_token": csrf, "version": "1.0", "reason": "broken build"}
        assert client.post(path + "yank", data=yank).status_code == 303
        assert "broken build" in client.get(path).text
        filename = "web_demo-1.0-py3-none-any.whl"
        removal = {"csrf_token": csrf, "version": "1.0", "filename": filename, "confirm": "1.0"}
        before = snapshot(server)
        client.post(path + "file-remove", data=removal)
        assert "Nothing was removed: type the filename" in client.get(path).text
        assert snapshot(server) == before
        removal["confirm"] = filename
        client.post(path + "file-remove", data=removal)
        assert f"Removed {filename}." in client.get(path).text
    with browser(server) as stranger:
        sign_in(stranger, "tina", next_path="/manage/")  # TOTP pending: not signed in
        assert stranger.get(path).status_code == 303
    with browser(server) as bob:
        sign_in(bob, "bob")
        assert bob.get(path).status_code == 403  # not an owner
    actions = query(
        server.database_url,
        "SELECT action, account, via FROM journal WHERE project = 'web-demo' ORDER BY id",
    )
    assert ("owner added", "alice", "web") in actions
    assert ("release yanked", "alice", "web") in actions
    assert ("file removed", "alice", "web") in actions
