"""Load the online key (timestamp, snapshot, bin-n) by securesystemslib URI.

``file2:/path/key.pem`` for a PKCS#8 PEM file; ``hsm:[KEYID][?label=TOKEN]`` for a PKCS#11
token (the module in ``PYKCS11LIB``, the PIN in ``TUFPI_HSM_PIN``); cloud KMS and Vault URIs
pass through to securesystemslib. The server loads this key and no other.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner, Key, Signer

PIN_ENV = "TUFPI_HSM_PIN"


class OnlineKeyError(Exception):
    """The online key cannot be loaded or does not match what root trusts."""


def _pin(_secret: str) -> str:
    pin = os.environ.get(PIN_ENV)
    if pin is None:
        raise OnlineKeyError(f"the HSM needs a PIN: set {PIN_ENV}")
    return pin


def load_signer(uri: str, trusted: list[Key]) -> Signer:
    """A signer for ``uri`` whose public key is one of ``trusted`` (root's online keys).

    Raises:
        OnlineKeyError: the key cannot be loaded, or root does not trust it.
    """
    errors = []
    for key in trusted:
        try:
            return Signer.from_priv_key_uri(uri, key, secrets_handler=_pin)
        # securesystemslib raises many kinds of error here; report them all.
        except Exception as e:
            errors.append(f"{key.keyid[:12]}: {e}")
    raise OnlineKeyError(
        f"cannot use online key {uri!r} with any key root trusts for the online roles: "
        + "; ".join(errors)
    )


def public_key(uri: str) -> Key:
    """The public key behind an online key URI (used when initialising root).

    Raises:
        OnlineKeyError: unsupported URI or unreadable key.
    """
    scheme, _, rest = uri.partition(":")
    try:
        if scheme == "file2":
            private = load_pem_private_key(Path(rest).read_bytes(), None)
            return CryptoSigner(private).public_key
        if scheme == "hsm":
            from securesystemslib.signer import HSMSigner

            keyid = int(rest.split("?", 1)[0]) if rest.split("?", 1)[0] else None
            _uri, key = HSMSigner.import_(keyid)
            return key
    except (OSError, ValueError) as e:
        raise OnlineKeyError(f"cannot read online key {uri!r}: {e}") from e
    raise OnlineKeyError(f"cannot derive a public key from {uri!r}; use file2: or hsm:")
