"""The log key file: created once, private, and refused in plain words when unusable."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tufpi.keys.logkey import LogKeyError, create_log_key, load_log_key, load_or_create_log_key


def test_created_once_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "log.pem"
    key = load_or_create_log_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_or_create_log_key(path)
    assert again.public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    with pytest.raises(LogKeyError, match="exists already"):
        create_log_key(path)


def _pem(key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot read the log key"),
        (b"not a key", "is not a PEM private key"),
        (_pem(ec.generate_private_key(ec.SECP256R1())), "is not an Ed25519 key"),
        (_pem(ec.generate_private_key(ec.SECP256R1()), b"secret"), "is encrypted"),
    ],
)
def test_unusable_keys_are_refused(tmp_path: Path, content: bytes | None, says: str) -> None:
    path = tmp_path / "log.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(LogKeyError, match=says):
        load_log_key(path)


def test_the_default_origin_follows_the_public_url() -> None:
    from tufpi.config import Settings

    assert Settings(public_url="https://pypi.example.org/").effective_log_origin == (
        "pypi.example.org/tlog"
    )
    assert Settings(host="127.0.0.1", port=8080).effective_log_origin == "127.0.0.1:8080/tlog"
    assert Settings(log_origin="example.org/log").effective_log_origin == "example.org/log"
