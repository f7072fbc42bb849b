"""The online key in SoftHSM2: an index signs timestamp, snapshot and bin-n with an ``hsm:`` URI.

This module makes its own SoftHSM2 (config file and token directory) with two tokens that
hold a P-256 key under the same key id: the index's token and a decoy, so that only a URI whose
``label`` is honoured everywhere (root's key at ``trust init``, signing in ``serve``) works.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_private_key
from securesystemslib.signer import CryptoSigner, Key, SSlibKey
from tuf.api.metadata import Metadata, Root, Targets

from tests.support import clients, softhsm
from tests.support import server as server_support
from tests.support.dists import make_dists
from tests.support.server import IndexServer
from tests.support.tuf_client import first_root, updater, wait_for_target
from tufpi.keys import OnlineKeyError, public_key

KEY_ID = 0x51
ONLINE_ROLES = ("timestamp", "snapshot")


def _sslib_key(der: bytes) -> Key:
    return SSlibKey.from_crypto(load_der_public_key(der), scheme="ecdsa-sha2-nistp256")


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> dict[str, softhsm.Token]:
    """The index's token and a decoy, in one SoftHSM2 of this module's own."""
    missing = softhsm.available()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    conf = softhsm.make_softhsm(tmp_path_factory.mktemp("softhsm"))
    return {
        "decoy": softhsm.create_token(conf, "tufpi-decoy", KEY_ID),
        "online": softhsm.create_token(conf, "tufpi-online", KEY_ID),
    }


@pytest.fixture(scope="module")
def hsm_key(tokens: dict[str, softhsm.Token]) -> Key:
    return _sslib_key(tokens["online"].public_key_der)


@pytest.fixture(scope="module")
def hsm_server(
    database_url: str | None,
    tokens: dict[str, softhsm.Token],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[IndexServer]:
    token = tokens["online"]
    data_dir = tmp_path_factory.mktemp("hsm-index")
    srv = server_support.start(data_dir, database_url, online_key=token.uri, extra_env=token.env())
    try:
        yield srv
    finally:
        srv.stop()
        print((data_dir / "serve.log").read_text()[-2000:])


def _timestamp(server: IndexServer) -> Metadata:
    response = httpx.get(server.url + "tuf/timestamp.json")
    response.raise_for_status()
    return Metadata.from_bytes(response.content)


def test_public_key_reads_the_token_the_uri_names(
    tokens: dict[str, softhsm.Token], monkeypatch: pytest.MonkeyPatch
) -> None:
    online, decoy = tokens["online"], tokens["decoy"]
    monkeypatch.setenv("TUFPI_HSM_PIN", softhsm.USER_PIN)
    with softhsm.pkcs11_env(online.conf):
        assert public_key(online.uri) == _sslib_key(online.public_key_der)
        assert public_key(decoy.uri) == _sslib_key(decoy.public_key_der)
        # Two initialised tokens: without a label the key is ambiguous.
        with pytest.raises(OnlineKeyError, match="Multiple PKCS#11 tokens"):
            public_key(f"hsm:{KEY_ID}")
    assert online.public_key_der != decoy.public_key_der


def test_root_trusts_the_hsm_key_for_the_online_roles(
    hsm_server: IndexServer, hsm_key: Key
) -> None:
    root = Metadata[Root].from_bytes(first_root(hsm_server)).signed
    for role in ONLINE_ROLES:
        assert root.roles[role].keyids == [hsm_key.keyid]
    trusted = root.keys[hsm_key.keyid]
    assert (trusted.keytype, trusted.scheme) == ("ecdsa", "ecdsa-sha2-nistp256")
    assert trusted == hsm_key
    # The development online key that `trust init` still writes is not trusted for anything.
    dev_online = hsm_server.data_dir / "keys" / "online.pem"
    dev_key = CryptoSigner(load_pem_private_key(dev_online.read_bytes(), None)).public_key
    assert dev_key.keyid not in root.keys


def test_upload_is_signed_by_the_hsm_and_verifies(
    hsm_server: IndexServer, hsm_key: Key, tmp_path: Path
) -> None:
    before = _timestamp(hsm_server).signed.version
    token = hsm_server.new_user("hsm-uploader")
    sdist, wheel = make_dists(tmp_path, "hsm-proj", "1.0")
    result = clients.twine_upload(hsm_server.url, token, [sdist, wheel])
    assert result.returncode == 0, result.stdout + result.stderr

    page = httpx.get(
        f"{hsm_server.simple}hsm-proj/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    ).json()
    paths = {f["filename"]: f["url"].removeprefix("../../") for f in page["files"]}
    for dist in (sdist, wheel):
        data = dist.read_bytes()
        info = wait_for_target(
            hsm_server, tmp_path, paths[dist.name], hashlib.sha256(data).hexdigest()
        )
        client = updater(hsm_server, tmp_path, f"fresh-{dist.name}")
        client.refresh()
        assert Path(client.download_target(info)).read_bytes() == data

    for filename, accept in (
        ("index.html", "text/html"),
        ("index.json", "application/vnd.pypi.simple.v1+json"),
    ):
        served = httpx.get(f"{hsm_server.simple}hsm-proj/", headers={"Accept": accept}).content
        target_path = f"simple/hsm-proj/{filename}"
        info = wait_for_target(
            hsm_server, tmp_path, target_path, hashlib.sha256(served).hexdigest()
        )
        client = updater(hsm_server, tmp_path, f"page-{filename}")
        client.refresh()
        assert Path(client.download_target(info)).read_bytes() == served

    # The serving process signed newer metadata, with the HSM key and no other.
    root = Metadata[Root].from_bytes(first_root(hsm_server))
    timestamp = _timestamp(hsm_server)
    assert timestamp.signed.version > before
    assert set(timestamp.signatures) == {hsm_key.keyid}
    root.verify_delegate("timestamp", timestamp)

    # ...and so the bin-n role listing the wheel, as the verified client stored it.
    wheel_path = paths[wheel.name]
    client = updater(hsm_server, tmp_path, "bins")
    client.refresh()
    assert client.get_targetinfo(wheel_path) is not None
    metadata_dir = tmp_path / "bins" / "metadata"
    bins = Metadata[Targets].from_bytes((metadata_dir / "bins.json").read_bytes())
    succinct = bins.signed.delegations.succinct_roles
    assert succinct.keyids == [hsm_key.keyid]
    bin_role = succinct.get_role_for_target(wheel_path)
    bin_md = Metadata[Targets].from_bytes((metadata_dir / f"{bin_role}.json").read_bytes())
    assert set(bin_md.signatures) == {hsm_key.keyid}
    bins.verify_delegate(bin_role, bin_md)
    assert wheel_path in bin_md.signed.targets
