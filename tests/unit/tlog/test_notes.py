"""Signed notes, vkeys, Ed25519 signatures and cosignatures, and checkpoints: real
sum.golang.org checkpoints verify under its published key; forged, tampered, unknown-key,
oversized and malformed notes are refused with their reason."""

from __future__ import annotations

import base64
import dataclasses
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.unit.tlog.vectors import (
    SUMDB_CHECKPOINTS,
    SUMDB_ORIGIN,
    SUMDB_VKEY,
    SUMDB_WITH_UNKNOWN_SIGNER,
)
from tufpi.tlog import checkpoints, notes
from tufpi.tlog.checkpoints import Checkpoint
from tufpi.tlog.notes import NoteError

SUMDB = notes.parse_vkey(SUMDB_VKEY)
LOG = "example.com/log"
ROOT = hashlib.sha256(b"root").digest()


def _sumdb_note(size: int, root: str, signature: str) -> bytes:
    return f"{SUMDB_ORIGIN}\n{size}\n{root}\n\n\u2014 sum.golang.org {signature}\n".encode()


@pytest.mark.parametrize(("size", "root", "signature"), SUMDB_CHECKPOINTS)
def test_real_sumdb_checkpoints_verify_under_the_published_key(
    size: int, root: str, signature: str
) -> None:
    checkpoint, verified = checkpoints.open_checkpoint(
        _sumdb_note(size, root, signature), [SUMDB], SUMDB_ORIGIN
    )
    assert (checkpoint.size, checkpoint.root_hash) == (size, base64.b64decode(root))
    assert [v.verifier for v in verified] == [SUMDB]


def test_a_real_sumdb_checkpoint_with_another_size_is_refused() -> None:
    size, root, signature = SUMDB_CHECKPOINTS[0]
    with pytest.raises(NoteError, match=r"signature of sum\.golang\.org does not verify"):
        checkpoints.open_checkpoint(_sumdb_note(size + 1, root, signature), [SUMDB], SUMDB_ORIGIN)


def test_a_signature_by_an_unknown_key_is_ignored() -> None:
    checkpoint, verified = checkpoints.open_checkpoint(
        SUMDB_WITH_UNKNOWN_SIGNER.encode(), [SUMDB], SUMDB_ORIGIN
    )
    assert checkpoint.size == 15067302
    assert len(verified) == 1


def test_the_sumdb_vkey_round_trips_and_its_key_id_is_computed() -> None:
    assert SUMDB.key_id.hex() == "033de0ae"
    assert SUMDB.vkey() == SUMDB_VKEY
    assert SUMDB.type == notes.ED25519


def test_signed_checkpoint_round_trips_with_extension_lines_and_a_cosignature() -> None:
    log_key, witness_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    checkpoint = Checkpoint(LOG, 12, ROOT, ("ext one",))
    text = checkpoint.text()
    signed = notes.Note(
        text,
        (
            notes.sign(text, LOG, log_key),
            notes.cosign(text, "witness.example/w1", witness_key, 1_700_000_000),
        ),
    ).encode()
    log = notes.verifier_for(LOG, log_key, notes.ED25519)
    witness = notes.verifier_for("witness.example/w1", witness_key, notes.COSIGNATURE_V1)
    parsed, verified = checkpoints.open_checkpoint(signed, [log, witness], LOG)
    assert parsed == checkpoint
    assert [(v.verifier, v.timestamp) for v in verified] == [
        (log, None),
        (witness, 1_700_000_000),
    ]
    assert notes.parse_vkey(witness.vkey()) == witness


def test_a_cosignature_binds_its_timestamp_and_its_signature_type() -> None:
    key = Ed25519PrivateKey.generate()
    text = Checkpoint(LOG, 1, ROOT).text()
    cosignature = notes.cosign(text, "w", key, 5)
    moved = notes.Signature(
        "w", cosignature.key_id, (6).to_bytes(8, "big") + cosignature.signature[8:]
    )
    witness = notes.verifier_for("w", key, notes.COSIGNATURE_V1)
    with pytest.raises(NoteError, match="signature of w does not verify"):
        notes.verify_note(notes.Note(text, (moved,)), [witness])
    # The same key as a plain Ed25519 signer has another key ID: its signature is not a
    # cosignature, and the note has no signature by the trusted key.
    plain = notes.sign(text, "w", key)
    with pytest.raises(NoteError, match="no signature by a trusted key"):
        notes.verify_note(notes.Note(text, (plain,)), [witness])


def test_a_forged_signature_by_a_trusted_name_and_key_id_refuses_the_note() -> None:
    key, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    text = Checkpoint(LOG, 1, ROOT).text()
    good = notes.sign(text, LOG, key)
    forged = notes.Signature(LOG, good.key_id, forger.sign(text.encode()))
    trusted = notes.verifier_for(LOG, key, notes.ED25519)
    with pytest.raises(NoteError, match="does not verify"):
        notes.verify_note(notes.Note(text, (good, forged)), [trusted])


def test_checkpoint_of_another_origin_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    text = Checkpoint("other.example/log", 1, ROOT).text()
    data = notes.Note(text, (notes.sign(text, LOG, key),)).encode()
    with pytest.raises(NoteError, match=r"of the log 'other\.example/log'"):
        checkpoints.open_checkpoint(data, [notes.verifier_for(LOG, key, notes.ED25519)], LOG)


SIG = "\u2014 k AAAAAAAAAAAA\n"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"a\n\n" + b"x" * 140_000, "over the limit"),
        (b"a\n\n\xff\n", "not valid UTF-8"),
        (("a\tb\n\n" + SIG).encode(), "control character 0x09"),
        (("a\n\n" + SIG.rstrip("\n")).encode(), "end with a newline"),
        (("a\n" + SIG).encode(), "no blank line"),
        (b"a\n\n", "no signature lines"),
        (("a\n\n" + SIG * 65).encode(), "65 signature lines, over 64"),
        (b"a\n\n- k AAAAAAAAAAAA\n", "does not start with an em dash"),
        ("a\n\n\u2014 k  AAAAAAAAAAAA\n".encode(), "is not '"),
        ("a\n\n\u2014 k+1 AAAAAAAAAAAA\n".encode(), "space or a plus"),
        ("a\n\n\u2014 k AAAA!AAAAAAA\n".encode(), "not standard base64"),
        ("a\n\n\u2014 k AAAAAAAAAAB=\n".encode(), "not canonical base64"),
        ("a\n\n\u2014 k AAAA\n".encode(), "too short"),
        ("a\n\n\u2014 k AAAAAAAAAAAA\n\u2014 k AAAAAAAAAAAA\u2028\n".encode(), "base64"),
    ],
)
def test_malformed_notes_are_refused_with_their_reason(data: bytes, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        notes.parse_note(data)


def test_note_text_may_hold_blank_lines_and_splits_at_the_last_one() -> None:
    note = notes.parse_note(("a\n\nb\n\n" + SIG).encode())
    assert note.text == "a\n\nb\n"
    assert note.signatures == (notes.Signature("k", bytes(4), bytes(5)),)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("o\n1\n", "at least 3 lines"),
        ("o\n01\n" + base64.b64encode(ROOT).decode() + "\n", "leading zeros"),
        ("o\n+1\n" + base64.b64encode(ROOT).decode() + "\n", "not a decimal"),
        ("o\n\u0661\n" + base64.b64encode(ROOT).decode() + "\n", "not a decimal"),
        ("o\n" + "9" * 19 + "\n" + base64.b64encode(ROOT).decode() + "\n", "2\\^63-1"),
        ("o\n1\n" + base64.b64encode(ROOT[:31]).decode() + "\n", "31 bytes"),
        ("\n1\n" + base64.b64encode(ROOT).decode() + "\n", "origin of a checkpoint must not"),
        ("o\n1\n" + base64.b64encode(ROOT).decode() + "\n\n", "extension line 1"),
        ("o\n1\n" + base64.b64encode(ROOT).decode(), "end with a newline"),
    ],
)
def test_malformed_checkpoints_are_refused_with_their_reason(text: str, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        checkpoints.parse_checkpoint(text)


def test_checkpoint_sizes_zero_and_the_largest_parse() -> None:
    root = base64.b64encode(ROOT).decode()
    assert checkpoints.parse_checkpoint(f"o\n0\n{root}\n").size == 0
    assert checkpoints.parse_checkpoint(f"o\n{2**63 - 1}\n{root}\n").size == 2**63 - 1


@pytest.mark.parametrize(
    ("vkey", "reason"),
    [
        ("name+033de0ae", "two plus signs"),
        ("name+033DE0AE+" + SUMDB_VKEY.split("+", 2)[2], "8 lowercase hex"),
        ("sum.golang.org+033de0af+" + SUMDB_VKEY.split("+", 2)[2], "not the one of its name"),
        ("sum.golang.org+033de0ae+Ac4z", "32 bytes"),
        ("sum.golang.org+033de0ae+" + base64.b64encode(b"\x02" + bytes(32)).decode(), "0x02"),
        ("+033de0ae+" + SUMDB_VKEY.split("+", 2)[2], "must not be empty"),
    ],
)
def test_malformed_vkeys_are_refused_with_their_reason(vkey: str, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        notes.parse_vkey(vkey)


def test_signing_refuses_a_text_without_final_newline_and_a_bad_timestamp() -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(NoteError, match="end with a newline"):
        notes.sign("a", "k", key)
    with pytest.raises(NoteError, match="2\\^63-1"):
        notes.cosign("a\n", "k", key, 2**63)
    with pytest.raises(NoteError, match="at least one signature"):
        notes.Note("a\n", ()).encode()
    signature = notes.sign("a\n", "k", key)
    with pytest.raises(NoteError, match="end with a newline"):
        notes.Note("a", (signature,)).encode()
    with pytest.raises(NoteError, match="space or a plus"):
        notes.Note("a\n", (dataclasses.replace(signature, name="k k"),)).encode()
