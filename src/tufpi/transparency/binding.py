"""The log key a TUF root names (``x-tufpi-tlog``, ``tufpi.tlog.policy``), checked against
the key the signer holds: a signer whose key is not the root's would sign checkpoints no
client accepts, so it refuses to start; a root naming no log means no log is run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tufpi.tlog import notes
from tufpi.tlog.policy import policy_of
from tufpi.transparency.sequencer import LogError, LogKey


class LogKeyMismatch(LogError):
    """The signer's log key is not the one the published root names."""


def bound_log_key(
    root_fields: Mapping[str, Any], load_key: Callable[[], Ed25519PrivateKey], where: str
) -> LogKey | None:
    """The log's signing key and origin when the root (its unrecognised fields) names a
    log and the key ``load_key`` returns (read from ``where``) is that log's; None when
    the root names no log (an older repository: no log is run).

    Raises:
        LogKeyMismatch: the key is not the root's log key.
        LogError: the root's log field is malformed.
        tufpi.keys.LogKeyError: the key could not be loaded.
    """
    try:
        policy = policy_of(root_fields)
    except notes.NoteError as e:
        raise LogError(f"the TUF root's transparency log field is malformed: {e}") from e
    if policy is None:
        return None
    key = load_key()
    held = notes.verifier_for(policy.origin, key, notes.ED25519)
    if held != policy.log:
        raise LogKeyMismatch(
            f"the log key {where} is not the key the TUF root names for the log "
            f"{policy.origin!r} (root: {policy.log.vkey()}; this key: {held.vkey()}); "
            "use the root's log key, or rotate the log key with a root ceremony"
        )
    return LogKey(policy.origin, key)
