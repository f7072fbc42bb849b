"""Why tuf>=7.0.1: a role reached through a second delegator is verified against *that*
delegator's keys, even after the same process verified it through the first.

The diamond (python-tuf #2977, tuf-conformance #405): targets delegates ``a/*`` to A and
``b/*`` to B; A and B both delegate to C, A with C's key, B with another key. C, signed only
with the key A names, lists ``a/file`` and ``b/file``. ``b/file`` must not be found: the
only path to it is targets -> B -> C, and B does not trust C's signature. With tuf 7.0.0 and
earlier, ngclient kept C once verified through A and answered ``b/file`` from it when asked
next; 7.0.1 verifies every delegator-role pair. One ``tufpi-conformance-client download``
asks for both in one process, as the conformance test does. Run against tuf 7.0.0 (in a
throwaway virtualenv), that command exits 0 and writes ``b/file``: this test fails there.

A static repository (python-tuf's metadata API, plain HTTP server) on 127.0.0.1: it does not
depend on the index, so it runs once, not per database.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from tests.support.clients import clean_env
from tests.support.payload_host import serving

CLIENT = str(Path(sys.executable).parent / "tufpi-conformance-client")
EXPIRES = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)


def _delegate(parent: Targets, name: str, signer: CryptoSigner, paths: list[str]) -> None:
    key = signer.public_key
    if parent.delegations is None:
        parent.delegations = Delegations(keys={}, roles={})
    assert parent.delegations.roles is not None
    parent.delegations.keys[key.keyid] = key
    parent.delegations.roles[name] = DelegatedRole(name, [key.keyid], 1, False, paths)


def _write(
    directory: Path, name: str, signed: Root | Targets | Snapshot | Timestamp, signer: CryptoSigner
) -> bytes:
    metadata = Metadata(signed)
    metadata.sign(signer)
    data = metadata.to_bytes()
    (directory / name).write_bytes(data)
    return data


def _diamond(root_dir: Path) -> Path:
    """Build the repository; returns its trusted root file."""
    metadata_dir, targets_dir = root_dir / "metadata", root_dir / "targets"
    for sub in ("a", "b"):
        (targets_dir / sub).mkdir(parents=True)
    online, a_key, b_key, c_key, other = (CryptoSigner.generate_ed25519() for _ in range(5))
    metadata_dir.mkdir()
    root = Root(expires=EXPIRES, consistent_snapshot=False)
    for role in ("root", "timestamp", "snapshot", "targets"):
        root.add_key(online.public_key, role)
    targets = Targets(expires=EXPIRES)
    _delegate(targets, "A", a_key, ["a/*"])
    _delegate(targets, "B", b_key, ["b/*"])
    a, b = Targets(expires=EXPIRES), Targets(expires=EXPIRES)
    _delegate(a, "C", c_key, ["a/*"])
    _delegate(b, "C", other, ["b/*"])  # B trusts another key for C
    c = Targets(expires=EXPIRES)
    for path in ("a/file", "b/file"):
        data = f"content of {path}\n".encode()
        (targets_dir / path).write_bytes(data)
        c.targets[path] = TargetFile.from_data(path, data)
    snapshot = Snapshot(expires=EXPIRES)
    for name, signed, signer in (
        ("targets", targets, online),
        ("A", a, a_key),
        ("B", b, b_key),
        ("C", c, c_key),
    ):
        _write(metadata_dir, f"{name}.json", signed, signer)
        snapshot.meta[f"{name}.json"] = MetaFile(1)
    _write(metadata_dir, "snapshot.json", snapshot, online)
    timestamp = Timestamp(expires=EXPIRES, snapshot_meta=MetaFile(1))
    _write(metadata_dir, "timestamp.json", timestamp, online)
    trusted = _write(metadata_dir, "1.root.json", root, online)
    (root_dir / "trusted-root.json").write_bytes(trusted)
    return root_dir / "trusted-root.json"


def _download(
    url: str, work: Path, trusted_root: Path, *names: str
) -> subprocess.CompletedProcess[str]:
    metadata = work / "client-metadata"
    if not metadata.exists():
        init = [CLIENT, "--metadata-dir", str(metadata), "init", str(trusted_root)]
        subprocess.run(init, check=True, env=clean_env(), timeout=60)
    command = [CLIENT, "--metadata-dir", str(metadata), "--metadata-url", url + "metadata/"]
    command += ["--target-base-url", url + "targets/", "--target-dir", str(work / "got")]
    for name in names:
        command += ["--target-name", name]
    return subprocess.run(
        [*command, "download"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )


def test_a_role_reached_through_another_delegator_is_verified_again(tmp_path: Path) -> None:
    trusted_root = _diamond(tmp_path / "repo")
    with serving(tmp_path / "repo") as host:
        url = host.url
        through_a = _download(url, tmp_path / "one", trusted_root, "a/file")
        both = _download(url, tmp_path / "two", trusted_root, "a/file", "b/file")
        only_b = _download(url, tmp_path / "three", trusted_root, "b/file")
    assert through_a.returncode == 0, through_a.stderr
    assert (tmp_path / "one" / "got" / "a%2Ffile").read_bytes() == b"content of a/file\n"
    # b/file only through B, which does not trust C's key: refused alone ...
    assert only_b.returncode == 1
    # ... and after C was verified through A in the same process (accepted by tuf < 7.0.1).
    assert both.returncode == 1, both.stderr
    assert "UnsignedMetadataError: bad signature on the metadata: C was signed by 0/1" in (
        both.stderr
    )
    assert (tmp_path / "two" / "got" / "a%2Ffile").exists()
    assert not (tmp_path / "two" / "got" / "b%2Ffile").exists()
