"""SoftHSM2 tokens made by the tests: a private token directory, an ECDSA P-256 key made on it.

Debian's ``softhsm2`` provides the PKCS#11 module and ``softhsm2-util``; the key pair is
generated inside the token through python-pkcs11 (the library securesystemslib's ``HSMSigner``
uses), so its private half never exists outside the token.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib import parse

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SO_PIN = "12345678"
USER_PIN = "87654321"


def available() -> str | None:
    """None if SoftHSM2 and python-pkcs11 are installed, else what is missing."""
    if not Path(MODULE).exists() or shutil.which("softhsm2-util") is None:
        return f"Debian's softhsm2 is not installed ({MODULE}, softhsm2-util)"
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        return "python-pkcs11 is not installed (securesystemslib[hsm])"
    return None


@dataclasses.dataclass(frozen=True)
class Token:
    """An initialised token in a SoftHSM2 of its own (its own config file and token dir)."""

    conf: Path
    label: str
    key_id: int
    public_key_der: bytes  # SubjectPublicKeyInfo of the key pair with CKA_ID ``key_id``

    @property
    def uri(self) -> str:
        """The securesystemslib private key URI: ``hsm:KEYID?label=LABEL``."""
        return f"hsm:{self.key_id}?{parse.urlencode({'label': self.label})}"

    def env(self) -> dict[str, str]:
        """What a process needs to sign with this token (module, config, PIN)."""
        return {"SOFTHSM2_CONF": str(self.conf), "PYKCS11LIB": MODULE, "TUFPI_HSM_PIN": USER_PIN}


def make_softhsm(directory: Path) -> Path:
    """Write a softhsm2.conf with its own token directory; returns the config file."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    return conf


@contextlib.contextmanager
def pkcs11_env(conf: Path) -> Iterator[None]:
    """Point this process at ``conf`` while using the module; unload the module afterwards.

    SoftHSM2 reads ``SOFTHSM2_CONF`` when the module is initialised, and python-pkcs11 keeps
    a module loaded per path: unloading it lets another config (another test) be used later.
    """
    import pkcs11

    old = {name: os.environ.get(name) for name in ("SOFTHSM2_CONF", "PYKCS11LIB")}
    os.environ.update(SOFTHSM2_CONF=str(conf), PYKCS11LIB=MODULE)
    pkcs11.unload(MODULE)
    try:
        yield
    finally:
        pkcs11.unload(MODULE)
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _init_token(conf: Path, label: str) -> None:
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            label,
            "--so-pin",
            SO_PIN,
            "--pin",
            USER_PIN,
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )


def _generate_p256(conf: Path, label: str, key_id: int) -> bytes:
    """Generate an ECDSA P-256 key pair on the token; returns the public key (DER SPKI)."""
    import pkcs11
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

    with pkcs11_env(conf):
        token = pkcs11.lib(MODULE).get_token(token_label=label)
        with token.open(rw=True, user_pin=USER_PIN) as session:
            params = session.create_domain_parameters(
                pkcs11.KeyType.EC,
                {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            public, _private = params.generate_keypair(
                id=pkcs11.util.biginteger(key_id),  # the CKA_ID HSMSigner looks up
                label=f"{label}-key-{key_id}",
                store=True,
            )
            return encode_ec_public_key(public)


def create_token(conf: Path, label: str, key_id: int) -> Token:
    """Initialise a token labelled ``label`` (SO and user PIN) and make a P-256 key in it."""
    _init_token(conf, label)
    return Token(conf, label, key_id, _generate_p256(conf, label, key_id))
