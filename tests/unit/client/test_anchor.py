"""The cache's trust anchor: which cache a pin keeps, discards or bootstraps."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Root

from tufpi.client import anchor
from tufpi.client.anchor import CacheState, Verdict, judge
from tufpi.client.refusals import Refusal

PIN = "a" * 64
OTHER = "b" * 64


@pytest.mark.parametrize(
    ("pin", "state", "verdict"),
    [
        (PIN, CacheState(None, False), Verdict.FRESH),
        (PIN, CacheState(PIN, True, "c" * 64), Verdict.BOUND),
        (PIN.upper(), CacheState(PIN, True, "c" * 64), Verdict.BOUND),
        (PIN, CacheState(OTHER, True, "c" * 64), Verdict.FOREIGN),  # another index's cache
        (PIN, CacheState(None, True, "c" * 64), Verdict.FOREIGN),  # metadata, no anchor
        (PIN, CacheState(None, True, None), Verdict.FOREIGN),  # files, no root
        (PIN, CacheState(PIN, True, None), Verdict.FOREIGN),  # the anchor alone, no root
        (PIN, CacheState(OTHER, False), Verdict.FOREIGN),
        (None, CacheState(OTHER, True, "c" * 64), Verdict.UNPINNED),
        (None, CacheState(None, True, "c" * 64), Verdict.UNPINNED),
        (None, CacheState(None, False), Verdict.NO_ROOT),
        (None, CacheState(None, True, None), Verdict.NO_ROOT),
    ],
)
def test_judge(pin: str | None, state: CacheState, verdict: Verdict) -> None:
    assert judge(pin, state) is verdict


def test_messages_name_both_fingerprints() -> None:
    message = anchor.discard_message(Path("/c"), PIN, CacheState(OTHER, True, "c" * 64))
    assert f"sha256 {OTHER}" in message
    assert f"pinned root with sha256 {PIN}" in message
    unanchored = anchor.discard_message(Path("/c"), PIN, CacheState(None, True, "c" * 64))
    assert "records no first root" in unanchored
    assert "c" * 64 in unanchored
    assert PIN in unanchored
    trusted = anchor.trusted_message("http://h/", CacheState(OTHER, True, "c" * 64))
    assert f"--root-sha256 {OTHER}" in trusted
    assert "c" * 64 in trusted


def _root() -> bytes:
    signer = CryptoSigner.generate_ed25519()
    root = Metadata(Root())
    for role in ("root", "timestamp", "snapshot", "targets"):
        root.signed.add_key(signer.public_key, role)
    root.sign(signer)
    return root.to_bytes()


def test_bootstrap_records_the_anchor_and_resets_root_json(tmp_path: Path) -> None:
    metadata = tmp_path / "cache" / "metadata"
    first = _root()
    anchor.bootstrap(metadata, "http://h/tuf/", first, record=True)
    state = anchor.read_state(metadata)
    assert state.anchor_sha256 == hashlib.sha256(first).hexdigest()
    assert state.root_sha256 == state.anchor_sha256
    assert judge(state.anchor_sha256, state) is Verdict.BOUND
    # A planted root.json (another index's root) is replaced by the anchor on re-bootstrap.
    (metadata / "root.json").unlink()
    (metadata / "root.json").write_bytes(_root())
    assert anchor.read_state(metadata).root_sha256 != state.anchor_sha256
    anchor.bootstrap(metadata, "http://h/tuf/", anchor.anchor_bytes(metadata), record=False)
    assert anchor.read_state(metadata).root_sha256 == state.anchor_sha256
    assert os.path.islink(metadata / "root.json")


def test_bootstrap_refuses_what_is_not_a_root(tmp_path: Path) -> None:
    with pytest.raises(Refusal, match="not a valid root"):
        anchor.bootstrap(tmp_path / "m", "http://h/tuf/", b"{}", record=True)
    assert not (tmp_path / "m" / anchor.ANCHOR_FILE).exists()


def test_read_state_of_an_empty_and_a_discarded_cache(tmp_path: Path) -> None:
    assert anchor.read_state(tmp_path / "none") == CacheState(None, False, None)
    cache = tmp_path / "cache"
    (cache / "metadata").mkdir(parents=True)
    (cache / "metadata" / "timestamp.json").write_bytes(b"{}")
    assert anchor.read_state(cache / "metadata") == CacheState(None, True, None)
    anchor.discard(cache)
    assert not cache.exists()
