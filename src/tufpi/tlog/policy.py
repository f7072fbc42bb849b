"""The log a TUF root pins: its key, its witnesses and how many must cosign.

A root names its index's log in a field of its own (``ROOT_FIELD`` in ``root.json``'s
``signed``), so pinning the root pins the log, and a root ceremony rotates the log's key or
changes the witness policy like any other root key::

    "x-tufpi-tlog": {
        "log": "<vkey of the log: origin+keyid+key>",
        "witnesses": ["<vkey of a witness>", ...],
        "witness_threshold": 0
    }

The log's key name is the checkpoint's origin. ``LogPolicy.from_field`` refuses anything
else (``NoteError``): a client must not guess what a malformed root meant.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from tufpi.tlog import notes
from tufpi.tlog.notes import NoteError

ROOT_FIELD = "x-tufpi-tlog"
_KEYS = frozenset({"log", "witnesses", "witness_threshold"})
# A root is read before anything else is verified: keep what it may ask for small.
MAX_WITNESSES = 64


@dataclasses.dataclass(frozen=True)
class LogPolicy:
    """The log's verifier (Ed25519), the witnesses' (cosignature/v1) and the threshold."""

    log: notes.Verifier
    witnesses: tuple[notes.Verifier, ...] = ()
    witness_threshold: int = 0

    def __post_init__(self) -> None:
        if self.log.type != notes.ED25519:
            raise NoteError("the log's key must be an Ed25519 note key (type 0x01)")
        for witness in self.witnesses:
            if witness.type != notes.COSIGNATURE_V1:
                raise NoteError(f"witness {witness.name}'s key is not a cosignature/v1 key")
        names = [(w.name, w.key_id) for w in self.witnesses]
        if len(set(names)) != len(names):
            raise NoteError("a witness is listed twice")
        if len(self.witnesses) > MAX_WITNESSES:
            raise NoteError(f"more than {MAX_WITNESSES} witnesses")
        if not 0 <= self.witness_threshold <= len(self.witnesses):
            raise NoteError(
                f"the witness threshold {self.witness_threshold} is not within 0 and "
                f"{len(self.witnesses)} (the witnesses listed)"
            )

    @property
    def origin(self) -> str:
        """The origin line the log's checkpoints carry: its key's name."""
        return self.log.name

    @classmethod
    def from_field(cls, value: Any) -> LogPolicy:
        """The policy a root's ``ROOT_FIELD`` value states."""
        if not isinstance(value, Mapping) or set(value) != _KEYS:
            raise NoteError(f"the root's {ROOT_FIELD} must be an object with {sorted(_KEYS)}")
        witnesses, threshold = value["witnesses"], value["witness_threshold"]
        if not isinstance(value["log"], str):
            raise NoteError(f"{ROOT_FIELD}.log is not a vkey string")
        if not isinstance(witnesses, list) or not all(isinstance(w, str) for w in witnesses):
            raise NoteError(f"{ROOT_FIELD}.witnesses is not a list of vkey strings")
        if type(threshold) is not int:
            raise NoteError(f"{ROOT_FIELD}.witness_threshold is not a whole number")
        if len(witnesses) > MAX_WITNESSES:
            raise NoteError(f"more than {MAX_WITNESSES} witnesses")
        return cls(
            notes.parse_vkey(value["log"]),
            tuple(notes.parse_vkey(w) for w in witnesses),
            threshold,
        )

    def to_field(self) -> dict[str, Any]:
        """The value of ``ROOT_FIELD`` stating this policy."""
        return {
            "log": self.log.vkey(),
            "witnesses": [w.vkey() for w in self.witnesses],
            "witness_threshold": self.witness_threshold,
        }


def policy_of(signed_fields: Mapping[str, Any]) -> LogPolicy | None:
    """The policy in a root's unrecognised fields (python-tuf's
    ``Root.unrecognized_fields``); None when the root names no log."""
    if ROOT_FIELD not in signed_fields:
        return None
    return LogPolicy.from_field(signed_fields[ROOT_FIELD])
