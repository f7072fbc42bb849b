"""The client's transparency log checks (``client.log_checks``) over a log built here with
``tufpi.tlog``: a logged file is proven; a wrong entry, an index past the checkpoint,
altered tiles, a checkpoint by another key or without its cosignatures, a rollback and a
fork are each refused with their reason."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.support.toy_log import ToyLog, file_entry, target_path, yank_entry
from tufpi.client.log_checks import (
    FileTarget,
    LogFork,
    LogRefusal,
    SignedCheckpoint,
    check_entry,
    check_growth,
    check_inclusion,
    evidence_text,
    open_signed_checkpoint,
    parse_lookup,
)
from tufpi.tlog import checkpoints, notes, tiles
from tufpi.tlog.tiles import Tile

FILES = 300  # a full level-0 tile and a partial one


@pytest.fixture
def log() -> ToyLog:
    toy = ToyLog()
    toy.add_files(0, FILES)
    toy.publish()
    return toy


def _target(number: int) -> FileTarget:
    return FileTarget(*target_path(number))


def _signed(log: ToyLog, threshold: int = 0, **kwargs: object) -> SignedCheckpoint:
    data = log.checkpoint(**kwargs)  # type: ignore[arg-type]
    return open_signed_checkpoint(log.policy(threshold), data, "the log's checkpoint")


def _prove(log: ToyLog, number: int, signed: SignedCheckpoint) -> None:
    index, entry = parse_lookup(_target(number).path, log.lookup(number))
    check_entry(_target(number), index, entry)
    check_inclusion(_target(number), index, entry, signed, log.read_tile)


@pytest.mark.parametrize("number", [0, 7, 255, 256, FILES - 1])
def test_a_logged_file_is_proven_in_a_cosigned_checkpoint(log: ToyLog, number: int) -> None:
    signed = _signed(log, threshold=2)
    assert signed.witnesses == ("witness0.example", "witness1.example")
    _prove(log, number, signed)


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("path", lambda t: dataclasses.replace(t, path=t.path + "x")),
        ("sha256", lambda t: dataclasses.replace(t, sha256="0" * 64)),
        ("size", lambda t: dataclasses.replace(t, length=t.length + 1)),
    ],
)
def test_an_entry_for_another_path_sha256_or_size_is_refused(
    log: ToyLog, field: str, change: object
) -> None:
    signed_target = change(_target(5))  # type: ignore[operator]
    index, entry = parse_lookup(signed_target.path, log.lookup(5))
    with pytest.raises(LogRefusal, match=f"entry 5 for .* has {field} .* but the signed metadata"):
        check_entry(signed_target, index, entry)


def test_an_entry_of_another_kind_or_malformed_is_refused() -> None:
    with pytest.raises(LogRefusal, match="is a 'yank' entry, not a file"):
        check_entry(_target(1), 1, yank_entry())
    with pytest.raises(LogRefusal, match=r"entry 1 for .* is malformed"):
        check_entry(_target(1), 1, file_entry(*target_path(1)).replace(b'"demo"', b'"demo" '))


@pytest.mark.parametrize(
    "lookup", [b"", b"7", b"07\n{}", b"-1\n{}", b" 7\n{}", b"1" * 20 + b"\n{}", b"x" * 66_000]
)
def test_a_malformed_or_oversized_lookup_is_refused(lookup: bytes) -> None:
    with pytest.raises(LogRefusal, match="lookup for packages/a"):
        parse_lookup("packages/a", lookup)


def test_an_index_beyond_the_checkpoint_is_refused(log: ToyLog) -> None:
    log.add_files(FILES, 1)  # appended, not yet in a checkpoint
    signed = _signed(log, size=FILES)
    index, entry = parse_lookup(_target(FILES).path, log.lookup(FILES))
    with pytest.raises(
        LogRefusal, match=f"entry is at index {FILES}, the checkpoint holds {FILES}"
    ):
        check_inclusion(_target(FILES), index, entry, signed, log.read_tile)


def test_an_entry_not_in_the_tree_at_its_index_is_refused(log: ToyLog) -> None:
    # The lookup claims index 3 for an entry the log never held: the proof fails.
    entry = file_entry(*target_path(9999))
    with pytest.raises(LogRefusal, match="not proven to be in the log's checkpoint"):
        check_inclusion(FileTarget(*target_path(9999)), 3, entry, _signed(log), log.read_tile)


@pytest.mark.parametrize(
    ("number", "tile", "alter", "words"),
    [
        (7, Tile(0, 0), lambda d: bytes([d[0] ^ 1]) + d[1:], "does not lead to the root hash"),
        (7, Tile(0, 0), lambda d: d[:-1], "is 8191 bytes, not 256 hashes"),
        (260, Tile(0, 1, FILES - 256), lambda d: d[:32], "is 32 bytes, not 44 hashes"),
        (260, Tile(1, 0, 1), lambda d: bytes(32), "does not lead to the root hash"),
    ],
)
def test_altered_or_truncated_tiles_are_refused(
    log: ToyLog, number: int, tile: Tile, alter: object, words: str
) -> None:
    signed = _signed(log)
    _prove(log, number, signed)  # unaltered: proven
    log.store[tile] = alter(log.store[tile])  # type: ignore[operator]
    with pytest.raises(LogRefusal, match=words):
        _prove(log, number, signed)


def test_a_checkpoint_signed_by_another_key_or_of_another_log_is_refused(log: ToyLog) -> None:
    with pytest.raises(LogRefusal, match="no signature by a trusted key"):
        _signed(log, key=Ed25519PrivateKey.generate())
    with pytest.raises(LogRefusal, match="no signature by a trusted key"):
        _signed(log, origin="elsewhere.example")
    # The log's key and name, over a checkpoint whose origin line names another log.
    text = checkpoints.Checkpoint("elsewhere.example", FILES, log.root()).text()
    data = notes.Note(text, (notes.sign(text, log.origin, log.key),)).encode()
    with pytest.raises(LogRefusal, match=r"is of the log 'elsewhere.example', not"):
        open_signed_checkpoint(log.policy(), data, "the log's checkpoint")


def test_a_tampered_checkpoint_is_refused(log: ToyLog) -> None:
    data = log.checkpoint().replace(f"\n{FILES}\n".encode(), f"\n{FILES + 1}\n".encode())
    with pytest.raises(LogRefusal, match=r"signature of index.example/tlog does not verify"):
        open_signed_checkpoint(log.policy(), data, "the log's checkpoint")


def test_an_oversized_checkpoint_is_refused(log: ToyLog) -> None:
    with pytest.raises(LogRefusal, match="is 131073 bytes, over the 131072 allowed"):
        open_signed_checkpoint(log.policy(), b"x" * 131073, "the log's checkpoint")


def test_too_few_cosignatures_are_refused(log: ToyLog) -> None:
    stranger = Ed25519PrivateKey.generate()
    text = log.checkpoint().decode().partition("\n\n")[0] + "\n"
    unknown = notes.cosign(text, "stranger.example", stranger, 1)
    same_name = notes.cosign(text, "witness0.example", stranger, 1)  # a witness's name only
    twice = notes.cosign(text, "witness0.example", log.witness_keys[0][1], 2)
    cases = [
        (1, log.checkpoint(cosigners=()), "from 0 of the root's witnesses \\(none\\)"),
        (1, log.checkpoint(cosigners=(), extra=(unknown,)), "from 0 of"),
        (1, log.checkpoint(cosigners=(), extra=(same_name,)), "from 0 of"),
        (2, log.checkpoint(cosigners=(0,), extra=(twice,)), "from 1 of .*witness0.example"),
    ]
    for threshold, data, words in cases:
        with pytest.raises(LogRefusal, match=f"size {FILES}\\) has valid cosignatures {words}"):
            open_signed_checkpoint(log.policy(threshold), data, "the log's checkpoint")
    # The same notes pass a threshold they meet.
    assert open_signed_checkpoint(log.policy(0), cases[1][1], "x").witnesses == ()
    assert open_signed_checkpoint(log.policy(1), cases[3][1], "x").witnesses == (
        "witness0.example",
    )


def test_a_forged_cosignature_does_not_count(log: ToyLog) -> None:
    data = log.checkpoint(cosigners=(0, 1))
    line = data.split(b"\n")[-2]  # witness1's cosignature line
    forged = data.replace(line, line[:-6] + (b"AAAAA=" if line[-6:] != b"AAAAA=" else b"BBBBB="))
    signed = open_signed_checkpoint(log.policy(1), forged, "x")
    assert signed.witnesses == ("witness0.example",)
    with pytest.raises(LogRefusal, match="from 1 of"):
        open_signed_checkpoint(log.policy(2), forged, "x")


def test_consistent_growth_is_accepted_with_its_proof(log: ToyLog) -> None:
    kept = _signed(log)
    log.add_files(FILES, 500)
    log.publish()
    new = _signed(log)
    proof = check_growth(kept, new, log.read_tile)
    assert proof  # 300 -> 800 needs hashes
    assert check_growth(kept, kept, log.read_tile) == ()
    assert check_growth(None, new, log.read_tile) == ()


def test_a_rollback_is_refused(log: ToyLog) -> None:
    old = _signed(log, size=100)
    kept = _signed(log)
    with pytest.raises(
        LogRefusal, match=f"rollback: .* has 100 entries, fewer than the {FILES}"
    ) as caught:
        check_growth(kept, old, log.read_tile)
    assert not isinstance(caught.value, LogFork)
    assert caught.value.evidence is not None
    assert (caught.value.evidence.kept, caught.value.evidence.new) == (kept, old)


def test_a_fork_of_the_same_size_is_refused_with_its_evidence(log: ToyLog) -> None:
    kept = _signed(log)
    other = ToyLog()
    other.add_files(1000, FILES)
    forked = _signed(log, root=other.root())  # the log's key, another tree
    with pytest.raises(LogFork, match=f"two different root hashes for the same tree size {FILES}"):
        check_growth(kept, forked, log.read_tile)
    try:
        check_growth(kept, forked, log.read_tile)
    except LogFork as fork:
        text = evidence_text(fork.evidence, log.policy(), "https://index.example/tlog/", _now())
    assert kept.note.decode() in text
    assert forked.note.decode() in text
    assert "-----BEGIN KEPT CHECKPOINT-----" in text
    assert "detected: 2026-12-07T13:00:00Z" in text
    assert log.policy().log.vkey() in text


def test_a_grown_tree_that_rewrote_history_is_a_fork_with_its_proof(log: ToyLog) -> None:
    kept = _signed(log, size=200)
    # A split view: the same log key signs a tree of 300 whose first 200 leaves differ.
    rewritten = ToyLog()
    rewritten.key = log.key
    rewritten.append(yank_entry())
    rewritten.add_files(1, FILES - 1)
    rewritten.publish()
    new = open_signed_checkpoint(log.policy(), rewritten.checkpoint(), "x")
    with pytest.raises(
        LogFork, match="size 300 does not contain the kept tree of size 200"
    ) as caught:
        check_growth(kept, new, rewritten.read_tile)
    evidence = caught.value.evidence
    assert evidence.proof
    assert (evidence.kept, evidence.new) == (kept, new)
    # The proof leads from the new tree's first 200 leaves to its signed root: the fork is
    # proven by the two signed checkpoints, whatever the tiles.
    assert evidence.prefix == rewritten.root(200) != kept.checkpoint.root_hash
    text = evidence_text(evidence, log.policy(), "https://index.example/tlog/", _now())
    assert "consistency proof from size 200 to size 300" in text
    assert base64.b64encode(evidence.prefix).decode() in text


def test_tiles_that_cannot_give_a_consistency_proof_are_refused(log: ToyLog) -> None:
    kept = _signed(log, size=200)
    new = _signed(log)
    del log.store[Tile(0, 1, FILES - 256)]
    with pytest.raises(KeyError):  # the reader's own error goes through untouched
        check_growth(kept, new, log.read_tile)
    log.store[Tile(0, 1, FILES - 256)] = b"short"
    with pytest.raises(LogRefusal, match="tiles give no consistency proof"):
        check_growth(kept, new, log.read_tile)


def test_altered_tiles_of_an_honest_log_are_not_taken_for_a_fork(log: ToyLog) -> None:
    """Unsigned tiles prove nothing against the log: tiles that do not lead to the new
    signed root are refused without fork evidence (a naive check, the kept root against
    the new one through the tiles' proof, would call it a fork)."""
    kept = _signed(log, size=200)
    new = _signed(log)
    assert check_growth(kept, new, log.read_tile)
    log.store[Tile(0, 0)] = bytes(32) + log.store[Tile(0, 0)][32:]
    with pytest.raises(LogRefusal, match="altered or truncated tiles") as caught:
        check_growth(kept, new, log.read_tile)
    assert not isinstance(caught.value, LogFork)
    assert caught.value.evidence is None


def _now() -> dt.datetime:
    return dt.datetime(2026, 12, 7, 13, 0, tzinfo=dt.UTC)


def test_tile_bounds_match_the_spec() -> None:
    from tufpi.client import log_checks

    assert log_checks.TILE_MAX_LENGTH == tiles.TILE_WIDTH * 32 == 8192
    assert log_checks.LOOKUP_MAX_LENGTH == 65535 + 21
