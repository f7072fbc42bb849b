"""The log policy a TUF root states: read back exactly, anything malformed refused."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tufpi.tlog import notes
from tufpi.tlog.notes import NoteError
from tufpi.tlog.policy import ROOT_FIELD, LogPolicy, policy_of


def _verifier(name: str, kind: int) -> notes.Verifier:
    return notes.verifier_for(name, Ed25519PrivateKey.generate(), kind)


LOG = _verifier("example.com/tlog", notes.ED25519)
W1 = _verifier("w1.example", notes.COSIGNATURE_V1)
W2 = _verifier("w2.example", notes.COSIGNATURE_V1)


def test_round_trip_through_the_root_field() -> None:
    policy = LogPolicy(LOG, (W1, W2), 1)
    field = policy.to_field()
    assert field["log"] == LOG.vkey()
    assert policy_of({ROOT_FIELD: field}) == policy
    assert policy.origin == "example.com/tlog"


def test_a_root_without_the_field_names_no_log() -> None:
    assert policy_of({"x-other": 1}) is None


def _field(**changes: Any) -> dict[str, Any]:
    return {**LogPolicy(LOG, (W1, W2), 2).to_field(), **changes}


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ([], "must be an object"),
        ({**_field(), "extra": 1}, "must be an object"),
        (_field(witness_threshold=3), "threshold 3 is not within 0 and 2"),
        (_field(witness_threshold=-1), "threshold -1"),
        (_field(witness_threshold=True), "not a whole number"),
        (_field(witness_threshold="1"), "not a whole number"),
        (_field(log=W1.vkey()), "must be an Ed25519 note key"),
        (_field(witnesses=[LOG.vkey()]), "not a cosignature/v1 key"),
        (_field(witnesses=[W1.vkey(), W1.vkey()]), "listed twice"),
        (_field(witnesses=W1.vkey()), "not a list of vkey strings"),
        (_field(log="example.com/tlog"), "two plus signs"),
        (_field(witnesses=[W1.vkey()] * 65), "more than 64 witnesses"),
    ],
)
def test_malformed_policies_are_refused(field: Any, says: str) -> None:
    with pytest.raises(NoteError) as caught:
        policy_of({ROOT_FIELD: field})
    assert says in str(caught.value)
