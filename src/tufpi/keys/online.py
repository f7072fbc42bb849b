"""Load the online key (timestamp, snapshot, bin-n) by securesystemslib URI.

``file2:/path/key.pem`` for a PKCS#8 PEM file; ``hsm:[KEYID][?label=TOKEN]`` for a PKCS#11
token (the module in ``PYKCS11LIB``, the PIN in ``TUFPI_HSM_PIN``); cloud KMS and Vault URIs
pass through to securesystemslib. The server loads this key and no other.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib import parse

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.exceptions import UnsupportedLibraryError
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


def _hsm_public_key(uri: str) -> Key:
    """Read the public key of ``hsm:[KEYID][?label=TOKEN]`` from the token.

    The URI is parsed as ``HSMSigner.from_priv_key_uri`` parses it, so that root trusts the
    key the server will sign with: the same key id and, when the URI names one, the same
    token (without a label, securesystemslib needs exactly one initialised token).
    """
    from securesystemslib.signer import HSMSigner

    parts = parse.urlparse(uri)
    keyid = int(parts.path) if parts.path else None
    label = dict(parse.parse_qsl(parts.query)).get("label")
    _uri, key = HSMSigner.import_(keyid, token_label=label, secrets_handler=_pin)
    return key


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
            return _hsm_public_key(uri)
    except (OSError, ValueError, UnsupportedLibraryError) as e:
        raise OnlineKeyError(f"cannot read online key {uri!r}: {e}") from e
    raise OnlineKeyError(f"cannot derive a public key from {uri!r}; use file2: or hsm:")
