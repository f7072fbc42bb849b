"""The transparency log's key in the TUF root, through the command line: ``trust init``
puts the log key (the settings' origin) in root v1; a root ceremony rotates it to a new key
and adds a witness (``tufpi witness init``) with a threshold, and the imported root v2
carries them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.support.clients import clean_env
from tufpi.keys import dev
from tufpi.tlog import notes
from tufpi.tlog.policy import ROOT_FIELD, LogPolicy
from tufpi.trust import ceremony
from tufpi.trust.ceremony import Proposal


def _tufpi(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tufpi.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _policy(root: Path) -> LogPolicy:
    return LogPolicy.from_field(json.loads(root.read_text())["signed"][ROOT_FIELD])


def _policy(root: Path) -> LogPolicy:
    return LogPolicy.from_field(json.loads(root.read_text())["signed"][ROOT_FIELD])


def test_a_root_ceremony_rotates_the_log_key(tmp_path: Path) -> None:
    env = clean_env(
        TUFPI_DATA_DIR=str(tmp_path / "data"),
        TUFPI_KEYS_DIR=str(tmp_path / "keys"),
        TUFPI_BINS="4",
        TUFPI_PUBLIC_URL="https://pypi.example/",
    )
    shown = _tufpi(env, "trust", "init")
    tuf = tmp_path / "data" / "files" / "tuf"
    first = _policy(tuf / "1.root.json")
    assert first.origin == "pypi.example/tlog"
    assert f"transparency log: {first.log.vkey()}" in shown
    assert (first.witnesses, first.witness_threshold) == ((), 0)

    new_key = Ed25519PrivateKey.generate()
    pem = tmp_path / "new-log.pub.pem"
    pem.write_bytes(
        new_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    witness_vkey = _tufpi(
        env, "witness", "init", "--name", "w1.example", "--key", str(tmp_path / "w1.key")
    ).strip()
    proposal = tmp_path / "root-v2.json"
    shown = _tufpi(
        env,
        "ceremony",
        "propose",
        "root",
        "--out",
        str(proposal),
        "--log-key",
        str(pem),
        "--witness",
        witness_vkey,
        "--witness-threshold",
        "1",
    )
    new_log = notes.verifier_for("pypi.example/tlog", new_key, notes.ED25519)
    assert f"log: key {first.log.vkey()} -> {new_log.vkey()}" in shown
    assert f"witness: ADD {witness_vkey}" in shown
    assert "every checkpoint needs 1 of 1 witness cosignatures" in shown

    # The holders' signing is the ceremony tests' subject: here the dev root keys sign.
    parsed = Proposal.from_bytes(proposal.read_bytes())
    signatures = []
    for number, signer in enumerate(dev.load_or_create(tmp_path / "keys").root[:2]):
        path = tmp_path / f"root-v2.{number}.sig.json"
        path.write_bytes(ceremony.sign(parsed, signer).to_bytes())
        signatures.append(str(path))
    imported = _tufpi(env, "ceremony", "import", str(proposal), *signatures)
    assert "imported root version 2" in imported
    assert _policy(tuf / "2.root.json") == LogPolicy(new_log, (notes.parse_vkey(witness_vkey),), 1)
