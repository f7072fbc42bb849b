"""The witness's files: no cosignature is answered unless its state is on disk; its key
(Go's PRIVATE+KEY form with the cosignature/v1 type) read back exactly and refused when
altered; its state read back exactly, replaced without a temporary file left behind, and
refused when malformed."""

from __future__ import annotations

import base64
import errno
import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tufpi.clock import utcnow
from tufpi.tlog import hashing, notes
from tufpi.tlog.checkpoints import Checkpoint
from tufpi.tlog.witness import Accepted, AddCheckpoint, LogState
from tufpi.witness import StateError, StateFile, Witness, WitnessKeyError, create_key, load_key
from tufpi.witness.keyfile import parse_key
from tufpi.witness.state import parse_states

ROOT = hashing.leaf_hash(b"root")


def test_a_key_file_reads_back_as_the_key_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "w.key"
    key = create_key(path, "witness.example/w1")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    text = path.read_text()
    assert text.startswith(f"PRIVATE+KEY+witness.example/w1+{key.verifier.key_id.hex()}+")
    loaded = load_key(path)
    assert loaded.verifier == key.verifier
    assert loaded.verifier.type == notes.COSIGNATURE_V1
    with pytest.raises(WitnessKeyError, match="exists already"):
        create_key(path, "other")
    with pytest.raises(WitnessKeyError, match="space or a plus"):
        create_key(tmp_path / "x.key", "bad name")


def test_an_altered_key_file_is_refused(tmp_path: Path) -> None:
    key = create_key(tmp_path / "k.key", "w1")
    line = (tmp_path / "k.key").read_text()
    _, _, _, key_id, data = line.strip().split("+", 4)
    with pytest.raises(WitnessKeyError, match="key ID"):
        parse_key(line.replace("+w1+", "+w2+"))
    raw = bytearray(base64.b64decode(data))
    raw[0] = notes.ED25519
    with pytest.raises(WitnessKeyError, match="cosignature/v1"):
        parse_key(f"PRIVATE+KEY+w1+{key_id}+{base64.b64encode(raw).decode()}\n")
    for bad in ("", "w1+abcd+xyz", line.replace("PRIVATE", "PUBLIC"), line + line):
        with pytest.raises(WitnessKeyError):
            parse_key(bad)
    assert parse_key(line).verifier == key.verifier
    (tmp_path / "big.key").write_bytes(b"x" * 5000)
    with pytest.raises(WitnessKeyError, match="too long"):
        load_key(tmp_path / "big.key")
    with pytest.raises(WitnessKeyError, match="cannot read"):
        load_key(tmp_path / "missing.key")


def test_the_state_is_replaced_whole(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "state.json")
    assert state.read() == {}
    with state.locked():
        state.write({"a.example/log": LogState(5, ROOT), "b.example/log": LogState(0, ROOT)})
    assert state.read() == {"a.example/log": LogState(5, ROOT), "b.example/log": LogState(0, ROOT)}
    with state.locked():
        state.write({"a.example/log": LogState(9, ROOT)})
    assert state.read() == {"a.example/log": LogState(9, ROOT)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]


@pytest.mark.parametrize(
    ("logs", "reason"),
    [
        ([], "no 'logs' object"),
        ({"o": {"size": 1}}, "is not {size, root_hash}"),
        ({"o": {"size": "1", "root_hash": "x"}}, "a whole size"),
        ({"o": {"size": True, "root_hash": "x"}}, "a whole size"),
        ({"o": {"size": -1, "root_hash": base64.b64encode(ROOT).decode()}}, "decimal"),
        ({"o": {"size": 1, "root_hash": "AAAA"}}, "not 32 bytes"),
        ({"o": {"size": 1, "root_hash": "not base64"}}, "base64"),
    ],
)
def test_a_malformed_state_is_refused(logs: object, reason: str) -> None:
    data = json.dumps({"format": "tufpi-witness-state-1", "logs": logs}).encode()
    with pytest.raises(StateError, match=reason):
        parse_states(data)


def test_a_state_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    for data in (b"{", b"[]", b'{"format": "other", "logs": {}}'):
        with pytest.raises(StateError):
            parse_states(data)
    (tmp_path / "state.json").write_bytes(b"{")
    with pytest.raises(StateError, match="not JSON"):
        StateFile(tmp_path / "state.json").read()


class _FullDisk(StateFile):
    """A state file on a disk that is full: every write fails."""

    def write(self, states: Mapping[str, LogState]) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_no_cosignature_without_the_state_on_disk(tmp_path: Path) -> None:
    log_key = Ed25519PrivateKey.generate()
    log = notes.verifier_for("log.example", log_key, notes.ED25519)
    text = Checkpoint("log.example", 1, ROOT).text()
    note = notes.Note(text, (notes.sign(text, "log.example", log_key),)).encode()
    body = AddCheckpoint(0, (), note).encode()
    key = create_key(tmp_path / "w.key", "w1")
    full = Witness(key, {"log.example": [log]}, _FullDisk(tmp_path / "state.json"), utcnow)
    with pytest.raises(StateError, match="No space left"):
        full.add_checkpoint(body)
    assert not (tmp_path / "state.json").exists()
    # The same request with a disk that works: cosigned, and the state is on disk.
    witness = Witness(key, {"log.example": [log]}, StateFile(tmp_path / "state.json"), utcnow)
    assert isinstance(witness.add_checkpoint(body), Accepted)
    assert StateFile(tmp_path / "state.json").read() == {"log.example": LogState(1, ROOT)}
