"""The development key set's roles: which keys sign what, and with which thresholds."""

from __future__ import annotations

from pathlib import Path

from securesystemslib.signer import CryptoSigner

from tufpi.keys import dev
from tufpi.trust.init import DEV_ROOT_THRESHOLD, dev_keyset


def test_the_dev_keyset_names_each_dev_key_for_its_role(tmp_path: Path) -> None:
    keys = dev.load_or_create(tmp_path / "keys")
    keyset = dev_keyset(keys)
    assert [k.keyid for k in keyset.root] == [s.public_key.keyid for s in keys.root]
    assert keyset.root_threshold == DEV_ROOT_THRESHOLD < len(keyset.root)
    assert keyset.targets == [keys.targets.public_key]
    assert keyset.bins == [keys.bins.public_key]
    assert (keyset.targets_threshold, keyset.bins_threshold) == (1, 1)
    assert keyset.online == [keys.online.public_key]


def test_a_real_online_key_replaces_the_dev_one(tmp_path: Path) -> None:
    keys = dev.load_or_create(tmp_path / "keys")
    online = CryptoSigner.generate_ed25519().public_key
    keyset = dev_keyset(keys, online)
    assert keyset.online == [online]
    assert keyset.root == dev_keyset(keys).root
