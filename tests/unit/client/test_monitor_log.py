"""Following a tiled log from a saved checkpoint (tufpi.client.monitor_log): a log built
with ``tufpi.tlog`` as static files, read through a ``Fetch`` over the directory (the same
boundary the monitor's bounded HTTP reads sit behind)."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest

from tests.support.static_log import StaticLog, file_entry, publication
from tufpi.client.log_checks import (
    PREFIX_LABEL,
    ForkEvidence,
    LogRefusal,
    SignedCheckpoint,
    evidence_text,
    open_signed_checkpoint,
)
from tufpi.client.monitor_log import follow, read_entries, tile_reader
from tufpi.tlog import checkpoints, entries, hashing, notes, tiles
from tufpi.tlog.policy import LogPolicy

ENTRIES = [file_entry("p", f"p-{n}.tar.gz") for n in range(300)]


def _signed(data: bytes) -> SignedCheckpoint:
    return SignedCheckpoint(data, checkpoints.parse_checkpoint(notes.parse_note(data).text))


def verify_checkpoint(data: bytes, policy: LogPolicy) -> SignedCheckpoint:
    return open_signed_checkpoint(policy, data, "the log's checkpoint")


def _text(evidence: ForkEvidence, policy: LogPolicy) -> str:
    when = dt.datetime(2026, 12, 7, 12, 5, tzinfo=dt.UTC)
    return evidence_text(evidence, policy, "https://index.example/tlog/", when)


def test_entries_from_a_saved_position_are_read_and_only_new_ones(tmp_path: Path) -> None:
    log = StaticLog(tmp_path)
    saved = _signed(log.append(*ENTRIES[:100]))
    log.append(*ENTRIES[100:])
    asked: list[str] = []
    progress = follow(log.policy, saved, 100, log.fetch(asked), 1000)
    assert progress.start == 100
    assert progress.position == 300
    assert [entries.parse_entry(e) for e in progress.entries] == ENTRIES[100:]
    assert "tile/entries/000" in asked
    assert "tile/entries/001.p/44" in asked


def test_a_round_reads_at_most_max_entries_and_the_next_goes_on(tmp_path: Path) -> None:
    log = StaticLog(tmp_path)
    log.append(*ENTRIES)
    first = follow(log.policy, None, 0, log.fetch(), 120)
    assert first.position == 120
    second = follow(log.policy, first.signed, first.position, log.fetch(), 1000)
    assert [entries.parse_entry(e) for e in first.entries + second.entries] == ENTRIES


def test_the_checkpoint_must_carry_the_log_s_signature_and_enough_cosignatures(
    tmp_path: Path,
) -> None:
    log = StaticLog(tmp_path, witnesses=3, threshold=2)
    enough = log.append(*ENTRIES[:3], cosigners=2)
    assert verify_checkpoint(enough, log.policy).checkpoint.size == 3
    with pytest.raises(
        LogRefusal, match=r"cosignatures from 1 of the root's witnesses .* fewer than the 2"
    ):
        verify_checkpoint(log.signed_checkpoint(log.leaves, cosigners=1), log.policy)
    other = StaticLog(tmp_path / "other")
    with pytest.raises(LogRefusal, match="no signature by a trusted key"):
        verify_checkpoint(other.signed_checkpoint(log.leaves), log.policy)
    text = checkpoints.parse_checkpoint(notes.parse_note(enough).text).text()
    by_witnesses_only = notes.parse_note(enough).signatures[1:]
    with pytest.raises(LogRefusal, match=r"not verify under the log key .* no signature by a"):
        verify_checkpoint(notes.Note(text, by_witnesses_only).encode(), log.policy)
    tampered = enough.replace(b"\n3\n", b"\n4\n", 1)
    with pytest.raises(LogRefusal, match="does not verify"):
        verify_checkpoint(tampered, log.policy)


def test_a_rolled_back_checkpoint_is_refused_with_both_checkpoints(tmp_path: Path) -> None:
    log = StaticLog(tmp_path)
    old = log.append(*ENTRIES[:10])
    saved = _signed(log.append(*ENTRIES[10:20]))
    log.write("checkpoint", old)
    with pytest.raises(
        LogRefusal, match="rollback: the log's checkpoint has 10 entries, fewer than the 20"
    ) as caught:
        follow(log.policy, saved, 20, log.fetch(), 1000)
    evidence = caught.value.evidence
    assert evidence is not None
    assert (evidence.kept, evidence.new.note) == (saved, old)
    text = _text(evidence, log.policy)
    assert "evidence of a rollback" in text
    assert saved.note.decode() in text
    assert old.decode() in text


def test_a_fork_is_refused_with_both_checkpoints_and_the_proof(tmp_path: Path) -> None:
    log = StaticLog(tmp_path)
    saved = _signed(log.append(*ENTRIES[:10]))
    # The log's key signs another history: leaf 3 swapped, then grown past the saved size.
    forked = list(log.leaves)
    forked[3] = entries.encode_entry(file_entry("p", "p-evil.tar.gz", account="mallory"))
    forked += [entries.encode_entry(e) for e in ENTRIES[10:20]]
    log.write_tiles(forked)
    new = log.write_checkpoint(forked)
    with pytest.raises(
        LogRefusal, match="fork: the log's tree of size 20 does not contain the kept tree of"
    ) as caught:
        follow(log.policy, saved, 10, log.fetch(), 1000)
    assert caught.value.evidence is not None
    text = _text(caught.value.evidence, log.policy)
    assert new.decode() in text
    assert saved.note.decode() in text
    # The evidence proves the fork by itself: the new tree's first 10 leaves, proven by
    # the proof to lead to the new signed root, are not the saved tree.
    lines = text.splitlines()
    at = next(n for n, line in enumerate(lines) if line.startswith(PREFIX_LABEL))
    prefix = base64.b64decode(lines[at + 2])
    heading = next(n for n, line in enumerate(lines) if line.startswith("consistency proof from"))
    hashes = [base64.b64decode(line) for line in lines[heading + 1 :] if line]
    new_root = checkpoints.parse_checkpoint(notes.parse_note(new).text).root_hash
    hashing.verify_consistency(10, 20, prefix, new_root, hashes)
    assert prefix != saved.checkpoint.root_hash
    with pytest.raises(hashing.ProofError):
        hashing.verify_consistency(10, 20, saved.checkpoint.root_hash, new_root, hashes)


def test_two_roots_for_one_size_are_a_fork(tmp_path: Path) -> None:
    log = StaticLog(tmp_path)
    saved = _signed(log.append(*ENTRIES[:10]))
    forked = [entries.encode_entry(e) for e in ENTRIES[10:20]]
    log.write_tiles(forked)
    log.write_checkpoint(forked)
    with pytest.raises(
        LogRefusal, match="fork: two different root hashes for the same tree size 10"
    ) as caught:
        follow(log.policy, saved, 10, log.fetch(), 1000)
    assert caught.value.evidence is not None


def test_a_bundle_that_does_not_match_its_hash_tile_is_refused(tmp_path: Path) -> None:
    log = StaticLog(tmp_path)
    log.append(*ENTRIES[:20])
    swapped = list(log.leaves)
    swapped[5] = entries.encode_entry(file_entry("p", "p-innocent.tar.gz"))
    log.write("tile/entries/000.p/20", tiles.encode_bundle(swapped))
    with pytest.raises(
        LogRefusal, match=r"does not match the hash tile tile/0/000\.p/20 at leaf 5"
    ):
        follow(log.policy, None, 0, log.fetch(), 1000)


def test_a_bundle_and_tile_altered_together_do_not_lead_to_the_signed_root(tmp_path: Path) -> None:
    """Without the root check a server could swap an entry and its leaf hash in the tile."""
    log = StaticLog(tmp_path)
    checkpoint = log.append(*ENTRIES[:20])
    swapped = list(log.leaves)
    swapped[5] = entries.encode_entry(file_entry("p", "p-innocent.tar.gz"))
    log.write_tiles(swapped)  # tiles and bundle of the other history, the old checkpoint
    log.write("checkpoint", checkpoint)
    signed = verify_checkpoint(checkpoint, log.policy).checkpoint
    fetch = log.fetch()
    with pytest.raises(LogRefusal, match="do not lead to the signed root of size 20"):
        read_entries(0, 20, signed, fetch, tile_reader(fetch))


def test_a_truncated_tile_is_refused(tmp_path: Path) -> None:
    log = StaticLog(tmp_path)
    saved = _signed(log.append(*ENTRIES[:10]))
    log.append(*ENTRIES[10:300])
    log.write("tile/0/000", log.read("tile/0/000")[:-32])
    with pytest.raises(
        LogRefusal, match="tiles give no consistency proof to its checkpoint of size 300"
    ) as caught:
        follow(log.policy, saved, 10, log.fetch(), 1000)
    assert caught.value.evidence is None  # unsigned tiles prove nothing about the log


def test_a_publication_only_log_reads_cleanly(tmp_path: Path) -> None:
    log = StaticLog(tmp_path)
    log.append(publication(1), publication(2))
    progress = follow(log.policy, None, 0, log.fetch(), 10)
    assert [entries.parse_entry(e) for e in progress.entries] == [publication(1), publication(2)]


def test_a_round_stops_after_the_bundle_that_passes_its_byte_budget(tmp_path: Path) -> None:
    log = StaticLog(tmp_path)
    checkpoint = log.append(*ENTRIES)
    signed = verify_checkpoint(checkpoint, log.policy).checkpoint
    fetch = log.fetch()
    found = read_entries(10, 300, signed, fetch, tile_reader(fetch), max_bytes=1)
    assert [entries.parse_entry(e) for e in found] == ENTRIES[10:256]
