"""The PEP 458 roles built with python-tuf's Metadata API (tufpi.trust.roles), and the chain
of trust they form once signed: root -> targets -> bins -> bin-n, snapshot and timestamp."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.exceptions import LengthOrHashMismatchError, UnsignedMetadataError
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    SuccinctRoles,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from tufpi.trust import layout, roles
from tufpi.trust.roles import KeySet, TargetRow

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
YEAR_ON = NOW + dt.timedelta(days=365)
DAY_ON = NOW + dt.timedelta(days=1)
BINS = 32
DIST = "packages/ab/cd/" + "e" * 60 + "/demo-1.0-py3-none-any.whl"
PAGE = "simple/demo/index.html"


class Signers:
    """Fresh Ed25519 signers for every role: 3 root keys (2 of 3), 2 targets keys (2 of 2),
    2 bins keys (2 of 2), one online key."""

    def __init__(self) -> None:
        self.root = [CryptoSigner.generate_ed25519() for _ in range(3)]
        self.targets = [CryptoSigner.generate_ed25519() for _ in range(2)]
        self.bins = [CryptoSigner.generate_ed25519() for _ in range(2)]
        self.online = CryptoSigner.generate_ed25519()

    def keyset(self) -> KeySet:
        return KeySet(
            root=[s.public_key for s in self.root],
            root_threshold=2,
            targets=[s.public_key for s in self.targets],
            targets_threshold=2,
            bins=[s.public_key for s in self.bins],
            bins_threshold=2,
            online=[self.online.public_key],
        )


@pytest.fixture(scope="module")
def signers() -> Signers:
    return Signers()


def keyids(keys: list[Any]) -> list[str]:
    return [k.keyid for k in keys]


def row(path: str, content: bytes) -> TargetRow:
    return TargetRow(
        path, len(content), hashlib.sha256(content).hexdigest(), hashlib.sha512(content).hexdigest()
    )


def test_new_root_grants_each_role_its_keys_and_threshold(signers: Signers) -> None:
    keys = signers.keyset()
    root = roles.new_root(keys, YEAR_ON).signed
    assert root.version == 1
    assert root.expires == YEAR_ON
    assert root.consistent_snapshot is True
    expected = {
        Root.type: (keyids(keys.root), 2),
        Targets.type: (keyids(keys.targets), 2),
        Snapshot.type: (keyids(keys.online), 1),
        Timestamp.type: (keyids(keys.online), 1),
    }
    for name, (ids, threshold) in expected.items():
        assert sorted(root.roles[name].keyids) == sorted(ids)
        assert root.roles[name].threshold == threshold
    # bins and bin-n keys are not root's business: they are delegated below targets.
    assert set(root.keys) == set(keyids(keys.root) + keyids(keys.targets) + keyids(keys.online))
    assert roles.online_keys(root) == keys.online


def test_new_targets_delegates_only_bins_with_the_target_paths(signers: Signers) -> None:
    keys = signers.keyset()
    targets = roles.new_targets(keys, YEAR_ON).signed
    assert targets.version == 1
    assert targets.expires == YEAR_ON
    assert targets.targets == {}
    assert targets.delegations is not None
    assert targets.delegations.succinct_roles is None
    assert targets.delegations.roles is not None
    assert list(targets.delegations.roles) == [roles.BINS_ROLE]
    bins = targets.delegations.roles[roles.BINS_ROLE]
    assert bins.paths == list(layout.DELEGATED_PATHS)
    assert bins.terminating
    assert bins.threshold == 2
    assert sorted(bins.keyids) == sorted(keyids(keys.bins))
    assert set(targets.delegations.keys) == set(keyids(keys.bins))


@pytest.mark.parametrize(("number", "bits"), [(2, 1), (32, 5), (16384, 14)])
def test_new_bins_is_a_succinct_delegation(signers: Signers, number: int, bits: int) -> None:
    keys = signers.keyset()
    bins = roles.new_bins(keys, number, YEAR_ON).signed
    assert bins.version == 1
    assert bins.targets == {}
    assert bins.delegations is not None
    assert bins.delegations.roles is None
    succinct = bins.delegations.succinct_roles
    assert isinstance(succinct, SuccinctRoles)
    assert succinct.bit_length == bits
    assert succinct.number_of_bins == number
    assert succinct.name_prefix == layout.BIN_PREFIX
    assert succinct.threshold == 1
    assert succinct.keyids == keyids(keys.online)
    assert set(bins.delegations.keys) == set(keyids(keys.online))


def test_new_bins_refuses_a_bin_count_that_is_not_a_power_of_two(signers: Signers) -> None:
    with pytest.raises(ValueError, match="power of two"):
        roles.new_bins(signers.keyset(), 100, YEAR_ON)


def test_bin_role_lists_targets_with_sha256_and_sha512() -> None:
    rows = [row(DIST, b"wheel bytes"), row(PAGE, b"<html>")]
    md = roles.bin_role(4, DAY_ON, rows)
    assert md.signed.version == 4
    assert md.signed.expires == DAY_ON
    assert md.signed.delegations is None
    assert set(md.signed.targets) == {DIST, PAGE}
    target = md.signed.targets[DIST]
    assert target.path == DIST
    assert target.length == len(b"wheel bytes")
    assert target.hashes == {"sha256": rows[0].sha256, "sha512": rows[0].sha512}
    # sha256 first: ngclient prefixes consistent-snapshot names with the first hash.
    assert next(iter(target.hashes)) == "sha256"
    target.verify_length_and_hashes(b"wheel bytes")


def test_bin_role_may_be_empty() -> None:
    assert roles.bin_role(1, DAY_ON, []).signed.targets == {}


def test_first_snapshot_lists_role_versions() -> None:
    md = roles.first_snapshot(DAY_ON, {"targets": 1, "bins": 1, "bin-00": 1})
    assert md.signed.version == 1
    assert md.signed.expires == DAY_ON
    assert {k: v.version for k, v in md.signed.meta.items()} == {
        "targets.json": 1,
        "bins.json": 1,
        "bin-00.json": 1,
    }


def test_next_snapshot_bumps_the_version_and_keeps_other_meta() -> None:
    first = roles.first_snapshot(NOW, {"targets": 1, "bins": 1, "bin-00": 1, "bin-01": 3})
    md = roles.next_snapshot(first.signed, DAY_ON, {"bin-01": 4, "bin-02": 1})
    assert md.signed.version == 2
    assert md.signed.expires == DAY_ON
    assert {k: v.version for k, v in md.signed.meta.items()} == {
        "targets.json": 1,
        "bins.json": 1,
        "bin-00.json": 1,
        "bin-01.json": 4,
        "bin-02.json": 1,
    }
    # The current snapshot is left as it was.
    assert first.signed.version == 1
    assert first.signed.meta["bin-01.json"].version == 3


def test_next_timestamp_hashes_the_snapshot_bytes() -> None:
    snapshot_bytes = b'{"signed": "a snapshot"}'
    first = roles.next_timestamp(None, DAY_ON, 1, snapshot_bytes)
    assert first.signed.version == 1
    meta = first.signed.snapshot_meta
    assert meta.version == 1
    assert meta.length == len(snapshot_bytes)
    assert meta.hashes == {
        "sha256": hashlib.sha256(snapshot_bytes).hexdigest(),
        "sha512": hashlib.sha512(snapshot_bytes).hexdigest(),
    }
    meta.verify_length_and_hashes(snapshot_bytes)
    second = roles.next_timestamp(first.signed, DAY_ON, 7, b"other")
    assert second.signed.version == 2
    assert second.signed.snapshot_meta.version == 7
    assert second.signed.expires == DAY_ON


# -- the whole chain, signed in memory --------------------------------------------------------


def sign(md: Metadata[Any], signers: list[CryptoSigner]) -> Metadata[Any]:
    for signer in signers:
        md.sign(signer, append=True)
    # What a client gets: serialised bytes, parsed again.
    return Metadata.from_bytes(md.to_bytes(JSONSerializer(compact=True)))


def chain(signers: Signers) -> dict[str, Metadata[Any]]:
    keys = signers.keyset()
    rows = [row(DIST, b"wheel"), row(PAGE, b"page")]
    dist_bin = layout.bin_name(layout.bin_index(DIST, BINS), BINS)
    bin_md = roles.bin_role(1, DAY_ON, [r for r in rows if r.path == DIST])
    snapshot = roles.first_snapshot(DAY_ON, {"targets": 1, "bins": 1, dist_bin: 1})
    signed_snapshot = sign(snapshot, [signers.online])
    timestamp = roles.next_timestamp(None, DAY_ON, 1, signed_snapshot.to_bytes())
    return {
        "root": sign(roles.new_root(keys, YEAR_ON), signers.root[:2]),
        "targets": sign(roles.new_targets(keys, YEAR_ON), signers.targets),
        "bins": sign(roles.new_bins(keys, BINS, YEAR_ON), signers.bins),
        dist_bin: sign(bin_md, [signers.online]),
        "snapshot": signed_snapshot,
        "timestamp": sign(timestamp, [signers.online]),
    }


def test_signed_chain_verifies_from_root_down_to_a_bin(signers: Signers) -> None:
    mds = chain(signers)
    root: Root = mds["root"].signed
    root.verify_delegate(Root.type, mds["root"].signed_bytes, mds["root"].signatures)
    for role in (Targets.type, Snapshot.type, Timestamp.type):
        root.verify_delegate(role, mds[role].signed_bytes, mds[role].signatures)

    targets: Targets = mds["targets"].signed
    assert targets.delegations is not None
    assert list(targets.delegations.get_roles_for_target(DIST)) == [(roles.BINS_ROLE, True)]
    targets.verify_delegate(roles.BINS_ROLE, mds["bins"].signed_bytes, mds["bins"].signatures)

    bins: Targets = mds["bins"].signed
    assert bins.delegations is not None
    [(bin_name, terminating)] = list(bins.delegations.get_roles_for_target(DIST))
    assert terminating
    assert bin_name == layout.bin_name(layout.bin_index(DIST, BINS), BINS)
    bin_md = mds[bin_name]
    bins.verify_delegate(bin_name, bin_md.signed_bytes, bin_md.signatures)
    assert bin_md.signed.targets[DIST].length == len(b"wheel")

    # timestamp -> snapshot by hash and length; snapshot -> bin by version.
    timestamp: Timestamp = mds["timestamp"].signed
    timestamp.snapshot_meta.verify_length_and_hashes(mds["snapshot"].to_bytes())
    assert mds["snapshot"].signed.meta[f"{bin_name}.json"] == MetaFile(version=1)


def test_one_root_key_is_below_the_threshold(signers: Signers) -> None:
    md = roles.new_root(signers.keyset(), YEAR_ON)
    md.sign(signers.root[0])
    with pytest.raises(UnsignedMetadataError):
        md.signed.verify_delegate(Root.type, md.signed_bytes, md.signatures)


def test_keys_do_not_sign_for_other_roles(signers: Signers) -> None:
    mds = chain(signers)
    root: Root = mds["root"].signed
    # The online key signs snapshot, but root trusts only the targets keys for targets.
    forged = sign(roles.new_targets(signers.keyset(), YEAR_ON), [signers.online])
    with pytest.raises(UnsignedMetadataError):
        root.verify_delegate(Targets.type, forged.signed_bytes, forged.signatures)
    # Only the bins keys may sign bins; the online key signs bin-n and nothing above.
    forged_bins = sign(roles.new_bins(signers.keyset(), BINS, YEAR_ON), [signers.online])
    with pytest.raises(UnsignedMetadataError):
        mds["targets"].signed.verify_delegate(
            roles.BINS_ROLE, forged_bins.signed_bytes, forged_bins.signatures
        )
    # A bin signed by an offline key is not a bin root's chain accepts.
    bin_name = layout.bin_name(0, BINS)
    forged_bin = sign(roles.bin_role(1, DAY_ON, []), signers.bins)
    with pytest.raises(UnsignedMetadataError):
        mds["bins"].signed.verify_delegate(bin_name, forged_bin.signed_bytes, forged_bin.signatures)


def test_a_changed_bin_no_longer_verifies(signers: Signers) -> None:
    mds = chain(signers)
    bin_name = layout.bin_name(layout.bin_index(DIST, BINS), BINS)
    tampered = mds[bin_name]
    tampered.signed.targets[DIST].length += 1
    with pytest.raises(UnsignedMetadataError):
        mds["bins"].signed.verify_delegate(bin_name, tampered.signed_bytes, tampered.signatures)


def test_a_role_name_outside_the_succinct_delegation_is_refused(signers: Signers) -> None:
    mds = chain(signers)
    md = mds[layout.bin_name(layout.bin_index(DIST, BINS), BINS)]
    with pytest.raises(ValueError, match="not found"):
        mds["bins"].signed.verify_delegate(f"bin-{BINS:02x}", md.signed_bytes, md.signatures)


def test_bin_role_lists_a_target_without_sha512_with_its_sha256_alone() -> None:
    # A mirrored file not held yet: upstream states its sha256 and size only.
    full = row(DIST, b"wheel bytes")
    md = roles.bin_role(1, DAY_ON, [roles.TargetRow(full.path, full.length, full.sha256, None)])
    target = md.signed.targets[DIST]
    assert target.hashes == {"sha256": full.sha256}
    target.verify_length_and_hashes(b"wheel bytes")
    with pytest.raises(LengthOrHashMismatchError):
        target.verify_length_and_hashes(b"other bytes")
