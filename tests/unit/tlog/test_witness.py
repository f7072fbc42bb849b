"""The C2SP tlog-witness protocol and a witness's decision: bodies built and parsed (the
spec's own example request parses), a checkpoint cosigned once it extends what the witness
holds, and every refusal with the spec's status: 400 malformed, 403 bad log signature,
404 unknown origin, 409 wrong old size (with the witness's size) or a fork, 422 a proof
that does not connect; rollbacks refused."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tufpi.tlog import hashing, notes, witness
from tufpi.tlog.checkpoints import Checkpoint
from tufpi.tlog.witness import (
    Accepted,
    AddCheckpoint,
    LogState,
    Refused,
    WitnessError,
    WitnessKey,
)

ORIGIN = "example.com/tlog"
LOG_KEY = Ed25519PrivateKey.generate()
LOG = notes.verifier_for(ORIGIN, LOG_KEY, notes.ED25519)
WITNESS = WitnessKey("witness.example/w1", Ed25519PrivateKey.generate())
LOGS = {ORIGIN: [LOG]}
NOW = 1_765_000_000
LEAVES = [hashing.leaf_hash(f"entry {n}".encode()) for n in range(40)]

# The example request body of c2sp.org/tlog-witness, byte for byte.
SPEC_EXAMPLE = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7"
    "u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2W"
    "ks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
).encode()


def signed(size: int, root: bytes | None = None, key: Ed25519PrivateKey = LOG_KEY) -> bytes:
    """A checkpoint of the first ``size`` leaves (or of ``root``), signed by ``key``."""
    text = Checkpoint(ORIGIN, size, root or hashing.root_hash(LEAVES[:size])).text()
    return notes.Note(text, (notes.sign(text, ORIGIN, key),)).encode()


def request(old: int, size: int, root: bytes | None = None) -> bytes:
    proof = hashing.consistency_proof(old, LEAVES[:size]) if 0 < old < size else []
    return AddCheckpoint(old, tuple(proof), signed(size, root)).encode()


def state(size: int) -> dict[str, LogState]:
    return {ORIGIN: LogState(size, hashing.root_hash(LEAVES[:size]))}


def decide(body: bytes, states: dict[str, LogState] | None = None) -> Accepted | Refused:
    return witness.decide(body, LOGS, states or {}, WITNESS, NOW)


def refused(body: bytes, states: dict[str, LogState] | None = None) -> Refused:
    answer = decide(body, states)
    assert isinstance(answer, Refused), answer
    return answer


def test_the_spec_example_request_parses() -> None:
    parsed = witness.parse_request(SPEC_EXAMPLE)
    assert parsed.old_size == 20852014
    assert len(parsed.proof) == 4
    assert parsed.proof[0] == base64.b64decode("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    assert parsed.note.startswith(b"example.com/behind-the-sofa\n20852163\n")
    assert parsed.encode() == SPEC_EXAMPLE
    assert len(notes.parse_note(parsed.note).signatures) == 2


def test_first_checkpoint_then_a_larger_one_are_cosigned() -> None:
    first = decide(request(0, 10))
    assert isinstance(first, Accepted)
    assert first.state == LogState(10, hashing.root_hash(LEAVES[:10]))
    text = Checkpoint(ORIGIN, 10, first.state.root_hash).text()
    lines = witness.parse_cosignatures(text, first.body)
    kept = witness.verified_cosignatures(text, lines, [WITNESS.verifier])
    assert len(kept) == 1
    assert WITNESS.verifier.verify(text, kept[0]) == NOW
    # The signed message is cosignature/v1, the time line, then the checkpoint.
    message = f"cosignature/v1\ntime {NOW}\n{text}".encode()
    WITNESS.private_key.public_key().verify(kept[0].signature[8:], message)

    second = decide(request(10, 37), {ORIGIN: first.state})
    assert isinstance(second, Accepted)
    assert second.state.size == 37


def test_the_same_checkpoint_again_is_cosigned_and_changes_nothing() -> None:
    answer = decide(request(10, 10), state(10))
    assert isinstance(answer, Accepted)
    assert answer.state == state(10)[ORIGIN]


def test_a_wrong_old_size_is_409_with_the_witness_size() -> None:
    answer = refused(request(0, 20), state(10))
    assert (answer.status, answer.size) == (409, 10)
    assert "not this witness's size 10" in answer.reason
    assert witness.parse_size_body(witness.size_body(answer.size)) == 10


def test_a_fork_of_the_same_size_is_refused() -> None:
    other = hashing.root_hash([*LEAVES[:9], hashing.leaf_hash(b"evil")])
    answer = refused(request(10, 10, other), state(10))
    assert answer.status == 409
    assert "a fork" in answer.reason


def test_a_larger_fork_whose_proof_does_not_connect_is_422() -> None:
    forked = [*LEAVES[:5], hashing.leaf_hash(b"evil"), *LEAVES[6:20]]
    proof = hashing.consistency_proof(10, forked)
    note = signed(20, hashing.root_hash(forked))
    answer = refused(AddCheckpoint(10, tuple(proof), note).encode(), state(10))
    assert answer.status == 422
    assert "does not verify" in answer.reason


def test_a_garbled_proof_is_422() -> None:
    proof = hashing.consistency_proof(10, LEAVES[:20])
    proof[0] = bytes(32)
    answer = refused(AddCheckpoint(10, tuple(proof), signed(20)).encode(), state(10))
    assert answer.status == 422
    missing = AddCheckpoint(10, (), signed(20)).encode()
    assert refused(missing, state(10)).status == 422


def test_a_rollback_is_refused() -> None:
    # Told the witness's size, the old line is over the checkpoint's size: 400.
    assert refused(request(20, 10), state(20)).status == 400
    # Any other old size is not the witness's: 409, and its state stays at 20.
    answer = refused(request(5, 10), state(20))
    assert (answer.status, answer.size) == (409, 20)


def test_a_bad_log_signature_is_403() -> None:
    impostor = Ed25519PrivateKey.generate()
    assert refused(AddCheckpoint(0, (), signed(10, key=impostor)).encode()).status == 403
    # The log's signature of size 10 moved onto a checkpoint of size 11.
    text = Checkpoint(ORIGIN, 11, hashing.root_hash(LEAVES[:10])).text()
    stolen = notes.Note(text, notes.parse_note(signed(10)).signatures).encode()
    assert refused(AddCheckpoint(0, (), stolen).encode()).status == 403


def test_an_unknown_origin_is_404() -> None:
    key = Ed25519PrivateKey.generate()
    text = Checkpoint("other.example/log", 1, LEAVES[0]).text()
    note = notes.Note(text, (notes.sign(text, "other.example/log", key),)).encode()
    answer = refused(AddCheckpoint(0, (), note).encode())
    assert answer.status == 404
    assert "other.example/log" in answer.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "is not 'old <size>'"),
        (b"new 0\n\n", "is not 'old <size>'"),
        (b"old 01\n\n", "leading zeros"),
        (b"old -1\n\n", "leading zeros"),
        (b"old 9223372036854775808\n\n", "over 2^63-1"),
        (b"old 1\nnot base64!\n\n", "proof line 1 is not standard base64"),
        (b"old 1\nAAAA\n\n", "proof line 1 is 3 bytes"),
        (b"old 0\r\n\r\n", "is not a decimal"),
        (b"old \xff\n\n", "not ASCII"),
    ],
)
def test_malformed_bodies_are_400(body: bytes, reason: str) -> None:
    with pytest.raises(WitnessError, match=re.escape(reason)):
        witness.parse_request(body + signed(1))
    answer = refused(body + signed(1))
    assert answer.status == 400
    assert reason in answer.reason


def test_malformed_notes_are_400() -> None:
    assert refused(b"old 0\n\nnot a note\n").status == 400
    text = f"{ORIGIN}\nten\nAAAA\n"
    bad = notes.Note(text, (notes.sign(text, ORIGIN, LOG_KEY),)).encode()
    assert "tree size" in refused(AddCheckpoint(0, (), bad).encode()).reason


def test_bounds() -> None:
    line = base64.b64encode(bytes(32)).decode() + "\n"
    many = f"old 1\n{line * 64}\n".encode() + signed(1)
    assert "no empty line within the first 2860 bytes" in refused(many).reason
    short = b"old 1\n" + b"A\n" * 64 + b"\n" + signed(1)
    assert "64 proof lines, over 63" in refused(short).reason
    huge = b"old 0\n\n" + b"x" * (notes.MAX_NOTE_BYTES + 1)
    assert "over" in refused(huge).reason
    # The header is searched only so far: an endless first line is refused, not scanned.
    endless = b"old " + b"1" * (witness.MAX_HEADER_BYTES + 10) + b"\n\n" + signed(1)
    assert "no empty line" in refused(endless).reason
    with pytest.raises(WitnessError, match="over 63"):
        AddCheckpoint(0, (bytes(32),) * 64, signed(1)).encode()


def test_cosignature_answers_keep_only_verified_trusted_lines() -> None:
    text = Checkpoint(ORIGIN, 10, hashing.root_hash(LEAVES[:10])).text()
    other = WitnessKey("witness.example/w2", Ed25519PrivateKey.generate())
    good = notes.cosign(text, WITNESS.name, WITNESS.private_key, NOW)
    stranger = notes.cosign(text, other.name, other.private_key, NOW)
    wrong_text = notes.cosign(text.replace("10", "11", 1), WITNESS.name, WITNESS.private_key, NOW)
    body = witness.cosignature_body([stranger, wrong_text, good])
    lines = witness.parse_cosignatures(text, body)
    assert witness.verified_cosignatures(text, lines, [WITNESS.verifier]) == [good]
    assert witness.verified_cosignatures(text, lines, [other.verifier]) == [stranger]
    # A plain Ed25519 signature by the witness's key is not a cosignature.
    plain = notes.sign(text, WITNESS.name, WITNESS.private_key)
    assert witness.verified_cosignatures(text, [plain], [WITNESS.verifier]) == []
    for bad in (b"", b"\n", b"junk\n", good.line().encode() + b"\n", b"x" * 70000):
        with pytest.raises(WitnessError):
            witness.parse_cosignatures(text, bad)


def test_size_answers() -> None:
    assert witness.parse_size_body(b"0\n") == 0
    for bad in (b"12", b"012\n", b"-1\n", b"1 \n", b"9" * 30 + b"\n"):
        with pytest.raises(WitnessError):
            witness.parse_size_body(bad)


def test_extension_lines_are_cosigned_with_the_rest() -> None:
    text = Checkpoint(ORIGIN, 10, hashing.root_hash(LEAVES[:10]), ("ext one",)).text()
    note = notes.Note(text, (notes.sign(text, ORIGIN, LOG_KEY),)).encode()
    answer = decide(AddCheckpoint(0, (), note).encode())
    assert isinstance(answer, Accepted)
    lines = witness.parse_cosignatures(text, answer.body)
    assert witness.verified_cosignatures(text, lines, [WITNESS.verifier]) == list(lines)
    bare = Checkpoint(ORIGIN, 10, hashing.root_hash(LEAVES[:10])).text()
    assert witness.verified_cosignatures(bare, lines, [WITNESS.verifier]) == []


def test_a_log_with_two_keys_is_witnessed_under_either() -> None:
    """During a log key rotation a witness trusts both keys; a note signed by the new one
    only (the old one unknown to the note) is cosigned."""
    new_key = Ed25519PrivateKey.generate()
    logs = {ORIGIN: [LOG, notes.verifier_for(ORIGIN, new_key, notes.ED25519)]}
    body = AddCheckpoint(0, (), signed(10, key=new_key)).encode()
    assert isinstance(witness.decide(body, logs, {}, WITNESS, NOW), Accepted)
