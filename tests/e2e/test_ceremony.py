"""Key ceremonies: holders in separate directories (one on SoftHSM2) sign a proposal
offline; the index imports it only when python-tuf verifies every threshold."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tuf.ngclient import Updater

from tests.support import clients, softhsm
from tests.support.clients import clean_env
from tests.support.dists import make_dists
from tests.support.proxy import tufpi_install
from tests.support.server import IndexServer
from tests.support.tuf_client import first_root
from tests.support.waiting import wait_until
from tufpi.trust.ceremony import Proposal

PASS = "correct horse battery"


def tufpi(
    server: IndexServer | None, *args: str, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the tufpi CLI as a key holder or admin would (no index settings for holders)."""
    base = server.env if server is not None else clean_env()
    return subprocess.run(
        [sys.executable, "-m", "tufpi.cli", *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def holders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Three root key holders: two with encrypted key files, one with a SoftHSM2 token."""
    reason = softhsm.available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("holders")
    keys: dict[str, object] = {}
    for name in ("alice", "bob"):
        directory = base / name
        ok(
            tufpi(
                None, "ceremony", "keygen", name, "--out", str(directory), TUFPI_KEY_PASSPHRASE=PASS
            )
        )
        keys[name] = (directory / f"{name}.pem", directory / f"{name}.pub.json")
    token = softhsm.create_token(softhsm.make_softhsm(base / "carol"), "carol-root", 7)
    carol_pub = base / "carol" / "carol.pub.json"
    ok(tufpi(None, "ceremony", "pubkey", token.uri, "--out", str(carol_pub), **token.env()))
    keys["carol"] = (token, carol_pub)
    return keys


def _sign(proposal: Path, key: str, **env: str) -> Path:
    out = ok(tufpi(None, "ceremony", "sign", str(proposal), "--key", key, "--yes", **env))
    return Path(out.strip().splitlines()[-1].split()[1])


def _keyid(pub: Path) -> str:
    return str(json.loads(pub.read_text())["keyid"])


def test_root_ceremony_two_of_three_then_clients_follow(
    index_server: IndexServer,
    holders: dict,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    dev_keys = Path(index_server.env["TUFPI_KEYS_DIR"])
    old_root = first_root(index_server)
    old_keyids = json.loads(old_root)["signed"]["roles"]["root"]["keyids"]
    proposal = tmp_path / "root-v2.json"
    args = ["ceremony", "propose", "root", "--out", str(proposal), "--threshold", "2"]
    for name in ("alice", "bob", "carol"):
        args += ["--add-key", str(holders[name][1])]
    for keyid in old_keyids:
        args += ["--remove-key", keyid]
    shown = ok(tufpi(index_server, *args))
    assert "root: 2 of 3 keys" in shown
    assert shown.count("root: ADD key") == 3
    assert shown.count("root: REMOVE key") == 3

    # Each holder signs on their own, with nothing but the proposal and their key.
    alice = _sign(proposal, str(holders["alice"][0]), TUFPI_KEY_PASSPHRASE=PASS)
    token = holders["carol"][0]
    carol = _sign(proposal, token.uri, **token.env())
    old1 = _sign(proposal, str(dev_keys / "root-1.pem"))
    old2 = _sign(proposal, str(dev_keys / "root-2.pem"))

    # One signature: refused, nothing imported.
    refused = tufpi(index_server, "ceremony", "import", str(proposal), str(alice))
    assert refused.returncode != 0
    assert "old root: 0 valid signature(s) of the 2 needed" in refused.stderr
    # The old root's threshold but only one new holder: still refused.
    refused = tufpi(
        index_server, "ceremony", "import", str(proposal), str(old1), str(old2), str(alice)
    )
    assert refused.returncode != 0
    assert "new root: 1 valid signature(s) of the 2 needed" in refused.stderr
    tuf_dir = index_server.data_dir / "files" / "tuf"
    assert not (tuf_dir / "2.root.json").exists()

    out = ok(
        tufpi(
            index_server,
            "ceremony",
            "import",
            str(proposal),
            str(old1),
            str(old2),
            str(alice),
            str(carol),
        )
    )
    assert "imported root version 2" in out
    new_root = (tuf_dir / "2.root.json").read_bytes()
    signed = json.loads(new_root)["signed"]
    assert signed["roles"]["root"]["threshold"] == 2
    assert set(signed["roles"]["root"]["keyids"]) == {
        _keyid(holders[n][1]) for n in ("alice", "bob", "carol")
    }

    # A client bootstrapped on the new root verifies, and one on the old root walks to it.
    for name, root in (("new", new_root), ("old", old_root)):
        metadata = tmp_path / name / "metadata"
        metadata.mkdir(parents=True)
        updater = Updater(
            str(metadata),
            index_server.url + "tuf/",
            str(tmp_path / name),
            index_server.url,
            bootstrap=root,
        )
        updater.refresh()
        assert (metadata / "root.json").read_bytes() == new_root


def test_bad_inputs_are_refused(
    index_server: IndexServer,
    holders: dict,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    proposal = tmp_path / "renew.json"
    ok(tufpi(index_server, "ceremony", "propose", "root", "--out", str(proposal)))
    alice_pem = str(holders["alice"][0])
    wrong = tufpi(
        None,
        "ceremony",
        "sign",
        str(proposal),
        "--key",
        alice_pem,
        "--yes",
        TUFPI_KEY_PASSPHRASE="not the passphrase",
    )
    assert wrong.returncode != 0
    assert "wrong passphrase" in wrong.stderr

    alice = _sign(proposal, alice_pem, TUFPI_KEY_PASSPHRASE=PASS)
    bob = _sign(proposal, str(holders["bob"][0]), TUFPI_KEY_PASSPHRASE=PASS)
    # Edited after signing: the digest no longer matches.
    edited = tmp_path / "edited.json"
    body = json.loads(proposal.read_text())
    body["signed"]["expires"] = "2099-01-01T00:00:00Z"
    edited.write_text(json.dumps(body))
    result = tufpi(index_server, "ceremony", "import", str(edited), str(alice), str(bob))
    assert result.returncode != 0
    assert "edited after" in result.stderr
    # ...even with the recorded digest updated to match: the signatures then do not.
    forged = Proposal.from_bytes(proposal.read_bytes())
    forged.metadata.signed.expires = forged.metadata.signed.expires.replace(year=2099)
    edited.write_bytes(forged.to_bytes())
    result = tufpi(index_server, "ceremony", "import", str(edited), str(alice), str(bob))
    assert result.returncode != 0
    assert "another proposal" in result.stderr

    # A key the role does not trust: its signature does not count.
    stranger_dir = tmp_path / "stranger"
    ok(
        tufpi(
            None, "ceremony", "keygen", "eve", "--out", str(stranger_dir), TUFPI_KEY_PASSPHRASE=PASS
        )
    )
    eve = _sign(proposal, str(stranger_dir / "eve.pem"), TUFPI_KEY_PASSPHRASE=PASS)
    result = tufpi(index_server, "ceremony", "import", str(proposal), str(alice), str(eve))
    assert result.returncode != 0
    assert "1 valid signature(s) of the 2 needed" in result.stderr

    # An expired proposal.
    expired = tmp_path / "expired.json"
    ok(
        tufpi(
            index_server,
            "ceremony",
            "propose",
            "root",
            "--out",
            str(expired),
            "--expires-days",
            "-1",
        )
    )
    a = _sign(expired, alice_pem, TUFPI_KEY_PASSPHRASE=PASS)
    b = _sign(expired, str(holders["bob"][0]), TUFPI_KEY_PASSPHRASE=PASS)
    result = tufpi(index_server, "ceremony", "import", str(expired), str(a), str(b))
    assert result.returncode != 0
    assert "expired" in result.stderr
    assert not (index_server.data_dir / "files" / "tuf" / "3.root.json").exists()

    # And the intact proposal with two holders' signatures is accepted.
    out = ok(tufpi(index_server, "ceremony", "import", str(proposal), str(alice), str(bob)))
    assert "imported root version 3" in out


def test_targets_renewal_reaches_the_snapshot(
    index_server: IndexServer,
    holders: dict,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    dev_keys = Path(index_server.env["TUFPI_KEYS_DIR"])
    proposal = tmp_path / "targets.json"
    ok(
        tufpi(
            index_server,
            "ceremony",
            "propose",
            "targets",
            "--out",
            str(proposal),
            "--expires-days",
            "400",
        )
    )
    sig = _sign(proposal, str(dev_keys / "targets.pem"))
    out = ok(tufpi(index_server, "ceremony", "import", str(proposal), str(sig)))
    assert "imported targets version 2" in out
    # The signer publishes a snapshot naming targets v2; clients verify it.
    tuf_dir = index_server.data_dir / "files" / "tuf"

    def snapshot_names_targets_v2() -> bool:
        timestamp = json.loads((tuf_dir / "timestamp.json").read_bytes())
        version = timestamp["signed"]["meta"]["snapshot.json"]["version"]
        snapshot = json.loads((tuf_dir / f"{version}.snapshot.json").read_bytes())
        return bool(snapshot["signed"]["meta"]["targets.json"]["version"] == 2)

    wait_until(snapshot_names_targets_v2, "targets v2 never reached the snapshot", timeout=20)
    metadata = tmp_path / "client"
    metadata.mkdir()
    updater = Updater(
        str(metadata),
        index_server.url + "tuf/",
        str(tmp_path),
        index_server.url,
        bootstrap=first_root(index_server),
    )
    updater.refresh()
    assert json.loads((metadata / "targets.json").read_bytes())["signed"]["version"] == 2


def test_third_rotation_and_clients_walk_every_root(
    index_server: IndexServer,
    holders: dict,  # type: ignore[type-arg]
    tmp_path: Path,
    workdir: Path,
) -> None:
    """After three root rotations (v2 and v3 above, v4 here), ngclient and the verifying
    proxy, both pinned to the first root, walk 1 -> 2 -> 3 -> 4."""
    tuf_dir = index_server.data_dir / "files" / "tuf"
    assert (tuf_dir / "3.root.json").exists(), "runs after the module's earlier rotations"
    ok(
        tufpi(
            None,
            "ceremony",
            "keygen",
            "dave",
            "--out",
            str(tmp_path / "dave"),
            TUFPI_KEY_PASSPHRASE=PASS,
        )
    )
    proposal = tmp_path / "root-v4.json"
    ok(
        tufpi(
            index_server,
            "ceremony",
            "propose",
            "root",
            "--out",
            str(proposal),
            "--add-key",
            str(tmp_path / "dave" / "dave.pub.json"),
            "--remove-key",
            _keyid(holders["bob"][1]),
        )
    )
    token = holders["carol"][0]
    sigs = [
        _sign(proposal, str(holders["alice"][0]), TUFPI_KEY_PASSPHRASE=PASS),
        _sign(proposal, token.uri, **token.env()),
        _sign(proposal, str(tmp_path / "dave" / "dave.pem"), TUFPI_KEY_PASSPHRASE=PASS),
    ]
    ok(tufpi(index_server, "ceremony", "import", str(proposal), *map(str, sigs)))
    newest = (tuf_dir / "4.root.json").read_bytes()
    assert (tuf_dir / "root.json").read_bytes() == newest

    metadata = tmp_path / "walker"
    metadata.mkdir()
    Updater(
        str(metadata),
        index_server.url + "tuf/",
        str(tmp_path),
        index_server.url,
        bootstrap=first_root(index_server),
    ).refresh()
    assert (metadata / "root.json").read_bytes() == newest

    # The verifying proxy, pinned to the first root's fingerprint, installs after all this.
    uploader = index_server.new_user("rotation-user")
    dists = make_dists(workdir, "rotated-proj", "1.0")
    assert clients.twine_upload(index_server.url, uploader, dists).returncode == 0
    fingerprint = hashlib.sha256(first_root(index_server)).hexdigest()
    attempts: list[subprocess.CompletedProcess[str]] = []

    def installed() -> bool:  # once the signer has published the upload
        attempts.append(
            tufpi_install(
                index_server.url,
                tmp_path / "cache",
                ["--root-sha256", fingerprint],
                "--target",
                str(tmp_path / "t"),
                "rotated-proj",
            )
        )
        return attempts[-1].returncode == 0

    wait_until(
        installed, lambda: attempts[-1].stdout + attempts[-1].stderr, timeout=30, interval=0.5
    )
    assert (tmp_path / "t" / "rotated_proj").is_dir()
