"""API tokens: random secrets shown once, stored only as their SHA-256.

A token carries 256 bits of randomness, so a plain SHA-256 (not a slow password hash) is
enough to make a stolen database useless for uploading.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

PREFIX = "tufpi-"
TOKEN_USERNAME = "__token__"  # noqa: S105 - the fixed username of token auth


def new_token() -> str:
    """A fresh token secret."""
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """Username and password from an ``Authorization: Basic`` header, or None if absent/bad."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep:
        return None
    return username, password
