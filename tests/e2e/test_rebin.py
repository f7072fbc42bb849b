"""Changing the number of bins: a bins ceremony re-delegates every target; the signer
rebuilds every bin-n; clients (returning or new) cope with one fresh download."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import clients
from tests.support import server as server_support
from tests.support.dists import make_dists
from tests.support.server import IndexServer
from tests.support.tuf_client import updater, wait_for_target
from tests.support.waiting import wait_until


def _snapshot_meta(server: IndexServer) -> dict:  # type: ignore[type-arg]
    tuf = server.data_dir / "files" / "tuf"
    timestamp = json.loads((tuf / "timestamp.json").read_bytes())
    version = timestamp["signed"]["meta"]["snapshot.json"]["version"]
    return json.loads((tuf / f"{version}.snapshot.json").read_bytes())["signed"]["meta"]  # type: ignore[no-any-return]


def _bins_in_snapshot(server: IndexServer, width: int) -> int:
    """How many bin-n roles of a given name width (1 hex digit: 16 bins) are listed."""
    return sum(1 for name in _snapshot_meta(server) if len(name) == len("bin-.json") + width)


def test_rebin_from_64_to_16(unsigned_server: IndexServer, tmp_path: Path) -> None:
    server = unsigned_server
    keys = Path(server.env["TUFPI_KEYS_DIR"])
    token = server.new_user("rebinner")
    signer = server_support.signer_process(server)
    try:
        assert (
            clients.twine_upload(
                server.url, token, make_dists(tmp_path, "rb-one", "1.0")
            ).returncode
            == 0
        )
        wait_for_target(server, tmp_path, "simple/rb-one/index.html")
        returning = updater(server, tmp_path, "returning")
        returning.refresh()
        assert _bins_in_snapshot(server, 2) == 64

        proposal = tmp_path / "bins.json"
        shown = server.cli(
            "ceremony", "propose", "bins", "--bins", "16", "--out", str(proposal)
        ).stdout
        assert "bin-n: 64 -> 16 bins" in shown
        sig = server.cli(
            "ceremony", "sign", str(proposal), "--key", str(keys / "bins.pem"), "--yes"
        ).stdout.split()[-3]
        server.cli("ceremony", "import", str(proposal), sig)

        wait_until(
            lambda: _bins_in_snapshot(server, 1) == 16,
            "the signer never rebuilt the bins",
            timeout=60,
            interval=0.2,
        )
        for name in ("returning", "fresh"):
            client = updater(server, tmp_path, name)
            client.refresh()
            info = client.get_targetinfo("simple/rb-one/index.html")
            assert info is not None, name
            client.download_target(info)
        # The old bins stay listed (TUF: a snapshot keeps what the previous one named).
        assert _bins_in_snapshot(server, 2) == 64
        assert _snapshot_meta(server)["bins.json"]["version"] == 2
        # Uploads go on into the new bins.
        assert (
            clients.twine_upload(
                server.url, token, make_dists(tmp_path, "rb-two", "1.0")
            ).returncode
            == 0
        )
        wait_for_target(server, tmp_path, "simple/rb-two/index.html")
    finally:
        signer.terminate()
        signer.wait(timeout=30)
