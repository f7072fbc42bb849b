"""``tufpi proxy --listen`` warns when the proxy is reachable beyond this machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.clients import clean_env
from tests.support.server import IndexServer, free_port, wait_until_serving
from tests.support.tuf_client import first_root

WARNING = "anyone who can reach it can install through this proxy"


@pytest.mark.parametrize(("host", "warns"), [("0.0.0.0", True), ("127.0.0.1", False)])
def test_listen_beyond_loopback_warns(
    index_server: IndexServer, tmp_path: Path, host: str, warns: bool
) -> None:
    root = tmp_path / "1.root.json"
    root.write_bytes(first_root(index_server))
    port = free_port()
    log = tmp_path / "proxy.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tufpi.cli",
                "proxy",
                "--index",
                index_server.url,
                "--root",
                str(root),
                "--cache-dir",
                str(tmp_path / "cache"),
                "--listen",
                f"{host}:{port}",
            ],
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            # Serving is the signal: the warning, if any, is printed before the proxy starts.
            wait_until_serving(process, f"http://127.0.0.1:{port}/", "tufpi proxy")
        finally:
            process.terminate()
            process.wait(timeout=20)
    output = log.read_text()
    assert "serving http://" in output, output
    assert (WARNING in output) is warns, output
    if warns:
        assert f"listening on {host}, which is not a loopback address" in output
