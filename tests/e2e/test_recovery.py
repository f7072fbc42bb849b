"""Recovery from a leaked online key (PEP 458): an attacker holding it lists a malicious
file and clients accept it; after the root and bins ceremonies and ``tufpi trust recover``
the file is gone, every client (the one that saw the attacker's higher versions included)
verifies again, and every honest upload survives."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

from tests.support import clients
from tests.support import server as server_support
from tests.support.dists import make_dists
from tests.support.server import IndexServer
from tests.support.tuf_client import updater, wait_for_target
from tufpi.trust import layout

EVIL = b"malicious bytes the index never accepted"
EVIL_PATH = f"packages/{hashlib.sha256(EVIL).hexdigest()[:2]}/ee/vil/evil-6.6-py3-none-any.whl"


def attack(server: IndexServer, online: CryptoSigner, jump: int = 100) -> None:
    """What a thief of the online key can do: list a file in its bin, with a snapshot and
    timestamp far ahead of the index's own versions (a fast-forward)."""
    tuf = server.data_dir / "files" / "tuf"
    serializer = JSONSerializer(compact=True)
    timestamp: Metadata[Timestamp] = Metadata.from_bytes((tuf / "timestamp.json").read_bytes())
    version = timestamp.signed.snapshot_meta.version
    snapshot: Metadata[Snapshot] = Metadata.from_bytes(
        (tuf / f"{version}.snapshot.json").read_bytes()
    )
    bins = int(server.env["TUFPI_BINS"])
    name = layout.bin_name(layout.bin_index(EVIL_PATH, bins), bins)
    bin_version = snapshot.signed.meta[f"{name}.json"].version
    evil_bin: Metadata[Targets] = Metadata.from_bytes(
        (tuf / f"{bin_version}.{name}.json").read_bytes()
    )
    evil_bin.signed.targets[EVIL_PATH] = TargetFile.from_data(EVIL_PATH, EVIL, ["sha256", "sha512"])
    evil_bin.signed.version += jump
    evil_bin.sign(online)
    (tuf / f"{evil_bin.signed.version}.{name}.json").write_bytes(evil_bin.to_bytes(serializer))
    snapshot.signed.meta[f"{name}.json"] = MetaFile(evil_bin.signed.version)
    snapshot.signed.version += jump
    snapshot.sign(online)
    data = snapshot.to_bytes(serializer)
    (tuf / f"{snapshot.signed.version}.snapshot.json").write_bytes(data)
    timestamp.signed.snapshot_meta = MetaFile.from_data(snapshot.signed.version, data, ["sha256"])
    timestamp.signed.version += jump
    timestamp.sign(online)
    (tuf / "timestamp.json").write_bytes(timestamp.to_bytes(serializer))
    evil_file = (
        server.data_dir
        / "files"
        / layout.consistent_path(EVIL_PATH, hashlib.sha256(EVIL).hexdigest())
    )
    evil_file.parent.mkdir(parents=True, exist_ok=True)
    evil_file.write_bytes(EVIL)


def test_recovery_after_a_stolen_online_key(unsigned_server: IndexServer, tmp_path: Path) -> None:
    server = unsigned_server
    keys = Path(server.env["TUFPI_KEYS_DIR"])
    token = server.new_user("honest")
    old = CryptoSigner(load_pem_private_key((keys / "online.pem").read_bytes(), None))

    signer = server_support.signer_process(server, log_name="signer-1.log")
    try:
        honest = make_dists(tmp_path, "honest-a", "1.0")
        assert clients.twine_upload(server.url, token, honest).returncode == 0
        wait_for_target(server, tmp_path, "simple/honest-a/index.html")
    finally:
        signer.terminate()
        signer.wait(timeout=30)
    # An upload accepted while the key is out there: it must survive recovery too.
    later = make_dists(tmp_path, "honest-b", "1.0")
    assert clients.twine_upload(server.url, token, later).returncode == 0

    attack(server, old)
    victim = updater(server, tmp_path, "victim")
    victim.refresh()
    assert victim.get_targetinfo(EVIL_PATH) is not None, "the attack should work before recovery"

    new = CryptoSigner.generate_ed25519()
    new_pem = tmp_path / "new-online.pem"
    new_pem.write_bytes(new.private_bytes)
    new_pub = tmp_path / "new-online.pub.json"
    server.cli("ceremony", "pubkey", f"file2:{new_pem}", "--out", str(new_pub))
    # One guided command, run again after each step (PEP 458's recovery).
    workdir = tmp_path / "recovery"
    guided = [
        "ceremony",
        "rotate-online",
        "--compromised",
        "--new-key",
        str(new_pub),
        "--workdir",
        str(workdir),
    ]
    assert "step 1 of 2: waiting for signatures" in server.cli(*guided).stdout
    for proposal, signers in (
        ("recover-root.json", [keys / "root-1.pem", keys / "root-2.pem"]),
        ("recover-bins.json", [keys / "bins.pem"]),
    ):
        for key in signers:
            server.cli("ceremony", "sign", str(workdir / proposal), "--key", str(key), "--yes")
    assert "step 1 of 2 done" in server.cli(*guided).stdout
    report = server.cli(*guided, TUFPI_ONLINE_KEY=f"file2:{new_pem}").stdout
    assert f"{EVIL_PATH}\tnot in the database: added" in report
    assert "step 2 of 2 done" in report

    signer = server_support.signer_process(
        server, extra_env={"TUFPI_ONLINE_KEY": f"file2:{new_pem}"}, log_name="signer-2.log"
    )
    try:
        for name, client in (
            ("victim", updater(server, tmp_path, "victim")),
            ("fresh", updater(server, tmp_path, "fresh")),
        ):
            client.refresh()
            assert client.get_targetinfo(EVIL_PATH) is None, name
            for project in ("honest-a", "honest-b"):
                assert client.get_targetinfo(f"simple/{project}/index.html") is not None, name
        timestamp = json.loads((server.data_dir / "files" / "tuf" / "timestamp.json").read_bytes())
        assert [s["keyid"] for s in timestamp["signatures"]] == [new.public_key.keyid]
        # Uploads go on under the new key.
        after = make_dists(tmp_path, "honest-c", "1.0")
        assert clients.twine_upload(server.url, token, after).returncode == 0
        wait_for_target(server, tmp_path, "simple/honest-c/index.html")
    finally:
        signer.terminate()
        signer.wait(timeout=30)
