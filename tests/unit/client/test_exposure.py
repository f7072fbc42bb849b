"""The warning for a proxy that listens beyond this machine."""

from __future__ import annotations

import pytest

from tufpi.client.exposure import is_loopback, listen_warning


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "[::1]", "localhost", "LOCALHOST",
     "::ffff:127.0.0.1"],
)  # fmt: skip
def test_loopback_needs_no_warning(host: str) -> None:
    assert is_loopback(host)
    assert listen_warning(host, holds_credentials=True) is None


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "::", "[::]", "192.168.1.10", "10.0.0.1", "fe80::1", "2001:db8::1",
     "::ffff:192.168.1.10", "myhost.example.org", "128.0.0.1", ""],
)  # fmt: skip
def test_anything_else_warns(host: str) -> None:
    assert not is_loopback(host)
    warning = listen_warning(host, holds_credentials=False)
    assert warning is not None
    assert "anyone who can reach it can install through this proxy" in warning
    assert "credentials" not in warning


def test_the_warning_names_the_credentials_it_holds() -> None:
    warning = listen_warning("0.0.0.0", holds_credentials=True)
    assert warning is not None
    assert "not a loopback address" in warning
    assert "credentials this proxy holds" in warning
