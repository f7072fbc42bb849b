"""The TOTP second factor (RFC 6238) with pyotp: 6 digits, 30-second steps, SHA-1, as every
authenticator app reads from an ``otpauth://`` URI.

A code is accepted for the step before, the step of and the step after ``now`` (RFC 6238
section 5.2's allowance for clock drift and typing time), and only for a step later than the
last one accepted for the account: a code seen once (over a shoulder, in a proxy's log)
cannot be used again. Pure but for ``new_secret``'s randomness; time comes in as an argument.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re

import pyotp

DIGITS = 6
STEP_SECONDS = 30
WINDOW = 1  # steps either side of now
ISSUER = "tufpi"
_SECRET = re.compile(r"[A-Z2-7]{32}")  # 160 bits of base32 (RFC 4226 section 4's minimum)
_CODE = re.compile(r"[0-9]{6}")


def new_secret() -> str:
    """A random 160-bit secret in base32, as authenticator apps take it."""
    return pyotp.random_base32(length=32)


def well_formed(secret: str) -> bool:
    """Whether ``secret`` is one ``new_secret`` could have made (an enrolment form sends it
    back: nothing shorter or stranger is kept)."""
    return _SECRET.fullmatch(secret) is not None


def uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads (as text or a QR code)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def step_of(now: dt.datetime) -> int:
    """The RFC 6238 time step ``now`` falls in."""
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The code for ``step`` (for tests and for an authenticator of one's own)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(step * STEP_SECONDS)


def accepted_step(secret: str, code: str, now: dt.datetime, last_step: int | None) -> int | None:
    """The step ``code`` is right for, within ``WINDOW`` steps of ``now`` and later than
    ``last_step`` (the last one accepted); None when it is not accepted. Spaces in the code
    are ignored (apps show ``123 456``)."""
    code = "".join(code.split())
    if _CODE.fullmatch(code) is None:
        return None
    current = step_of(now)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(code_at(secret, step), code):
            return step
    return None
