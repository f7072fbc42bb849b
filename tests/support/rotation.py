"""Rotate an index's root with its development keys (until key ceremonies exist, issue 5).

The new root version replaces one root key with a fresh one and is signed by a threshold
of the old root's keys and of its own, as the TUF specification requires.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Root
from tuf.api.serialization.json import JSONSerializer

from tests.support.server import IndexServer


def _signers(keys_dir: Path) -> dict[str, CryptoSigner]:
    signers = {}
    for path in sorted(keys_dir.glob("root-*.pem")):
        signer = CryptoSigner(load_pem_private_key(path.read_bytes(), None))
        signers[signer.public_key.keyid] = signer
    return signers


def rotate_root(server: IndexServer) -> int:
    """Publish root version N+1 with one root key replaced; returns N+1."""
    keys_dir = Path(server.env["TUFPI_KEYS_DIR"])
    tuf_dir = server.data_dir / "files" / "tuf"
    current: Metadata[Root] = Metadata.from_bytes((tuf_dir / "root.json").read_bytes())
    signers = _signers(keys_dir)
    root = current.signed
    old_keyids = list(root.roles[Root.type].keyids)
    retired = old_keyids[0]
    fresh = CryptoSigner.generate_ed25519()
    number = len(list(keys_dir.glob("root-*.pem"))) + 1
    (keys_dir / f"root-{number}.pem").write_bytes(fresh.private_bytes)
    signers[fresh.public_key.keyid] = fresh
    root.revoke_key(retired, Root.type)
    root.add_key(fresh.public_key, Root.type)
    root.version += 1
    new = Metadata(root)
    # Every old key signs (a threshold of the old root) and every new one (of the new root).
    for keyid in dict.fromkeys([*old_keyids, *root.roles[Root.type].keyids]):
        new.sign(signers[keyid], append=True)
    data = new.to_bytes(JSONSerializer(compact=True))
    (tuf_dir / f"{root.version}.root.json").write_bytes(data)
    (tuf_dir / "root.json").write_bytes(data)
    return root.version
