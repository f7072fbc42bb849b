"""TOTP codes (``index.totp``): one step either side of now, and each step only once."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pyotp

from tufpi.index import totp

NOW = dt.datetime(2026, 12, 7, 12, 0, 10, tzinfo=dt.UTC)
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_a_code_matches_what_an_authenticator_app_computes() -> None:
    app = pyotp.TOTP(SECRET)  # what a phone does with the URI
    step = totp.step_of(NOW)
    assert totp.accepted_step(SECRET, app.at(NOW), NOW, None) == step
    assert totp.accepted_step(SECRET, app.at(NOW)[:3] + " " + app.at(NOW)[3:], NOW, None) == step


def test_one_step_either_side_and_no_more() -> None:
    step = totp.step_of(NOW)
    for offset in (-1, 0, 1):
        assert totp.accepted_step(SECRET, totp.code_at(SECRET, step + offset), NOW, None) == (
            step + offset
        )
    for offset in (-3, -2, 2, 3):
        assert totp.accepted_step(SECRET, totp.code_at(SECRET, step + offset), NOW, None) is None


def test_a_code_is_accepted_once() -> None:
    step = totp.step_of(NOW)
    code = totp.code_at(SECRET, step)
    assert totp.accepted_step(SECRET, code, NOW, None) == step
    # Replayed within its window: the account's last step is now ``step``. pyotp's own
    # check (the naive path) knows no last step and takes the code again.
    assert pyotp.TOTP(SECRET).verify(code, for_time=NOW, valid_window=1)
    assert totp.accepted_step(SECRET, code, NOW, step) is None
    assert totp.accepted_step(SECRET, code, NOW + dt.timedelta(seconds=30), step) is None
    # An older code after a newer one: refused too.
    assert totp.accepted_step(SECRET, totp.code_at(SECRET, step - 1), NOW, step) is None
    assert totp.accepted_step(SECRET, totp.code_at(SECRET, step + 1), NOW, step) == step + 1


def test_malformed_codes_are_refused() -> None:
    for code in ("", "12345", "1234567", "abcdef", "١٢٣٤٥٦"):
        assert totp.accepted_step(SECRET, code, NOW, None) is None


def test_secrets_and_the_uri() -> None:
    secret = totp.new_secret()
    assert totp.well_formed(secret)
    assert secret != totp.new_secret()
    assert not totp.well_formed("AAAA")
    assert not totp.well_formed(secret.lower())
    parts = urlsplit(totp.uri(secret, "alice"))
    assert (parts.scheme, parts.netloc, parts.path) == ("otpauth", "totp", "/tufpi:alice")
    assert parse_qs(parts.query)["secret"] == [secret]
    assert parse_qs(parts.query)["issuer"] == ["tufpi"]
